#include "sweep/live_view.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "core/host.h"
#include "core/progress.h"
#include "train/run_lock.h"

namespace fcnlab {

namespace {

bool running(const SweepRun& run, const std::optional<LiveRecord>& record) {
  if (run_lock_held(run.paths.lock_file())) return true;
  if (!record || record->state != "running" || record->host == host_name()) return false;
  const double age = seconds_since_utc(record->updated_utc);
  return std::isfinite(age) && age < kLiveRecordStaleSeconds;
}

std::string number(double x, int decimals) {
  return std::isfinite(x) ? fmt::format("{:.{}f}", x, decimals) : "-";
}

std::string line(const SweepSpec& spec, const LiveRun& r) {
  const auto& rec = r.record;
  const std::int64_t it = r.result == RunStatus::finished ? r.total : rec ? rec->iteration : 0;
  const bool live = r.state == LiveState::running;
  return fmt::format("{:>4}  {:<9} {:>7}/{:<7} {:>8} {:>8} {:>8} {:>8}  {}\n", r.index, r.word(), it, r.total,
                     rec ? number(rec->loss, 4) : "-", rec ? number(rec->val_mean_iou, 4) : "-",
                     live && rec ? number(rec->img_per_s, 1) : "-",
                     live && rec && std::isfinite(rec->eta_s) ? format_duration(rec->eta_s) : "-",
                     spec.runs[r.index].paths.run_id);
}

}  // namespace

std::string LiveRun::word() const {
  if (state != LiveState::ended) return std::string(to_string(state));
  return result ? std::string(to_string(*result)) : "unreadable";
}

LiveRun live_run(const SweepRun& run) {
  LiveRun r;
  r.index = run.index;
  r.total = run.config.optim.iterations;
  r.record = read_live_record(run.paths.live_record());
  const RunStatusInfo st = run_state(run);
  if (st.state == RunState::done) {
    r.state = LiveState::ended;
    r.result = st.result;
  } else if (running(run, r.record)) {
    r.state = LiveState::running;
  } else if (st.state == RunState::partial || r.record) {
    r.state = LiveState::partial;
  }
  return r;
}

bool all_ended(const std::vector<LiveRun>& runs) {
  return std::all_of(runs.begin(), runs.end(), [](const LiveRun& r) { return r.state == LiveState::ended; });
}

std::string render_live(const SweepSpec& spec, const std::vector<LiveRun>& runs) {
  std::string out = fmt::format("sweep {} at {}\n", spec.name, utc_now());
  out += fmt::format("{:>4}  {:<9} {:>15} {:>8} {:>8} {:>8} {:>8}  {}\n", "run", "state", "iteration", "loss",
                     "val mIoU", "img/s", "ETA", "run_id");
  std::map<std::string, int> counts;
  double img_per_s = 0, eta = -1;
  for (const auto& r : runs) {
    out += line(spec, r);
    ++counts[r.word()];
    if (r.state == LiveState::running && r.record) {
      if (std::isfinite(r.record->img_per_s)) img_per_s += r.record->img_per_s;
      if (std::isfinite(r.record->eta_s)) eta = std::max(eta, r.record->eta_s);
    }
  }
  std::string totals;
  for (const auto& [state, n] : counts) totals += fmt::format("{}{} {}", totals.empty() ? "" : ", ", n, state);
  out += fmt::format("{} runs: {}", runs.size(), totals);
  if (img_per_s > 0) out += fmt::format(" | {:.1f} img/s in all", img_per_s);
  if (eta >= 0) out += fmt::format(" | the last running run ends in {}", format_duration(eta));
  return out + "\n";
}

}  // namespace fcnlab
