#pragma once
// `fcnlab report`: one row per group of runs (grouped by config keys) with mean ± std over
// seeds, optional 95% bootstrap intervals over val images and paired differences against a
// reference group, optional marginal means per axis; rendered as Markdown, CSV, LaTeX or JSON.
//
// Bootstrap (--ci): every run of one experiment is evaluated on the same val images, so one set
// of image resamples (fixed seed) is shared by all runs. For a resample, each run's score is
// recomputed from its per-image data weighted by the resample's multiplicities (confusion
// matrices for pixel_acc, mean_acc, mean_iou, fw_iou; per-image BF, Boundary IoU bands and trimap
// counts for bf_score, boundary_iou, trimap_*: schema 3); a group's value is the mean over its
// seeds (the same statistic as the table's point estimate), so the interval reflects the sampling
// of val images with the seeds held fixed (the ± column shows seed-to-seed spread). A difference
// against the reference group (--vs) is computed on the same resample for both groups (paired),
// and its percentile interval is reported. A metric that some run file cannot resample (boundary
// metrics in files of schema 1 and 2) gets no interval, with a warning.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/enum_names.h"
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

struct ReportOptions {
  std::vector<std::string> by;       // grouping keys; empty: every key that varies
  std::vector<std::string> metrics;  // empty: default_metrics() (or the paper's four with `paper`)
  bool ci = false;                   // bootstrap intervals over val images
  std::string vs;                    // "key=value": paired differences against that group ("" = none)
  bool paper = false;                // the paper's Table 2 columns, in percent
  bool marginal = false;             // per-axis marginal means
  int resamples = 1000;
  std::uint64_t seed = 20150607;  // bootstrap seed (fixed: tables are reproducible)
  double level = 0.95;
};

struct MetricCell {
  MeanStd stat;                // over the group's seeds
  std::optional<Interval> ci;  // bootstrap interval of the group mean (with --ci)
};

struct DiffCell {
  double diff = 0;             // group mean - reference group mean
  std::optional<Interval> ci;  // paired bootstrap interval
};

struct Row {
  std::vector<std::string> values;  // one per grouping key
  std::vector<std::string> run_ids;
  std::vector<std::int64_t> seeds;
  std::vector<MetricCell> metrics;     // one per metric
  bool has_reference = false;          // with --vs: a reference group exists for this row
  bool is_reference = false;           // the row is its own reference
  std::vector<std::string> reference;  // the reference group's values
  std::vector<DiffCell> diffs;         // one per metric, when has_reference
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

struct Report {
  std::string title;  // e.g. the results dir
  std::vector<std::string> by;
  std::vector<std::string> metrics;
  bool ci = false, paper = false;
  int resamples = 0;
  std::vector<std::string> resampled;  // the metrics with intervals (and Δ intervals)
  double level = 0.95;
  std::string vs_key, vs_value;  // empty when no --vs
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

// Builds the table. UsageError for an unknown --by key, a malformed --vs or a --vs key that is
// not a grouping key, or a --vs value that no group has. IoError when the bootstrap needs
// per-image confusions that a run lacks.
Report build_report(const std::vector<Run>& runs, const ReportOptions& options);

std::string render(const Report& report, Format format);

// load_runs + build_report + render (title: the directory). Warnings (skipped files, missing
// metrics) are stored in `warnings` when given, and are part of JSON output. IoError when the
// directory holds no usable run file.
std::string report_dir(const std::filesystem::path& dir, const ReportOptions& options, Format format,
                       std::vector<std::string>* warnings = nullptr);

}  // namespace fcnlab::report
