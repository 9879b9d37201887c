#pragma once
// One training run end to end: data check, model, loss, optimiser, the loop with periodic
// evaluation and checkpoints, divergence stop, SIGINT/SIGTERM handling, the final evaluation
// and the HDF5 run file. Torch-free header: the CLI and the sweep module call it as plain data.
#include <atomic>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "config/config.h"
#include "results/run_file.h"
#include "train/run_paths.h"

namespace fcnlab {

struct TrainOptions {
  bool restart = false;          // ignore (and delete) an existing checkpoint
  std::string overrides;         // the command-line overrides, recorded in the run file
  std::string subdir;            // "reruns" for fcnlab rerun
  std::int64_t stop_after = -1;  // testing/debugging: stop (with a checkpoint) after this iteration
};

struct TrainResult {
  RunStatus status = RunStatus::failed;
  RunPaths paths;
  std::int64_t iterations_done = 0;
  std::int64_t resumed_from = -1;  // iteration of the checkpoint resumed from, -1 if none
  bool interrupted = false;        // stopped by a signal or stop_after, checkpoint written
  bool already_ended = false;      // the result file existed (found after taking the run lock): nothing trained
  double wall_seconds = 0;
  std::string message;
};

// Trains the run described by `cfg`. A finished run's result file is written atomically; a
// checkpoint in the work dir is resumed unless `restart`. The run lock (run_lock.h) is held for the
// whole run; when another process holds it, throws RunLockedError naming the holder. A result file found
// after taking the lock is left alone (already_ended) unless `restart`. Throws ConfigError/DataError/IoError.
TrainResult train_run(const Config& cfg, const TrainOptions& options);

// Set by SIGINT/SIGTERM handlers installed by train_run: finish the step, checkpoint, stop.
std::atomic<bool>& stop_requested();

// Scores of a re-evaluation (fcnlab eval).
struct EvalOptions {
  std::filesystem::path weights;  // model state saved by train_run (model-final.pt or a checkpoint)
  std::string split;              // "" = data.val_split
};
FinalRecord evaluate_saved_model(const Config& cfg, const EvalOptions& options);

}  // namespace fcnlab
