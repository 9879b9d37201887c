#include "sweep/decide.h"

#include <fmt/format.h>
#include <fmt/ranges.h>  // fmt::join (in fmt/format.h before fmt 11)

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "config/config.h"
#include "config/loader.h"
#include "core/error.h"
#include "core/text.h"
#include "report/runs.h"
#include "report/stats.h"
#include "sweep/sweep.h"

namespace fcnlab {

namespace {

using Slot = std::pair<std::size_t, int>;  // (arm, seed)

// "key=value" -> (key, display value); ConfigError naming the entry otherwise.
std::pair<std::string, std::string> split_vs(const std::string& vs) {
  const auto eq = vs.find('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == vs.size())
    throw ConfigError(fmt::format("[decide] vs: '{}': expected key=value, e.g. \"model.skip=32\"", vs));
  return {trim(vs.substr(0, eq)), report::display_value(trim(vs.substr(eq + 1)))};
}

// The arm with `values` except `values[k] = value`, if the design has it.
std::optional<std::size_t> find_arm(const DecideDesign& design, std::vector<std::string> values, std::size_t k,
                                    const std::string& value) {
  values[k] = value;
  const auto it = std::find(design.arms.begin(), design.arms.end(), values);
  if (it == design.arms.end()) return std::nullopt;
  return static_cast<std::size_t>(it - design.arms.begin());
}

// The finished runs of `arms` with seed < n, copied (build_report takes a vector of runs).
std::vector<report::Run> runs_of(const std::set<std::size_t>& arms, int n, const std::vector<Observation>& observed) {
  std::vector<report::Run> runs;
  for (const auto& o : observed)
    if (o.run && o.seed < n && arms.count(o.arm)) runs.push_back(*o.run);
  return runs;
}

int count_runs(std::size_t arm, int n, const std::vector<Observation>& observed) {
  return static_cast<int>(std::count_if(observed.begin(), observed.end(),
                                        [&](const Observation& o) { return o.run && o.arm == arm && o.seed < n; }));
}

// One look's tests of the open cells: each vs's comparisons come from one `report --vs` table over
// the first n seeds of the arms involved; the p-values are then Holm-adjusted over every open cell
// of the look, at alpha / K.
class Look {
 public:
  Look(const DecidePlan& plan, const DecideDesign& design, int look, int n)
      : plan_(plan), design_(design), look_(look), n_(n) {}

  void test(std::vector<Comparison>& comparisons, const std::vector<Observation>& observed) {
    std::vector<CellDecision*> open;
    // An arm whose runs all diverged has nothing to test: its comparisons stay open, untested,
    // and stay out of the table (whose reference group must exist).
    const auto testable = [&](const Comparison& c) {
      return count_runs(c.arm, n_, observed) > 0 && count_runs(c.reference, n_, observed) > 0;
    };
    for (std::size_t v = 0; v < plan_.vs.size(); ++v) {
      std::set<std::size_t> arms;
      for (const auto& c : comparisons)
        if (c.vs == v && !c.decided() && testable(c)) arms.insert({c.arm, c.reference});
      const report::Report rep = arms.empty() ? report::Report{} : table(v, runs_of(arms, n_, observed));
      for (auto& c : comparisons)
        if (c.vs == v && !c.decided()) fill(c, rep, observed, open);
    }
    adjust(open);
  }

 private:
  report::Report table(std::size_t v, const std::vector<report::Run>& runs) const {
    report::ReportOptions o;
    o.by = design_.keys;
    o.vs = plan_.vs[v];
    o.metrics = plan_.metrics;
    o.margins = plan_.margins;
    o.alpha = plan_.look_alpha();
    o.resamples = plan_.resamples;
    o.pooled_seed_variance = plan_.pooled_seed_variance;
    try {
      return report::build_report(runs, o);
    } catch (const OptionError& e) {  // the report's options are the [decide] section's keys
      throw ConfigError(fmt::format("[decide] {}: {}", e.option(), e.detail()));
    }
  }

  void fill(Comparison& c, const report::Report& rep, const std::vector<Observation>& observed,
            std::vector<CellDecision*>& open) const {
    const auto row = std::find_if(rep.rows.begin(), rep.rows.end(), [&](const report::Row& r) {
      return r.values == design_.arms[c.arm] && r.has_reference && r.reference == design_.arms[c.reference];
    });
    for (std::size_t k = 0; k < c.cells.size(); ++k) {
      CellDecision& cell = c.cells[k];
      if (cell.verdict != Verdict::undecided) continue;
      cell.look = look_;
      cell.seeds = n_;
      cell.runs_a = count_runs(c.arm, n_, observed);
      cell.runs_b = count_runs(c.reference, n_, observed);
      cell.cell = report::DiffCell{};
      if (row == rep.rows.end() || row->diffs.size() != c.cells.size())
        cell.cell.no_test = "no finished run";
      else
        cell.cell = row->diffs[k];
      open.push_back(&cell);
    }
  }

  void adjust(const std::vector<CellDecision*>& open) const {
    std::vector<double> p, p_eq;
    for (const CellDecision* c : open) {
      p.push_back(c->cell.tested() ? c->cell.p : NAN);
      p_eq.push_back(c->cell.tested() ? c->cell.p_equivalence : NAN);
    }
    const auto adjusted = report::holm_adjust(p), adjusted_eq = report::holm_adjust(p_eq);
    const double level = plan_.look_alpha();
    for (std::size_t i = 0; i < open.size(); ++i) {
      report::DiffCell& d = open[i]->cell;
      d.p_adjusted = adjusted[i];
      d.p_equivalence_adjusted = adjusted_eq[i];
      d.significant = adjusted[i] < level;
      d.equivalent = std::isnan(adjusted_eq[i]) ? std::nullopt : std::optional<bool>(adjusted_eq[i] < level);
      d.seeds_needed.reset();  // the report's plan is for a fixed design, not this sequence
      if (d.significant)
        open[i]->verdict = Verdict::significant;
      else if (d.equivalent.value_or(false))
        open[i]->verdict = Verdict::equivalent;
    }
  }

  const DecidePlan& plan_;
  const DecideDesign& design_;
  int look_, n_;
};

// The (arm, seed) slots the open comparisons' arms need at n seeds and the observations lack.
std::vector<Slot> missing_slots(const std::vector<Comparison>& comparisons, int n, const std::set<Slot>& have) {
  std::set<Slot> missing;
  for (const auto& c : comparisons) {
    if (c.decided()) continue;
    for (const auto arm : {c.arm, c.reference})
      for (int s = 0; s < n; ++s)
        if (!have.count({arm, s})) missing.insert({arm, s});
  }
  return {missing.begin(), missing.end()};
}

}  // namespace

int DecidePlan::looks() const {
  return 1 + (max_seeds - min_seeds + seed_step - 1) / seed_step;
}

int DecidePlan::seeds_at(int look) const {
  return std::min(max_seeds, min_seeds + (look - 1) * seed_step);
}

double DecidePlan::look_alpha() const {
  return alpha / looks();
}

std::vector<int> DecidePlan::seed_counts() const {
  std::vector<int> out;
  for (int k = 1; k <= looks(); ++k) out.push_back(seeds_at(k));
  return out;
}

void validate(const DecidePlan& plan, const std::string& where) {
  const auto bad = [&](const std::string& field, const std::string& what) {
    throw ConfigError(fmt::format("{}: [decide] {}: {}", where, field, what));
  };
  if (plan.vs.empty()) bad("vs", "expected at least one \"key=value\" comparison");
  for (const auto& vs : plan.vs) check_config_key(split_vs(vs).first, fmt::format("{}: [decide] vs '{}'", where, vs));
  if (plan.metrics.empty()) bad("metrics", "expected at least one metric, e.g. [\"mean_iou\"]");
  if (!(plan.alpha > 0 && plan.alpha < 1)) bad("alpha", fmt::format("{} is not in (0, 1)", plan.alpha));
  if (plan.min_seeds < 2) bad("min_seeds", fmt::format("{}: a test needs at least 2 seeds per arm", plan.min_seeds));
  if (plan.max_seeds < plan.min_seeds)
    bad("max_seeds", fmt::format("{} is less than min_seeds ({})", plan.max_seeds, plan.min_seeds));
  if (plan.seed_step < 1) bad("seed_step", fmt::format("{}: expected at least 1", plan.seed_step));
  if (plan.resamples < 100) bad("resamples", fmt::format("{}: expected at least 100", plan.resamples));
  for (const auto& [metric, margin] : plan.margins.per_metric)
    if (std::find(plan.metrics.begin(), plan.metrics.end(), metric) == plan.metrics.end())
      bad("margin", fmt::format("'{}' is not one of the metrics ({})", metric, fmt::join(plan.metrics, ", ")));
}

bool Comparison::decided() const {
  return std::none_of(cells.begin(), cells.end(),
                      [](const CellDecision& c) { return c.verdict == Verdict::undecided; });
}

std::vector<Comparison> plan_comparisons(const DecidePlan& plan, const DecideDesign& design) {
  std::vector<Comparison> out;
  for (std::size_t v = 0; v < plan.vs.size(); ++v) {
    const auto [key, value] = split_vs(plan.vs[v]);
    const auto it = std::find(design.keys.begin(), design.keys.end(), key);
    if (it == design.keys.end())
      throw ConfigError(fmt::format("[decide] vs '{}': {} is not a key the grid varies (it varies: {})", plan.vs[v],
                                    key,
                                    design.keys.empty() ? "nothing" : fmt::format("{}", fmt::join(design.keys, ", "))));
    const auto k = static_cast<std::size_t>(it - design.keys.begin());
    std::set<std::string> values;
    std::size_t before = out.size();
    for (std::size_t a = 0; a < design.arms.size(); ++a) {
      values.insert(design.arms[a][k]);
      if (design.arms[a][k] == value) continue;
      if (const auto ref = find_arm(design, design.arms[a], k, value)) {
        Comparison c{v, a, *ref, {}};
        for (const auto& m : plan.metrics) {
          c.cells.emplace_back();
          c.cells.back().metric = m;
        }
        out.push_back(std::move(c));
      }
    }
    if (!values.count(value))
      throw ConfigError(fmt::format("[decide] vs '{}': no configuration of the grid has {} = {} (it has: {})",
                                    plan.vs[v], key, value, fmt::join(values, ", ")));
    if (out.size() == before)
      throw ConfigError(
          fmt::format("[decide] vs '{}': no configuration with another {} has the same other keys as one with {} = {}: "
                      "nothing to compare",
                      plan.vs[v], key, key, value));
  }
  return out;
}

Decision decide(const DecidePlan& plan, const DecideDesign& design, const std::vector<Observation>& observed) {
  Decision d;
  d.looks = plan.looks();
  d.comparisons = plan_comparisons(plan, design);
  std::set<Slot> have;
  for (const auto& o : observed) {
    have.insert({o.arm, o.seed});
    if (!o.run) d.unusable.push_back({o.arm, o.seed});
  }
  std::sort(d.unusable.begin(), d.unusable.end());
  for (int look = 1; look <= d.looks; ++look) {
    const int n = plan.seeds_at(look);
    d.round = look;
    d.seeds = n;
    if (std::all_of(d.comparisons.begin(), d.comparisons.end(), [](const Comparison& c) { return c.decided(); })) break;
    d.missing = missing_slots(d.comparisons, n, have);
    if (!d.missing.empty()) return d;
    Look(plan, design, look, n).test(d.comparisons, observed);
  }
  d.finished = true;
  d.round = d.looks + 1;
  return d;
}

DecideDesign sweep_design(const SweepSpec& spec, std::vector<std::pair<std::size_t, int>>* slot) {
  DecideDesign design;
  for (const auto& key : spec.axis_keys)
    if (key != "run.seed") design.keys.push_back(key);
  if (slot) slot->clear();
  for (const auto& run : spec.runs) {
    std::vector<std::string> values;
    for (const auto& key : design.keys) values.push_back(report::display_value(config_value(run.config, key)));
    auto it = std::find(design.arms.begin(), design.arms.end(), values);
    if (it == design.arms.end()) it = design.arms.insert(design.arms.end(), std::move(values));
    if (slot)
      slot->push_back({static_cast<std::size_t>(it - design.arms.begin()), static_cast<int>(run.config.run.seed)});
  }
  return design;
}

std::vector<std::size_t> SweepDecision::next_runs() const {
  std::vector<std::size_t> out;
  for (std::size_t i = 0; i < slot.size(); ++i)
    if (std::binary_search(decision.missing.begin(), decision.missing.end(), slot[i])) out.push_back(i);
  return out;
}

SweepDecision decide_sweep(const SweepSpec& spec) {
  if (!spec.decide) throw ConfigError(fmt::format("sweep {} has no [decide] section", spec.name));
  SweepDecision out;
  out.design = sweep_design(spec, &out.slot);
  std::vector<report::Run> finished;
  finished.reserve(spec.runs.size());  // Observations point into it
  std::vector<Observation> observed;
  for (std::size_t i = 0; i < spec.runs.size(); ++i) {
    const RunStatusInfo st = run_state(spec.runs[i]);
    if (st.state != RunState::done) continue;
    ++out.ended;
    Observation o{out.slot[i].first, out.slot[i].second, nullptr};
    if (st.result == RunStatus::finished) {
      finished.push_back(report::load_run(spec.runs[i].paths.result_file));
      o.run = &finished.back();
    }
    observed.push_back(o);
  }
  out.decision = decide(*spec.decide, out.design, observed);
  return out;
}

}  // namespace fcnlab

namespace fcnlab {

namespace {

std::string signed4(double x) {
  return std::isnan(x) ? "-" : fmt::format("{:+.4f}", x);
}

std::string cell_text(const CellDecision& c) {
  if (c.look == 0) return fmt::format("{:<14} {:>8}  {:<20} {:>8}  {}", c.metric, "-", "-", "-", "not tested yet");
  const auto& d = c.cell;
  const std::string ci = d.ci ? fmt::format("[{}, {}]", signed4(d.ci->lo), signed4(d.ci->hi)) : "";
  const std::string p = d.tested() ? fmt::format("{:.4f}", d.p_adjusted) : "-";
  std::string verdict(to_string(c.verdict));
  if (!d.tested()) verdict += " (no test: " + d.no_test + ")";
  const std::string runs = c.runs_a == c.seeds && c.runs_b == c.seeds
                               ? fmt::format("{} seeds", c.seeds)
                               : fmt::format("{} seeds: {} and {} finished", c.seeds, c.runs_a, c.runs_b);
  return fmt::format("{:<14} {:>8}  {:<20} {:>8}  {} at look {} ({})", c.metric, signed4(d.diff), ci.empty() ? "-" : ci,
                     p, verdict, c.look, runs);
}

// "model.skip 16 vs 32" and the other keys' values.
std::pair<std::string, std::string> comparison_label(const DecidePlan& plan, const DecideDesign& design,
                                                     const Comparison& c) {
  const std::string key = plan.vs[c.vs].substr(0, plan.vs[c.vs].find('='));
  std::string label, context;
  for (std::size_t k = 0; k < design.keys.size(); ++k) {
    if (trim(key) == design.keys[k])
      label = fmt::format("{} {} vs {}", design.keys[k], design.arms[c.arm][k], design.arms[c.reference][k]);
    else
      context += fmt::format("{}{}={}", context.empty() ? "" : " ", design.keys[k], design.arms[c.arm][k]);
  }
  return {label, context};
}

}  // namespace

std::string render_decision(const DecidePlan& plan, const SweepDecision& sd) {
  const Decision& d = sd.decision;
  std::string out = fmt::format(
      "decide: {} comparison(s) x {} metric(s); alpha {} split over {} looks at {} seeds per arm ({:.4g} per look, "
      "Holm within a look){}\n",
      d.comparisons.size(), plan.metrics.size(), plan.alpha, d.looks, fmt::join(plan.seed_counts(), ", "),
      plan.look_alpha(), plan.pooled_seed_variance ? "; seed variance pooled over the configurations" : "");
  const std::size_t open = static_cast<std::size_t>(
      std::count_if(d.comparisons.begin(), d.comparisons.end(), [](const Comparison& c) { return !c.decided(); }));
  if (d.finished)
    out += fmt::format("finished: {} of {} comparisons decided\n", d.comparisons.size() - open, d.comparisons.size());
  else
    out += fmt::format("round {} of {}: {} seeds per arm for the {} open comparison(s); {} runs to go\n", d.round,
                       d.looks, d.seeds, open, d.missing.size());
  out += fmt::format("  {:<14} {:>8}  {:<20} {:>8}  verdict\n", "metric", "Δ",
                     fmt::format("interval ({:.4g}%)", 100 * (1 - plan.look_alpha())), "p (Holm)");
  for (const auto& c : d.comparisons) {
    const auto [label, context] = comparison_label(plan, sd.design, c);
    out += fmt::format("{}{}\n", label, context.empty() ? "" : "  (" + context + ")");
    for (const auto& cell : c.cells) out += "  " + cell_text(cell) + "\n";
  }
  for (const auto& [arm, seed] : d.unusable) {
    std::string values;
    for (std::size_t k = 0; k < sd.design.keys.size(); ++k)
      values += fmt::format(" {}={}", sd.design.keys[k], sd.design.arms[arm][k]);
    out += fmt::format("left out: seed {} of{}: it ended without a finished result (diverged, or an unreadable file)\n",
                       seed, values);
  }
  const std::size_t fixed = sd.design.arms.size() * static_cast<std::size_t>(plan.max_seeds);
  if (d.finished)
    out += fmt::format("compute: {} runs instead of {} ({} configurations x {} seeds, the fixed design)\n", sd.ended,
                       fixed, sd.design.arms.size(), plan.max_seeds);
  else
    out += fmt::format("compute so far: {} runs ended; the fixed design ({} seeds everywhere) is {} runs\n", sd.ended,
                       plan.max_seeds, fixed);
  return out;
}

}  // namespace fcnlab
