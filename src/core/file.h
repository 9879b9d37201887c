#pragma once
// Result files that a reader never sees half of: each writer writes a temp file beside the final
// one and then moves it into place (a rename within one directory replaces the target atomically on
// POSIX). Used by run files, checkpoints, saved model weights and sweep runs' config.toml.
#include <filesystem>

namespace fcnlab {

// Renames `tmp` to `file`, replacing `file`. On failure removes `tmp` and throws IoError naming
// both paths and the reason.
void move_into_place(const std::filesystem::path& tmp, const std::filesystem::path& file);

// Removes a temp file that a failed write left behind; a missing file or an error is ignored.
void remove_temp_file(const std::filesystem::path& tmp) noexcept;

}  // namespace fcnlab
