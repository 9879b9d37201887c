#pragma once
// Test helpers: temporary directories, small files, running the fcnlab executable, the toy preset.
#include <filesystem>
#include <string>
#include <vector>

#include "config/config.h"

namespace fcnlab::test {

// A fresh directory under the system temp dir, removed on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

void write_file(const std::filesystem::path& file, const std::string& contents);
std::string read_file(const std::filesystem::path& file);

struct CommandResult {
  int exit_code = -1;
  std::string out;  // stdout and stderr together
};
// Runs `fcnlab <args>` through the shell (args are passed as written) in `cwd`.
CommandResult run_fcnlab(const std::string& args, const std::filesystem::path& cwd = std::filesystem::current_path());

std::filesystem::path source_dir();  // the repository root

// configs/toy.toml with `overrides` (key=value) applied.
Config toy_config(const std::vector<std::string>& overrides = {});

}  // namespace fcnlab::test
