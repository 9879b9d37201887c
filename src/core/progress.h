#pragma once
// A progress line for long work: on a terminal one line rewritten in place, otherwise a plain
// log line at most every `log_every_s` seconds (and at the end).
#include <chrono>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

namespace fcnlab {

class Progress {
 public:
  Progress(std::string label, std::int64_t total, double log_every_s = 10.0);
  // `done` units finished (absolute), `detail` e.g. "loss 0.41 lr 0.05 87 img/s". `eta_s`: the
  // caller's own estimate of the seconds left (a sweep knows its parallel slots); NaN = from the rate.
  void update(std::int64_t done, const std::string& detail, double eta_s = std::numeric_limits<double>::quiet_NaN());
  void finish(const std::string& detail);
  double elapsed_s() const;
  // Seconds left at the current rate, from the units done since construction or reset_rate().
  double eta_s(std::int64_t done) const;
  void reset_rate(std::int64_t done);  // e.g. after a resume, so the ETA ignores skipped work

 private:
  std::string line(std::int64_t done, const std::string& detail, double eta) const;
  std::string label_;
  std::int64_t total_;
  double log_every_s_;
  bool tty_;
  std::chrono::steady_clock::time_point start_, rate_start_, last_print_;
  std::int64_t rate_start_done_ = 0;
  bool printed_ = false;
  // The last line logged (not on a terminal): finish() does not log the same state again.
  std::int64_t logged_done_ = -1;
  std::string logged_detail_;
};

// "1h02m", "3m05s", "42s".
std::string format_duration(double seconds);

}  // namespace fcnlab
