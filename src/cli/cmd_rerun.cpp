#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <torch/version.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <map>
#include <optional>
#include <set>

#include "cli/options.h"
#include "config/loader.h"
#include "core/error.h"
#include "core/log.h"
#include "core/version.h"
#include "data/check.h"
#include "report/runs.h"
#include "report/stats.h"
#include "results/run_file.h"
#include "train/evaluate.h"
#include "train/run_paths.h"
#include "train/trainer.h"

namespace fcnlab::cli {

namespace {

namespace fs = std::filesystem;

// Without a seed spread to judge against: the tolerance for runs that cannot be bit-identical.
constexpr double kFallbackTolerance = 0.02;
// The family-wise false-failure rate of the spread rule over all the metrics it judges.
constexpr double kFamilyAlpha = 0.05;

// Every final metric, scalar and per class, by name.
std::vector<std::pair<std::string, double>> metrics_of(const FinalRecord& f) {
  std::vector<std::pair<std::string, double>> out(f.scalars.begin(), f.scalars.end());
  for (int c = 0; c < f.num_classes(); ++c) {
    const auto k = static_cast<std::size_t>(c);
    out.emplace_back("iou/" + f.class_names[k], f.per_class_iou[k]);
    out.emplace_back("bf/" + f.class_names[k], f.bf_per_class[k]);
    out.emplace_back("boundary_iou/" + f.class_names[k], f.boundary_iou_per_class[k]);
  }
  return out;
}

// A metric's seed-to-seed spread over the runs of one configuration, and the largest difference
// between two of its runs that the spread explains.
struct Spread {
  double std = 0;  // sample std over the finite values
  int n = 0;       // runs with a finite value
  double bound = 0;
};

// How differences are judged: each metric with a spread against its bound, every other one
// against `tolerance`.
struct Limits {
  double tolerance = 0;
  std::map<std::string, Spread> spread;
  double limit(const std::string& metric) const {
    const auto it = spread.find(metric);
    return it == spread.end() ? tolerance : it->second.bound;
  }
};

// The model of the processor a run's numbers came from: the GPU for a CUDA run, else the CPU.
// "" when not recorded (files before schema 4, or a CPU that names no model).
const std::string& processor_model(const RunInfo& i) {
  return i.device.rfind("cuda", 0) == 0 ? i.gpu_model : i.cpu_model;
}

std::string describe_processor(const RunInfo& i) {
  const std::string& model = processor_model(i);
  return fmt::format("{} on {}", model.empty() ? "an unrecorded processor model" : model, i.device);
}

// The finished runs of `file`'s configuration in its directory, one per seed, `file` first.
std::vector<report::Run> seed_runs(const fs::path& file) {
  std::vector<report::Run> out{report::load_run(file)};
  std::set<std::int64_t> seeds{out.front().info.seed};
  const fs::path dir = file.has_parent_path() ? file.parent_path() : fs::path(".");
  for (auto& run : report::load_runs(dir).runs) {  // unreadable or unfinished files are left out
    std::error_code ec;
    // One configuration: no key but run.seed and those left out of the hash differs.
    if (fs::equivalent(run.file, file, ec) ||
        !report::varying_keys(std::vector<const report::Run*>{&run, &out.front()}).empty())
      continue;
    if (seeds.insert(run.info.seed).second) out.push_back(std::move(run));
  }
  return out;
}

// Bonferroni over the m metrics judged: each bound is the two-sided 1 - alpha/m quantile of a
// t with n - 1 df times sqrt(2) s, the spread of the difference of two independent runs.
void set_bounds(std::map<std::string, Spread>& spread) {
  const double m = static_cast<double>(spread.size());
  for (auto& [name, s] : spread) {
    s.bound = report::t_quantile(1 - kFamilyAlpha / (2 * m), s.n - 1.0) * std::sqrt(2.0) * s.std;
  }
}

std::map<std::string, Spread> seed_spread(const std::vector<report::Run>& runs) {
  std::map<std::string, std::vector<double>> values;
  for (const auto& run : runs)
    for (const auto& [name, v] : metrics_of(run.final)) values[name].push_back(v);
  std::map<std::string, Spread> out;
  for (const auto& [name, v] : values)
    if (const auto ms = report::mean_std(v); ms.n >= 2) out[name] = {ms.std, ms.n, 0};
  set_bounds(out);
  return out;
}

std::string seed_list(const std::vector<report::Run>& runs) {
  std::string out;
  for (const auto& r : runs) out += (out.empty() ? "" : ", ") + std::to_string(r.info.seed);
  return out;
}

// Another processor model: bit-identity is not expected, so each metric is judged against the
// seed-to-seed spread of the configuration, or at the fallback tolerance without one.
Limits limits_across_processors(const fs::path& file, const RunInfo& old_info, const RunInfo& new_info) {
  std::cout << fmt::format(
      "note: the original ran on {}, this rerun on {}: bit-identity is not expected across processor models "
      "(their kernels round differently, and the differences grow during training)\n",
      describe_processor(old_info), describe_processor(new_info));
  const auto runs = seed_runs(file);
  const fs::path dir = file.has_parent_path() ? file.parent_path() : fs::path(".");
  if (runs.size() < 2) {
    std::cout << fmt::format(
        "{} holds no other finished seed of this configuration, so its seed-to-seed spread is unknown: every "
        "metric is judged at the tolerance {} instead\n",
        dir.string(), kFallbackTolerance);
    return {kFallbackTolerance, {}};
  }
  Limits limits{kFallbackTolerance, seed_spread(runs)};
  std::cout << fmt::format(
      "judging each metric against the seed-to-seed spread of this configuration: {} runs in {} (seeds {}); "
      "bound = t(n - 1, 1 - {} / (2 m)) * sqrt(2) * seed std, m = {} metrics\n",
      runs.size(), dir.string(), seed_list(runs), kFamilyAlpha, limits.spread.size());
  return limits;
}

// --tolerance when given; on the same processor model, 0 for a deterministic CPU run (it repeats
// bit for bit) and the fallback otherwise; on another model, the seed spread.
Limits choose_limits(std::optional<double> tolerance, const fs::path& file, const RunInfo& old_info,
                     const RunInfo& new_info) {
  if (tolerance) return {*tolerance, {}};
  const std::string& model = processor_model(old_info);
  if (model.empty() || model != processor_model(new_info)) return limits_across_processors(file, old_info, new_info);
  const bool bitwise = old_info.deterministic && old_info.device.rfind("cpu", 0) == 0;
  return {bitwise ? 0.0 : kFallbackTolerance, {}};
}

// Prints old / new / difference of every metric (and, for metrics with a seed spread, the spread
// and the bound); returns how many differ by more than their limit.
int print_comparison(const FinalRecord& old_final, const FinalRecord& new_final, const Limits& limits) {
  const bool spread = !limits.spread.empty();
  std::cout << fmt::format("{:<28} {:>12} {:>12} {:>12}", "metric", "old", "new", "difference")
            << (spread ? fmt::format(" {:>10} {:>3} {:>10}", "seed std", "n", "bound") : "") << "\n";
  const auto new_metrics = metrics_of(new_final);
  int failures = 0;
  for (const auto& [name, old_value] : metrics_of(old_final)) {
    const auto it =
        std::find_if(new_metrics.begin(), new_metrics.end(), [&](const auto& m) { return m.first == name; });
    const double new_value = it == new_metrics.end() ? NAN : it->second;
    const bool both_nan = std::isnan(old_value) && std::isnan(new_value);
    const double diff = both_nan ? 0.0 : new_value - old_value;
    const bool bad = !both_nan && !(std::fabs(diff) <= limits.limit(name));
    failures += bad ? 1 : 0;
    std::cout << fmt::format("{:<28} {:>12.6f} {:>12.6f} {:>+12.2e}", name, old_value, new_value, diff);
    if (spread) {
      const auto s = limits.spread.find(name);
      std::cout << (s == limits.spread.end()
                        ? fmt::format(" {:>10} {:>3} {:>10.2e}", "-", "-", limits.tolerance)
                        : fmt::format(" {:>10.2e} {:>3} {:>10.2e}", s->second.std, s->second.n, s->second.bound));
    }
    std::cout << (bad ? "  <-- beyond " + std::string(spread ? "bound" : "tolerance") : "") << "\n";
  }
  return failures;
}

void warn_about_changes(const RunInfo& old_info, const std::string& file, const Config& cfg) {
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
}

// The recorded thread count, unless the user sets one (see recorded_cpu_threads), then the
// user's overrides.
std::vector<std::string> rerun_overrides(const RunInfo& old_info, const std::vector<std::string>& user) {
  std::vector<std::string> overrides;
  const bool user_threads =
      std::any_of(user.begin(), user.end(), [](const std::string& o) { return o.rfind("run.threads=", 0) == 0; });
  if (const int threads = recorded_cpu_threads(old_info.device); threads > 0 && !user_threads)
    overrides.push_back(fmt::format("run.threads={}", threads));
  overrides.insert(overrides.end(), user.begin(), user.end());
  return overrides;
}

constexpr const char* kDescription =
    "Retrains a run from the config recorded in its file (plus any overrides) into\n"
    "results/<experiment>/reruns/, then prints every final metric side by side (old, new,\n"
    "difference). Exits 1 when any differs by more than its limit. Warns when the commit,\n"
    "LibTorch version or dataset fingerprint differ from the recorded ones. A CPU run is rerun\n"
    "with the thread count it recorded unless run.threads is given: intra-op reductions split\n"
    "their work by thread, so the count changes results in rounding.\n"
    "\n"
    "The limit, unless --tolerance is given: on the processor model the run recorded (its CPU's\n"
    "for a CPU run, its GPU's for a CUDA run), 0 for a deterministic CPU run and 0.02 otherwise.\n"
    "On another model (or one not recorded, as in files before schema_version 4) bit-identity is\n"
    "not expected, and each metric is judged against the seed-to-seed spread of the run's\n"
    "configuration: the finished runs in the file's directory whose config differs only in\n"
    "run.seed and the unhashed keys, one per seed, the original included. With n such runs and\n"
    "seed std s, |new - old| <= t(n - 1, 1 - 0.05 / (2 m)) * sqrt(2) * s, m the number of metrics\n"
    "judged so (per-class rows take their spread from the runs' per-class values). The rerun is\n"
    "taken as one more draw of the seed distribution, so the difference of two draws has std\n"
    "sqrt(2) sigma, and the t quantile accounts for s coming from few runs: with 2 or 3 seeds, a\n"
    "fixed 3 s would fail a rerun that is within seed noise on 28% or 17% of its metrics.\n"
    "Bonferroni over the m metrics keeps the chance of failing such a rerun at all at 5%. With\n"
    "fewer than 2 runs, or for a metric with fewer than 2 finite values: 0.02, with a note.";

}  // namespace

int cmd_rerun(const Args& args) {
  po::options_description opts("Options");
  opts.add_options()("tolerance", po::value<double>(),
                     "largest allowed |difference| of every metric (default: see above)");
  const auto p = parse_args("rerun", args, opts, false, 1);
  if (p.help) {
    print_help("fcnlab rerun FILE.h5 [--tolerance X] [key=value]...", kDescription, opts);
    return 0;
  }
  if (p.positional.empty()) throw UsageError("fcnlab rerun: missing the run file FILE.h5 (see fcnlab rerun --help)");
  std::optional<double> tolerance;
  if (p.vm.count("tolerance")) tolerance = p.vm["tolerance"].as<double>();
  if (tolerance && !(*tolerance >= 0)) throw UsageError("fcnlab rerun: --tolerance must be >= 0");
  const std::string file = p.positional.front();
  const RunFileReader reader(file);
  const RunInfo old_info = reader.info();
  const auto old_final = reader.final();
  if (!old_final)
    throw IoError(fmt::format("{}: status {} and no /final scores; only finished runs can be compared", file,
                              to_string(old_info.status)));
  const std::vector<std::string> overrides = rerun_overrides(old_info, p.overrides);
  const Config cfg =
      ConfigBuilder().add_text(old_info.config_toml, file + " (config_toml)").add_overrides(overrides).build();
  init_logging(to_string(cfg.run.log_level));
  warn_about_changes(old_info, file, cfg);

  TrainOptions options;
  options.restart = true;
  options.subdir = std::string(kRerunSubdir);
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
  const Limits limits = choose_limits(tolerance, file, old_info, rerun.info());
  const int failures = print_comparison(*old_final, *new_final, limits);
  std::cout << fmt::format("rerun: {} -> {}\n", file, r.paths.result_file.string());
  if (limits.spread.empty())
    std::cout << fmt::format("{} metric(s) differ by more than {}\n", failures, limits.tolerance);
  else
    std::cout << fmt::format("{} metric(s) differ by more than their bound\n", failures);
  return failures == 0 ? 0 : 1;
}

}  // namespace fcnlab::cli
