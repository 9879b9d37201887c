#pragma once
// Where a run lives: results/<experiment>/<run_id>.h5 and results/<experiment>/.work/<run_id>/.
// Torch-free: the sweep and report modules use it too.
#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "config/config.h"

namespace fcnlab {

// A readable prefix of the axis values plus the config hash, e.g.
// "fcn8s-sum-learned-caffe-ce-seed0-1a2b3c4d5e6f7a8b" (with run.name prepended when set).
std::string make_run_id(const Config& cfg);

struct RunPaths {
  std::string run_id;
  std::filesystem::path experiment_dir;  // results/<experiment>[/<subdir>]
  std::filesystem::path result_file;     // <experiment_dir>/<run_id>.h5
  std::filesystem::path work_dir;        // <experiment_dir>/.work/<run_id>
};

// `subdir` places the run below the experiment (rerun uses "reruns").
RunPaths run_paths(const Config& cfg, const std::string& subdir = "");

// Checkpoints in a work dir (ckpt-<iteration>.pt), oldest first.
std::vector<std::pair<std::int64_t, std::filesystem::path>> list_checkpoints(const std::filesystem::path& work_dir);

}  // namespace fcnlab
