#pragma once
// The local launcher: each run of a sweep is an `fcnlab train` subprocess with its resolved
// config written to its work dir (config.toml) and its output in stdout.log there. Finished
// runs are skipped, runs with a checkpoint resume (that is `fcnlab train`'s own behaviour).
// A run whose lock (train/run_lock.h) is held by another process is "running elsewhere": it is
// not started, and once nothing else is left the launcher polls it until its result file appears
// (or trains it itself if the other process stopped without finishing it), so two sweeps on the
// same experiment train each run once and together complete it.
#include <filesystem>
#include <string>
#include <vector>

#include "sweep/sweep.h"

namespace fcnlab {

struct LaunchOptions {
  int jobs = 1;                      // runs at once
  std::vector<std::string> devices;  // one CUDA_VISIBLE_DEVICES value per slot (empty: inherit)
  std::filesystem::path exe;         // the fcnlab executable (default: this process's)
  double poll_seconds = 3.0;         // how often runs locked by another process are checked
};

struct SweepOutcome {
  std::size_t total = 0, skipped = 0, trained = 0;
  std::vector<std::size_t> diverged, failed;  // run indices
  std::vector<std::size_t> elsewhere;         // ended by another process (another sweep) while this one ran
  bool interrupted = false;
};

SweepOutcome run_local(const SweepSpec& spec, const std::vector<std::size_t>& indices, const LaunchOptions& options);

// Writes `<work_dir>/config.toml` (the run's canonical config) and returns its path.
std::filesystem::path write_run_config(const SweepRun& run);

}  // namespace fcnlab
