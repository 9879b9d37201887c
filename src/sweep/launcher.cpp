#include "sweep/launcher.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <spawn.h>
#include <spdlog/spdlog.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstring>
#include <deque>
#include <map>
#include <thread>

#include "config/loader.h"
#include "core/error.h"
#include "core/file.h"
#include "core/host.h"
#include "core/progress.h"
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

struct Child {
  std::size_t index;
  int slot;
  std::chrono::steady_clock::time_point start;
};

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
  SweepOutcome out;
  out.total = indices.size();
  const auto exe = options.exe.empty() ? self_exe() : options.exe;
  const int slots = std::max(1, options.devices.empty() ? options.jobs : static_cast<int>(options.devices.size()));

  std::deque<std::size_t> todo;
  for (const auto i : indices) {
    const auto st = run_state(spec.runs[i]);
    if (st.state == RunState::done) {
      ++out.skipped;
      if (st.detail == "diverged") out.diverged.push_back(i);
    } else {
      todo.push_back(i);
    }
  }
  const std::size_t to_train = todo.size();
  spdlog::info("sweep {}: {} runs, {} already done, {} to train ({} at a time)", spec.name, out.total, out.skipped,
               to_train, slots);

  g_sweep_stop.store(false);
  auto prev_int = std::signal(SIGINT, on_sweep_signal);
  auto prev_term = std::signal(SIGTERM, on_sweep_signal);

  Progress progress(fmt::format("sweep {}", spec.name), static_cast<std::int64_t>(out.total), 30.0);
  progress.reset_rate(static_cast<std::int64_t>(out.skipped));
  std::map<pid_t, Child> running;
  std::vector<std::size_t> elsewhere;  // locked by another process, not ended yet
  std::vector<bool> slot_busy(static_cast<std::size_t>(slots), false);
  double finished_seconds = 0;
  std::size_t finished_count = 0;
  auto detail = [&] {
    return fmt::format("runs: {} running, {} elsewhere, {} failed, {} diverged", running.size(), elsewhere.size(),
                       out.failed.size(), out.diverged.size());
  };
  auto update = [&] {
    // The sweep's own ETA, mean run time x runs left / parallel slots: early on it is closer than
    // the rate of runs done so far (the first two runs end together after one run's time).
    const std::size_t remaining = to_train > finished_count ? to_train - finished_count : 0;
    const double eta = finished_count == 0 ? NAN
                                           : finished_seconds / static_cast<double>(finished_count) *
                                                 static_cast<double>(remaining) / static_cast<double>(slots);
    progress.update(static_cast<std::int64_t>(out.skipped + out.trained + out.elsewhere.size() + out.failed.size()),
                    detail(), eta);
  };
  // A run that ended while another process held it: count it, once.
  auto ended_elsewhere = [&](std::size_t i, const RunStatusInfo& st) {
    out.elsewhere.push_back(i);
    if (st.detail == "diverged")
      out.diverged.push_back(i);
    else if (st.detail != "finished")
      out.failed.push_back(i);  // e.g. an unreadable result file
    spdlog::info("[{}/{}] {} ended in another process ({})", i + 1, spec.runs.size(), spec.runs[i].paths.run_id,
                 st.detail);
  };
  auto poll_elsewhere = [&] {
    for (auto e = elsewhere.begin(); e != elsewhere.end();) {
      const auto& run = spec.runs[*e];
      const auto st = run_state(run);
      if (st.state == RunState::done) {
        ended_elsewhere(*e, st);
        e = elsewhere.erase(e);
      } else if (!run_lock_held(run.paths.lock_file())) {
        // The other process stopped without ending it (killed, interrupted): resume it here.
        spdlog::info("[{}/{}] {} is no longer locked and not ended: training it here", *e + 1, spec.runs.size(),
                     run.paths.run_id);
        todo.push_back(*e);
        e = elsewhere.erase(e);
      } else {
        ++e;
      }
    }
  };

  while (!g_sweep_stop.load() || !running.empty()) {
    while (!todo.empty() && static_cast<int>(running.size()) < slots && !g_sweep_stop.load()) {
      const auto i = todo.front();
      todo.pop_front();
      const auto& run = spec.runs[i];
      if (run_lock_held(run.paths.lock_file())) {
        spdlog::info("[{}/{}] {} is being trained by another process ({}); waiting for it at the end", i + 1,
                     spec.runs.size(), run.paths.run_id, run_lock_holder(run.paths.lock_file()));
        elsewhere.push_back(i);
        continue;
      }
      int slot = 0;
      while (slot_busy[static_cast<std::size_t>(slot)]) ++slot;
      const std::string device = options.devices.empty() ? "" : options.devices[static_cast<std::size_t>(slot)];
      std::string error;
      const pid_t pid = spawn_train(exe, run, device, error);
      if (pid < 0) {  // recorded as a failed run; the sweep goes on
        out.failed.push_back(i);
        spdlog::error("[{}/{}] FAILED {}: {}", i + 1, spec.runs.size(), run.paths.run_id, error);
        continue;
      }
      if (static_cast<std::size_t>(slot) < kForwardSlots) g_children[static_cast<std::size_t>(slot)].store(pid);
      if (g_sweep_stop.load()) ::kill(pid, SIGTERM);  // a signal came while it was starting
      slot_busy[static_cast<std::size_t>(slot)] = true;
      running[pid] = Child{i, slot, std::chrono::steady_clock::now()};
      spdlog::info("[{}/{}] start {}{} (log: {})", i + 1, spec.runs.size(), run.paths.run_id,
                   device.empty() ? "" : " on CUDA device " + device, run.paths.stdout_log().string());
    }
    if (running.empty() && todo.empty() && elsewhere.empty()) break;
    if (g_sweep_stop.load() && running.empty()) break;
    int status = 0;
    pid_t pid = 0;
    if (elsewhere.empty()) {
      pid = ::waitpid(-1, &status, 0);
    } else {
      // Runs elsewhere: check them every poll_seconds while waiting for children.
      const auto deadline =
          std::chrono::steady_clock::now() + std::chrono::duration<double>(std::max(0.05, options.poll_seconds));
      while (!running.empty() && std::chrono::steady_clock::now() < deadline && !g_sweep_stop.load()) {
        pid = ::waitpid(-1, &status, WNOHANG);
        if (pid != 0) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
      if (running.empty())
        while (std::chrono::steady_clock::now() < deadline && !g_sweep_stop.load())
          std::this_thread::sleep_for(std::chrono::milliseconds(100));
      if (pid == 0) {
        poll_elsewhere();
        update();
        continue;
      }
    }
    if (pid < 0) {
      if (errno == EINTR) continue;
      break;
    }
    const auto it = running.find(pid);
    if (it == running.end()) continue;
    const Child child = it->second;
    running.erase(it);
    if (static_cast<std::size_t>(child.slot) < kForwardSlots) g_children[static_cast<std::size_t>(child.slot)].store(0);
    slot_busy[static_cast<std::size_t>(child.slot)] = false;
    const auto& run = spec.runs[child.index];
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - child.start).count();
    const auto st = run_state(run);
    const bool exited_ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    // Ended by another process: before the child started (the child exits kAlreadyEndedCode), or
    // while the child found it locked (it exits kLockedCode; the other process has finished it since).
    const bool ended_by_other =
        (WIFEXITED(status) && WEXITSTATUS(status) == kAlreadyEndedCode) || (st.detail == "finished" && !exited_ok);
    if (st.state == RunState::done && ended_by_other) {
      ended_elsewhere(child.index, st);
    } else if (st.state == RunState::done && st.detail == "finished") {
      ++out.trained;
      finished_seconds += secs;
      ++finished_count;
      spdlog::info("[{}/{}] finished {} in {}", child.index + 1, spec.runs.size(), run.paths.run_id,
                   format_duration(secs));
    } else if (st.state == RunState::done && st.detail == "diverged") {
      ++out.trained;
      ++finished_count;
      finished_seconds += secs;
      out.diverged.push_back(child.index);
      spdlog::warn("[{}/{}] diverged {} (see its result file)", child.index + 1, spec.runs.size(), run.paths.run_id);
    } else if (g_sweep_stop.load()) {
      out.interrupted = true;
    } else if (WIFEXITED(status) && WEXITSTATUS(status) == kLockedCode) {
      // `fcnlab train` found the run locked: another process took it between our check and its start.
      spdlog::info("[{}/{}] {} is being trained by another process; waiting for it at the end", child.index + 1,
                   spec.runs.size(), run.paths.run_id);
      elsewhere.push_back(child.index);
    } else {
      const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      out.failed.push_back(child.index);
      ++finished_count;
      spdlog::error("[{}/{}] FAILED {} (exit {}); log: {}", child.index + 1, spec.runs.size(), run.paths.run_id, code,
                    run.paths.stdout_log().string());
    }
    update();
  }
  if (g_sweep_stop.load()) out.interrupted = true;
  std::signal(SIGINT, prev_int);
  std::signal(SIGTERM, prev_term);
  progress.finish(detail());
  return out;
}

}  // namespace fcnlab
