#pragma once
// Summary statistics, the bootstrap over validation images, and the tests behind a report's
// verdicts: t intervals whose standard error adds seed-to-seed and image-sampling variance
// (Welch–Satterthwaite degrees of freedom), two-sided p-values, two one-sided tests for
// equivalence, Holm's step-down adjustment and the seeds a comparison needs for a given power.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "results/run_file.h"

namespace fcnlab::report {

struct MeanStd {
  double mean = 0, std = 0;  // std: sample standard deviation (n - 1); NaN when n < 2
  int n = 0;                 // finite values counted (NaN values are left out)
};
// NaN mean when no finite value.
MeanStd mean_std(const std::vector<double>& values);

struct Interval {
  double lo = 0, hi = 0;
};
// Sample variance (n - 1) of the finite values; NaN when fewer than two.
double sample_variance(const std::vector<double>& values);

// Percentile interval of `samples` at `level` (e.g. 0.95: the 2.5% and 97.5% quantiles, linear
// interpolation between order statistics). NaN samples are left out; nullopt when none is left.
std::optional<Interval> percentile_interval(std::vector<double> samples, double level);

// Metrics that can be recomputed for a resample of the val images: the four confusion-matrix
// scores (from /final/per_image_confusion), and bf_score, boundary_iou, trimap_acc_<w> and
// trimap_miou_<w> (from the per-image boundary data of schema-3 files).
bool bootstrappable(const std::string& metric);
// Whether `final` holds what resampling `metric` needs (files of schema 1 and 2 have no per-image
// boundary data; a trimap width must be one the file has).
bool can_bootstrap(const FinalRecord& final, const std::string& metric);
// The bootstrappable `metrics` of `final` with image i counted weights[i] times, in order. The
// confusion is summed once for all four of its scores. IoError when the data is missing, DataError
// when its sizes do not fit.
std::vector<double> resampled_metrics(const FinalRecord& final, const std::vector<std::string>& metrics,
                                      const std::vector<std::uint32_t>& weights);

// Bootstrap resamples of N images: resample r counts image i weights[r][i] times (N draws with
// replacement). Deterministic for a given (images, resamples, seed) on every platform.
std::vector<std::vector<std::uint32_t>> bootstrap_weights(std::int64_t images, int resamples, std::uint64_t seed);

// One independent part of an estimate's squared standard error and the degrees of freedom of its
// estimate (e.g. s²/n with n - 1; a bootstrap variance over N images with N - 1).
struct VarianceTerm {
  double variance = 0;
  double df = 0;
};

// An estimate, its standard error and the Welch–Satterthwaite degrees of freedom of that error:
// df = (sum v)² / sum (v² / df). NaN se / df when a term is not finite or has df <= 0.
struct TEstimate {
  double value = 0, se = 0, df = 0;
  bool usable() const;  // finite value, se and df
};
TEstimate t_estimate(double value, const std::vector<VarianceTerm>& terms);

// The q-quantile of Student's t with df degrees of freedom (df > 0; an infinite df is the normal).
double t_quantile(double q, double df);

// value ± t(df, 1 - (1 - level) / 2) se; nullopt when the estimate is not usable.
std::optional<Interval> t_interval(const TEstimate& e, double level);
// Two-sided p-value of H0: the true value is 0. NaN when not usable; with se = 0, 1 for a value
// of 0 and 0 otherwise.
double p_two_sided(const TEstimate& e);
// Two one-sided tests (Schuirmann) of H0: |true value| >= margin; the larger one-sided p. A small
// p shows the value to lie within ±margin. NaN when not usable or margin <= 0.
double p_equivalence(const TEstimate& e, double margin);

// Holm's step-down adjustment of a family of p-values (Holm 1979): the i-th smallest becomes
// max over j <= i of min(1, (m - j + 1) p_(j)). NaN entries are not members of the family and
// stay NaN. Rejecting where the adjusted p < alpha keeps the family-wise error rate at alpha.
std::vector<double> holm_adjust(const std::vector<double>& p);

// The variances a comparison of two arms is planned from: the seed-to-seed variance of the
// metric in each arm (with n seeds per arm, estimated with n - 1 df, as a Welch test would), and
// the image-sampling variance of the difference, which more seeds do not reduce (its df: images - 1).
struct PowerPlan {
  double var_a = 0, var_b = 0;
  double v_img = 0, img_df = 0;
  double effect = 0;    // the true difference the test should find
  double alpha = 0.05;  // two-sided level
  double power = 0.8;
};
// The power of the two-sided test (the one `p_two_sided` makes of a Welch estimate) with n seeds
// per arm, from the noncentral t distribution.
double power_with_seeds(const PowerPlan& plan, double n);
// The fewest seeds per arm (>= 2) whose power reaches plan.power; nullopt when no number of seeds
// does (the image-sampling variance alone is too wide, or the effect is 0).
std::optional<int> seeds_needed(const PowerPlan& plan);

}  // namespace fcnlab::report
