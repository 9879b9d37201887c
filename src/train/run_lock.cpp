#include "train/run_lock.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <utility>

#include "core/error.h"
#include "core/host.h"

namespace fcnlab {

namespace {

// flock, retried on EINTR. Returns 0, or errno.
int flock_nb(int fd, int op) {
  while (::flock(fd, op | LOCK_NB) != 0) {
    if (errno != EINTR) return errno;
  }
  return 0;
}

}  // namespace

std::filesystem::path run_lock_file(const std::filesystem::path& work_dir) {
  return work_dir / "lock";
}

std::optional<RunLock> RunLock::try_acquire(const std::filesystem::path& file) {
  const int fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) throw IoError(fmt::format("{}: cannot open the run lock: {}", file.string(), std::strerror(errno)));
  // A few tries over ~100 ms: run_lock_held() probes take the lock (shared) for an instant.
  for (int attempt = 0;; ++attempt) {
    const int err = flock_nb(fd, LOCK_EX);
    if (err == 0) break;
    if (err != EWOULDBLOCK) {
      ::close(fd);
      throw IoError(fmt::format("{}: cannot lock: {}", file.string(), std::strerror(err)));
    }
    if (attempt == 4) {
      ::close(fd);
      return std::nullopt;
    }
    ::usleep(25000);
  }
  // Record the holder for messages (informational only: the flock is the lock).
  const std::string who = fmt::format("pid {} on {}\n", ::getpid(), host_name());
  if (::ftruncate(fd, 0) == 0) {
    const ssize_t n = ::pwrite(fd, who.data(), who.size(), 0);
    (void)n;  // a lock file without the note still locks
  }
  return RunLock(fd, file);
}

RunLock::RunLock(RunLock&& other) noexcept : fd_(std::exchange(other.fd_, -1)), file_(std::move(other.file_)) {}

RunLock& RunLock::operator=(RunLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    file_ = std::move(other.file_);
  }
  return *this;
}

RunLock::~RunLock() {
  if (fd_ >= 0) ::close(fd_);
}

bool run_lock_held(const std::filesystem::path& file) {
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const int err = flock_nb(fd, LOCK_SH);
  ::close(fd);
  return err == EWOULDBLOCK;
}

std::string run_lock_holder(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::string line;
  std::getline(in, line);
  return line;
}

}  // namespace fcnlab
