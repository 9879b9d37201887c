#pragma once
// Logging through spdlog: to stderr, and optionally also to a file (a run's log in its work dir).
#include <filesystem>
#include <string_view>

namespace fcnlab {

// level: "debug" | "info" | "warn" | "error".
void init_logging(std::string_view level);
// Adds a file sink to the default logger (appending); removed by remove_log_file().
void add_log_file(const std::filesystem::path& file);
void remove_log_file();

}  // namespace fcnlab
