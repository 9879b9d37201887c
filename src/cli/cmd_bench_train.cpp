#include <fmt/format.h>
#include <sys/resource.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <iostream>
#include <map>

#include "cli/options.h"
#include "config/loader.h"
#include "core/error.h"
#include "core/log.h"
#include "core/text.h"
#include "data/loader.h"
#include "data/voc.h"
#include "loss/loss.h"
#include "model/fcn.h"
#include "model/geometry.h"
#include "train/device.h"
#include "train/evaluate.h"
#include "train/step.h"

namespace fcnlab::cli {

namespace {

using Clock = std::chrono::steady_clock;

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v[v.size() / 2];
}
double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

}  // namespace

namespace {

struct BenchOptions {
  int batch = 0, size = 0, iters = 20, warmup = 3, repeats = 3;
  bool real = false, breakdown = false, json = false;
};

// What one bench run measured.
struct BenchResult {
  std::string device;
  int batch = 0, size = 0;
  double step_ms = 0, img_s = 0, fwd_flops = 0, tflops = 0, host_mib = 0;
  DeviceMemory mem;
  std::vector<std::pair<std::string, double>> phases;  // --breakdown: median ms per phase
};

// `fcnlab train`'s step (Learner) and its input: the training loader, or synthetic tensors.
class StepRig {
 public:
  StepRig(const Config& cfg, torch::Device dev, const BenchOptions& o) : learner_(cfg, dev, cfg.loss.class_weights) {
    learner_.model()->train();
    if (o.real) {
      loader_ = std::make_unique<TrainLoader>(VocSegmentation::from_config(cfg.data, Split::train), cfg.data, o.batch,
                                              static_cast<std::uint64_t>(cfg.run.seed), cfg.data.workers);
      loader_->set_pin_memory(dev.is_cuda());
    }
    // Synthetic inputs live on the device already: the step alone is timed.
    images_ = torch::randn({o.batch, 3, o.size, o.size}).to(dev);
    labels_ = torch::randint(0, cfg.data.num_classes, {o.batch, o.size, o.size}, torch::kInt64).to(dev);
  }

  // One training step; `after_phase` (for --breakdown) is called after each of its phases.
  void step(const std::function<void(const char* phase)>& after_phase = {}) {
    learner_.zero_grad();
    if (after_phase) after_phase("zero_grad");
    if (loader_) {
      const Batch b = loader_->next();
      learner_.forward_backward(b.images, b.labels, 1.0, after_phase);
    } else {
      learner_.forward_backward(images_, labels_, 1.0, after_phase);
    }
    learner_.step();
    if (after_phase) after_phase("optimiser step");
  }

 private:
  Learner learner_;
  std::unique_ptr<TrainLoader> loader_;
  torch::Tensor images_, labels_;
};

// Median ms per step over `repeats` timed runs of `iters` steps, each between two synchronisations.
double time_steps(StepRig& rig, torch::Device dev, const BenchOptions& o) {
  for (int i = 0; i < o.warmup; ++i) rig.step();
  synchronize(dev);
  reset_peak_memory(dev);
  std::vector<double> per_step;
  for (int r = 0; r < o.repeats; ++r) {
    synchronize(dev);
    const auto t0 = Clock::now();
    for (int i = 0; i < o.iters; ++i) rig.step();
    synchronize(dev);
    per_step.push_back(ms_since(t0) / o.iters);
  }
  return median(per_step);
}

// Where the step's time goes: each phase between synchronisations (slower in total than the
// pipelined step, which lets the host queue work ahead).
std::vector<std::pair<std::string, double>> time_phases(StepRig& rig, torch::Device dev, int iters) {
  std::vector<std::string> order;
  std::map<std::string, std::vector<double>> times;
  auto t0 = Clock::now();
  const std::function<void(const char*)> record = [&](const char* phase) {
    synchronize(dev);
    if (!times.count(phase)) order.push_back(phase);
    times[phase].push_back(ms_since(t0));
    t0 = Clock::now();
  };
  for (int i = 0; i < iters; ++i) {
    synchronize(dev);
    t0 = Clock::now();
    rig.step(record);
  }
  std::vector<std::pair<std::string, double>> phases;
  for (const auto& phase : order) phases.emplace_back(phase, median(times[phase]));
  return phases;
}

void print_json(const BenchResult& r, const Config& cfg, bool real) {
  std::string ph;
  for (const auto& [name, ms] : r.phases)
    ph += fmt::format("{}{}: {:.3f}", ph.empty() ? "" : ", ", quoted_string(name), ms);
  std::cout << fmt::format(
      "{{\"device\": {}, \"skip\": {}, \"batch\": {}, \"size\": {}, \"amp\": {}, \"channels_last\": {}, "
      "\"real\": {}, \"ms_per_step\": {:.3f}, \"img_per_s\": {:.2f}, \"tflops\": {:.3f}, \"peak_device_mib\": {}, "
      "\"peak_host_mib\": {:.0f}, \"phases_ms\": {{{}}}}}\n",
      quoted_string(r.device), static_cast<int>(cfg.model.skip), r.batch, r.size,
      quoted_string(to_string(cfg.optim.amp)), cfg.optim.channels_last, real, r.step_ms, r.img_s, r.tflops,
      r.mem.known ? fmt::format("{:.0f}", r.mem.peak_allocated_mib) : "null", r.host_mib, ph);
}

void print_table(const BenchResult& r, const Config& cfg, const BenchOptions& o) {
  std::cout << fmt::format(
      "bench train: {} | FCN-{}s width {} {} padding | batch {} x {}x{} | amp {} | {} | {} | {} x {} steps after {} "
      "warm-up\n"
      "  {:.1f} ms/step (median of {})   {:.1f} images/s   {:.2f} GFLOP/image (fwd)   {:.3f} TFLOP/s achieved\n",
      r.device, static_cast<int>(cfg.model.skip), cfg.model.width, to_string(cfg.model.padding), r.batch, r.size,
      r.size, to_string(cfg.optim.amp), cfg.optim.channels_last ? "channels_last" : "contiguous",
      o.real ? "real loader" : "synthetic input", o.repeats, o.iters, o.warmup, r.step_ms, o.repeats, r.img_s,
      r.fwd_flops / 1e9, r.tflops);
  if (r.mem.known)
    std::cout << fmt::format("  peak device memory {:.0f} MiB allocated, {:.0f} MiB reserved\n",
                             r.mem.peak_allocated_mib, r.mem.peak_reserved_mib);
  std::cout << fmt::format("  peak host memory {:.0f} MiB\n", r.host_mib);
  if (r.phases.empty()) return;
  double sum = 0;
  for (const auto& ph : r.phases) sum += ph.second;
  std::cout << fmt::format("  breakdown (median ms, synchronised between phases; sum {:.1f} ms):\n", sum);
  for (const auto& [name, ms] : r.phases)
    std::cout << fmt::format("    {:<16} {:8.2f} ms  {:5.1f}%\n", name, ms, sum > 0 ? 100.0 * ms / sum : 0.0);
}

BenchResult run_bench(const Config& cfg, BenchOptions o) {
  const RuntimeInfo rt = configure_runtime(cfg);
  const torch::Device dev = rt.device;
  if (o.batch <= 0) o.batch = cfg.optim.batch_size;
  if (o.size <= 0) o.size = cfg.data.crop > 0 ? cfg.data.crop : 500;
  if (o.real) o.size = cfg.data.crop;
  StepRig rig(cfg, dev, o);
  BenchResult r;
  r.device = rt.device_name;
  r.batch = o.batch;
  r.size = o.size;
  r.step_ms = time_steps(rig, dev, o);
  r.mem = peak_memory(dev);
  if (o.breakdown) r.phases = time_phases(rig, dev, o.iters);
  r.img_s = 1000.0 * o.batch / r.step_ms;
  r.fwd_flops = static_cast<double>(fcn_flops(cfg.model, cfg.data.num_classes, o.size, o.size));
  r.tflops = 3.0 * r.fwd_flops * o.batch / (r.step_ms / 1000.0) / 1e12;
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  r.host_mib = static_cast<double>(ru.ru_maxrss) / 1024.0;
  return r;
}

}  // namespace

int bench_train(const Args& args) {
  po::options_description opts("Options");
  BenchOptions o;
  opts.add_options()("batch", po::value<int>(&o.batch), "batch size (default: optim.batch_size)")(
      "size", po::value<int>(&o.size), "square input size (default: data.crop, or 500 when it is 0)")(
      "iters", po::value<int>(&o.iters)->default_value(20), "steps per timed repeat")(
      "repeats", po::value<int>(&o.repeats)->default_value(3), "timed repeats (the median is reported)")(
      "warmup", po::value<int>(&o.warmup)->default_value(3), "untimed steps first")(
      "real",
      "feed batches from the configured training loader (data.crop, data.workers) instead of synthetic tensors")(
      "breakdown", "also time forward, loss, backward and optimiser step separately (synchronising between them)")(
      "json", "print one JSON line (for scripts) instead of the table");
  const auto p = parse_args("bench train", args, opts, true);
  if (p.help) {
    print_help(
        "fcnlab bench train --config F [key=value]... [--batch B] [--size S] [--iters N] [--repeats R] [--warmup W]\n"
        "                   [--real] [--breakdown] [--json]",
        "Times full training steps exactly as `fcnlab train` runs them (forward under optim.amp's\n"
        "autocast, loss, backward, fp16 loss scaling, optimiser step; optim.channels_last layout) after\n"
        "warm-up: each repeat times N steps between two device synchronisations, the median repeat is\n"
        "reported as ms/step and images/s, with the model's FLOPs, the achieved TFLOP/s (training =\n"
        "3 x forward FLOPs), peak device memory (CUDA) and peak host memory.",
        opts);
    return 0;
  }
  if (o.iters < 1 || o.repeats < 1 || o.warmup < 0)
    throw UsageError(fmt::format("bench train: --iters and --repeats must be >= 1 and --warmup >= 0 (got {}, {}, {})",
                                 o.iters, o.repeats, o.warmup));
  o.real = p.vm.count("real") > 0;
  o.breakdown = p.vm.count("breakdown") > 0;
  o.json = p.vm.count("json") > 0;
  const Config cfg = load_config(p);
  init_logging("warn");
  if (o.real && cfg.data.crop <= 0)
    throw UsageError("bench train --real needs data.crop > 0 (whole images have no fixed size to time)");
  const BenchResult r = run_bench(cfg, o);
  if (o.json)
    print_json(r, cfg, o.real);
  else
    print_table(r, cfg, o);
  return 0;
}

}  // namespace fcnlab::cli
