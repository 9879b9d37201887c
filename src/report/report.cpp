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

// Bootstrap resample values of one run: [metric][resample] for the bootstrappable metrics.
using RunSamples = std::map<std::string, std::vector<double>>;

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

// UsageError for a requested metric that no run file holds (a typo would otherwise print a
// column of dashes).
void check_metrics(const std::vector<std::string>& metrics, const std::vector<Run>& runs) {
  if (runs.empty()) return;
  const auto known = metric_names(runs);
  for (const auto& m : metrics) {
    if (std::find(known.begin(), known.end(), m) != known.end()) continue;
    const auto hint = nearest(m, known);
    throw UsageError(fmt::format("--metrics: no run file has a metric '{}'{} (they have: {})", m,
                                 hint.empty() ? "" : fmt::format("; did you mean {}?", hint), fmt::join(known, ", ")));
  }
}

}  // namespace

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

Report build_report(const std::vector<Run>& runs, const ReportOptions& options) {
  Report rep;
  rep.by = options.by.empty() ? varying_keys(runs) : options.by;
  check_keys(rep.by);
  rep.paper = options.paper;
  rep.metrics = !options.metrics.empty() ? options.metrics : options.paper ? kPaperMetrics : default_metrics(runs);
  if (!options.metrics.empty()) check_metrics(options.metrics, runs);
  rep.ci = options.ci;
  rep.level = options.level;
  if (options.resamples < 10)
    throw UsageError(fmt::format("--resamples must be at least 10, got {}", options.resamples));
  if (!(options.level > 0 && options.level < 1))
    throw UsageError(fmt::format("the interval level must be in (0, 1), got {}", options.level));

  // --vs key=value
  std::size_t vs_index = 0;
  if (!options.vs.empty()) {
    const auto eq = options.vs.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == options.vs.size())
      throw UsageError(fmt::format("--vs '{}': expected key=value, e.g. model.skip=32", options.vs));
    rep.vs_key = trim(options.vs.substr(0, eq));
    rep.vs_value = display_value(trim(options.vs.substr(eq + 1)));
    const auto it = std::find(rep.by.begin(), rep.by.end(), rep.vs_key);
    if (it == rep.by.end())
      throw UsageError(
          fmt::format("--vs {}: '{}' is not a grouping key (grouped by: {})", options.vs, rep.vs_key,
                      rep.by.empty() ? std::string("nothing") : fmt::format("{}", fmt::join(rep.by, ", "))));
    vs_index = static_cast<std::size_t>(it - rep.by.begin());
  }

  const auto groups = group_runs(runs, rep.by);
  if (!options.vs.empty()) {
    std::set<std::string> seen;
    for (const auto& g : groups) seen.insert(g.values[vs_index]);
    if (!seen.count(rep.vs_value))
      throw UsageError(fmt::format("--vs {}: no run has {} = {} (values present: {})", options.vs, rep.vs_key,
                                   rep.vs_value, fmt::join(seen, ", ")));
  }

  for (const auto& m : rep.metrics) {
    const bool any =
        std::any_of(runs.begin(), runs.end(), [&](const Run& r) { return !std::isnan(metric_value(r, m)); });
    if (!any && !runs.empty()) rep.warnings.push_back(fmt::format("metric '{}' is in no run file", m));
  }

  // Bootstrap: one set of image resamples per val-set size, shared by every run (paired).
  const bool boot = options.ci || !options.vs.empty();
  std::map<const Run*, RunSamples> samples;
  // A metric gets intervals only when every run can resample it: an interval from some of a
  // group's seeds would pass for the group's.
  std::vector<std::string> boot_metrics;
  for (const auto& m : rep.metrics) {
    if (!bootstrappable(m)) continue;
    std::vector<std::string> lacking;
    for (const auto& r : runs)
      if (!can_bootstrap(r.final, m)) lacking.push_back(r.file.filename().string());
    if (lacking.empty()) {
      boot_metrics.push_back(m);
    } else if (boot) {
      rep.warnings.push_back(fmt::format(
          "{}: no interval: {} of {} run files have no per-image data for it ({}{}); files of schema 1 and 2 "
          "lack it: move them away and run the sweep again to rewrite them (same run ids)",
          m, lacking.size(), runs.size(), lacking.front(), lacking.size() > 1 ? ", ..." : ""));
    }
  }
  const auto resampled = [&](const std::string& m) {
    return std::find(boot_metrics.begin(), boot_metrics.end(), m) != boot_metrics.end();
  };
  if (boot && !boot_metrics.empty()) {
    rep.resamples = options.resamples;
    rep.resampled = boot_metrics;
    std::map<std::int64_t, std::vector<std::vector<std::uint32_t>>> weights;
    for (const auto& r : runs) {
      const auto& f = r.final;
      const auto C = static_cast<std::size_t>(f.num_classes());
      if (f.images <= 0 || f.per_image_confusion.size() != static_cast<std::size_t>(f.images) * C * C)
        throw IoError(
            fmt::format("{}: /final/per_image_confusion has {} values for {} images and {} classes; "
                        "cannot bootstrap",
                        r.file.string(), f.per_image_confusion.size(), f.images, C));
      auto& w = weights[f.images];
      if (w.empty()) w = bootstrap_weights(f.images, options.resamples, options.seed);
      auto& s = samples[&r];
      for (const auto& m : boot_metrics) s[m].reserve(w.size());
      for (const auto& wr : w) {
        const auto values = resampled_metrics(f, boot_metrics, wr);
        for (std::size_t k = 0; k < boot_metrics.size(); ++k) s[boot_metrics[k]].push_back(values[k]);
      }
    }
    if (weights.size() > 1)
      rep.warnings.push_back(
          "runs differ in their number of val images: intervals resample each size separately, "
          "and differences between groups of different sizes have no interval");
  }
  // A group's bootstrap distribution of a metric: per resample, the mean over its runs.
  const auto group_samples = [&](const Group& g, const std::string& m) {
    std::vector<double> out(static_cast<std::size_t>(rep.resamples), kNaN);
    for (std::size_t k = 0; k < out.size(); ++k) {
      std::vector<double> v;
      for (const Run* r : g.runs) v.push_back(samples.at(r).at(m)[k]);
      out[k] = mean_of_finite(v);
    }
    return out;
  };
  const auto same_images = [](const Group& a, const Group& b) {
    const auto n = a.runs.front()->final.images;
    for (const auto* g : {&a, &b})
      for (const Run* r : g->runs)
        if (r->final.images != n) return false;
    return true;
  };

  for (const auto& g : groups) {
    Row row;
    row.values = g.values;
    for (const Run* r : g.runs) {
      row.run_ids.push_back(r->info.run_id);
      row.seeds.push_back(r->info.seed);
    }
    for (const auto& m : rep.metrics) {
      MetricCell cell;
      std::vector<double> v;
      for (const Run* r : g.runs) v.push_back(metric_value(*r, m));
      cell.stat = mean_std(v);
      if (options.ci && resampled(m) && rep.resamples > 0)
        cell.ci = percentile_interval(group_samples(g, m), options.level);
      row.metrics.push_back(cell);
    }
    if (!options.vs.empty()) {
      auto ref_values = g.values;
      ref_values[vs_index] = rep.vs_value;
      const auto ref =
          std::find_if(groups.begin(), groups.end(), [&](const Group& x) { return x.values == ref_values; });
      if (ref != groups.end()) {
        row.has_reference = true;
        row.is_reference = ref_values == g.values;
        row.reference = ref_values;
        for (std::size_t k = 0; k < rep.metrics.size(); ++k) {
          const auto& m = rep.metrics[k];
          DiffCell d;
          std::vector<double> rv;
          for (const Run* r : ref->runs) rv.push_back(metric_value(*r, m));
          d.diff = row.metrics[k].stat.mean - mean_std(rv).mean;
          if (!row.is_reference && resampled(m) && rep.resamples > 0 && same_images(g, *ref)) {
            const auto a = group_samples(g, m), b = group_samples(*ref, m);
            std::vector<double> diff(a.size());
            for (std::size_t i = 0; i < a.size(); ++i) diff[i] = a[i] - b[i];
            d.ci = percentile_interval(diff, options.level);
          }
          row.diffs.push_back(d);
        }
      }
    }
    rep.rows.push_back(std::move(row));
  }

  if (options.marginal) {
    // Only the "contexts" (value combinations of the other keys) in which every value of the
    // key was run are averaged over, so that an unbalanced set of runs (e.g. a union of grids)
    // compares values on the same footing instead of confounding them with the other keys.
    for (std::size_t a = 0; a < rep.by.size(); ++a) {
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
      if (values.size() > 1 && marg.contexts == 0)
        rep.warnings.push_back(
            fmt::format("--marginal {}: no combination of the other keys was run with every value "
                        "of {}; no marginal means",
                        marg.key, marg.key));
      rep.marginals.push_back(std::move(marg));
    }
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
