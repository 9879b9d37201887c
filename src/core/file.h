#pragma once
// Result files that a reader never sees half of, and that survive a crash or a power cut: each
// writer writes a temp file beside the final one and then moves it into place. move_into_place
// fsyncs the temp file's data before the rename (so the name never points at data still in the
// page cache) and the directory after it (so the rename itself is on disk); a rename within one
// directory replaces the target atomically on POSIX. Used by run files, checkpoints, saved model
// weights, sweep runs' config.toml and SLURM scripts.
#include <filesystem>
#include <string_view>

namespace fcnlab {

// The temp name beside `file`: ".<name>.tmp", or ".<name>.<tag>.tmp" when two processes may
// write `file` at once (each passes its own tag, e.g. its pid).
std::filesystem::path temp_file_for(const std::filesystem::path& file, std::string_view tag = {});

// "<file>.part": the name a file is written under when its writer names the temp itself (HDF5).
std::filesystem::path part_file_for(const std::filesystem::path& file);

// Flushes `file`'s data to disk (opens it read-only and fsyncs it, so it also serves files that
// another library wrote and closed). IoError naming the file and the reason on failure.
void sync_file(const std::filesystem::path& file);

// Flushes `dir`'s entries (renames, creations) to disk. IoError naming the directory on failure.
void sync_directory(const std::filesystem::path& dir);

// Syncs `tmp`, renames it to `file` (replacing it) and syncs their directory. On failure removes
// `tmp` (unless the rename happened) and throws IoError naming the paths and the reason.
void move_into_place(const std::filesystem::path& tmp, const std::filesystem::path& file);

// Writes `contents` to `file` through temp_file_for(file, temp_tag) and move_into_place. IoError
// naming the file that could not be written (the temp file is removed).
void write_file_atomically(const std::filesystem::path& file, std::string_view contents,
                           std::string_view temp_tag = {});

// Removes a temp file that a failed write left behind; a missing file or an error is ignored.
void remove_temp_file(const std::filesystem::path& tmp) noexcept;

}  // namespace fcnlab
