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

int bench_train(const Args& args) {
  po::options_description opts("Options");
  int batch = 0, size = 0, iters = 20, warmup = 3, repeats = 3;
  opts.add_options()("batch", po::value<int>(&batch), "batch size (default: optim.batch_size)")(
      "size", po::value<int>(&size), "square input size (default: data.crop, or 500 when it is 0)")(
      "iters", po::value<int>(&iters)->default_value(20), "steps per timed repeat")(
      "repeats", po::value<int>(&repeats)->default_value(3), "timed repeats (the median is reported)")(
      "warmup", po::value<int>(&warmup)->default_value(3), "untimed steps first")(
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
  if (iters < 1 || repeats < 1 || warmup < 0)
    throw UsageError(fmt::format("bench train: --iters and --repeats must be >= 1 and --warmup >= 0 (got {}, {}, {})",
                                 iters, repeats, warmup));
  const Config cfg = load_config(std::vector<std::filesystem::path>(p.configs.begin(), p.configs.end()), p.overrides);
  init_logging("warn");
  const RuntimeInfo rt = configure_runtime(cfg);
  const torch::Device dev = rt.device;
  const bool real = p.vm.count("real") > 0;
  if (batch <= 0) batch = cfg.optim.batch_size;
  if (size <= 0) size = cfg.data.crop > 0 ? cfg.data.crop : 500;
  if (real && cfg.data.crop <= 0)
    throw UsageError("bench train --real needs data.crop > 0 (whole images have no fixed size to time)");
  const int h = real ? cfg.data.crop : size;
  const int classes = cfg.data.num_classes;

  FCN model = make_fcn(cfg.model, classes);
  prepare_model(model, cfg, dev);
  model->train();
  const std::vector<torch::Tensor> params = trainable_parameters(model);
  const auto opt = make_optimizer(cfg.optim, model);
  const auto loss_fn = make_step_loss(cfg, cfg.loss.class_weights);
  LossScaler scaler(dev, cfg.optim.amp == Amp::fp16);
  const StepSettings settings{dev, cfg.optim.amp, cfg.optim.channels_last};

  std::unique_ptr<TrainLoader> loader;
  if (real) {
    loader = std::make_unique<TrainLoader>(VocSegmentation::from_config(cfg.data, Split::train), cfg.data, batch,
                                           static_cast<std::uint64_t>(cfg.run.seed), cfg.data.workers);
    loader->set_pin_memory(dev.is_cuda());
  }
  // Synthetic inputs live on the device already: the step alone is timed.
  const auto synth_images = torch::randn({batch, 3, size, size}).to(dev);
  const auto synth_labels = torch::randint(0, classes, {batch, size, size}, torch::kInt64).to(dev);
  auto next = [&]() -> std::pair<torch::Tensor, torch::Tensor> {
    if (!loader) return {synth_images, synth_labels};
    Batch b = loader->next();
    return {b.images, b.labels};
  };
  // One training step; `after_phase` (for --breakdown) is called after each of its phases.
  auto step = [&](const std::function<void(const char* phase)>& after_phase = {}) {
    opt->zero_grad();
    if (after_phase) after_phase("zero_grad");
    const auto [images, labels] = next();
    forward_backward(model, *loss_fn, images, labels, settings, scaler, 1.0, after_phase);
    scaler.step(*opt, params);
    if (after_phase) after_phase("optimiser step");
  };

  for (int i = 0; i < warmup; ++i) step();
  synchronize(dev);
  reset_peak_memory(dev);
  std::vector<double> per_step;
  for (int r = 0; r < repeats; ++r) {
    synchronize(dev);
    const auto t0 = Clock::now();
    for (int i = 0; i < iters; ++i) step();
    synchronize(dev);
    per_step.push_back(ms_since(t0) / iters);
  }
  const DeviceMemory mem = peak_memory(dev);

  // Where the step's time goes: each phase between synchronisations (slower in total than the
  // pipelined step above, which lets the host queue work ahead).
  std::vector<std::pair<std::string, double>> phases;
  if (p.vm.count("breakdown")) {
    // The timed step itself, with a synchronisation after each phase.
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
      step(record);
    }
    for (const auto& phase : order) phases.emplace_back(phase, median(times[phase]));
  }

  const double step_ms = median(per_step);
  const double img_s = 1000.0 * batch / step_ms;
  const double fwd_flops = static_cast<double>(fcn_flops(cfg.model, classes, h, h));
  const double tflops = 3.0 * fwd_flops * batch / (step_ms / 1000.0) / 1e12;
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  const double host_mib = static_cast<double>(ru.ru_maxrss) / 1024.0;
  if (p.vm.count("json")) {
    std::string ph;
    for (const auto& [name, ms] : phases)
      ph += fmt::format("{}{}: {:.3f}", ph.empty() ? "" : ", ", quoted_string(name), ms);
    std::cout << fmt::format(
        "{{\"device\": {}, \"skip\": {}, \"batch\": {}, \"size\": {}, \"amp\": {}, \"channels_last\": {}, "
        "\"real\": {}, \"ms_per_step\": {:.3f}, \"img_per_s\": {:.2f}, \"tflops\": {:.3f}, \"peak_device_mib\": {}, "
        "\"peak_host_mib\": {:.0f}, \"phases_ms\": {{{}}}}}\n",
        quoted_string(rt.device_name), static_cast<int>(cfg.model.skip), batch, h,
        quoted_string(to_string(cfg.optim.amp)), cfg.optim.channels_last, real, step_ms, img_s, tflops,
        mem.known ? fmt::format("{:.0f}", mem.peak_allocated_mib) : "null", host_mib, ph);
    return 0;
  }
  std::cout << fmt::format(
      "bench train: {} | FCN-{}s width {} {} padding | batch {} x {}x{} | amp {} | {} | {} | {} x {} steps after {} "
      "warm-up\n"
      "  {:.1f} ms/step (median of {})   {:.1f} images/s   {:.2f} GFLOP/image (fwd)   {:.3f} TFLOP/s achieved\n",
      rt.device_name, static_cast<int>(cfg.model.skip), cfg.model.width, to_string(cfg.model.padding), batch, h, h,
      to_string(cfg.optim.amp), cfg.optim.channels_last ? "channels_last" : "contiguous",
      real ? "real loader" : "synthetic input", repeats, iters, warmup, step_ms, repeats, img_s, fwd_flops / 1e9,
      tflops);
  if (mem.known)
    std::cout << fmt::format("  peak device memory {:.0f} MiB allocated, {:.0f} MiB reserved\n", mem.peak_allocated_mib,
                             mem.peak_reserved_mib);
  std::cout << fmt::format("  peak host memory {:.0f} MiB\n", host_mib);
  if (!phases.empty()) {
    double sum = 0;
    for (const auto& ph : phases) sum += ph.second;
    std::cout << fmt::format("  breakdown (median ms, synchronised between phases; sum {:.1f} ms):\n", sum);
    for (const auto& [name, ms] : phases)
      std::cout << fmt::format("    {:<16} {:8.2f} ms  {:5.1f}%\n", name, ms, sum > 0 ? 100.0 * ms / sum : 0.0);
  }
  return 0;
}

}  // namespace fcnlab::cli
