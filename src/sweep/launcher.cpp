#include "sweep/launcher.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <spawn.h>
#include <spdlog/spdlog.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <fstream>
#include <map>

#include "config/loader.h"
#include "core/error.h"
#include "core/progress.h"
#include "results/run_file.h"

extern char** environ;

namespace fcnlab {

namespace {

std::atomic<bool> g_sweep_stop{false};
extern "C" void on_sweep_signal(int) { g_sweep_stop.store(true); }

std::filesystem::path self_exe() {
  std::error_code ec;
  auto p = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) throw Error("cannot locate the fcnlab executable (/proc/self/exe)");
  return p;
}

struct Child {
  std::size_t index;
  int slot;
  std::chrono::steady_clock::time_point start;
};

pid_t spawn_train(const std::filesystem::path& exe, const SweepRun& run, const std::string& device) {
  const auto config = write_run_config(run);
  const auto log = run.paths.work_dir / "stdout.log";
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  posix_spawn_file_actions_addclose(&actions, STDIN_FILENO);
  std::vector<std::string> args{exe.string(), "train", "--config", config.string()};
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
  if (rc != 0) throw Error(fmt::format("cannot start {}: {}", exe.string(), std::strerror(rc)));
  return pid;
}

}  // namespace

std::filesystem::path write_run_config(const SweepRun& run) {
  std::filesystem::create_directories(run.paths.work_dir);
  const auto file = run.paths.work_dir / "config.toml";
  const auto tmp = run.paths.work_dir / "config.toml.tmp";
  {
    std::ofstream out(tmp);
    out << "# resolved config of run " << run.paths.run_id << " (experiment " << run.config.run.experiment << ")\n"
        << to_canonical_toml(run.config);
    if (!out) throw IoError(fmt::format("{}: cannot write", tmp.string()));
  }
  std::filesystem::rename(tmp, file);
  return file;
}

SweepOutcome run_local(const SweepSpec& spec, const std::vector<std::size_t>& indices, const LaunchOptions& options) {
  SweepOutcome out;
  out.total = indices.size();
  const auto exe = options.exe.empty() ? self_exe() : options.exe;
  const int slots = std::max(1, options.devices.empty() ? options.jobs : static_cast<int>(options.devices.size()));

  std::vector<std::size_t> todo;
  for (const auto i : indices) {
    const auto st = run_state(spec.runs[i]);
    if (st.state == RunState::done) {
      ++out.skipped;
      if (st.detail == "diverged") out.diverged.push_back(i);
    } else {
      todo.push_back(i);
    }
  }
  spdlog::info("sweep {}: {} runs, {} already done, {} to train ({} at a time)", spec.name, out.total, out.skipped,
               todo.size(), slots);

  g_sweep_stop.store(false);
  auto prev_int = std::signal(SIGINT, on_sweep_signal);
  auto prev_term = std::signal(SIGTERM, on_sweep_signal);

  Progress progress(fmt::format("sweep {}", spec.name), static_cast<std::int64_t>(out.total), 30.0);
  progress.reset_rate(static_cast<std::int64_t>(out.skipped));
  std::map<pid_t, Child> running;
  std::vector<bool> slot_busy(static_cast<std::size_t>(slots), false);
  std::size_t next = 0;
  double finished_seconds = 0;
  std::size_t finished_count = 0;
  auto detail = [&] {
    const std::size_t remaining = todo.size() - finished_count;
    const double eta = finished_count == 0
                           ? NAN
                           : finished_seconds / static_cast<double>(finished_count) * static_cast<double>(remaining) /
                                 static_cast<double>(slots);
    return fmt::format("runs: {} running, {} failed, {} diverged; ETA {}", running.size(), out.failed.size(),
                       out.diverged.size(), format_duration(eta));
  };
  while ((next < todo.size() && !g_sweep_stop.load()) || !running.empty()) {
    while (next < todo.size() && static_cast<int>(running.size()) < slots && !g_sweep_stop.load()) {
      int slot = 0;
      while (slot_busy[static_cast<std::size_t>(slot)]) ++slot;
      const auto i = todo[next++];
      const auto& run = spec.runs[i];
      const std::string device = options.devices.empty() ? "" : options.devices[static_cast<std::size_t>(slot)];
      const pid_t pid = spawn_train(exe, run, device);
      slot_busy[static_cast<std::size_t>(slot)] = true;
      running[pid] = Child{i, slot, std::chrono::steady_clock::now()};
      spdlog::info("[{}/{}] start {}{} (log: {})", i + 1, spec.runs.size(), run.paths.run_id,
                   device.empty() ? "" : " on CUDA device " + device, (run.paths.work_dir / "stdout.log").string());
    }
    int status = 0;
    const pid_t pid = ::waitpid(-1, &status, 0);
    if (pid < 0) {
      if (errno == EINTR) continue;
      break;
    }
    const auto it = running.find(pid);
    if (it == running.end()) continue;
    const Child child = it->second;
    running.erase(it);
    slot_busy[static_cast<std::size_t>(child.slot)] = false;
    const auto& run = spec.runs[child.index];
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - child.start).count();
    const auto st = run_state(run);
    if (st.state == RunState::done && st.detail == "finished") {
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
    } else {
      const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      out.failed.push_back(child.index);
      ++finished_count;
      spdlog::error("[{}/{}] FAILED {} (exit {}); log: {}", child.index + 1, spec.runs.size(), run.paths.run_id, code,
                    (run.paths.work_dir / "stdout.log").string());
    }
    progress.update(static_cast<std::int64_t>(out.skipped + out.trained + out.failed.size()), detail());
  }
  if (g_sweep_stop.load()) out.interrupted = true;
  std::signal(SIGINT, prev_int);
  std::signal(SIGTERM, prev_term);
  progress.finish(detail());
  return out;
}

}  // namespace fcnlab
