#include <fmt/format.h>
#include <sys/resource.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <iostream>

#include "cli/options.h"
#include "config/loader.h"
#include "core/error.h"
#include "core/log.h"
#include "data/loader.h"
#include "data/voc.h"
#include "loss/loss.h"
#include "model/fcn.h"
#include "model/geometry.h"
#include "train/evaluate.h"

namespace fcnlab::cli {

namespace {
void sync(const torch::Device& d) {
  if (d.is_cuda()) torch::cuda::synchronize();
}
double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v[v.size() / 2];
}
}  // namespace

int bench_train(const Args& args) {
  po::options_description opts("Options");
  int batch = 0, size = 0, iters = 20, warmup = 3;
  opts.add_options()("batch", po::value<int>(&batch), "batch size (default: optim.batch_size)")(
      "size", po::value<int>(&size), "square input size (default: data.crop, or 500 when it is 0)")(
      "iters", po::value<int>(&iters)->default_value(20), "timed steps")(
      "warmup", po::value<int>(&warmup)->default_value(3), "untimed steps first")(
      "real", "feed batches from the configured training loader instead of synthetic tensors");
  const auto p = parse_args("bench train", args, opts, true);
  if (p.help) {
    print_help("fcnlab bench train --config F [key=value]... [--batch B] [--size S] [--iters N] [--warmup W] [--real]",
               "Times full training steps (forward, loss, backward, optimiser step) with device\n"
               "synchronisation after each, after warm-up; prints the median ms/step, images/s, the\n"
               "model's FLOPs and the achieved TFLOP/s (training = 3 x forward FLOPs), and peak memory.",
               opts);
    return 0;
  }
  const Config cfg = load_config(std::vector<std::filesystem::path>(p.configs.begin(), p.configs.end()), p.overrides);
  init_logging("warn");
  const RuntimeInfo rt = configure_runtime(cfg);
  if (batch <= 0) batch = cfg.optim.batch_size;
  if (size <= 0) size = cfg.data.crop > 0 ? cfg.data.crop : 500;
  const int classes = cfg.data.num_classes;
  FCN model = make_fcn(cfg.model, classes);
  model->to(rt.device);
  model->train();
  torch::optim::SGD opt(
      trainable_parameters(model),
      torch::optim::SGDOptions(cfg.optim.lr).momentum(cfg.optim.momentum).weight_decay(cfg.optim.weight_decay));
  const auto loss_fn = make_loss(cfg.loss, classes, cfg.loss.class_weights);

  std::unique_ptr<TrainLoader> loader;
  if (p.vm.count("real")) {
    loader = std::make_unique<TrainLoader>(VocSegmentation::from_config(cfg.data, Split::train), cfg.data, batch,
                                           static_cast<std::uint64_t>(cfg.run.seed), cfg.data.workers);
  }
  const auto synth_images = torch::randn({batch, 3, size, size}).to(rt.device);
  const auto synth_labels = torch::randint(0, classes, {batch, size, size}, torch::kInt64).to(rt.device);
  std::vector<double> ms;
  for (int i = 0; i < warmup + iters; ++i) {
    sync(rt.device);
    const auto t0 = std::chrono::steady_clock::now();
    torch::Tensor images = synth_images, labels = synth_labels;
    if (loader) {
      Batch b = loader->next();
      images = b.images.to(rt.device, true);
      labels = b.labels.to(rt.device, true);
    }
    opt.zero_grad();
    auto loss = (*loss_fn)(model->forward(images), labels);
    loss.backward();
    opt.step();
    sync(rt.device);
    if (i >= warmup)
      ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  const int h = loader ? static_cast<int>(cfg.data.crop) : size;
  const double step_ms = median(ms);
  const double flops = 3.0 * static_cast<double>(fcn_flops(cfg.model, classes, h, h)) * batch;
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  std::cout << fmt::format(
      "bench train: {} | FCN-{}s width {} {} padding | batch {} x {}x{} | {} | {} timed steps after {} warm-up\n"
      "  {:.1f} ms/step (median)   {:.1f} images/s   {:.2f} GFLOP/image (fwd)   {:.3f} TFLOP/s achieved\n"
      "  peak host memory {:.0f} MiB\n",
      rt.device_name, static_cast<int>(cfg.model.skip), cfg.model.width, to_string(cfg.model.padding), batch, h, h,
      loader ? "real loader" : "synthetic input", iters, warmup, step_ms, 1000.0 * batch / step_ms,
      flops / 3.0 / batch / 1e9, flops / (step_ms / 1000.0) / 1e12, static_cast<double>(ru.ru_maxrss) / 1024.0);
  return 0;
}

}  // namespace fcnlab::cli
