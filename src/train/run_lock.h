#pragma once
// The per-run lock: an exclusive flock(2) on <work_dir>/lock, held by train_run for the whole
// run, so two processes (two sweeps, a sweep and a manual `fcnlab train`) never train the same run
// at once. The kernel releases the lock when its holder exits for any reason (kill -9 included),
// so a stale lock of a dead process is taken over by the next try; the file itself stays and
// carries the holder's pid and host for messages. Torch-free: the sweep launcher probes it.
#include <filesystem>
#include <optional>
#include <string>

namespace fcnlab {

class RunLock {
 public:
  // Takes the lock on `file` without blocking; std::nullopt when another process holds it.
  // Throws IoError when the file cannot be created or locked for another reason.
  static std::optional<RunLock> try_acquire(const std::filesystem::path& file);

  RunLock(RunLock&& other) noexcept;
  RunLock& operator=(RunLock&& other) noexcept;
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;
  ~RunLock();  // releases the lock (closing the descriptor)

  const std::filesystem::path& file() const { return file_; }

 private:
  RunLock(int fd, std::filesystem::path file) : fd_(fd), file_(std::move(file)) {}
  int fd_ = -1;
  std::filesystem::path file_;
};

// <work_dir>/lock
std::filesystem::path run_lock_file(const std::filesystem::path& work_dir);

// True when a live process holds the lock on `file` (a missing file is not held). Never blocks.
bool run_lock_held(const std::filesystem::path& file);

// What the lock file says about its (last) holder, e.g. "pid 1234 on host-a"; "" if unreadable.
std::string run_lock_holder(const std::filesystem::path& file);

}  // namespace fcnlab
