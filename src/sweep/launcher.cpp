#include "sweep/launcher.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <spawn.h>
#include <spdlog/spdlog.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstring>
#include <deque>
#include <map>
#include <optional>
#include <thread>

#include "config/loader.h"
#include "core/error.h"
#include "core/file.h"
#include "core/host.h"
#include "core/progress.h"
#include "core/signals.h"
#include "results/run_file.h"
#include "train/run_lock.h"

extern char** environ;

namespace fcnlab {

namespace {

std::atomic<bool> g_sweep_stop{false};
// The running `fcnlab train` children by slot, so that a SIGINT/SIGTERM sent to this process alone
// (a SLURM batch shell forwarding its signal, `kill PID`) reaches them too: each finishes its step,
// checkpoints and exits. Slots beyond the array are not forwarded to (they still get signals sent
// to the process group, e.g. Ctrl-C).
constexpr std::size_t kForwardSlots = 256;
std::array<std::atomic<pid_t>, kForwardSlots> g_children{};
extern "C" void on_sweep_signal(int sig) {
  g_sweep_stop.store(true);
  for (auto& c : g_children) {
    const pid_t pid = c.load();
    if (pid > 0) ::kill(pid, sig);  // async-signal-safe
  }
}

// Records the child in `slot` for on_sweep_signal (0: none).
void forward_signals_to(int slot, pid_t pid) {
  if (static_cast<std::size_t>(slot) < kForwardSlots) g_children[static_cast<std::size_t>(slot)].store(pid);
}

// Whether a SIGINT/SIGTERM asked the sweep to stop.
bool stopping() {
  return g_sweep_stop.load();
}

// The exit status of a child that found its run already ended (by another process, between this
// sweep's check and the child's start): not a run trained here.
constexpr int kAlreadyEndedCode = 3;
// The exit status of a child that found its run locked by another process: this sweep waits for
// that process (and takes the run over if it dies). Its own code, because the holder may be gone
// by the time the child's exit is seen, so the lock alone cannot tell this from a failure.
constexpr int kLockedCode = 4;

// Starts `fcnlab train` for `run`; returns -1 (with `error` set) when the process cannot start.
pid_t spawn_train(const std::filesystem::path& exe, const SweepRun& run, const std::string& device,
                  std::string& error) {
  const auto config = write_run_config(run);
  const auto log = run.paths.stdout_log();
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  posix_spawn_file_actions_addclose(&actions, STDIN_FILENO);
  std::vector<std::string> args{exe.string(),
                                "train",
                                "--config",
                                config.string(),
                                "--already-ended-code",
                                std::to_string(kAlreadyEndedCode),
                                "--locked-code",
                                std::to_string(kLockedCode)};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_store;
  for (char** e = environ; *e; ++e) {
    const std::string s(*e);
    if (!device.empty() && s.rfind("CUDA_VISIBLE_DEVICES=", 0) == 0) continue;
    env_store.push_back(s);
  }
  if (!device.empty()) env_store.push_back("CUDA_VISIBLE_DEVICES=" + device);
  std::vector<char*> envp;
  for (auto& e : env_store) envp.push_back(e.data());
  envp.push_back(nullptr);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, exe.c_str(), &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    error = fmt::format("cannot start {}: {}", exe.string(), std::strerror(rc));
    return -1;
  }
  return pid;
}

// What became of a run when its child exited.
enum class ChildEnd {
  finished,         // trained here to the end
  diverged,         // trained here, stopped by the divergence check
  ended_elsewhere,  // another process ended it (before or while the child ran)
  locked,           // another process holds it: wait for that process
  interrupted,      // this sweep was told to stop
  failed,           // anything else
};
struct ChildOutcome {
  ChildEnd end;
  std::string message;  // for `failed`: "exit <code>" (128 + signal when killed by one)
};

ChildOutcome classify_exit(int status, const RunStatusInfo& st) {
  const bool exited = WIFEXITED(status);
  const int code = exited ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  const bool finished = st.result == RunStatus::finished;
  // Ended by another process: before the child started (the child exits kAlreadyEndedCode), or
  // while the child found it locked (it exits kLockedCode; the holder has ended it since, finished
  // or diverged), or finished there while this child failed.
  const bool child_gave_way = exited && (code == kAlreadyEndedCode || code == kLockedCode);
  const bool ended_by_other = child_gave_way || (finished && !(exited && code == 0));
  if (st.state == RunState::done && ended_by_other) return {ChildEnd::ended_elsewhere, st.detail};
  if (finished) return {ChildEnd::finished, st.detail};
  if (st.result == RunStatus::diverged) return {ChildEnd::diverged, st.detail};
  if (stopping()) return {ChildEnd::interrupted, "interrupted"};
  // `fcnlab train` found the run locked: another process took it between our check and its start.
  if (exited && code == kLockedCode) return {ChildEnd::locked, "locked by another process"};
  return {ChildEnd::failed, fmt::format("exit {}", code)};
}

// What waiting for a child gave: a child's pid and status, 0 when the poll interval for runs
// elsewhere passed first, -1 with `error` (errno) when waiting failed.
struct Waited {
  pid_t pid = 0;
  int status = 0;
  int error = 0;
};

// The local scheduler's state: runs to start, running children by pid, runs locked by another
// process, and the counts of the outcome.
class LocalSweep {
 public:
  LocalSweep(const SweepSpec& spec, const LaunchOptions& options)
      : spec_(spec),
        options_(options),
        exe_(options.exe.empty() ? self_exe() : options.exe),
        slots_(std::max(1, options.devices.empty() ? options.jobs : static_cast<int>(options.devices.size()))),
        slot_busy_(static_cast<std::size_t>(slots_), false) {}

  // Skips the runs of `indices` that are done already and queues the others.
  void plan(const std::vector<std::size_t>& indices);
  // Trains the queued runs until none is left or a signal stops the sweep.
  SweepOutcome run();

 private:
  struct Child {
    std::size_t index;
    int slot;
    std::chrono::steady_clock::time_point start;
  };

  std::string detail() const;
  void update();
  void start_ready();
  void start(std::size_t i);
  Waited wait_child() const;
  bool reap_child(const Waited& waited);
  void count_trained(double seconds);
  void ended_elsewhere(std::size_t i, const RunStatusInfo& st);
  void poll_elsewhere();
  std::string run_tag(std::size_t i) const { return fmt::format("[{}/{}]", i + 1, spec_.runs.size()); }

  const SweepSpec& spec_;
  const LaunchOptions& options_;
  const std::filesystem::path exe_;
  const int slots_;
  SweepOutcome out_;
  std::deque<std::size_t> todo_;
  std::size_t to_train_ = 0;
  std::map<pid_t, Child> running_;
  std::vector<std::size_t> elsewhere_;  // locked by another process, not ended yet
  std::vector<bool> slot_busy_;
  double finished_seconds_ = 0;
  std::size_t finished_count_ = 0;
  std::optional<Progress> progress_;
};

void LocalSweep::plan(const std::vector<std::size_t>& indices) {
  out_.total = indices.size();
  for (const auto i : indices) {
    const auto st = run_state(spec_.runs[i]);
    if (st.state == RunState::done) {
      ++out_.skipped;
      if (st.result == RunStatus::diverged) out_.diverged.push_back(i);
    } else {
      todo_.push_back(i);
    }
  }
  to_train_ = todo_.size();
  spdlog::info("sweep {}: {} runs, {} already done, {} to train ({} at a time)", spec_.name, out_.total, out_.skipped,
               to_train_, slots_);
}

SweepOutcome LocalSweep::run() {
  const StopSignalScope signals(g_sweep_stop, on_sweep_signal);
  progress_.emplace(fmt::format("sweep {}", spec_.name), static_cast<std::int64_t>(out_.total), 30.0);
  progress_->reset_rate(static_cast<std::int64_t>(out_.skipped));
  while (!stopping() || !running_.empty()) {
    start_ready();
    if (running_.empty() && todo_.empty() && elsewhere_.empty()) break;
    if (stopping() && running_.empty()) break;
    const Waited waited = wait_child();
    if (waited.pid == 0) {
      poll_elsewhere();
    } else if (waited.pid < 0) {
      if (waited.error == EINTR) continue;
      break;
    } else if (!reap_child(waited)) {
      continue;
    }
    update();
  }
  if (stopping()) out_.interrupted = true;
  progress_->finish(detail());
  return out_;
}

std::string LocalSweep::detail() const {
  return fmt::format("runs: {} running, {} elsewhere, {} failed, {} diverged", running_.size(), elsewhere_.size(),
                     out_.failed.size(), out_.diverged.size());
}

void LocalSweep::update() {
  // The sweep's own ETA, mean run time x runs left / parallel slots: early on it is closer than
  // the rate of runs done so far (the first two runs end together after one run's time).
  const std::size_t remaining = to_train_ > finished_count_ ? to_train_ - finished_count_ : 0;
  const double eta = finished_count_ == 0 ? NAN
                                          : finished_seconds_ / static_cast<double>(finished_count_) *
                                                static_cast<double>(remaining) / static_cast<double>(slots_);
  progress_->update(static_cast<std::int64_t>(out_.skipped + out_.trained + out_.elsewhere.size() + out_.failed.size()),
                    detail(), eta);
}

void LocalSweep::start_ready() {
  while (!todo_.empty() && static_cast<int>(running_.size()) < slots_ && !stopping()) {
    const auto i = todo_.front();
    todo_.pop_front();
    const auto& run = spec_.runs[i];
    if (run_lock_held(run.paths.lock_file())) {
      spdlog::info("{} {} is being trained by another process ({}); waiting for it at the end", run_tag(i),
                   run.paths.run_id, run_lock_holder(run.paths.lock_file()));
      elsewhere_.push_back(i);
      continue;
    }
    start(i);
  }
}

void LocalSweep::start(std::size_t i) {
  const auto& run = spec_.runs[i];
  int slot = 0;
  while (slot_busy_[static_cast<std::size_t>(slot)]) ++slot;
  const std::string device = options_.devices.empty() ? "" : options_.devices[static_cast<std::size_t>(slot)];
  std::string error;
  const pid_t pid = spawn_train(exe_, run, device, error);
  if (pid < 0) {  // recorded as a failed run; the sweep goes on
    out_.failed.push_back(i);
    spdlog::error("{} FAILED {}: {}", run_tag(i), run.paths.run_id, error);
    return;
  }
  forward_signals_to(slot, pid);
  if (stopping()) ::kill(pid, SIGTERM);  // a signal came while it was starting
  slot_busy_[static_cast<std::size_t>(slot)] = true;
  running_[pid] = Child{i, slot, std::chrono::steady_clock::now()};
  spdlog::info("{} start {}{} (log: {})", run_tag(i), run.paths.run_id,
               device.empty() ? "" : " on CUDA device " + device, run.paths.stdout_log().string());
}

Waited LocalSweep::wait_child() const {
  Waited w;
  if (elsewhere_.empty()) {
    w.pid = ::waitpid(-1, &w.status, 0);
    w.error = errno;
    return w;
  }
  // Runs elsewhere: check them every poll_seconds while waiting for children.
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::duration<double>(std::max(0.05, options_.poll_seconds));
  while (!running_.empty() && std::chrono::steady_clock::now() < deadline && !stopping()) {
    w.pid = ::waitpid(-1, &w.status, WNOHANG);
    if (w.pid != 0) {
      w.error = errno;
      return w;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  if (running_.empty())
    while (std::chrono::steady_clock::now() < deadline && !stopping())
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
  return w;
}

// Handles the exit of a child of this sweep; false for any other process.
bool LocalSweep::reap_child(const Waited& waited) {
  const auto it = running_.find(waited.pid);
  if (it == running_.end()) return false;
  const Child child = it->second;
  running_.erase(it);
  forward_signals_to(child.slot, 0);
  slot_busy_[static_cast<std::size_t>(child.slot)] = false;
  const auto i = child.index;
  const auto& run = spec_.runs[i];
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - child.start).count();
  const auto st = run_state(run);
  const ChildOutcome outcome = classify_exit(waited.status, st);
  switch (outcome.end) {
    case ChildEnd::ended_elsewhere:
      ended_elsewhere(i, st);
      break;
    case ChildEnd::finished:
      count_trained(secs);
      spdlog::info("{} finished {} in {}", run_tag(i), run.paths.run_id, format_duration(secs));
      break;
    case ChildEnd::diverged:
      count_trained(secs);
      out_.diverged.push_back(i);
      spdlog::warn("{} diverged {} (see its result file)", run_tag(i), run.paths.run_id);
      break;
    case ChildEnd::interrupted:
      out_.interrupted = true;
      break;
    case ChildEnd::locked:
      spdlog::info("{} {} is being trained by another process; waiting for it at the end", run_tag(i),
                   run.paths.run_id);
      elsewhere_.push_back(i);
      break;
    case ChildEnd::failed:
      out_.failed.push_back(i);
      ++finished_count_;
      spdlog::error("{} FAILED {} ({}); log: {}", run_tag(i), run.paths.run_id, outcome.message,
                    run.paths.stdout_log().string());
      break;
  }
  return true;
}

void LocalSweep::count_trained(double seconds) {
  ++out_.trained;
  ++finished_count_;
  finished_seconds_ += seconds;
}

// A run that ended while another process held it: count it, once.
void LocalSweep::ended_elsewhere(std::size_t i, const RunStatusInfo& st) {
  out_.elsewhere.push_back(i);
  if (st.result == RunStatus::diverged)
    out_.diverged.push_back(i);
  else if (st.result != RunStatus::finished)
    out_.failed.push_back(i);  // e.g. an unreadable result file
  spdlog::info("{} {} ended in another process ({})", run_tag(i), spec_.runs[i].paths.run_id, st.detail);
}

void LocalSweep::poll_elsewhere() {
  for (auto e = elsewhere_.begin(); e != elsewhere_.end();) {
    const auto& run = spec_.runs[*e];
    const auto st = run_state(run);
    if (st.state == RunState::done) {
      ended_elsewhere(*e, st);
      e = elsewhere_.erase(e);
    } else if (!run_lock_held(run.paths.lock_file())) {
      // The other process stopped without ending it (killed, interrupted): resume it here.
      spdlog::info("{} {} is no longer locked and not ended: training it here", run_tag(*e), run.paths.run_id);
      todo_.push_back(*e);
      e = elsewhere_.erase(e);
    } else {
      ++e;
    }
  }
}

}  // namespace

std::filesystem::path write_run_config(const SweepRun& run) {
  std::filesystem::create_directories(run.paths.work_dir);
  const auto file = run.paths.config_file();
  // The config is written before the run's lock is taken (by the train child), so two sweeps
  // may write it at once: each uses its own temp name (tagged with its pid), and the last rename
  // wins. The run id is the hash of the config's result-affecting keys, so the two can differ only
  // in unhashed keys (run.threads, run.log_every, ...), which do not change what is computed (see
  // unhashed_keys()).
  write_file_atomically(file,
                        "# resolved config of run " + run.paths.run_id + " (experiment " + run.config.run.experiment +
                            ")\n" + to_canonical_toml(run.config),
                        std::to_string(::getpid()));
  return file;
}

SweepOutcome run_local(const SweepSpec& spec, const std::vector<std::size_t>& indices, const LaunchOptions& options) {
  LocalSweep sweep(spec, options);
  sweep.plan(indices);
  return sweep.run();
}

}  // namespace fcnlab
