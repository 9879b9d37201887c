#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <iostream>

#include "cli/options.h"
#include "config/loader.h"
#include "core/error.h"
#include "core/log.h"
#include "core/text.h"
#include "sweep/launcher.h"
#include "sweep/sweep.h"

namespace fcnlab::cli {

namespace {

std::string_view state_name(RunState s) {
  switch (s) {
    case RunState::done: return "done";
    case RunState::partial: return "partial";
    case RunState::todo: return "todo";
  }
  return "?";
}

void print_runs(const SweepSpec& spec, const std::vector<std::size_t>& indices) {
  std::cout << fmt::format("experiment {}: {} runs; axes: {}\n", spec.name, spec.runs.size(),
                           spec.axis_keys.empty() ? "(none)" : fmt::format("{}", fmt::join(spec.axis_keys, ", ")));
  for (const auto i : indices) {
    const auto& run = spec.runs[i];
    const auto st = run_state(run);
    std::string axes;
    for (const auto& [k, v] : run.axes) axes += fmt::format("{}{}={}", axes.empty() ? "" : " ", k, v);
    std::cout << fmt::format("{:>4}  {:<8} {:<60} {}{}\n", i, state_name(st.state), run.paths.run_id, axes,
                             st.detail.empty() ? "" : "  (" + st.detail + ")");
  }
}

}  // namespace

int cmd_sweep(const Args& args) {
  po::options_description opts("Options");
  std::string name, shard, devices;
  int jobs = 1;
  long task = -1;
  opts.add_options()("name", po::value<std::string>(&name), "experiment name for a command-line multirun")(
      "dry-run", "list the runs (index, run id, axis values, status) without training")(
      "jobs,j", po::value<int>(&jobs)->default_value(1), "runs at once (CPU default 1)")(
      "devices", po::value<std::string>(&devices), "comma-separated CUDA devices: one run per device at a time")(
      "shard", po::value<std::string>(&shard), "i/N: run only the i-th of N interleaved slices")(
      "task", po::value<long>(&task), "run only run number K (SLURM array tasks use this)");
  const auto p = parse_args("sweep", args, opts, true, 1);
  if (p.help) {
    print_help(
        "fcnlab sweep [SWEEP.toml] [--config F]... [key=v1,v2,...]... [--dry-run] [--jobs N] [--devices 0,1]\n"
        "                    [--shard i/N] [--task K] [--name NAME]",
        "Runs every run of a sweep file (experiments/<name>.toml: base, seeds, [set], [[grid]]) or of a\n"
        "command-line multirun (`model.skip=32,16,8 loss.name=ce,dice`: the cartesian product). With a sweep\n"
        "file, key=value overrides apply to every run (commas give several values). Runs are identified by\n"
        "config hash: finished runs are skipped and runs with a checkpoint resume, so the same command after\n"
        "an interruption completes the sweep. Each run is an `fcnlab train` subprocess; its resolved config\n"
        "and log are in results/<experiment>/.work/<run_id>/. Exit 1 if any run failed.",
        opts);
    return 0;
  }
  init_logging("info");
  const SweepSpec spec =
      !p.positional.empty()
          ? load_sweep_file(p.positional.front(), p.overrides)
          : make_multirun(std::vector<std::filesystem::path>(p.configs.begin(), p.configs.end()), p.overrides, name);
  if (!p.positional.empty() && !p.configs.empty())
    throw UsageError("fcnlab sweep: --config is for command-line multiruns; a sweep file names its own base");
  if (spec.runs.empty()) throw ConfigError("the sweep has no runs");

  std::vector<std::size_t> indices;
  if (task >= 0) {
    if (static_cast<std::size_t>(task) >= spec.runs.size())
      throw UsageError(fmt::format("--task {}: the sweep has runs 0..{}", task, spec.runs.size() - 1));
    indices.push_back(static_cast<std::size_t>(task));
  } else if (!shard.empty()) {
    const auto parts = split(shard, '/');
    if (parts.size() != 2) throw UsageError(fmt::format("--shard {}: expected i/N", shard));
    try {
      indices = shard_indices(spec.runs.size(), std::stoi(parts[0]), std::stoi(parts[1]));
    } catch (const std::logic_error&) {
      throw UsageError(fmt::format("--shard {}: expected i/N with integers", shard));
    }
  } else {
    for (std::size_t i = 0; i < spec.runs.size(); ++i) indices.push_back(i);
  }
  if (p.vm.count("dry-run")) {
    print_runs(spec, indices);
    return 0;
  }
  LaunchOptions options;
  options.jobs = jobs;
  if (!devices.empty()) options.devices = split(devices, ',');
  const SweepOutcome out = run_local(spec, indices, options);
  std::cout << fmt::format("sweep {}: {} runs, {} trained now, {} already done, {} diverged, {} failed\n", spec.name,
                           out.total, out.trained, out.skipped, out.diverged.size(), out.failed.size());
  for (const auto i : out.diverged) std::cout << "  diverged: " << spec.runs[i].paths.run_id << '\n';
  for (const auto i : out.failed)
    std::cout << "  FAILED:   " << spec.runs[i].paths.run_id << " (log "
              << (spec.runs[i].paths.work_dir / "stdout.log").string() << ")\n";
  std::cout << "results: " << (spec.runs.front().paths.experiment_dir).string() << '\n';
  if (out.interrupted) {
    std::cerr << "fcnlab: sweep interrupted; run the same command to resume\n";
    return 1;
  }
  return out.failed.empty() ? 0 : 1;
}

}  // namespace fcnlab::cli
