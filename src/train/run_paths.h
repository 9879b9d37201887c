#pragma once
// Where a run lives: results/<experiment>/<run_id>.h5 and results/<experiment>/.work/<run_id>/.
// Every file name in a run's work dir and in an experiment dir is built (and parsed) here, so the
// trainer, the sweep launcher and the CLI agree on them. Torch-free: the sweep and report modules
// use it too.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/config.h"

namespace fcnlab {

// A readable prefix of the axis values plus the config hash, e.g.
// "fcn8s-sum-learned-caffe-ce-seed0-1a2b3c4d5e6f7a8b" (with run.name prepended when set).
std::string make_run_id(const Config& cfg);

struct RunPaths {
  std::string run_id;
  std::string config_hash;               // config_hash_hex of the run's config: run_id's tail
  std::filesystem::path experiment_dir;  // results/<experiment>[/<subdir>]
  std::filesystem::path result_file;     // <experiment_dir>/<run_id>.h5
  std::filesystem::path work_dir;        // <experiment_dir>/.work/<run_id>

  std::filesystem::path result_part_file() const;                  // <result_file>.part, while the run file is written
  std::filesystem::path lock_file() const;                         // <work_dir>/lock (train/run_lock.h)
  std::filesystem::path train_log() const;                         // <work_dir>/train.log: `fcnlab train`'s log
  std::filesystem::path stdout_log() const;                        // <work_dir>/stdout.log: a sweep child's output
  std::filesystem::path config_file() const;                       // <work_dir>/config.toml: a sweep run's config
  std::filesystem::path final_weights() const;                     // <work_dir>/model-final.pt
  std::filesystem::path live_record() const;                       // <work_dir>/progress.toml (train/live_record.h)
  std::filesystem::path checkpoint(std::int64_t iteration) const;  // see checkpoint_file()
};

// The subdir of an experiment that `fcnlab rerun` writes to.
inline constexpr std::string_view kRerunSubdir = "reruns";

// `subdir` places the run below the experiment (rerun uses kRerunSubdir).
RunPaths run_paths(const Config& cfg, const std::string& subdir = "");

// <work_dir>/ckpt-<iteration, 9 digits>.pt
std::filesystem::path checkpoint_file(const std::filesystem::path& work_dir, std::int64_t iteration);
// The iteration of a checkpoint_file() name; std::nullopt for any other file.
std::optional<std::int64_t> checkpoint_iteration(const std::filesystem::path& file);
// Checkpoints in a work dir (ckpt-<iteration>.pt), oldest first.
std::vector<std::pair<std::int64_t, std::filesystem::path>> list_checkpoints(const std::filesystem::path& work_dir);

// SLURM files of an experiment (sweep/slurm.h): <experiment_dir>/slurm/ holds the scripts, the
// tasks' logs and the record of submissions.
std::filesystem::path slurm_dir_of(const std::filesystem::path& experiment_dir);
// <slurm_dir>/%A_%a.log: sbatch's --output pattern (job id, array task).
std::filesystem::path slurm_log_pattern(const std::filesystem::path& slurm_dir);
// <slurm_dir>/jobs.tsv
std::filesystem::path slurm_jobs_file(const std::filesystem::path& slurm_dir);
// <slurm_dir>/sweep-<stamp>.sbatch, or sweep-<stamp>-<n>.sbatch for n >= 2 (a second script
// written within the same second).
std::filesystem::path sbatch_script_file(const std::filesystem::path& slurm_dir, std::string_view stamp, int n = 1);

}  // namespace fcnlab
