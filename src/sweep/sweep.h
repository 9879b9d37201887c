#pragma once
// Sweeps: a sweep file (experiments/<name>.toml) or a command-line multirun expands into a list
// of runs, each a resolved Config identified by its hash. Torch-free.
//
// Sweep file:
//   base = "../configs/toy.toml"     # relative to the sweep file
//   seeds = [0, 1, 2]
//   [set]                            # overrides for every run (dotted keys or nested tables)
//   optim.iterations = 500
//   [[grid]]                         # cartesian product within a grid; union over grids
//   model.skip = [32, 16, 8]
//   model.fusion = ["sum", "concat"]
//   [decide]                         # adaptive seeds (sweep/decide.h): the seeds are 0..max_seeds-1
//   vs = ["model.skip=32"]           # and run only where a comparison is still open
//   metrics = ["mean_iou"]
//   margin = 0.01                    # or { mean_iou = 0.01 }
//   alpha = 0.05
//   min_seeds = 2
//   max_seeds = 6
//   seed_step = 2
#include <array>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/config.h"
#include "core/enum_names.h"
#include "results/run_file.h"
#include "sweep/decide.h"
#include "train/run_paths.h"

namespace fcnlab {

struct SweepRun {
  std::size_t index = 0;  // position in the sweep (stable for --task)
  Config config;
  std::string hash;  // config hash (hex)
  RunPaths paths;
  std::vector<std::pair<std::string, std::string>> axes;  // key -> value of the varying keys
};

struct SweepSpec {
  std::string name;                    // experiment name
  std::vector<SweepRun> runs;          // deduplicated by config hash, in expansion order
  std::vector<std::string> axis_keys;  // keys whose value differs between runs
  std::optional<DecidePlan> decide;    // the sweep file's [decide] section, if any
};

// Expands a sweep file. `overrides` (key=value, commas = several values) apply to every run,
// after the file's own values. Throws ConfigError naming the file, the grid and the key.
SweepSpec load_sweep_file(const std::filesystem::path& file, const std::vector<std::string>& overrides);

// Command-line multirun: `model.skip=32,16,8 loss.name=ce,dice` over the given config files.
// The experiment is `name` when non-empty, else "adhoc-<hash of the spec>".
SweepSpec make_multirun(const std::vector<std::filesystem::path>& configs, const std::vector<std::string>& overrides,
                        const std::string& name);

// Splits "a,b,[1,2],\"x,y\"" at top-level commas (outside brackets and quotes).
std::vector<std::string> split_values(const std::string& text);

enum class RunState { done, partial, todo };
template <>
struct EnumNames<RunState> {  // to_string(RunState): the word `sweep --list` and `--status` print
  static constexpr std::array<std::pair<RunState, std::string_view>, 3> table{
      {{RunState::done, "done"}, {RunState::partial, "partial"}, {RunState::todo, "todo"}}};
};
struct RunStatusInfo {
  RunState state = RunState::todo;
  std::string detail;               // "finished", "diverged", "checkpoint at 200", ...
  std::optional<RunStatus> result;  // the result file's status; none without a readable one
};
RunStatusInfo run_state(const SweepRun& run);

// Indices of the runs of shard i of n (interleaved: index % n == i).
std::vector<std::size_t> shard_indices(std::size_t runs, int shard, int shards);

}  // namespace fcnlab
