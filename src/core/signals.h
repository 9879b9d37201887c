#pragma once
// SIGINT and SIGTERM routed to a handler for a scope: a training run checkpoints and stops, a sweep
// stops starting runs and passes the signal on to its children. The previous handlers come back
// when the scope ends.
#include <atomic>
#include <csignal>

namespace fcnlab {

class StopSignalScope {
 public:
  using Handler = void (*)(int);
  // Clears `stop` (the flag `handler` sets), then installs `handler`.
  StopSignalScope(std::atomic<bool>& stop, Handler handler)
      : prev_int_(install(stop, handler)), prev_term_(std::signal(SIGTERM, handler)) {}
  ~StopSignalScope() {
    std::signal(SIGINT, prev_int_);
    std::signal(SIGTERM, prev_term_);
  }
  StopSignalScope(const StopSignalScope&) = delete;
  StopSignalScope& operator=(const StopSignalScope&) = delete;

 private:
  static Handler install(std::atomic<bool>& stop, Handler handler) {
    stop.store(false);
    return std::signal(SIGINT, handler);
  }
  Handler prev_int_;
  Handler prev_term_;
};

}  // namespace fcnlab
