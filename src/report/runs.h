#pragma once
// Loading a results directory and grouping its runs by config keys (`fcnlab report`).
// Torch-free; plain data.
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "results/run_file.h"

namespace fcnlab::report {

// One finished run: its file, root attributes, every config key's value and its /final record.
struct Run {
  std::filesystem::path file;
  RunInfo info;
  std::map<std::string, std::string> config;  // dotted key -> display value (strings unquoted)
  FinalRecord final;
};

struct LoadedRuns {
  std::vector<Run> runs;              // sorted by file name
  std::vector<std::string> warnings;  // one per skipped file, naming it and why
};

// Reads every `*.h5` directly in `dir` (`.h5.part` files are ignored). Files that cannot be read,
// whose status is not `finished`, that have no /final, or whose config does not parse are
// skipped with a warning (returned, not printed: the caller decides where warnings go). Files of
// schema_version 1 are loaded, with one warning that their boundary scores are not comparable
// (see kSchemaVersion). IoError when `dir` is not a directory.
LoadedRuns load_runs(const std::filesystem::path& dir);

// Reads one run file; throws (IoError, ConfigError) when it cannot be used, with the reason.
Run load_run(const std::filesystem::path& file);

// A config value as shown in tables: canonical TOML with the quotes of strings removed.
std::string display_value(const std::string& canonical_toml_value);

// Config keys whose values differ between runs, sorted, leaving out run.seed and the keys
// that do not change results (unhashed_keys()): runs with none such are one configuration.
std::vector<std::string> varying_keys(const std::vector<const Run*>& runs);
std::vector<std::string> varying_keys(const std::vector<Run>& runs);

// The runs that pass every filter "key=v1,v2" (a run passes one when its value of key is one of
// the values). OptionError ("where") for a malformed filter or a value no run has, ConfigError for an unknown key.
std::vector<const Run*> select_runs(const std::vector<Run>& runs, const std::vector<std::string>& filters);

// DataError naming both files unless `a` and `b` were scored on the same val images in the same
// order: equal data_fingerprint and, where both files record them (schema 4), equal image ids.
// Without ids (older files) the image counts must agree.
void check_same_images(const Run& a, const Run& b);

// Checks that every key is a config key; ConfigError naming the key and the nearest one.
void check_keys(const std::vector<std::string>& keys);

struct Group {
  std::vector<std::string> values;  // one per grouping key
  std::vector<const Run*> runs;     // the group's runs (seeds), sorted by seed
};

// Groups by the values of `keys` (all runs in one group when `keys` is empty). Groups are
// ordered by their values, compared numerically where both values are numbers.
std::vector<Group> group_runs(const std::vector<const Run*>& runs, const std::vector<std::string>& keys);
std::vector<Group> group_runs(const std::vector<Run>& runs, const std::vector<std::string>& keys);

// Natural order of two values: numerically when both parse as numbers, else as text.
bool value_less(const std::string& a, const std::string& b);

}  // namespace fcnlab::report
