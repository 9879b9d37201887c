#pragma once
// Checkpoints of a run in its work dir: model, optimiser, iteration, RNG states, loader position
// and the curves so far, in one file written to a temp name and renamed.
#include <torch/torch.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "model/fcn.h"
#include "results/run_file.h"
#include "train/run_paths.h"  // list_checkpoints

namespace fcnlab {

struct CheckpointState {
  std::int64_t iteration = 0;  // iterations completed
  std::int64_t loader_epoch = 0, loader_index = 0;
  std::string config_hash;
  double wall_seconds = 0;   // time spent before this checkpoint (all sessions)
  double train_seconds = 0;  // time spent in training steps
  std::int64_t images_seen = 0;
  std::vector<double> loss_scaler;  // fp16 loss scaler (LossScaler::state); empty without fp16
  int cpu_threads = 0;              // intra-op threads of a CPU run; 0 on CUDA or when not recorded
  std::vector<TrainPoint> train;    // curves so far
  std::vector<ValPoint> val;
};

// Writes a torch archive with checked writes: IoError naming the file (which is removed) when a
// write fails (disk full, file-size limit). torch's own file writer would terminate the process.
void save_archive(torch::serialize::OutputArchive& archive, const std::filesystem::path& file);
// The model's weights (loadable with torch::load), written to a temp file and renamed.
void save_model_file(FCN& model, const std::filesystem::path& file);

// Writes <dir>/ckpt-<iteration>.pt (via a temp file + rename) and keeps the newest `keep`.
void save_checkpoint(const std::filesystem::path& dir, FCN& model, torch::optim::Optimizer& optimizer,
                     const CheckpointState& state, int keep);
// Restores model, optimiser and RNG states; returns the rest.
CheckpointState load_checkpoint(const std::filesystem::path& file, FCN& model, torch::optim::Optimizer& optimizer);
// Deletes every checkpoint in `dir`.
void remove_checkpoints(const std::filesystem::path& dir);

}  // namespace fcnlab
