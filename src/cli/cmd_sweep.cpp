#include <fmt/format.h>
#include <fmt/ranges.h>  // fmt::join (in fmt/format.h before fmt 11)
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <map>
#include <optional>
#include <thread>

#include "cli/options.h"
#include "config/loader.h"
#include "core/error.h"
#include "core/host.h"
#include "core/log.h"
#include "core/text.h"
#include "sweep/decide.h"
#include "sweep/launcher.h"
#include "sweep/live_view.h"
#include "sweep/slurm.h"
#include "sweep/sweep.h"

namespace fcnlab::cli {

namespace {

void print_runs(const SweepSpec& spec, const std::vector<std::size_t>& indices) {
  std::cout << fmt::format("experiment {}: {} runs; axes: {}\n", spec.name, spec.runs.size(),
                           spec.axis_keys.empty() ? "(none)" : fmt::format("{}", fmt::join(spec.axis_keys, ", ")));
  for (const auto i : indices) {
    const auto& run = spec.runs[i];
    const auto st = run_state(run);
    std::string axes;
    for (const auto& [k, v] : run.axes) axes += fmt::format("{}{}={}", axes.empty() ? "" : " ", k, v);
    std::cout << fmt::format("{:>4}  {:<8} {:<60} {}{}\n", i, to_string(st.state), run.paths.run_id, axes,
                             st.detail.empty() ? "" : "  (" + st.detail + ")");
  }
}

// `fcnlab sweep X --status`: each run's state, and the SLURM state of its newest submitted task.
// With [decide]: the verdicts and the round first, then only the runs begun, submitted or due now.
int print_status(const SweepSpec& spec) {
  const auto submissions = read_submissions(slurm_jobs_file(slurm_dir(spec)));
  std::vector<std::string> job_ids;
  for (const auto& [run_id, sub] : submissions) job_ids.push_back(sub.job_id);
  const bool slurm_tools = have_program("squeue") || have_program("sacct");
  const auto states = job_ids.empty() ? std::map<std::string, std::string>{} : slurm_task_states(job_ids);
  std::vector<std::size_t> due;
  if (spec.decide) {
    const SweepDecision sd = decide_sweep(spec);
    std::cout << render_decision(*spec.decide, sd);
    due = sd.next_runs();
  }
  std::size_t counts[3] = {0, 0, 0};
  std::cout << fmt::format("experiment {}: {} runs{}\n", spec.name, spec.runs.size(),
                           spec.decide ? " in the full design (runs not begun and not due are not listed)" : "");
  std::cout << fmt::format("{:>4}  {:<8} {:<60} {:<14} {}\n", "run", "state", "run_id", "slurm task", "slurm state");
  for (const auto& run : spec.runs) {
    const auto st = run_state(run);
    if (spec.decide && st.state == RunState::todo && !submissions.count(run.paths.run_id) &&
        !std::binary_search(due.begin(), due.end(), run.index))
      continue;
    ++counts[static_cast<int>(st.state)];
    std::string task = "-", slurm = "-";
    if (const auto it = submissions.find(run.paths.run_id); it != submissions.end()) {
      task = fmt::format("{}_{}", it->second.job_id, it->second.task);
      const auto s = states.find(task);
      slurm = s != states.end() ? s->second : (slurm_tools ? "unknown to SLURM now" : "(no squeue/sacct)");
    }
    std::cout << fmt::format("{:>4}  {:<8} {:<60} {:<14} {}{}\n", run.index, to_string(st.state), run.paths.run_id,
                             task, slurm, st.detail.empty() ? "" : "  (" + st.detail + ")");
  }
  std::cout << fmt::format("{} done, {} partial, {} todo\n", counts[static_cast<int>(RunState::done)],
                           counts[static_cast<int>(RunState::partial)], counts[static_cast<int>(RunState::todo)]);
  return 0;
}

// `--watch`: the live view of the runs (with [decide], those begun or due), redrawn in place on a
// terminal and as plain blocks otherwise, until every run has ended.
int watch(const SweepSpec& spec, double seconds) {
  if (!(seconds > 0)) throw UsageError(fmt::format("--watch {}: expected a number of seconds > 0", seconds));
  const bool tty = ::isatty(STDOUT_FILENO) != 0;
  // [decide]: the decision reads every result file and bootstraps each look, so it is recomputed
  // only when a run has ended since the last refresh (its only input is the result files).
  std::optional<std::vector<bool>> decided_on;
  std::vector<std::size_t> due;
  bool decided = false;
  for (;;) {
    std::vector<LiveRun> all;
    std::vector<bool> ended;
    for (const auto& run : spec.runs) {
      all.push_back(live_run(run));
      ended.push_back(all.back().state == LiveState::ended);
    }
    if (spec.decide && decided_on != ended) {
      const SweepDecision sd = decide_sweep(spec);
      due = sd.next_runs();
      decided = sd.decision.finished;
      decided_on = ended;
    }
    std::vector<LiveRun> runs;
    for (auto& r : all)
      if (!spec.decide || r.state != LiveState::todo || std::binary_search(due.begin(), due.end(), r.index))
        runs.push_back(std::move(r));
    const bool over = all_ended(runs) && (!spec.decide || decided);
    std::cout << (tty ? "\033[H\033[J" : "") << render_live(spec, runs) << (tty ? "" : "\n") << std::flush;
    if (over) return 0;
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  }
}

// The command line of `fcnlab sweep` besides configs and overrides.
struct SweepArgs {
  std::string name, shard, devices;
  double watch = 0;  // --watch: seconds between refreshes
  int jobs = 1;
  long task = -1;
  std::string launcher = "local";
  SlurmOptions slurm;
};

po::options_description sweep_options(SweepArgs& a) {
  po::options_description opts("Options");
  opts.add_options()("name", po::value<std::string>(&a.name), "experiment name for a command-line multirun")(
      "dry-run", "list the runs (index, run id, axis values, status) without training")(
      "jobs,j", po::value<int>(&a.jobs)->default_value(1), "runs at once (CPU default 1)")(
      "devices", po::value<std::string>(&a.devices), "comma-separated CUDA devices: one run per device at a time")(
      "shard", po::value<std::string>(&a.shard), "i/N: run only the i-th of N interleaved slices")(
      "task", po::value<long>(&a.task), "run only run number K (SLURM array tasks use this)")(
      "status", "show each run's state (result file, checkpoint) and the SLURM state of submitted tasks")(
      "watch", po::value<double>(&a.watch)->implicit_value(5.0),
      "a live view, refreshed every SECONDS (default 5): each run's state, iteration, loss, val mean IoU, "
      "img/s and ETA; ends when every run has ended")(
      "launcher", po::value<std::string>(&a.launcher)->default_value("local"),
      "local (subprocesses here) or slurm (one job array of the unfinished runs, submitted with sbatch)")(
      "partition", po::value<std::string>(&a.slurm.partition), "slurm: partition")(
      "time", po::value<std::string>(&a.slurm.time), "slurm: time limit per run, HH:MM:SS or D-HH:MM:SS")(
      "gpus-per-task", po::value<int>(&a.slurm.gpus_per_task)->default_value(0), "slurm: GPUs per run")(
      "cpus-per-task", po::value<int>(&a.slurm.cpus_per_task)->default_value(0), "slurm: CPUs per run")(
      "mem", po::value<std::string>(&a.slurm.mem), "slurm: memory per run, e.g. 32G")(
      "array-parallelism", po::value<int>(&a.slurm.array_parallelism)->default_value(0),
      "slurm: at most K runs at once (--array=...%K; 0: no limit)")(
      "signal-seconds", po::value<int>(&a.slurm.signal_seconds)->default_value(300),
      "slurm: USR1 this long before the time limit: checkpoint and requeue")(
      "no-requeue", "slurm: after the time-limit signal, checkpoint and stop instead of requeueing")(
      "sbatch-arg", po::value<std::vector<std::string>>(&a.slurm.sbatch_args)->composing(),
      "slurm: an extra #SBATCH option, e.g. --sbatch-arg=--account=abc (repeatable)");
  return opts;
}

void print_sweep_help(const po::options_description& opts) {
  print_help(
      "fcnlab sweep [SWEEP.toml] [--config F]... [key=v1,v2,...]... [--dry-run] [--jobs N] [--devices 0,1]\n"
      "                    [--shard i/N] [--task K] [--name NAME] [--status] [--watch [SECONDS]]\n"
      "       fcnlab sweep SWEEP.toml --launcher slurm [--partition P] [--time HH:MM:SS] [--gpus-per-task G]\n"
      "                    [--cpus-per-task C] [--mem M] [--array-parallelism K] [--sbatch-arg ARG]... [--dry-run]",
      "Runs every run of a sweep file (experiments/<name>.toml: base, seeds, [set], [[grid]]) or of a\n"
      "command-line multirun (`model.skip=32,16,8 loss.name=ce,dice`: the cartesian product). With a sweep\n"
      "file, key=value overrides apply to every run (commas give several values). Runs are identified by\n"
      "config hash: finished runs are skipped and runs with a checkpoint resume, so the same command after\n"
      "an interruption completes the sweep. Each run is an `fcnlab train` subprocess; its resolved config\n"
      "and log are in results/<experiment>/.work/<run_id>/. Exit 1 if any run failed.\n\n"
      "--launcher slurm writes results/<experiment>/slurm/sweep-<time>.sbatch, a job array of the unfinished\n"
      "runs (array index = run index; task K runs `fcnlab sweep ... --task K`), submits it with sbatch and\n"
      "prints the job id; logs go to results/<experiment>/slurm/<job>_<task>.log. Before the time limit SLURM\n"
      "sends USR1: the run checkpoints and the task requeues itself and resumes. `scancel --batch\n"
      "--signal=TERM JOB_TASK` checkpoints and stops; submitting again resumes. With --dry-run the script\n"
      "and the task-to-run table are printed and nothing is submitted. --status shows each run's state.\n"
      "--watch shows the runs live (from the files they write: from another shell or machine, for SLURM runs).\n\n"
      "A sweep file with a [decide] section (vs, metrics, margin, alpha, min_seeds, max_seeds, seed_step) runs\n"
      "seeds in rounds: min_seeds of every configuration, then seed_step more only where a comparison is\n"
      "undecided, until each is significant or equivalent or has max_seeds (alpha split over the rounds, Holm\n"
      "within one). Each round is computed from the result files; --dry-run prints the verdicts and the runs\n"
      "the next round adds; with --launcher slurm each round is one array and the same command after it ends\n"
      "submits the next.",
      opts);
}

// [decide]: prints the verdicts and returns the runs the round in progress still needs.
std::vector<std::size_t> round_of(const SweepSpec& spec) {
  const SweepDecision sd = decide_sweep(spec);
  std::cout << render_decision(*spec.decide, sd);
  return sd.next_runs();
}

// What each array task runs: the same sweep, from absolute paths.
SlurmJob slurm_job(const SweepSpec& spec, const ParsedArgs& p) {
  SlurmJob job;
  job.exe = self_exe();
  job.workdir = std::filesystem::current_path();
  if (!p.positional.empty()) {
    job.sweep_args.push_back(std::filesystem::absolute(p.positional.front()).lexically_normal().string());
  } else {
    for (const auto& c : p.configs) {
      job.sweep_args.push_back("--config");
      job.sweep_args.push_back(std::filesystem::absolute(c).lexically_normal().string());
    }
    job.sweep_args.push_back("--name");
    job.sweep_args.push_back(spec.name);  // the adhoc name hashes the config paths as written: keep it
  }
  job.sweep_args.insert(job.sweep_args.end(), p.overrides.begin(), p.overrides.end());
  return job;
}

// `--launcher slurm`: one job array of the unfinished runs that SLURM does not hold already.
int submit_to_slurm(const SweepSpec& spec, const ParsedArgs& p, const SweepArgs& a) {
  if (a.task >= 0 || !a.shard.empty() || !a.devices.empty() || !p.vm["jobs"].defaulted())
    throw UsageError(
        "--launcher slurm: --task, --shard, --jobs and --devices are for local runs (SLURM places the runs)");
  validate(a.slurm);
  SlurmJob job = slurm_job(spec, p);
  const auto active = active_slurm_runs(spec);
  for (const auto i : spec.decide ? round_of(spec) : unfinished_runs(spec))
    if (std::find(active.begin(), active.end(), i) == active.end()) job.tasks.push_back(i);
  if (!active.empty())
    std::cout << fmt::format("{} unfinished runs are queued or running in SLURM already; not submitted again\n",
                             active.size());
  if (job.tasks.empty()) {
    if (spec.decide)
      std::cout << fmt::format("sweep {}: nothing to submit now ({} runs queued or running); {}\n", spec.name,
                               active.size(),
                               active.empty() ? "every comparison is decided or has max_seeds"
                                              : "run the same command after they end to submit the next round");
    else
      std::cout << fmt::format("sweep {}: nothing to submit ({} runs: {} queued or running, the rest done)\n",
                               spec.name, spec.runs.size(), active.size());
    return 0;
  }
  const std::string script = make_sbatch_script(spec, job, a.slurm);
  if (p.vm.count("dry-run")) {
    std::cout << script << fmt::format("\n# {} of {} runs to submit:\n", job.tasks.size(), spec.runs.size())
              << task_table(spec, job.tasks);
    return 0;
  }
  const auto file = write_sbatch_script(spec, script);
  const std::string job_id = submit_sbatch(file);
  record_submission(spec, job_id, job.tasks, file);
  std::cout << fmt::format("submitted job {} ({} of {} runs, array {}): {}\nlogs: {}/{}_<task>.log\n", job_id,
                           job.tasks.size(), spec.runs.size(), array_spec(job.tasks, a.slurm.array_parallelism),
                           file.string(), slurm_dir(spec).string(), job_id);
  std::cout << task_table(spec, job.tasks);
  return 0;
}

// The runs this process takes: --task K, --shard i/N, or all.
std::vector<std::size_t> selected_runs(const SweepSpec& spec, const SweepArgs& a) {
  std::vector<std::size_t> indices;
  if (a.task >= 0) {
    if (static_cast<std::size_t>(a.task) >= spec.runs.size())
      throw UsageError(fmt::format("--task {}: the sweep has runs 0..{}", a.task, spec.runs.size() - 1));
    indices.push_back(static_cast<std::size_t>(a.task));
  } else if (!a.shard.empty()) {
    const auto parts = split(a.shard, '/');
    if (parts.size() != 2) throw UsageError(fmt::format("--shard {}: expected i/N", a.shard));
    try {
      indices = shard_indices(spec.runs.size(), std::stoi(parts[0]), std::stoi(parts[1]));
    } catch (const std::invalid_argument&) {
      throw UsageError(fmt::format("--shard {}: expected i/N with integers", a.shard));
    } catch (const std::out_of_range&) {
      throw UsageError(fmt::format("--shard {}: expected i/N with integers", a.shard));
    }
  } else {
    for (std::size_t i = 0; i < spec.runs.size(); ++i) indices.push_back(i);
  }
  return indices;
}

// Trains the selected runs here and prints what became of them; exit 1 if one failed or a signal stopped the sweep.
int run_here(const SweepSpec& spec, const std::vector<std::size_t>& indices, const SweepArgs& a,
             const std::filesystem::path& exe = {}) {
  LaunchOptions options;
  options.exe = exe;
  options.jobs = a.jobs;
  if (!a.devices.empty()) options.devices = split(a.devices, ',');
  const SweepOutcome out = run_local(spec, indices, options);
  std::cout << fmt::format(
      "sweep {}: {} runs, {} trained now, {} already done, {} ended in another process, {} "
      "diverged, {} failed\n",
      spec.name, out.total, out.trained, out.skipped, out.elsewhere.size(), out.diverged.size(), out.failed.size());
  for (const auto i : out.diverged) std::cout << "  diverged: " << spec.runs[i].paths.run_id << '\n';
  for (const auto i : out.failed)
    std::cout << "  FAILED:   " << spec.runs[i].paths.run_id << " (log " << spec.runs[i].paths.stdout_log().string()
              << ")\n";
  std::cout << "results: " << (spec.runs.front().paths.experiment_dir).string() << '\n';
  if (out.interrupted) {
    std::cerr << "fcnlab: sweep interrupted; run the same command to resume\n";
    return 1;
  }
  return out.failed.empty() ? 0 : 1;
}

// A [decide] sweep here: round after round (each recomputed from the run files) until every
// comparison is decided or has max_seeds. A shard trains its part of each round and waits for the
// other shards' runs before the next round can be computed.
int run_adaptive(const SweepSpec& spec, const std::vector<std::size_t>& mine, const SweepArgs& a, bool dry_run) {
  // The executable as it was when the sweep started: once the binary is rebuilt, /proc/self/exe
  // names a deleted file, and a later round could not start its runs.
  const std::filesystem::path exe = self_exe();
  int shown_round = 0;
  std::vector<std::size_t> last;
  for (;;) {
    const SweepDecision sd = decide_sweep(spec);
    if (sd.decision.round != shown_round) std::cout << render_decision(*spec.decide, sd) << std::flush;
    if (sd.decision.finished) return 0;
    std::vector<std::size_t> next;
    for (const auto i : sd.next_runs())
      if (std::binary_search(mine.begin(), mine.end(), i)) next.push_back(i);
    if (dry_run) {
      std::cout << fmt::format("round {} would add these {} runs{}:\n", sd.decision.round, next.size(),
                               next.size() < sd.decision.missing.size() ? " (this shard's part)" : "");
      print_runs(spec, next);
      return 0;
    }
    if (next.empty()) {  // the rest of the round belongs to other shards
      if (sd.decision.round != shown_round)
        std::cout << fmt::format("round {}: waiting for {} runs of other shards\n", sd.decision.round,
                                 sd.decision.missing.size())
                  << std::flush;
      shown_round = sd.decision.round;
      std::this_thread::sleep_for(std::chrono::seconds(3));
      continue;
    }
    if (next == last)
      throw Error(fmt::format("sweep {}: round {}: {} runs ended without a result file; see their logs", spec.name,
                              sd.decision.round, next.size()));
    shown_round = sd.decision.round;
    last = next;
    if (const int code = run_here(spec, next, a, exe); code != 0) return code;
  }
}

}  // namespace

int cmd_sweep(const Args& args) {
  SweepArgs a;
  auto opts = sweep_options(a);
  const auto p = parse_args("sweep", args, opts, true, 1);
  if (p.help) {
    print_sweep_help(opts);
    return 0;
  }
  init_logging("info");
  const SweepSpec spec = !p.positional.empty() ? load_sweep_file(p.positional.front(), p.overrides)
                                               : make_multirun(config_files(p), p.overrides, a.name);
  if (!p.positional.empty() && !p.configs.empty())
    throw UsageError("fcnlab sweep: --config is for command-line multiruns; a sweep file names its own base");
  if (spec.runs.empty()) throw ConfigError("the sweep has no runs");

  const Launcher launcher = parse_launcher(a.launcher);
  if (p.vm.count("no-requeue")) a.slurm.requeue = false;
  if (p.vm.count("watch")) return watch(spec, a.watch);
  if (p.vm.count("status")) return print_status(spec);
  if (launcher == Launcher::slurm) return submit_to_slurm(spec, p, a);
  const auto indices = selected_runs(spec, a);
  if (spec.decide && a.task < 0) return run_adaptive(spec, indices, a, p.vm.count("dry-run") > 0);
  if (p.vm.count("dry-run")) {
    print_runs(spec, indices);
    return 0;
  }
  return run_here(spec, indices, a);
}

}  // namespace fcnlab::cli
