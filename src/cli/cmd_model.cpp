#include <fmt/format.h>

#include <cstdio>
#include <iostream>
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

}  // namespace

int cmd_model(const Args& args) {
  std::string size;
  int classes = 0, bench_steps = 0, batch = 0;
  po::options_description opts("Options");
  opts.add_options()("size", po::value<std::string>(&size), "input size HxW (default: data.crop, or 500x500 when 0)")(
      "classes", po::value<int>(&classes), "number of classes (default: data.num_classes)")(
      "bench", po::value<int>(&bench_steps), "also time N training steps (fcnlab bench train) on random data")(
      "batch", po::value<int>(&batch), "batch size of --bench (default: optim.batch_size)");
  const auto p = parse_args("model", args, opts, true);
  if (p.help) {
    print_help("fcnlab model [--config FILE]... [--size HxW] [--classes C] [--bench N [--batch B]] [key=value]...",
               "Prints the FCN of the resolved config layer by layer: operation, channels, output size and\n"
               "stride at the given input size, parameters and forward FLOPs per image (2 x multiply-adds).\n"
               "Crop offsets (padding = caffe) are derived from the layer geometry. --bench N then times\n"
               "N training steps of this config at this size: `fcnlab bench train --iters N --repeats 1`.",
               opts);
    return 0;
  }
  const Config cfg = load_config(p);
  if (!p.vm.count("classes")) classes = cfg.data.num_classes;
  if (classes < 1) throw UsageError(fmt::format("fcnlab model: --classes {}: must be >= 1", classes));
  int h = cfg.data.crop > 0 ? cfg.data.crop : 500, w = h;
  if (!size.empty()) std::tie(h, w) = parse_size(size);
  print_table(cfg.model, classes, h, w);
  if (bench_steps <= 0) return 0;
  // The trainer's own step, timed as `fcnlab bench train` times it.
  if (h != w) throw UsageError(fmt::format("fcnlab model: --bench times square inputs, not --size {}x{}", h, w));
  Args bench_args;
  for (const auto& c : p.configs) bench_args.insert(bench_args.end(), {"--config", c});
  bench_args.insert(bench_args.end(), p.overrides.begin(), p.overrides.end());
  bench_args.insert(bench_args.end(), {"data.num_classes=" + std::to_string(classes), "--size", std::to_string(h),
                                       "--iters", std::to_string(bench_steps), "--repeats", "1"});
  if (p.vm.count("batch")) bench_args.insert(bench_args.end(), {"--batch", std::to_string(batch)});
  std::cout << '\n';
  return bench_train(bench_args);
}

}  // namespace fcnlab::cli
