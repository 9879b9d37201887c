#include "report/runs.h"

#include <fmt/format.h>
#include <fmt/ranges.h>  // fmt::join (in fmt/format.h before fmt 11)

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <set>

#include "config/loader.h"
#include "core/error.h"
#include "core/text.h"

namespace fcnlab::report {

namespace fs = std::filesystem;

std::string display_value(const std::string& v) {
  if (v.size() >= 2 && v.front() == '"' && v.back() == '"') return v.substr(1, v.size() - 2);
  return v;
}

Run load_run(const fs::path& file) {
  const RunFileReader reader(file);
  Run run;
  run.file = file;
  run.info = reader.info();
  if (run.info.status != RunStatus::finished)
    throw IoError(fmt::format("{}: run status is '{}', not finished{}", file.string(), to_string(run.info.status),
                              run.info.message.empty() ? "" : " (" + run.info.message + ")"));
  auto final = reader.final();
  if (!final) throw IoError(fmt::format("{}: no /final group", file.string()));
  run.final = std::move(*final);
  const Config cfg = ConfigBuilder().add_text(run.info.config_toml, file.string() + ":config_toml").build();
  for (const auto& key : config_keys()) run.config[key] = display_value(config_value(cfg, key));
  return run;
}

LoadedRuns load_runs(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw IoError(fmt::format("{}: not a directory", dir.string()));
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(dir, ec))
    if (entry.path().extension() == ".h5") files.push_back(entry.path());
  if (ec) throw IoError(fmt::format("{}: cannot list: {}", dir.string(), ec.message()));
  std::sort(files.begin(), files.end());
  LoadedRuns out;
  std::vector<std::string> schema1;
  for (const auto& f : files) {
    try {
      out.runs.push_back(load_run(f));
      if (out.runs.back().info.schema_version < 2) schema1.push_back(f.filename().string());
    } catch (const Error& e) {
      out.warnings.push_back(fmt::format("skipping {}", e.what()));
    }
  }
  if (!schema1.empty())
    out.warnings.push_back(fmt::format(
        "{} run file(s) of schema_version 1 ({}{}): their bf_score and boundary_iou counted the prediction on void "
        "pixels, so those two are not comparable with newer runs' (`fcnlab eval --run FILE` rescores one from its "
        "saved weights; delete the files and run the sweep again to replace them)",
        schema1.size(), schema1.front(), schema1.size() > 1 ? ", ..." : ""));
  return out;
}

std::vector<std::string> varying_keys(const std::vector<const Run*>& runs) {
  std::vector<std::string> out;
  if (runs.empty()) return out;
  for (const auto& [key, value] : runs.front()->config) {
    if (key == "run.seed" || is_unhashed_key(key)) continue;
    for (const Run* r : runs) {
      const auto it = r->config.find(key);
      if (it == r->config.end() || it->second != value) {
        out.push_back(key);
        break;
      }
    }
  }
  return out;
}

namespace {
std::vector<const Run*> pointers(const std::vector<Run>& runs) {
  std::vector<const Run*> out;
  for (const auto& r : runs) out.push_back(&r);
  return out;
}
}  // namespace

std::vector<std::string> varying_keys(const std::vector<Run>& runs) {
  return varying_keys(pointers(runs));
}

void check_keys(const std::vector<std::string>& keys) {
  for (const auto& k : keys) check_config_key(k, "report");
}

namespace {
bool as_number(const std::string& s, double& out) {
  if (s.empty()) return false;
  errno = 0;
  char* end = nullptr;
  out = std::strtod(s.c_str(), &end);
  return errno == 0 && end == s.c_str() + s.size();
}
}  // namespace

bool value_less(const std::string& a, const std::string& b) {
  double x = 0, y = 0;
  if (as_number(a, x) && as_number(b, y) && x != y) return x < y;
  return a < b;
}

std::vector<Group> group_runs(const std::vector<Run>& runs, const std::vector<std::string>& keys) {
  return group_runs(pointers(runs), keys);
}

std::vector<Group> group_runs(const std::vector<const Run*>& runs, const std::vector<std::string>& keys) {
  check_keys(keys);
  std::vector<Group> groups;
  for (const Run* r : runs) {
    std::vector<std::string> values;
    for (const auto& k : keys) values.push_back(r->config.at(k));
    auto it = std::find_if(groups.begin(), groups.end(), [&](const Group& g) { return g.values == values; });
    if (it == groups.end()) {
      groups.push_back({values, {}});
      it = std::prev(groups.end());
    }
    it->runs.push_back(r);
  }
  for (auto& g : groups)
    std::stable_sort(g.runs.begin(), g.runs.end(),
                     [](const Run* a, const Run* b) { return a->info.seed < b->info.seed; });
  std::sort(groups.begin(), groups.end(), [](const Group& a, const Group& b) {
    return std::lexicographical_compare(a.values.begin(), a.values.end(), b.values.begin(), b.values.end(), value_less);
  });
  return groups;
}

std::vector<const Run*> select_runs(const std::vector<Run>& runs, const std::vector<std::string>& filters) {
  auto selected = pointers(runs);
  for (const auto& filter : filters) {
    const auto eq = filter.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == filter.size())
      throw OptionError("where", fmt::format("'{}': expected key=value or key=v1,v2, e.g. model.skip=8", filter));
    const std::string key = trim(filter.substr(0, eq));
    check_keys({key});
    std::set<std::string> wanted, present;
    for (const auto& v : split(filter.substr(eq + 1), ',')) wanted.insert(display_value(trim(v)));
    for (const Run* r : selected) present.insert(r->config.at(key));
    for (const auto& v : wanted)
      if (!present.count(v))
        throw OptionError("where", fmt::format("{}: no run has {} = {} (values present: {})", filter, key, v,
                                               fmt::join(present, ", ")));
    selected.erase(std::remove_if(selected.begin(), selected.end(),
                                  [&](const Run* r) { return !wanted.count(r->config.at(key)); }),
                   selected.end());
  }
  return selected;
}

void check_same_images(const Run& a, const Run& b) {
  const auto both = [&] { return fmt::format("{} and {}", a.file.string(), b.file.string()); };
  if (a.info.data_fingerprint != b.info.data_fingerprint)
    throw DataError(
        fmt::format("{}: scored on other data (data_fingerprint {} vs {}), so their per-image scores "
                    "cannot be paired; compare runs of one dataset (--where)",
                    both(), a.info.data_fingerprint, b.info.data_fingerprint));
  const auto& ia = a.final.image_ids;
  const auto& ib = b.final.image_ids;
  if (a.final.images != b.final.images)
    throw DataError(fmt::format("{}: scored on {} and {} val images, so their per-image scores cannot be paired",
                                both(), a.final.images, b.final.images));
  if (ia.empty() || ib.empty() || ia == ib) return;
  const auto first = std::mismatch(ia.begin(), ia.end(), ib.begin(), ib.end());
  const auto at = static_cast<std::size_t>(first.first - ia.begin());
  const auto id = [&](const std::vector<std::string>& ids) { return at < ids.size() ? ids[at] : "(none)"; };
  throw DataError(
      fmt::format("{}: the val images differ or are in another order (image {}: '{}' vs '{}'), so "
                  "their per-image scores cannot be paired",
                  both(), at, id(ia), id(ib)));
}

}  // namespace fcnlab::report
