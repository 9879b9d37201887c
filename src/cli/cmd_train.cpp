#include <fmt/format.h>

#include <filesystem>
#include <iostream>

#include "cli/options.h"
#include "config/loader.h"
#include "core/error.h"
#include "core/log.h"
#include "results/run_file.h"
#include "train/trainer.h"

namespace fcnlab::cli {

namespace {
std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : " ") + s;
  return out;
}
}  // namespace

int cmd_train(const Args& args) {
  po::options_description opts("Options");
  std::int64_t stop_after = -1;
  int ended_code = -1;
  int locked_code = -1;
  opts.add_options()("restart", "ignore an existing checkpoint or result and train from scratch")(
      "stop-after", po::value<std::int64_t>(&stop_after),
      "stop after this iteration with a checkpoint (to test resuming)")(
      "already-ended-code", po::value<int>(&ended_code),
      "exit status when the run had already ended, whatever its status (default: 0 finished, 1 otherwise); "
      "`fcnlab sweep` passes 3, to tell runs it trained from runs another process ended first")(
      "locked-code", po::value<int>(&locked_code),
      "exit status when another process is training the run (default 1); `fcnlab sweep` passes 4, to wait "
      "for that process instead of counting a failure");
  const auto p = parse_args("train", args, opts, true);
  for (const auto& [flag, code] : {std::pair{"already-ended-code", ended_code}, std::pair{"locked-code", locked_code}})
    if (p.vm.count(flag) && (code < 0 || code > 125))
      throw UsageError(fmt::format("fcnlab train: --{} must be in [0, 125], got {}", flag, code));
  if (p.help) {
    print_help(
        "fcnlab train [--config FILE]... [--restart] [key=value]...",
        "Trains one FCN and writes results/<experiment>/<run_id>.h5 when it ends (status finished or\n"
        "diverged). Checkpoints go to results/<experiment>/.work/<run_id>/; starting the same run\n"
        "again resumes from the newest one. SIGINT/SIGTERM: the current step finishes, a checkpoint\n"
        "is written and fcnlab exits 1. A run whose result file exists is not trained again\n"
        "(unless --restart). One process per run: while a run is being trained (flock on\n"
        "<work dir>/lock, released when its process ends, even by kill -9), another `fcnlab train` of\n"
        "it exits 1 (or --locked-code) naming the holder. Exit: 0 finished, 1 diverged/interrupted/failed/locked,\n"
        "2 config error; a run that had already ended: 0 finished, 1 otherwise, or --already-ended-code.",
        opts);
    return 0;
  }
  const Config cfg = load_config(p);
  init_logging(to_string(cfg.run.log_level));
  const RunPaths paths = run_paths(cfg);
  // The exit status for a run that had already ended (found at start, or ended by another process
  // while this one started).
  const auto ended_exit = [ended_code](RunStatus status) {
    if (ended_code >= 0) return ended_code;
    return status == RunStatus::finished ? 0 : 1;
  };
  const bool restart = p.vm.count("restart") > 0;
  if (std::filesystem::exists(paths.result_file) && !restart) {
    const RunFileReader existing = [&] {
      try {
        return RunFileReader(paths.result_file);
      } catch (const IoError& e) {  // add what to do about it
        throw IoError(
            fmt::format("{}\nThat file blocks this run: move it away, or use --restart to train it again.", e.what()));
      }
    }();
    std::cout << fmt::format("{} already ended (status {}): {}\nUse --restart to train it again.\n", paths.run_id,
                             to_string(existing.info().status), paths.result_file.string());
    return ended_exit(existing.info().status);
  }
  TrainOptions options;
  options.restart = restart;
  options.overrides = join(p.overrides);
  options.stop_after = stop_after;
  TrainResult r;
  try {
    r = train_run(cfg, options);
  } catch (const RunLockedError& e) {  // the sweep's child: its own exit status, for the sweep to wait
    if (locked_code < 0) throw;
    std::cerr << "fcnlab: " << e.what() << '\n';
    return locked_code;
  }
  if (r.already_ended) {  // another process finished it while this one started
    std::cout << r.message << "\nUse --restart to train it again.\n";
    return ended_exit(r.status);
  }
  if (r.interrupted) {
    std::cerr << "fcnlab: " << r.message << '\n';
    return 1;
  }
  if (r.status == RunStatus::diverged) {
    std::cerr << fmt::format("fcnlab: run diverged: {}; {} records status diverged\n", r.message,
                             r.paths.result_file.string());
    return 1;
  }
  std::cout << r.paths.result_file.string() << '\n';
  return 0;
}

}  // namespace fcnlab::cli
