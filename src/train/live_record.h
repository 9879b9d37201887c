#pragma once
// A run's live record: a small TOML file in its work dir (RunPaths::live_record), replaced
// atomically by the trainer at its log points, that says how far the run is. `fcnlab sweep X
// --status --watch` reads it from another shell, another machine with the same results dir, or for
// SLURM-launched runs: nothing but files is shared. Torch-free.
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <optional>
#include <string>

namespace fcnlab {

struct LiveRecord {
  static constexpr double kNone = std::numeric_limits<double>::quiet_NaN();
  std::string state = "running";  // running, finished, diverged or stopped (checkpointed, resumable)
  std::int64_t iteration = 0, total = 0;
  double loss = kNone;          // the last logged train loss
  double val_mean_iou = kNone;  // the last evaluation's mean IoU
  double img_per_s = kNone;     // training images per second at the last log point
  double eta_s = kNone;         // seconds left at this session's rate
  std::string updated_utc;      // when it was written
  std::string host;
  long pid = 0;
};

// Writes `record` to `file` atomically (TOML). IoError naming the file on failure.
void write_live_record(const std::filesystem::path& file, const LiveRecord& record);
// The record in `file`; nullopt when there is none or it cannot be read (a reader never fails a view).
std::optional<LiveRecord> read_live_record(const std::filesystem::path& file);

// Seconds since a "YYYY-MM-DDTHH:MM:SSZ" time; NaN when it does not parse.
double seconds_since_utc(const std::string& utc);

}  // namespace fcnlab
