#include <fmt/format.h>

#include <iostream>

#include "cli/options.h"
#include "config/loader.h"

namespace fcnlab::cli {

int cmd_config(const Args& args) {
  po::options_description opts("Options");
  opts.add_options()("diff", "print only the keys that differ from the defaults")("hash", "print only the config hash");
  const auto p = parse_args("config", args, opts, true);
  if (p.help) {
    print_help("fcnlab config [--config FILE]... [--diff | --hash] [key=value]...",
               "Resolves defaults <- config files <- overrides, validates the result, and prints it as\n"
               "canonical TOML (sorted keys, every key present) followed by its hash, the run identity.\n"
               "The hash leaves out keys that do not change results (run.name, run.experiment,\n"
               "run.results_dir, run.threads, run.log_level, data.workers, checkpoint.*).",
               opts);
    return 0;
  }
  const Config config = load_config(p);
  const std::string hash = config_hash_hex(config);
  if (p.vm.count("hash")) {
    std::cout << hash << '\n';
  } else if (p.vm.count("diff")) {
    std::cout << diff_from_default(config) << "# hash: " << hash << '\n';
  } else {
    std::cout << to_canonical_toml(config) << "# hash: " << hash << '\n';
  }
  return 0;
}

}  // namespace fcnlab::cli
