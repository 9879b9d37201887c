#include "core/log.h"

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "core/error.h"

namespace fcnlab {

namespace {
std::shared_ptr<spdlog::sinks::sink> g_file_sink;
}

void init_logging(std::string_view level) {
  auto logger = spdlog::default_logger();
  logger->set_pattern("[%Y-%m-%d %H:%M:%S] [%l] %v");
  logger->set_level(spdlog::level::from_str(std::string(level)));
  logger->flush_on(spdlog::level::info);
}

void add_log_file(const std::filesystem::path& file) {
  remove_log_file();
  try {
    g_file_sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>(file.string(), false);
  } catch (const spdlog::spdlog_ex& e) {
    throw IoError(std::string("cannot open log file ") + file.string() + ": " + e.what());
  }
  g_file_sink->set_pattern("[%Y-%m-%d %H:%M:%S] [%l] %v");
  spdlog::default_logger()->sinks().push_back(g_file_sink);
}

void remove_log_file() {
  if (!g_file_sink) return;
  auto& sinks = spdlog::default_logger()->sinks();
  sinks.erase(std::remove(sinks.begin(), sinks.end(), g_file_sink), sinks.end());
  g_file_sink.reset();
}

}  // namespace fcnlab
