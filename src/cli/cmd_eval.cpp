#include <fmt/format.h>

#include <iostream>

#include "cli/final_table.h"
#include "cli/options.h"
#include "config/loader.h"
#include "core/error.h"
#include "core/log.h"
#include "results/run_file.h"
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
  const RunFileReader reader(run);
  const RunInfo info = reader.info();
  const Config cfg =
      ConfigBuilder().add_text(info.config_toml, run + " (config_toml)").add_overrides(p.overrides).build();
  init_logging(to_string(cfg.run.log_level));
  EvalOptions options;
  options.weights = checkpoint.empty() ? run_paths(cfg).final_weights() : std::filesystem::path(checkpoint);
  options.split = split;
  std::cout << fmt::format("{} on split '{}' with {}\n", info.run_id, split.empty() ? cfg.data.val_split : split,
                           options.weights.string());
  std::cout << format_final(evaluate_saved_model(cfg, options));
  return 0;
}

}  // namespace fcnlab::cli
