#pragma once
// Shared Boost.Program_options plumbing for the subcommands: --help, --config files and trailing
// key=value overrides, and conversion of parse errors into UsageError (exit code 2).
#include <boost/program_options.hpp>
#include <filesystem>
#include <string>
#include <vector>

#include "cli/command.h"
#include "config/config.h"
#include "results/run_file.h"

namespace fcnlab::cli {

namespace po = boost::program_options;

struct ParsedArgs {
  po::variables_map vm;
  std::vector<std::string> configs;     // --config files, in order
  std::vector<std::string> overrides;   // key=value
  std::vector<std::string> positional;  // other positional arguments
  bool help = false;
};

// Adds --help (and, with `with_config`, --config) to `opts` and parses `args`. Positional
// arguments containing '=' are overrides; the others go to `positional`, and more than
// `max_positional` of them is a usage error.
ParsedArgs parse_args(const std::string& command, const Args& args, po::options_description& opts, bool with_config,
                      int max_positional = 0);

// The --config files, as paths.
std::vector<std::filesystem::path> config_files(const ParsedArgs& p);
// The config of a command line: defaults <- --config files <- overrides (config/loader.h).
Config load_config(const ParsedArgs& p);

// A trained run named on the command line (`eval`, `predict`): its file's info, its recorded config
// with the command line's overrides (logging set up from it), and the weights to use: `checkpoint`
// when given, else the run's final weights.
struct TrainedRun {
  RunInfo info;
  Config config;
  std::filesystem::path weights;
};
TrainedRun open_trained_run(const std::string& run_file, const std::string& checkpoint, const ParsedArgs& p);

// "Usage: fcnlab <command> ..." followed by the options.
void print_help(const std::string& usage, const std::string& description, const po::options_description& opts);

}  // namespace fcnlab::cli
