#include "core/progress.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>

namespace fcnlab {

std::string format_duration(double s) {
  if (!std::isfinite(s) || s < 0) return "?";
  const auto total = static_cast<std::int64_t>(std::llround(s));
  if (total >= 3600) return fmt::format("{}h{:02d}m", total / 3600, (total % 3600) / 60);
  if (total >= 60) return fmt::format("{}m{:02d}s", total / 60, total % 60);
  return fmt::format("{}s", total);
}

Progress::Progress(std::string label, std::int64_t total, double log_every_s)
    : label_(std::move(label)),
      total_(total),
      log_every_s_(log_every_s),
      tty_(::isatty(::fileno(stderr)) != 0),
      start_(std::chrono::steady_clock::now()),
      rate_start_(start_),
      last_print_(start_) {}

double Progress::elapsed_s() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

double Progress::eta_s(std::int64_t done) const {
  const double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - rate_start_).count();
  const auto units = done - rate_start_done_;
  if (units <= 0 || t <= 0) return NAN;
  return static_cast<double>(total_ - done) * t / static_cast<double>(units);
}

void Progress::reset_rate(std::int64_t done) {
  rate_start_ = std::chrono::steady_clock::now();
  rate_start_done_ = done;
}

std::string Progress::line(std::int64_t done, const std::string& detail, double eta) const {
  return fmt::format("{} {}/{} ({:.0f}%) {} | elapsed {} ETA {}", label_, done, total_,
                     total_ > 0 ? 100.0 * static_cast<double>(done) / static_cast<double>(total_) : 100.0, detail,
                     format_duration(elapsed_s()), format_duration(std::isnan(eta) ? eta_s(done) : eta));
}

void Progress::update(std::int64_t done, const std::string& detail, double eta) {
  const auto now = std::chrono::steady_clock::now();
  if (tty_) {
    if (now - last_print_ < std::chrono::milliseconds(200)) return;
    std::fprintf(stderr, "\r\033[K%s", line(done, detail, eta).c_str());
    std::fflush(stderr);
    printed_ = true;
  } else {
    if (std::chrono::duration<double>(now - last_print_).count() < log_every_s_) return;
    spdlog::info("{}", line(done, detail, eta));
    logged_done_ = done;
    logged_detail_ = detail;
  }
  last_print_ = now;
}

void Progress::finish(const std::string& detail) {
  if (tty_ && printed_) std::fprintf(stderr, "\r\033[K");
  if (!tty_ && logged_done_ == total_ && logged_detail_ == detail) return;  // that very line was logged last
  spdlog::info("{}", line(total_, detail, 0.0));
}

}  // namespace fcnlab
