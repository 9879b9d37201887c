#include "core/file.h"

#include <fmt/format.h>

#include <system_error>

#include "core/error.h"

namespace fcnlab {

void move_into_place(const std::filesystem::path& tmp, const std::filesystem::path& file) {
  std::error_code ec;
  std::filesystem::rename(tmp, file, ec);
  if (!ec) return;
  remove_temp_file(tmp);
  throw IoError(fmt::format("{}: cannot rename to {}: {}", tmp.string(), file.string(), ec.message()));
}

void remove_temp_file(const std::filesystem::path& tmp) noexcept {
  std::error_code ignored;
  std::filesystem::remove(tmp, ignored);
}

}  // namespace fcnlab
