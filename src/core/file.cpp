#include "core/file.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <system_error>

#include "core/error.h"

namespace fcnlab {

namespace {

// A file descriptor closed on scope exit.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

// Opens `path` with `flags` (retried on EINTR); throws IoError naming it on failure.
Fd open_or_throw(const std::filesystem::path& path, int flags, const char* what) {
  int fd = -1;
  do {
    fd = ::open(path.c_str(), flags | O_CLOEXEC, 0666);  // the umask decides, as for std::ofstream
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) throw IoError(fmt::format("{}: cannot {}: {}", path.string(), what, std::strerror(errno)));
  return Fd(fd);
}

// fsync, retried on EINTR. Returns 0, or errno.
int fsync_fd(int fd) {
  while (::fsync(fd) != 0) {
    if (errno != EINTR) return errno;
  }
  return 0;
}

void write_all(const Fd& fd, std::string_view data, const std::filesystem::path& file) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd.get(), data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw IoError(fmt::format("{}: cannot write: {}", file.string(), std::strerror(n < 0 ? errno : EIO)));
    data.remove_prefix(static_cast<std::size_t>(n));
  }
}

}  // namespace

std::filesystem::path temp_file_for(const std::filesystem::path& file, std::string_view tag) {
  std::string name = "." + file.filename().string();
  if (!tag.empty()) name += "." + std::string(tag);
  return file.parent_path() / (name + ".tmp");
}

std::filesystem::path part_file_for(const std::filesystem::path& file) {
  return file.string() + ".part";
}

void sync_file(const std::filesystem::path& file) {
  const Fd fd = open_or_throw(file, O_RDONLY, "open for fsync");
  if (const int err = fsync_fd(fd.get()); err != 0)
    throw IoError(fmt::format("{}: cannot fsync: {}", file.string(), std::strerror(err)));
}

void sync_directory(const std::filesystem::path& dir) {
  const auto d = dir.empty() ? std::filesystem::path(".") : dir;
  const Fd fd = open_or_throw(d, O_RDONLY | O_DIRECTORY, "open directory for fsync");
  const int err = fsync_fd(fd.get());
  // EINVAL: the file system cannot sync directories (some network and FUSE ones); their renames
  // are as durable as that file system makes them, which a retry cannot change.
  if (err != 0 && err != EINVAL)
    throw IoError(fmt::format("{}: cannot fsync the directory: {}", d.string(), std::strerror(err)));
}

void move_into_place(const std::filesystem::path& tmp, const std::filesystem::path& file) {
  try {
    sync_file(tmp);
  } catch (const IoError&) {
    remove_temp_file(tmp);
    throw;
  }
  std::error_code ec;
  std::filesystem::rename(tmp, file, ec);
  if (ec) {
    remove_temp_file(tmp);
    throw IoError(fmt::format("{}: cannot rename to {}: {}", tmp.string(), file.string(), ec.message()));
  }
  sync_directory(file.parent_path());
}

void write_file_atomically(const std::filesystem::path& file, std::string_view contents, std::string_view temp_tag) {
  const auto tmp = temp_file_for(file, temp_tag);
  try {
    const Fd fd = open_or_throw(tmp, O_WRONLY | O_CREAT | O_TRUNC, "create");
    write_all(fd, contents, tmp);
  } catch (const IoError&) {
    remove_temp_file(tmp);
    throw;
  }
  move_into_place(tmp, file);
}

void remove_temp_file(const std::filesystem::path& tmp) noexcept {
  std::error_code ignored;
  std::filesystem::remove(tmp, ignored);
}

}  // namespace fcnlab
