#include <fmt/format.h>

#include <chrono>
#include <iostream>

#include "cli/options.h"
#include "core/error.h"
#include "core/log.h"
#include "data/loader.h"
#include "data/voc.h"
#include "train/device.h"
#include "train/evaluate.h"
#include "train/step.h"

namespace fcnlab::cli {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

}  // namespace

int bench_eval(const Args& args) {
  po::options_description opts("Options");
  auto p = parse_args("bench eval", args, opts, true);
  if (p.help) {
    print_help("fcnlab bench eval --config F [key=value]...",
               "Times evaluation on data.val_split with a model of the config (random init): decoding the\n"
               "val batches alone, the model's forward alone, the metrics alone (one thread), and the\n"
               "whole evaluation as training runs it, where the three overlap (decoding ahead, metrics on\n"
               "up to data.workers threads beside the model). Prints images/s for each.",
               opts);
    return 0;
  }
  const Config cfg = load_config(p);
  init_logging("warn");
  const RuntimeInfo rt = configure_runtime(cfg);
  const auto val = VocSegmentation::from_config(cfg.data, Split::val);
  const double n = static_cast<double>(val->size());
  Learner learner(cfg, rt.device, {});
  FCN& model = learner.model();
  torch::NoGradGuard no_grad;
  model->eval();

  auto t0 = Clock::now();
  std::vector<Batch> batches;
  for (const auto& indices : val_batches(val->size(), cfg.data.val_batch))
    batches.push_back(load_val_batch(*val, indices, cfg.data));
  const double decode = seconds_since(t0);

  predict_batch(model, batches.front(), cfg, rt.device);  // warm-up (cuDNN's algorithm search)
  synchronize(rt.device);
  t0 = Clock::now();
  std::vector<BatchPredictions> preds;
  for (const auto& b : batches) preds.push_back(predict_batch(model, b, cfg, rt.device));
  const double forward = seconds_since(t0);

  t0 = Clock::now();
  for (const auto& pr : preds) score_batch(pr, cfg.data.num_classes, boundary_options(cfg.eval));
  const double metrics = seconds_since(t0);

  t0 = Clock::now();
  evaluate_model(model, *val, cfg, rt.device, nullptr, nullptr);
  const double whole = seconds_since(t0);

  std::cout << fmt::format(
      "bench eval: {} | {} val images, batches of {} | data.workers {}\n"
      "  decode   {:8.1f} images/s\n  forward  {:8.1f} images/s\n  metrics  {:8.1f} images/s (one thread)\n"
      "  whole    {:8.1f} images/s (overlapped: decode ahead, metrics beside the model)\n",
      rt.device_name, val->size(), cfg.data.val_batch, cfg.data.workers, n / decode, n / forward, n / metrics,
      n / whole);
  return 0;
}

}  // namespace fcnlab::cli
