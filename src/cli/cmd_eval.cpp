#include <fmt/format.h>

#include <iostream>

#include "cli/final_table.h"
#include "cli/options.h"
#include "core/error.h"
#include "train/trainer.h"

namespace fcnlab::cli {

int cmd_eval(const Args& args) {
  po::options_description opts("Options");
  std::string run, checkpoint, split;
  opts.add_options()("run", po::value<std::string>(&run), "the run's HDF5 file (its config is used)")(
      "checkpoint", po::value<std::string>(&checkpoint),
      "model weights to evaluate (default: the run's final weights in its work dir)")(
      "split", po::value<std::string>(&split), "split list name (default: data.val_split)");
  const auto p = parse_args("eval", args, opts, false);
  if (p.help) {
    print_help("fcnlab eval --run FILE.h5 [--checkpoint P] [--split S] [key=value]...",
               "Re-evaluates a trained model with every metric and prints the scores.", opts);
    return 0;
  }
  if (run.empty()) throw UsageError("fcnlab eval: missing --run FILE.h5 (see fcnlab eval --help)");
  const TrainedRun t = open_trained_run(run, checkpoint, p);
  EvalOptions options;
  options.weights = t.weights;
  options.split = split;
  std::cout << fmt::format("{} on split '{}' with {}\n", t.info.run_id, split.empty() ? t.config.data.val_split : split,
                           options.weights.string());
  std::cout << format_final(evaluate_saved_model(t.config, options));
  return 0;
}

}  // namespace fcnlab::cli
