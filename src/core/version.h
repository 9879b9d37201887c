#pragma once
// Build identity, generated at build time from git (cmake/version_info.cmake).

namespace fcnlab {
const char* version();
const char* git_commit();  // short hash, or "unknown" outside a git checkout
bool git_dirty();          // tracked files modified at build time
}  // namespace fcnlab
