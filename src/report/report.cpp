#include "report/report.h"

#include <fmt/format.h>
#include <fmt/ranges.h>  // fmt::join (in fmt/format.h before fmt 11)

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <set>

#include "core/error.h"
#include "core/text.h"

namespace fcnlab::report {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.rfind(prefix, 0) == 0;
}

double mean_of_finite(const std::vector<double>& v) {
  return mean_std(v).mean;
}

// Every metric name that some run file holds: its /final scalars and trimap_{acc,miou}_<width>.
std::vector<std::string> metric_names(const std::vector<Run>& runs) {
  std::set<std::string> names;
  for (const auto& r : runs) {
    for (const auto& [name, value] : r.final.scalars) names.insert(name);
    for (const auto w : r.final.trimap_width) {
      names.insert(fmt::format("trimap_acc_{}", w));
      names.insert(fmt::format("trimap_miou_{}", w));
    }
  }
  return {names.begin(), names.end()};
}

// OptionError for a requested metric that no run file holds (a typo would otherwise print a
// column of dashes).
void check_metrics(const std::vector<std::string>& metrics, const std::vector<Run>& runs) {
  if (runs.empty()) return;
  const auto known = metric_names(runs);
  for (const auto& m : metrics) {
    if (std::find(known.begin(), known.end(), m) != known.end()) continue;
    throw OptionError("metrics", fmt::format("'{}': no run file has this metric{}; they have: {}", m,
                                             did_you_mean(m, known), fmt::join(known, ", ")));
  }
}

}  // namespace

std::optional<double> Margins::of(const std::string& metric) const {
  const auto it = per_metric.find(metric);
  if (it != per_metric.end()) return it->second;
  return all;
}

Margins parse_margins(const std::string& text) {
  Margins out;
  const auto number = [&](const std::string& part, const std::string& value) {
    double x = 0;
    std::size_t used = 0;
    try {
      x = std::stod(value, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != value.size() || !(x > 0) || !std::isfinite(x))
      throw OptionError("margin",
                        fmt::format("'{}': '{}' is not a positive number (expected X or metric=X,...)", text, part));
    return x;
  };
  for (const auto& raw : split(text, ',')) {
    const std::string part = trim(raw);
    if (part.empty()) continue;
    const auto eq = part.find('=');
    if (eq == std::string::npos) {
      out.all = number(part, part);
      continue;
    }
    out.per_metric[trim(part.substr(0, eq))] = number(part, trim(part.substr(eq + 1)));
  }
  if (out.empty()) throw OptionError("margin", fmt::format("'{}': expected X or metric=X,...", text));
  return out;
}

std::vector<std::string> default_metrics(const std::vector<Run>& runs) {
  std::vector<std::string> m{"mean_iou", "pixel_acc", "bf_score", "boundary_iou"};
  int smallest = std::numeric_limits<int>::max();
  for (const auto& r : runs)
    for (const auto w : r.final.trimap_width) smallest = std::min(smallest, static_cast<int>(w));
  if (smallest != std::numeric_limits<int>::max()) m.push_back(fmt::format("trimap_acc_{}", smallest));
  return m;
}

double metric_value(const Run& run, const std::string& metric) {
  if (const auto v = run.final.scalar(metric)) return *v;
  for (const auto& [prefix, values] : {std::pair{std::string("trimap_acc_"), &run.final.trimap_pixel_acc},
                                       std::pair{std::string("trimap_miou_"), &run.final.trimap_mean_iou}}) {
    if (!starts_with(metric, prefix)) continue;
    const std::string width = metric.substr(prefix.size());
    for (std::size_t k = 0; k < run.final.trimap_width.size() && k < values->size(); ++k)
      if (std::to_string(run.final.trimap_width[k]) == width) return (*values)[k];
  }
  return kNaN;
}

namespace {

// --- options -----------------------------------------------------------------------------------

void check_numbers(const ReportOptions& o) {
  if (o.resamples < 10) throw OptionError("resamples", fmt::format("must be at least 10, got {}", o.resamples));
  if (!(o.alpha > 0 && o.alpha < 0.5)) throw OptionError("alpha", fmt::format("must be in (0, 0.5), got {}", o.alpha));
}

// The metrics a margin names must be columns of the table (a typo would silently drop the ≈).
void check_margins(const Margins& margins, const std::vector<std::string>& metrics) {
  for (const auto& [m, x] : margins.per_metric)
    if (std::find(metrics.begin(), metrics.end(), m) == metrics.end())
      throw OptionError("margin", fmt::format("{}={}: '{}' is not a metric of the table{}; metrics: {}", m, x, m,
                                              did_you_mean(m, metrics), fmt::join(metrics, ", ")));
}

// --vs key=value: the key's position among the grouping keys.
std::size_t parse_vs(const std::string& vs, Report& rep) {
  const auto eq = vs.find('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == vs.size())
    throw OptionError("vs", fmt::format("'{}': expected key=value, e.g. model.skip=32", vs));
  rep.vs_key = trim(vs.substr(0, eq));
  rep.vs_value = display_value(trim(vs.substr(eq + 1)));
  const auto it = std::find(rep.by.begin(), rep.by.end(), rep.vs_key);
  if (it == rep.by.end())
    throw OptionError(
        "vs", fmt::format("{}: '{}' is not a grouping key (grouped by: {})", vs, rep.vs_key,
                          rep.by.empty() ? std::string("nothing") : fmt::format("{}", fmt::join(rep.by, ", "))));
  return static_cast<std::size_t>(it - rep.by.begin());
}

// --- grouping ------------------------------------------------------------------------------------

// A row must hold one configuration: runs that differ only in run.seed (and in keys that do not
// change results). Averaging other differences into a row would pass a mixture for a
// configuration, so that takes `pool`.
std::vector<std::vector<std::string>> pooled_keys(const std::vector<Group>& groups, const Report& rep, bool pool) {
  std::vector<std::vector<std::string>> out;
  for (const auto& g : groups) {
    out.push_back(varying_keys(g.runs));
    if (out.back().empty() || pool) continue;
    std::vector<std::string> described;
    for (const auto& key : out.back()) {
      std::set<std::string> values;
      for (const Run* r : g.runs) values.insert(r->config.at(key));
      described.push_back(fmt::format("{} ({})", key, fmt::join(values, ", ")));
    }
    std::vector<std::string> by = rep.by;
    by.insert(by.end(), out.back().begin(), out.back().end());
    std::string row = "the runs";
    if (!rep.by.empty()) {
      std::vector<std::string> kv;
      for (std::size_t a = 0; a < rep.by.size(); ++a) kv.push_back(rep.by[a] + "=" + g.values[a]);
      row = fmt::format("{}", fmt::join(kv, ", "));
    }
    throw MixedRowError(
        fmt::format("the row {} would pool {} runs of different configurations: {} {} among them", row, g.runs.size(),
                    fmt::join(described, ", "), described.size() > 1 ? "vary" : "varies"),
        by, out.back().front() + "=" + g.runs.front()->config.at(out.back().front()));
  }
  return out;
}

// The pooled within-configuration variance of each metric over every configuration of `runs`:
// sum (n_c - 1) s_c² / sum (n_c - 1), with sum (n_c - 1) degrees of freedom.
std::vector<PooledVariance> pooled_variances(const std::vector<const Run*>& runs,
                                             const std::vector<std::string>& metrics) {
  const auto configurations = group_runs(runs, varying_keys(runs));
  std::vector<PooledVariance> out;
  for (const auto& m : metrics) {
    double sum = 0, df = 0;
    for (const auto& c : configurations) {
      std::vector<double> v;
      for (const Run* r : c.runs) v.push_back(metric_value(*r, m));
      const MeanStd s = mean_std(v);
      if (s.n < 2) continue;
      sum += (s.n - 1) * s.std * s.std;
      df += s.n - 1;
    }
    out.push_back(df > 0 ? PooledVariance{sum / df, df} : PooledVariance{});
  }
  return out;
}

// --- resampling --------------------------------------------------------------------------------

// Each run's metrics over one shared set of val-image resamples (one set per image count).
class Resamples {
 public:
  std::vector<std::string> metrics;  // the metrics every run can resample
  int count = 0;

  bool has(const std::string& m) const { return std::find(metrics.begin(), metrics.end(), m) != metrics.end(); }
  void add(const Run& r, const std::vector<std::vector<std::uint32_t>>& weights) {
    auto& s = samples_[&r];
    for (const auto& m : metrics) s[m].reserve(weights.size());
    for (const auto& w : weights) {
      const auto values = resampled_metrics(r.final, metrics, w);
      for (std::size_t k = 0; k < metrics.size(); ++k) s[metrics[k]].push_back(values[k]);
    }
  }
  // Per resample: the mean of metric m over the group's runs (the table's point estimate).
  std::vector<double> group_means(const Group& g, const std::string& m) const {
    std::vector<double> out(static_cast<std::size_t>(count), kNaN);
    std::vector<double> v(g.runs.size());
    for (std::size_t k = 0; k < out.size(); ++k) {
      for (std::size_t i = 0; i < g.runs.size(); ++i) v[i] = samples_.at(g.runs[i]).at(m)[k];
      out[k] = mean_of_finite(v);
    }
    return out;
  }
  // The image-sampling variance of a group mean, or of the difference of two.
  double variance(const Group& g, const std::string& m) const { return sample_variance(group_means(g, m)); }
  double variance(const Group& a, const Group& b, const std::string& m) const {
    auto d = group_means(a, m);
    const auto r = group_means(b, m);
    for (std::size_t k = 0; k < d.size(); ++k) d[k] -= r[k];
    return sample_variance(d);
  }

 private:
  std::map<const Run*, std::map<std::string, std::vector<double>>> samples_;
};

// The bootstrappable metrics that every run can resample; a warning for each that some cannot
// (an interval from some of a group's seeds would pass for the group's).
std::vector<std::string> resampleable(const std::vector<const Run*>& runs, const std::vector<std::string>& metrics,
                                      std::vector<std::string>& warnings) {
  std::vector<std::string> out;
  for (const auto& m : metrics) {
    if (!bootstrappable(m)) continue;
    std::vector<std::string> lacking;
    for (const Run* r : runs)
      if (!can_bootstrap(r->final, m)) lacking.push_back(r->file.filename().string());
    if (lacking.empty()) {
      out.push_back(m);
      continue;
    }
    warnings.push_back(
        fmt::format("{}: no interval: {} of {} run files have no per-image data for it ({}{}); files of schema 1 and 2 "
                    "lack it: move them away and run the sweep again to rewrite them (same run ids)",
                    m, lacking.size(), runs.size(), lacking.front(), lacking.size() > 1 ? ", ..." : ""));
  }
  return out;
}

Resamples resample(const std::vector<const Run*>& runs, const std::vector<std::string>& metrics, const ReportOptions& o,
                   std::vector<std::string>& warnings) {
  Resamples out;
  out.metrics = resampleable(runs, metrics, warnings);
  if (out.metrics.empty()) return out;
  out.count = o.resamples;
  std::map<std::int64_t, std::vector<std::vector<std::uint32_t>>> weights;
  for (const Run* r : runs) {
    const auto& f = r->final;
    const auto C = static_cast<std::size_t>(f.num_classes());
    if (f.images <= 0 || f.per_image_confusion.size() != static_cast<std::size_t>(f.images) * C * C)
      throw IoError(
          fmt::format("{}: /final/per_image_confusion has {} values for {} images and {} classes; "
                      "cannot bootstrap",
                      r->file.string(), f.per_image_confusion.size(), f.images, C));
    auto& w = weights[f.images];
    if (w.empty()) w = bootstrap_weights(f.images, o.resamples, o.seed);
    out.add(*r, w);
  }
  return out;
}

// Runs resampled together (a group) or compared (a group and its reference) must be paired
// image by image.
void check_paired(const Group& g, const Group* reference) {
  for (const Run* r : g.runs) check_same_images(*g.runs.front(), *r);
  if (reference) check_same_images(*g.runs.front(), *reference->runs.front());
}

// --- cells -------------------------------------------------------------------------------------

std::vector<double> values_of(const Group& g, const std::string& m) {
  std::vector<double> v;
  for (const Run* r : g.runs) v.push_back(metric_value(*r, m));
  return v;
}

double image_df(const Group& g) {
  return static_cast<double>(g.runs.front()->final.images - 1);
}

// The seed part of a group mean's variance: s²/n with n - 1 df, or the pooled variance over n;
// nullopt for one run without a pooled variance.
std::optional<VarianceTerm> seed_term(const MeanStd& s, const PooledVariance* pooled) {
  if (pooled) {
    if (!(pooled->df > 0) || s.n < 1) return std::nullopt;
    return VarianceTerm{pooled->variance / s.n, pooled->df};
  }
  if (s.n < 2) return std::nullopt;
  return VarianceTerm{s.std * s.std / s.n, s.n - 1.0};
}

MetricCell metric_cell(const Group& g, const std::string& m, const Report& rep, const Resamples& rs,
                       const PooledVariance* pooled) {
  MetricCell c;
  c.stat = mean_std(values_of(g, m));
  if (!rep.ci || !rs.has(m)) return c;
  if (const auto seeds = seed_term(c.stat, pooled))
    c.ci = t_interval(t_estimate(c.stat.mean, {*seeds, {rs.variance(g, m), image_df(g)}}), rep.level());
  return c;
}

DiffCell diff_cell(const Group& g, const Group& ref, const MetricCell& a, const std::string& m, const Report& rep,
                   const Resamples& rs, const PooledVariance* pooled) {
  DiffCell d;
  const MetricCell b{mean_std(values_of(ref, m)), std::nullopt};
  auto& plan = d.plan;
  d.diff = a.stat.mean - b.stat.mean;
  if (!rs.has(m)) {
    d.no_test = "no per-image data";
    return d;
  }
  if (!pooled && (a.stat.n < 2 || b.stat.n < 2)) {
    d.no_test = "1 run";
    return d;
  }
  if (pooled && !(pooled->df > 0)) {
    d.no_test = "no pooled variance";
    return d;
  }
  plan.v_img = rs.variance(g, ref, m);
  plan.img_df = image_df(g);
  std::vector<VarianceTerm> terms{{plan.v_img, plan.img_df}};
  if (pooled) {
    plan.var_a = plan.var_b = pooled->variance;
    terms.push_back({pooled->variance * (1.0 / a.stat.n + 1.0 / b.stat.n), pooled->df});
  } else {
    plan.var_a = a.stat.std * a.stat.std;
    plan.var_b = b.stat.std * b.stat.std;
    terms.push_back({plan.var_a / a.stat.n, a.stat.n - 1.0});
    terms.push_back({plan.var_b / b.stat.n, b.stat.n - 1.0});
  }
  d.estimate = t_estimate(d.diff, terms);
  d.ci = t_interval(d.estimate, rep.level());
  d.p = p_two_sided(d.estimate);
  if (const auto margin = rep.margins.of(m)) d.p_equivalence = p_equivalence(d.estimate, *margin);
  if (std::isnan(d.p)) d.no_test = "no standard error";
  return d;
}

// --- verdicts ----------------------------------------------------------------------------------

// Holm over every tested Δ cell of the report (and separately over the equivalence tests), then
// the seeds each undecided cell needs.
void decide(Report& rep) {
  std::vector<DiffCell*> cells;
  std::vector<std::size_t> metric_of;
  for (auto& row : rep.rows)
    for (std::size_t k = 0; k < row.diffs.size(); ++k)
      if (row.diffs[k].tested()) {
        cells.push_back(&row.diffs[k]);
        metric_of.push_back(k);
      }
  std::vector<double> p, p_eq;
  for (const DiffCell* d : cells) {
    p.push_back(d->p);
    p_eq.push_back(d->p_equivalence);
  }
  const auto adjusted = holm_adjust(p), adjusted_eq = holm_adjust(p_eq);
  rep.family = static_cast<int>(cells.size());
  rep.equivalence_family =
      static_cast<int>(std::count_if(p_eq.begin(), p_eq.end(), [](double x) { return !std::isnan(x); }));
  for (std::size_t i = 0; i < cells.size(); ++i) {
    DiffCell& d = *cells[i];
    d.p_adjusted = adjusted[i];
    d.significant = adjusted[i] < rep.alpha;
    d.p_equivalence_adjusted = adjusted_eq[i];
    if (!std::isnan(p_eq[i])) d.equivalent = adjusted_eq[i] < rep.alpha;
    if (!d.undecided()) continue;
    // Planned at alpha / m, the first step of Holm's procedure: a cell that reaches it is
    // significant whatever the other cells show.
    const auto margin = rep.margins.of(rep.metrics[metric_of[i]]);
    d.plan.effect = margin ? *margin : d.diff;
    d.plan.alpha = rep.alpha / static_cast<double>(cells.size());
    d.seeds_needed = seeds_needed(d.plan);
  }
}

// --- marginal means ----------------------------------------------------------------------------

// For each grouping key, the mean of each value over the "contexts" (value combinations of the
// other keys) in which every value of the key was run, so that an unbalanced set of runs (e.g. a
// union of grids) compares values on the same footing instead of confounding them with the other keys.
Marginal marginal_of(const Report& rep, std::size_t a) {
  Marginal marg;
  marg.key = rep.by[a];
  std::vector<std::string> values;
  std::map<std::vector<std::string>, std::map<std::string, const Row*>> contexts;
  for (const auto& row : rep.rows) {
    if (std::find(values.begin(), values.end(), row.values[a]) == values.end()) values.push_back(row.values[a]);
    auto context = row.values;
    context.erase(context.begin() + static_cast<std::ptrdiff_t>(a));
    contexts[context][row.values[a]] = &row;
  }
  std::sort(values.begin(), values.end(), value_less);
  std::vector<const std::map<std::string, const Row*>*> complete;
  for (const auto& [context, by_value] : contexts)
    if (by_value.size() == values.size()) complete.push_back(&by_value);
  marg.contexts = static_cast<int>(complete.size());
  marg.all_contexts = static_cast<int>(contexts.size());
  for (const auto& v : values) {
    MarginalRow mr;
    mr.value = v;
    mr.groups = marg.contexts;
    for (std::size_t k = 0; k < rep.metrics.size(); ++k) {
      std::vector<double> sel;
      for (const auto* by_value : complete) sel.push_back(by_value->at(v)->metrics[k].stat.mean);
      mr.mean.push_back(mean_of_finite(sel));
    }
    marg.rows.push_back(std::move(mr));
  }
  for (std::size_t k = 0; k < rep.metrics.size(); ++k) {
    std::vector<double> means;
    for (const auto& mr : marg.rows) means.push_back(mr.mean[k]);
    const double grand = mean_of_finite(means);
    for (auto& mr : marg.rows) mr.effect.push_back(mr.mean[k] - grand);
  }
  return marg;
}

// The report's frame: keys, metrics and the options it echoes; every option checked.
Report frame(const std::vector<const Run*>& runs, const std::vector<Run>& all, const ReportOptions& o) {
  check_numbers(o);
  Report rep;
  rep.by = o.by.empty() ? varying_keys(runs) : o.by;
  check_keys(rep.by);
  rep.where = o.where;
  rep.paper = o.paper;
  rep.metrics = !o.metrics.empty() ? o.metrics : o.paper ? kPaperMetrics : default_metrics(all);
  if (!o.metrics.empty()) check_metrics(o.metrics, all);
  check_margins(o.margins, rep.metrics);
  rep.ci = o.ci;
  rep.alpha = o.alpha;
  rep.margins = o.margins;
  rep.pooled_seed_variance = o.pooled_seed_variance;
  return rep;
}

template <class PooledOf>
Row row_of(const Group& g, const Report& rep, const Resamples& rs, const PooledOf& pooled_of) {
  Row row;
  row.values = g.values;
  for (const Run* r : g.runs) {
    row.run_ids.push_back(r->info.run_id);
    row.seeds.push_back(r->info.seed);
  }
  for (std::size_t k = 0; k < rep.metrics.size(); ++k)
    row.metrics.push_back(metric_cell(g, rep.metrics[k], rep, rs, pooled_of(k)));
  return row;
}

const Group* reference_of(const Group& g, const std::vector<Group>& groups, const Report& rep, std::size_t vs_index) {
  auto ref_values = g.values;
  ref_values[vs_index] = rep.vs_value;
  const auto ref = std::find_if(groups.begin(), groups.end(), [&](const Group& x) { return x.values == ref_values; });
  return ref == groups.end() ? nullptr : &*ref;
}

}  // namespace

Report build_report(const std::vector<Run>& all_runs, const ReportOptions& options) {
  const auto runs = select_runs(all_runs, options.where);
  Report rep = frame(runs, all_runs, options);
  const bool vs = !options.vs.empty();
  const std::size_t vs_index = vs ? parse_vs(options.vs, rep) : 0;
  const auto groups = group_runs(runs, rep.by);
  const auto pooled_runs = pooled_keys(groups, rep, options.pool);
  if (vs) {
    std::set<std::string> seen;
    for (const auto& g : groups) seen.insert(g.values[vs_index]);
    if (!seen.count(rep.vs_value))
      throw OptionError("vs", fmt::format("{}: no run has {} = {} (values present: {})", options.vs, rep.vs_key,
                                          rep.vs_value, fmt::join(seen, ", ")));
  }
  for (const auto& m : rep.metrics) {
    const bool any =
        std::any_of(runs.begin(), runs.end(), [&](const Run* r) { return !std::isnan(metric_value(*r, m)); });
    if (!any && !runs.empty()) rep.warnings.push_back(fmt::format("metric '{}' is in no run file", m));
  }

  std::vector<const Group*> refs;  // each group's reference (--vs), or nullptr
  for (const auto& g : groups) refs.push_back(vs ? reference_of(g, groups, rep, vs_index) : nullptr);
  Resamples rs;
  if (options.ci || vs) {
    for (std::size_t gi = 0; gi < groups.size(); ++gi) check_paired(groups[gi], refs[gi]);
    rs = resample(runs, rep.metrics, options, rep.warnings);
    rep.resamples = rs.count;
    rep.resampled = rs.metrics;
  }
  if (options.pooled_seed_variance) rep.pooled = pooled_variances(runs, rep.metrics);
  const auto pooled_of = [&](std::size_t k) { return rep.pooled.empty() ? nullptr : &rep.pooled[k]; };

  for (std::size_t gi = 0; gi < groups.size(); ++gi) {
    Row row = row_of(groups[gi], rep, rs, pooled_of);
    row.pooled_keys = pooled_runs[gi];
    if (const Group* ref = refs[gi]) {
      row.has_reference = true;
      row.is_reference = ref == &groups[gi];
      row.reference = ref->values;
      if (!row.is_reference)
        for (std::size_t k = 0; k < rep.metrics.size(); ++k)
          row.diffs.push_back(diff_cell(groups[gi], *ref, row.metrics[k], rep.metrics[k], rep, rs, pooled_of(k)));
    }
    rep.rows.push_back(std::move(row));
  }
  if (vs) decide(rep);
  if (options.marginal)
    for (std::size_t a = 0; a < rep.by.size(); ++a) {
      rep.marginals.push_back(marginal_of(rep, a));
      const auto& marg = rep.marginals.back();
      if (marg.rows.size() > 1 && marg.contexts == 0)
        rep.warnings.push_back(
            fmt::format("--marginal {}: no combination of the other keys was run with every value of {}; no "
                        "marginal means",
                        marg.key, marg.key));
    }
  return rep;
}

std::string report_dir(const std::filesystem::path& dir, const ReportOptions& options, Format format,
                       std::vector<std::string>* warnings) {
  auto loaded = load_runs(dir);
  if (warnings) *warnings = loaded.warnings;
  if (loaded.runs.empty())
    throw IoError(fmt::format("{}: no finished run files (*.h5){}", dir.string(),
                              loaded.warnings.empty() ? "" : fmt::format("; {} skipped", loaded.warnings.size())));
  Report rep = build_report(loaded.runs, options);
  rep.title = dir.string();
  rep.warnings.insert(rep.warnings.begin(), loaded.warnings.begin(), loaded.warnings.end());
  if (warnings) *warnings = rep.warnings;
  return render(rep, format);
}

}  // namespace fcnlab::report
