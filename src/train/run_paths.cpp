#include "train/run_paths.h"

#include <fmt/format.h>

#include <algorithm>
#include <regex>

#include "config/loader.h"
#include "core/file.h"
#include "train/run_lock.h"

namespace fcnlab {

namespace {
std::string run_id_with(const Config& c, const std::string& config_hash) {
  std::string id = fmt::format("fcn{}s-{}-{}-{}-{}-seed{}-{}", static_cast<int>(c.model.skip),
                               to_string(c.model.fusion), to_string(c.model.upsample), to_string(c.model.padding),
                               to_string(c.loss.name), c.run.seed, config_hash);
  for (auto& ch : id)
    if (ch == '+') ch = '_';  // "ce+dice" -> "ce_dice": keep file names shell-friendly
  if (!c.run.name.empty()) id = c.run.name + "-" + id;
  return id;
}
}  // namespace

std::string make_run_id(const Config& c) {
  return run_id_with(c, config_hash_hex(c));
}

std::filesystem::path RunPaths::result_part_file() const {
  return part_file_for(result_file);
}
std::filesystem::path RunPaths::lock_file() const {
  return run_lock_file(work_dir);
}
std::filesystem::path RunPaths::train_log() const {
  return work_dir / "train.log";
}
std::filesystem::path RunPaths::stdout_log() const {
  return work_dir / "stdout.log";
}

std::filesystem::path RunPaths::live_record() const {
  return work_dir / "progress.toml";
}
std::filesystem::path RunPaths::config_file() const {
  return work_dir / "config.toml";
}
std::filesystem::path RunPaths::final_weights() const {
  return work_dir / "model-final.pt";
}
std::filesystem::path RunPaths::checkpoint(std::int64_t iteration) const {
  return checkpoint_file(work_dir, iteration);
}

RunPaths run_paths(const Config& cfg, const std::string& subdir) {
  RunPaths p;
  p.config_hash = config_hash_hex(cfg);
  p.run_id = run_id_with(cfg, p.config_hash);
  p.experiment_dir = std::filesystem::path(cfg.run.results_dir) / cfg.run.experiment;
  if (!subdir.empty()) p.experiment_dir /= subdir;
  p.result_file = p.experiment_dir / (p.run_id + ".h5");
  p.work_dir = p.experiment_dir / ".work" / p.run_id;
  return p;
}

std::filesystem::path checkpoint_file(const std::filesystem::path& work_dir, std::int64_t iteration) {
  return work_dir / fmt::format("ckpt-{:09d}.pt", iteration);
}

std::optional<std::int64_t> checkpoint_iteration(const std::filesystem::path& file) {
  static const std::regex pattern(R"(ckpt-(\d+)\.pt)");
  std::smatch m;
  const std::string name = file.filename().string();
  if (!std::regex_match(name, m, pattern)) return std::nullopt;
  return std::stoll(m[1].str());
}

std::vector<std::pair<std::int64_t, std::filesystem::path>> list_checkpoints(const std::filesystem::path& dir) {
  std::vector<std::pair<std::int64_t, std::filesystem::path>> out;
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) return out;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec))
    if (const auto iteration = checkpoint_iteration(entry.path())) out.emplace_back(*iteration, entry.path());
  std::sort(out.begin(), out.end());
  return out;
}

std::filesystem::path slurm_dir_of(const std::filesystem::path& experiment_dir) {
  return experiment_dir / "slurm";
}

std::filesystem::path slurm_log_pattern(const std::filesystem::path& slurm_dir) {
  return slurm_dir / "%A_%a.log";
}

std::filesystem::path slurm_jobs_file(const std::filesystem::path& slurm_dir) {
  return slurm_dir / "jobs.tsv";
}

std::filesystem::path sbatch_script_file(const std::filesystem::path& slurm_dir, std::string_view stamp, int n) {
  return slurm_dir / (n < 2 ? fmt::format("sweep-{}.sbatch", stamp) : fmt::format("sweep-{}-{}.sbatch", stamp, n));
}

}  // namespace fcnlab
