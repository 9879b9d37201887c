#pragma once
// `fcnlab sweep X --watch`: one line per run (state, iteration/total, last loss, last val mean
// IoU, images/s, ETA) and the sweep's totals, read from the files the runs write: result files,
// run locks and live records (train/live_record.h). So it works from another shell, from another
// machine that sees the same results dir, and for runs that SLURM started.
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/enum_names.h"
#include "results/run_file.h"
#include "sweep/sweep.h"
#include "train/live_record.h"

namespace fcnlab {

enum class LiveState { todo, running, partial, ended };
template <>
struct EnumNames<LiveState> {
  static constexpr std::array<std::pair<LiveState, std::string_view>, 4> table{{{LiveState::todo, "todo"},
                                                                                {LiveState::running, "running"},
                                                                                {LiveState::partial, "partial"},
                                                                                {LiveState::ended, "ended"}}};
};

struct LiveRun {
  std::size_t index = 0;
  LiveState state = LiveState::todo;
  std::optional<RunStatus> result;  // once ended: the result file's status (none: the file is unreadable)
  std::optional<LiveRecord> record;
  std::int64_t total = 0;  // iterations of the run
  // The state column: todo, running, partial, or once ended the result's status (finished, diverged, ...).
  std::string word() const;
};

// A record written by a process on another host is trusted to be running while it is younger than
// this (the lock, a flock, is checked only where it can be: on this host's runs).
inline constexpr double kLiveRecordStaleSeconds = 120;

LiveRun live_run(const SweepRun& run);

// The table of `runs` and the totals line.
std::string render_live(const SweepSpec& spec, const std::vector<LiveRun>& runs);

// True when every run of `runs` has ended (none is running or left to do).
bool all_ended(const std::vector<LiveRun>& runs);

}  // namespace fcnlab
