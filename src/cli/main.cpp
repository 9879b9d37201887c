// fcnlab: the only main(). Dispatches to subcommands and maps errors to exit codes:
// 0 success, 1 runtime failure, 2 usage or configuration error.
#include <fmt/format.h>
#include <torch/version.h>

#include <exception>
#include <iostream>
#include <string>

#include "cli/command.h"
#include "cli/error_message.h"
#include "core/error.h"
#include "core/version.h"

namespace {

void print_program_help() {
  std::cout << "fcnlab " << fcnlab::version()
            << ": Fully Convolutional Network ablations on PASCAL VOC\n\n"
               "Usage: fcnlab <command> [options] [key=value ...]\n"
               "       fcnlab --version | --help\n\nCommands:\n";
  for (const auto& c : fcnlab::cli::commands()) std::cout << fmt::format("  {:<12} {}\n", c.name, c.summary);
  std::cout << "\nRun `fcnlab <command> --help` for a command's options. Exit codes: 0 success,\n"
               "1 runtime failure, 2 usage or configuration error.\n";
}

std::string version_line() {
  return fmt::format("fcnlab {} (commit {}{}), LibTorch {}", fcnlab::version(), fcnlab::git_commit(),
                     fcnlab::git_dirty() ? "-dirty" : "", TORCH_VERSION);
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const std::vector<std::string> argv_all(argv + 1, argv + argc);
    if (argv_all.empty()) {
      print_program_help();
      return 2;
    }
    const std::string& first = argv_all.front();
    if (first == "--help" || first == "-h" || first == "help") {
      print_program_help();
      return 0;
    }
    if (first == "--version" || first == "-V") {
      std::cout << version_line() << '\n';
      return 0;
    }
    for (const auto& c : fcnlab::cli::commands()) {
      if (c.name == first) return c.run({argv_all.begin() + 1, argv_all.end()});
    }
    throw fcnlab::UsageError(fmt::format("unknown command '{}' (see fcnlab --help)", first));
  } catch (const fcnlab::Error& e) {
    std::cerr << "fcnlab: error: " << fcnlab::cli::error_message(e) << '\n';
    return e.exit_code();
  } catch (const std::exception& e) {
    std::cerr << "fcnlab: error: " << e.what() << '\n';
    return 1;
  }
}
