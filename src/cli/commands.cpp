#include "cli/command.h"

namespace fcnlab::cli {

const std::vector<Command>& commands() {
  static const std::vector<Command> list{
      {"config", "print the resolved configuration (canonical TOML) and its hash", cmd_config},
  };
  return list;
}

}  // namespace fcnlab::cli
