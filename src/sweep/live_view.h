#pragma once
// `fcnlab sweep X --watch`: one line per run (state, iteration/total, last loss, last val mean
// IoU, images/s, ETA) and the sweep's totals, read from the files the runs write: result files,
// run locks and live records (train/live_record.h). So it works from another shell, from another
// machine that sees the same results dir, and for runs that SLURM started.
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "sweep/sweep.h"
#include "train/live_record.h"

namespace fcnlab {

struct LiveRun {
  std::size_t index = 0;
  std::string state;  // finished, diverged, failed (the result file's status), running, partial, todo
  std::optional<LiveRecord> record;
  std::int64_t total = 0;  // iterations of the run
};

// A record written by a process on another host is trusted to be running while it is younger than
// this (the lock, a flock, is checked only where it can be: on this host's runs).
inline constexpr double kLiveRecordStaleSeconds = 120;

LiveRun live_run(const SweepRun& run);

// The table of `runs` and the totals line.
std::string render_live(const SweepSpec& spec, const std::vector<LiveRun>& runs);

// True when no run of `runs` is running and none is left to do (every one has ended).
bool all_ended(const std::vector<LiveRun>& runs);

}  // namespace fcnlab
