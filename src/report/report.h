#pragma once
// `fcnlab report`: one row per configuration (runs that differ only in run.seed) with mean ± std
// over seeds, optional intervals and paired differences against a reference group with a verdict
// (significant, equivalent or undecided, and the seeds an undecided one needs), optional marginal
// means per axis; rendered as Markdown, CSV, LaTeX or JSON.
//
// Two sources of variation: training randomness (runs of one configuration differ by seed) and
// the sampling of val images (every run is scored on the same images). The seed part is the
// between-run variance s² of a group; the image part, v_img, is the variance of the group mean (or
// of the difference of two group means) over a bootstrap of the val images with the runs held
// fixed: every run's score is recomputed from its per-image data (confusion matrices; per-image
// BF, Boundary IoU bands and trimap counts in files of schema >= 3) for one shared set of image
// resamples, so that a difference is paired image by image. An interval is
// estimate ± t(ν) sqrt(s_A²/n_A [+ s_B²/n_B] + v_img), ν by Welch–Satterthwaite. The Δ cells of one
// report are one family: their p-values are Holm-adjusted, and so are the equivalence p-values
// (two one-sided tests against ±margin). A group with one run has no seed variance and so no
// interval or verdict, unless the pooled within-configuration variance is asked for.
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/enum_names.h"
#include "core/error.h"
#include "report/runs.h"
#include "report/stats.h"

namespace fcnlab::report {

enum class Format { md, csv, latex, json };

}  // namespace fcnlab::report

namespace fcnlab {
template <>
struct EnumNames<report::Format> {
  static constexpr std::array<std::pair<report::Format, std::string_view>, 4> table{{{report::Format::md, "md"},
                                                                                     {report::Format::csv, "csv"},
                                                                                     {report::Format::latex, "latex"},
                                                                                     {report::Format::json, "json"}}};
};
}  // namespace fcnlab

namespace fcnlab::report {

// Equivalence margins: one for every metric, or per metric ("mean_iou=0.01,bf_score=0.02").
struct Margins {
  std::optional<double> all;
  std::map<std::string, double> per_metric;
  std::optional<double> of(const std::string& metric) const;
  bool empty() const { return !all && per_metric.empty(); }
};
// "X" or "metric=X,...", each X > 0; OptionError ("margin") naming the part that is wrong.
Margins parse_margins(const std::string& text);

struct ReportOptions {
  std::vector<std::string> by;        // grouping keys; empty: every key that varies
  std::vector<std::string> metrics;   // empty: default_metrics() (or the paper's four with `paper`)
  std::vector<std::string> where;     // "key=v1,v2" each: only runs with one of the values, before grouping
  bool pool = false;                  // let a row average runs of different configurations
  bool ci = false;                    // intervals of the group means
  std::string vs;                     // "key=value": paired differences against that group ("" = none)
  double alpha = 0.05;                // level of * and ≈ (Holm-adjusted); intervals at 1 - alpha
  Margins margins;                    // equivalence margins (≈); none by default
  bool pooled_seed_variance = false;  // every group's seed variance: the pooled within-configuration one
  bool paper = false;                 // the paper's Table 2 columns, in percent
  bool marginal = false;              // per-axis marginal means
  int resamples = 1000;
  std::uint64_t seed = 20150607;  // bootstrap seed (fixed: tables are reproducible)
};

inline constexpr double kNoValue = std::numeric_limits<double>::quiet_NaN();

struct MetricCell {
  MeanStd stat;                // over the group's runs
  std::optional<Interval> ci;  // of the group mean, over seeds and images (with --ci)
};

// A difference against the reference group and its verdict.
struct DiffCell {
  double diff = 0;                             // group mean - reference group mean
  std::optional<Interval> ci;                  // over seeds and images, at 1 - alpha; nullopt without a test
  TEstimate estimate;                          // diff, its standard error and df
  double p = kNoValue, p_adjusted = kNoValue;  // two-sided; Holm over the report
  double p_equivalence = kNoValue, p_equivalence_adjusted = kNoValue;  // TOST, with a margin
  bool significant = false;                                            // p_adjusted < alpha
  std::optional<bool> equivalent;   // p_equivalence_adjusted < alpha; nullopt without a margin
  std::optional<int> seeds_needed;  // undecided cells: seeds per arm for 80% power; nullopt: none suffice
  PowerPlan plan;                   // the seed and image variances of the test, and what seeds_needed planned for
  std::string no_test;              // why the cell has no test ("" when it has one)

  bool tested() const { return no_test.empty(); }
  bool undecided() const { return tested() && !significant && !equivalent.value_or(false); }
};

struct Row {
  std::vector<std::string> values;  // one per grouping key
  std::vector<std::string> run_ids;
  std::vector<std::int64_t> seeds;
  std::vector<std::string> pooled_keys;  // with --pool: the hashed keys that vary among the runs
  std::vector<MetricCell> metrics;       // one per metric
  bool has_reference = false;            // with --vs: a reference group exists for this row
  bool is_reference = false;             // the row is its own reference
  std::vector<std::string> reference;    // the reference group's values
  std::vector<DiffCell> diffs;           // one per metric, when has_reference and not is_reference
};

// Marginal means of one grouping key. A context is a combination of the other keys' values;
// only the contexts run with every value of the key are used (the balanced part of the runs).
struct MarginalRow {
  std::string value;
  int groups = 0;              // groups averaged (= the complete contexts)
  std::vector<double> mean;    // per metric: mean over the complete contexts of the group means
  std::vector<double> effect;  // per metric: mean - the mean over the key's values
};

struct Marginal {
  std::string key;
  int contexts = 0;      // complete contexts used
  int all_contexts = 0;  // contexts present
  std::vector<MarginalRow> rows;
};

// A row would average runs of different configurations and ReportOptions::pool is not set.
// what() names the row, the keys that vary and their values; by() and where() are the ways out.
class MixedRowError : public Error {
 public:
  MixedRowError(const std::string& message, std::vector<std::string> by, std::string where)
      : Error(message), by_(std::move(by)), where_(std::move(where)) {}
  const std::vector<std::string>& by() const noexcept { return by_; }  // a grouping that separates them
  const std::string& where() const noexcept { return where_; }         // key=value selecting some of them
  int exit_code() const noexcept override { return 2; }

 private:
  std::vector<std::string> by_;
  std::string where_;
};

// The pooled within-configuration seed variance of one metric and its degrees of freedom.
struct PooledVariance {
  double variance = kNoValue;
  double df = 0;
};

struct Report {
  std::string title;  // e.g. the results dir
  std::vector<std::string> by;
  std::vector<std::string> metrics;
  std::vector<std::string> where;
  bool ci = false, paper = false;
  int resamples = 0;
  std::vector<std::string> resampled;  // the metrics with an image-sampling variance
  double alpha = 0.05;
  double level() const { return 1 - alpha; }
  Margins margins;
  bool pooled_seed_variance = false;
  std::vector<PooledVariance> pooled;  // per metric, with pooled_seed_variance
  std::string vs_key, vs_value;        // empty when no --vs
  int family = 0;                      // Δ cells with a test (the Holm family)
  int equivalence_family = 0;          // Δ cells with a margin and a test
  std::vector<Row> rows;
  std::vector<Marginal> marginals;
  std::vector<std::string> warnings;  // files skipped, metrics missing, ...
};

// mean_iou, pixel_acc, bf_score, boundary_iou, trimap_acc_<smallest width in the runs>.
std::vector<std::string> default_metrics(const std::vector<Run>& runs);
inline const std::vector<std::string> kPaperMetrics{"pixel_acc", "mean_acc", "mean_iou", "fw_iou"};

// A run's value of a metric: a /final scalar, or trimap_acc_<w> / trimap_miou_<w> from the
// /final/boundary arrays; NaN when the run does not have it.
double metric_value(const Run& run, const std::string& metric);

// Builds the table. ConfigError for an unknown `by` or `where` key; OptionError naming the field
// for a `where` value no run has, a malformed `vs`, a `vs` key that is not a grouping key or a
// value that no group has, a `metrics` entry no run has, a `margin` naming no column; MixedRowError
// for a row that would pool configurations without `pool` (all exit 2). DataError
// when runs resampled or compared together were scored on other images (naming both files).
// IoError when the bootstrap needs per-image confusions that a run lacks.
Report build_report(const std::vector<Run>& runs, const ReportOptions& options);

std::string render(const Report& report, Format format);

// load_runs + build_report + render (title: the directory). Warnings (skipped files, missing
// metrics) are stored in `warnings` when given, and are part of JSON output. IoError when the
// directory holds no usable run file.
std::string report_dir(const std::filesystem::path& dir, const ReportOptions& options, Format format,
                       std::vector<std::string>* warnings = nullptr);

}  // namespace fcnlab::report
