#include "train/live_record.h"

#include <toml++/toml.h>

#include <ctime>
#include <iomanip>
#include <sstream>

#include "core/file.h"

namespace fcnlab {

namespace {

void put(toml::table& t, const char* key, double value) {
  if (std::isfinite(value)) t.insert(key, value);
}

double number(const toml::table& t, const char* key) {
  return t[key].value<double>().value_or(LiveRecord::kNone);
}

}  // namespace

void write_live_record(const std::filesystem::path& file, const LiveRecord& r) {
  toml::table t{{"state", r.state}, {"iteration", r.iteration},
                {"total", r.total}, {"updated_utc", r.updated_utc},
                {"host", r.host},   {"pid", static_cast<std::int64_t>(r.pid)}};
  put(t, "loss", r.loss);
  put(t, "val_mean_iou", r.val_mean_iou);
  put(t, "img_per_s", r.img_per_s);
  put(t, "eta_s", r.eta_s);
  std::ostringstream out;
  out << t << '\n';
  write_file_atomically(file, out.str());
}

std::optional<LiveRecord> read_live_record(const std::filesystem::path& file) {
  std::error_code ec;
  if (!std::filesystem::exists(file, ec)) return std::nullopt;
  toml::table t;
  try {
    t = toml::parse_file(file.string());
  } catch (const toml::parse_error&) {
    return std::nullopt;
  }
  LiveRecord r;
  r.state = t["state"].value_or(std::string("running"));
  r.iteration = t["iteration"].value_or<std::int64_t>(0);
  r.total = t["total"].value_or<std::int64_t>(0);
  r.loss = number(t, "loss");
  r.val_mean_iou = number(t, "val_mean_iou");
  r.img_per_s = number(t, "img_per_s");
  r.eta_s = number(t, "eta_s");
  r.updated_utc = t["updated_utc"].value_or(std::string());
  r.host = t["host"].value_or(std::string());
  r.pid = static_cast<long>(t["pid"].value_or<std::int64_t>(0));
  return r;
}

double seconds_since_utc(const std::string& utc) {
  std::tm tm{};
  std::istringstream in(utc);
  in >> std::get_time(&tm, "%Y-%m-%dT%H:%M:%SZ");
  if (in.fail()) return LiveRecord::kNone;
  return std::difftime(std::time(nullptr), ::timegm(&tm));
}

}  // namespace fcnlab
