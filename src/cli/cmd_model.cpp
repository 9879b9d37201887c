#include <fmt/format.h>
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <thread>
#include <tuple>

#include "cli/options.h"
#include "config/loader.h"
#include "core/error.h"
#include "model/fcn.h"
#include "model/geometry.h"

namespace fcnlab::cli {

namespace {

std::pair<int, int> parse_size(const std::string& s) {
  int h = 0, w = 0;
  char x = 0, extra = 0;
  if (std::sscanf(s.c_str(), "%d%c%d%c", &h, &x, &w, &extra) != 3 || (x != 'x' && x != 'X') || h < 1 || w < 1)
    throw UsageError(fmt::format("fcnlab model: --size '{}': expected HxW with positive integers, e.g. 500x500", s));
  return {h, w};
}

std::string thousands(std::int64_t n) {
  std::string s = std::to_string(n), out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (i > 0 && (s.size() - i) % 3 == 0) out += ',';
    out += s[i];
  }
  return out;
}

void print_table(const ModelConfig& m, int classes, int h, int w) {
  const FcnSpec spec = fcn_spec(m, classes);
  const auto layers = fcn_layers(spec, h, w);
  const LayerTotals t = totals(layers);
  std::cout << fmt::format(
      "{}: VGG16{} width {} (channels {}/{}/{}/{}/{}, fc {}), fusion {}, upsample {}, padding {}, score_scaling {}, "
      "{} classes, input {}x{}\n\n",
      fcn_name(m.skip), m.batchnorm ? "-BN" : "", m.width, spec.block_channels[0], spec.block_channels[1],
      spec.block_channels[2], spec.block_channels[3], spec.block_channels[4], spec.fc_channels, to_string(m.fusion),
      to_string(m.upsample), to_string(m.padding), m.score_scaling, classes, h, w);
  std::cout << fmt::format("{:<14} {:<38} {:>5} {:>5} {:>11} {:>6} {:>13} {:>11}\n", "layer", "operation", "in", "out",
                           "output", "stride", "params", "MFLOPs");
  for (const auto& l : layers) {
    const std::string params = l.frozen > 0 ? thousands(l.frozen) + "*" : l.params > 0 ? thousands(l.params) : "-";
    std::cout << fmt::format("{:<14} {:<38} {:>5} {:>5} {:>11} {:>6} {:>13} {:>11}\n", l.name, l.op, l.in_channels,
                             l.out_channels, fmt::format("{}x{}", l.height, l.width), fmt::format("{:g}", l.stride),
                             params, l.macs > 0 ? fmt::format("{:.1f}", 2e-6 * static_cast<double>(l.macs)) : "-");
  }
  std::cout << fmt::format(
      "\nparameters: {} trainable{}\n", thousands(t.params),
      t.frozen > 0 ? fmt::format(", {} frozen (* fixed bilinear kernels, buffers)", thousands(t.frozen)) : "");
  std::cout << fmt::format(
      "FLOPs per image at {}x{}: {:.4g} GFLOPs (forward; 2 x multiply-adds of convs and transposed "
      "convs over their full outputs; BN, ReLU, pooling and sums not counted)\n",
      h, w, 2e-9 * static_cast<double>(t.macs));
}

void bench(const Config& cfg, int classes, int h, int w, int batch, int steps) {
  torch::set_num_threads(cfg.run.threads > 0 ? cfg.run.threads : static_cast<int>(std::thread::hardware_concurrency()));
  torch::manual_seed(cfg.run.seed);
  FCN model = make_fcn(cfg.model, classes);
  model->train();
  torch::optim::SGD sgd(
      trainable_parameters(model),
      torch::optim::SGDOptions(1e-3).momentum(cfg.optim.momentum).weight_decay(cfg.optim.weight_decay));
  const auto x = torch::randn({batch, 3, h, w});
  const auto y = torch::randint(0, classes, {batch, h, w}, torch::kLong);
  auto step = [&] {
    sgd.zero_grad();
    auto loss = torch::nn::functional::cross_entropy(
        model->forward(x), y, torch::nn::functional::CrossEntropyFuncOptions().ignore_index(255));
    loss.backward();
    sgd.step();
  };
  for (int i = 0; i < 3; ++i) step();  // warm-up
  double fwd = 0;
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < steps; ++i) step();
  const double train = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / steps;
  {
    torch::NoGradGuard no_grad;
    model->eval();
    model->forward(x);
    const auto t1 = std::chrono::steady_clock::now();
    for (int i = 0; i < steps; ++i) model->forward(x);
    fwd = std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count() / steps;
  }
  std::cout << fmt::format(
      "\nbench ({} threads, batch {} of {}x{}, {} steps after 3 warm-up):\n"
      "  train step (forward + cross-entropy backward + SGD step): {:.1f} ms/step, {:.1f} img/s\n"
      "  inference forward (eval, no grad):                        {:.1f} ms/batch, {:.1f} img/s\n",
      torch::get_num_threads(), batch, h, w, steps, 1e3 * train, batch / train, 1e3 * fwd, batch / fwd);
}

}  // namespace

int cmd_model(const Args& args) {
  std::string size;
  int classes = 0, bench_steps = 0, batch = 0;
  po::options_description opts("Options");
  opts.add_options()("size", po::value<std::string>(&size), "input size HxW (default: data.crop, or 500x500 when 0)")(
      "classes", po::value<int>(&classes), "number of classes (default: data.num_classes)")(
      "bench", po::value<int>(&bench_steps), "also time N training steps on random data (run.threads threads)")(
      "batch", po::value<int>(&batch), "batch size of --bench (default: optim.batch_size)");
  const auto p = parse_args("model", args, opts, true);
  if (p.help) {
    print_help("fcnlab model [--config FILE]... [--size HxW] [--classes C] [--bench N [--batch B]] [key=value]...",
               "Prints the FCN of the resolved config layer by layer: operation, channels, output size and\n"
               "stride at the given input size, parameters and forward FLOPs per image (2 x multiply-adds).\n"
               "Crop offsets (padding = caffe) are derived from the layer geometry. --bench N times N\n"
               "training steps (forward + cross-entropy backward + SGD step) and N inference forwards.",
               opts);
    return 0;
  }
  std::vector<std::filesystem::path> files(p.configs.begin(), p.configs.end());
  const Config cfg = load_config(files, p.overrides);
  if (!p.vm.count("classes")) classes = cfg.data.num_classes;
  if (classes < 1) throw UsageError(fmt::format("fcnlab model: --classes {}: must be >= 1", classes));
  int h = cfg.data.crop > 0 ? cfg.data.crop : 500, w = h;
  if (!size.empty()) std::tie(h, w) = parse_size(size);
  print_table(cfg.model, classes, h, w);
  if (bench_steps > 0) {
    if (!p.vm.count("batch")) batch = cfg.optim.batch_size;
    if (batch < 1) throw UsageError(fmt::format("fcnlab model: --batch {}: must be >= 1", batch));
    bench(cfg, classes, h, w, batch, bench_steps);
  }
  return 0;
}

}  // namespace fcnlab::cli
