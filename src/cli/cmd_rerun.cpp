#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <torch/version.h>

#include <algorithm>
#include <cmath>
#include <iostream>

#include "cli/options.h"
#include "config/loader.h"
#include "core/error.h"
#include "core/log.h"
#include "core/version.h"
#include "data/check.h"
#include "results/run_file.h"
#include "train/evaluate.h"
#include "train/trainer.h"

namespace fcnlab::cli {

namespace {

struct Row {
  std::string name;
  double old_value, new_value;
};

// Every final metric, scalar and per class, paired by name.
std::vector<Row> compare(const FinalRecord& a, const FinalRecord& b) {
  std::vector<Row> rows;
  for (const auto& [name, v] : a.scalars) rows.push_back({name, v, b.scalar(name).value_or(NAN)});
  for (int c = 0; c < a.num_classes() && c < b.num_classes(); ++c) {
    const auto k = static_cast<std::size_t>(c);
    rows.push_back({"iou/" + a.class_names[k], a.per_class_iou[k], b.per_class_iou[k]});
    rows.push_back({"bf/" + a.class_names[k], a.bf_per_class[k], b.bf_per_class[k]});
    rows.push_back({"boundary_iou/" + a.class_names[k], a.boundary_iou_per_class[k], b.boundary_iou_per_class[k]});
  }
  return rows;
}

}  // namespace

int cmd_rerun(const Args& args) {
  po::options_description opts("Options");
  double tolerance = -1;
  opts.add_options()("tolerance", po::value<double>(&tolerance),
                     "largest allowed |difference| of any metric (default: 0 for a deterministic CPU run, 0.02 "
                     "otherwise)");
  const auto p = parse_args("rerun", args, opts, false, 1);
  if (p.help) {
    print_help("fcnlab rerun FILE.h5 [--tolerance X] [key=value]...",
               "Retrains a run from the config recorded in its file (plus any overrides) into\n"
               "results/<experiment>/reruns/, then prints every final metric side by side (old, new,\n"
               "difference). Exits 1 when any differs by more than the tolerance. Warns when the commit,\n"
               "LibTorch version or dataset fingerprint differ from the recorded ones. A CPU run is rerun\n"
               "with the thread count it recorded unless run.threads is given: intra-op reductions split\n"
               "their work by thread, so the count changes results in rounding.",
               opts);
    return 0;
  }
  if (p.positional.empty()) throw UsageError("fcnlab rerun: missing the run file FILE.h5 (see fcnlab rerun --help)");
  const std::string file = p.positional.front();
  const RunFileReader reader(file);
  const RunInfo old_info = reader.info();
  const auto old_final = reader.final();
  if (!old_final)
    throw IoError(fmt::format("{}: status {} and no /final scores; only finished runs can be compared", file,
                              to_string(old_info.status)));
  // The recorded thread count, unless the user sets one (see recorded_cpu_threads).
  std::vector<std::string> overrides;
  const bool user_threads = std::any_of(p.overrides.begin(), p.overrides.end(),
                                        [](const std::string& o) { return o.rfind("run.threads=", 0) == 0; });
  if (const int threads = recorded_cpu_threads(old_info.device); threads > 0 && !user_threads)
    overrides.push_back(fmt::format("run.threads={}", threads));
  overrides.insert(overrides.end(), p.overrides.begin(), p.overrides.end());
  const Config cfg =
      ConfigBuilder().add_text(old_info.config_toml, file + " (config_toml)").add_overrides(overrides).build();
  init_logging(to_string(cfg.run.log_level));
  if (tolerance < 0) tolerance = (old_info.deterministic && old_info.device.rfind("cpu", 0) == 0) ? 0.0 : 0.02;

  if (old_info.git_commit != git_commit() || old_info.git_dirty || git_dirty())
    spdlog::warn("recorded commit {}{} differs from this build's {}{}", old_info.git_commit,
                 old_info.git_dirty ? "-dirty" : "", git_commit(), git_dirty() ? "-dirty" : "");
  if (old_info.torch_version != TORCH_VERSION)
    spdlog::warn("recorded LibTorch {} differs from this build's {}", old_info.torch_version, TORCH_VERSION);
  if (old_info.schema_version < 2)
    spdlog::warn(
        "{} is of schema_version 1: its bf_score and boundary_iou counted the prediction on void pixels, so "
        "they may differ from the rerun's for that reason alone",
        file);
  const std::string fingerprint = dataset_fingerprint(cfg.data);
  if (!old_info.data_fingerprint.empty() && old_info.data_fingerprint != fingerprint)
    spdlog::warn("dataset fingerprint {} differs from the recorded {}: the data changed", fingerprint,
                 old_info.data_fingerprint);

  TrainOptions options;
  options.restart = true;
  options.subdir = "reruns";
  options.overrides = old_info.overrides;
  for (const auto& o : overrides) options.overrides += (options.overrides.empty() ? "" : " ") + o;
  const TrainResult r = train_run(cfg, options);
  if (r.interrupted) throw Error(r.message);
  const RunFileReader rerun(r.paths.result_file);
  const auto new_final = rerun.final();
  if (!new_final) {
    std::cout << fmt::format("rerun ended with status {} ({}); the original finished\n", to_string(r.status),
                             r.message);
    return 1;
  }
  int failures = 0;
  std::cout << fmt::format("{:<28} {:>12} {:>12} {:>12}\n", "metric", "old", "new", "difference");
  for (const auto& row : compare(*old_final, *new_final)) {
    const bool both_nan = std::isnan(row.old_value) && std::isnan(row.new_value);
    const double diff = both_nan ? 0.0 : row.new_value - row.old_value;
    const bool bad = !both_nan && !(std::fabs(diff) <= tolerance);
    failures += bad ? 1 : 0;
    std::cout << fmt::format("{:<28} {:>12.6f} {:>12.6f} {:>+12.2e}{}\n", row.name, row.old_value, row.new_value, diff,
                             bad ? "  <-- beyond tolerance" : "");
  }
  std::cout << fmt::format("rerun: {} -> {}\n{} metric(s) differ by more than {}\n", file, r.paths.result_file.string(),
                           failures, tolerance);
  return failures == 0 ? 0 : 1;
}

}  // namespace fcnlab::cli
