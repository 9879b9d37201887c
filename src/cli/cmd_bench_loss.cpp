// fcnlab bench loss: forward + backward time of every loss at the toy training size.
#include <fmt/format.h>
#include <torch/torch.h>

#include <chrono>
#include <iostream>

#include "cli/options.h"
#include "config/enums.h"
#include "loss/loss.h"

namespace fcnlab::cli {

int bench_loss(const Args& args) {
  int iters = 20, batch = 8, classes = 7, size = 96, threads = 0;
  po::options_description opts("Options");
  opts.add_options()("iters", po::value<int>(&iters)->default_value(iters), "steps to time per loss")(
      "batch", po::value<int>(&batch)->default_value(batch), "batch size")(
      "classes", po::value<int>(&classes)->default_value(classes), "classes")(
      "size", po::value<int>(&size)->default_value(size), "square image size")(
      "threads", po::value<int>(&threads)->default_value(threads), "torch threads (0 = all cores)");
  const auto p = parse_args("bench loss", args, opts, false);
  if (p.help) {
    print_help("fcnlab bench loss [--iters N] [--batch B] [--classes C] [--size S] [--threads T]",
               "Times forward + backward of every loss.name on random float logits [B,C,S,S] and labels\n"
               "with 10% void, on the CPU (defaults: the toy training size), and the fused CE kernels\n"
               "that training uses with run.deterministic = false.",
               opts);
    return 0;
  }
  if (threads > 0) torch::set_num_threads(threads);
  torch::manual_seed(0);
  const auto logits0 = torch::randn({batch, classes, size, size});
  auto labels = torch::randint(0, classes, {batch, size, size}, torch::kLong);
  labels =
      torch::where(torch::rand({batch, size, size}) < 0.1, torch::full({}, std::int64_t{255}, torch::kLong), labels);
  std::vector<double> weights(static_cast<std::size_t>(classes), 1.0);
  std::cout << fmt::format("bench loss: logits [{}, {}, {}, {}] float, {} torch threads, forward + backward\n", batch,
                           classes, size, size, torch::get_num_threads());
  auto time_loss = [&](const Loss& loss, std::string_view label) {
    auto step = [&] {
      auto x = logits0.clone().requires_grad_(true);
      loss(x, labels).backward();
      return x.grad().sum().item<double>();
    };
    step();
    const auto t0 = std::chrono::steady_clock::now();
    double sink = 0;
    for (int i = 0; i < iters; ++i) sink += step();
    const double ms = 1000.0 * std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / iters;
    std::cout << fmt::format("  {:<12} {:7.2f} ms/step\n", label, ms);
    (void)sink;
  };
  for (const auto& [name, label] : EnumNames<LossName>::table) {
    LossConfig cfg;
    cfg.name = name;
    time_loss(*make_loss(cfg, classes, weights), label);
  }
  // What training with run.deterministic = false uses for ce.
  time_loss(*make_loss(LossConfig{}, classes, {}, LossKernels::fused), "ce, fused");
  return 0;
}

}  // namespace fcnlab::cli
