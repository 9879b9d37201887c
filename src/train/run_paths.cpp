#include "train/run_paths.h"

#include <fmt/format.h>

#include <algorithm>
#include <regex>

#include "config/loader.h"

namespace fcnlab {

std::string make_run_id(const Config& c) {
  std::string id = fmt::format("fcn{}s-{}-{}-{}-{}-seed{}-{}", static_cast<int>(c.model.skip),
                               to_string(c.model.fusion), to_string(c.model.upsample), to_string(c.model.padding),
                               to_string(c.loss.name), c.run.seed, config_hash_hex(c));
  for (auto& ch : id)
    if (ch == '+') ch = '_';  // "ce+dice" -> "ce_dice": keep file names shell-friendly
  if (!c.run.name.empty()) id = c.run.name + "-" + id;
  return id;
}

RunPaths run_paths(const Config& cfg, const std::string& subdir) {
  RunPaths p;
  p.run_id = make_run_id(cfg);
  p.experiment_dir = std::filesystem::path(cfg.run.results_dir) / cfg.run.experiment;
  if (!subdir.empty()) p.experiment_dir /= subdir;
  p.result_file = p.experiment_dir / (p.run_id + ".h5");
  p.work_dir = p.experiment_dir / ".work" / p.run_id;
  return p;
}

std::vector<std::pair<std::int64_t, std::filesystem::path>> list_checkpoints(const std::filesystem::path& dir) {
  std::vector<std::pair<std::int64_t, std::filesystem::path>> out;
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) return out;
  static const std::regex pattern(R"(ckpt-(\d+)\.pt)");
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    std::smatch m;
    const std::string name = entry.path().filename().string();
    if (std::regex_match(name, m, pattern)) out.emplace_back(std::stoll(m[1].str()), entry.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace fcnlab
