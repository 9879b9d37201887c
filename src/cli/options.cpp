#include "cli/options.h"

#include <fmt/format.h>

#include <iostream>

#include "config/loader.h"
#include "core/error.h"
#include "core/log.h"
#include "train/run_paths.h"

namespace fcnlab::cli {

ParsedArgs parse_args(const std::string& command, const Args& args, po::options_description& opts, bool with_config,
                      int max_positional) {
  ParsedArgs out;
  opts.add_options()("help,h", "show this help");
  if (with_config)
    opts.add_options()("config,c", po::value<std::vector<std::string>>(&out.configs)->composing(),
                       "TOML config file layered over the defaults (repeatable; later files win)");
  po::options_description hidden;
  std::vector<std::string> rest;
  hidden.add_options()("args", po::value<std::vector<std::string>>(&rest), "");
  po::options_description all;
  all.add(opts).add(hidden);
  po::positional_options_description pos;
  pos.add("args", -1);
  try {
    po::store(po::command_line_parser(args).options(all).positional(pos).run(), out.vm);
    po::notify(out.vm);
  } catch (const po::error& e) {
    throw UsageError(fmt::format("fcnlab {}: {} (see fcnlab {} --help)", command, e.what(), command));
  }
  out.help = out.vm.count("help") > 0;
  for (auto& a : rest) (a.find('=') != std::string::npos ? out.overrides : out.positional).push_back(a);
  if (!out.help && static_cast<int>(out.positional.size()) > max_positional)
    throw UsageError(fmt::format("fcnlab {}: unexpected argument '{}' (overrides are key=value; see fcnlab {} --help)",
                                 command, out.positional[static_cast<std::size_t>(max_positional)], command));
  return out;
}

void print_help(const std::string& usage, const std::string& description, const po::options_description& opts) {
  std::cout << "Usage: " << usage << "\n\n" << description << "\n\n" << opts << std::flush;
}

std::vector<std::filesystem::path> config_files(const ParsedArgs& p) {
  return {p.configs.begin(), p.configs.end()};
}

Config load_config(const ParsedArgs& p) {
  return fcnlab::load_config(config_files(p), p.overrides);
}

TrainedRun open_trained_run(const std::string& run_file, const std::string& checkpoint, const ParsedArgs& p) {
  TrainedRun r;
  r.info = RunFileReader(run_file).info();
  r.config =
      ConfigBuilder().add_text(r.info.config_toml, run_file + " (config_toml)").add_overrides(p.overrides).build();
  init_logging(to_string(r.config.run.log_level));
  r.weights = checkpoint.empty() ? run_paths(r.config).final_weights() : std::filesystem::path(checkpoint);
  return r;
}

}  // namespace fcnlab::cli
