#pragma once
// Summary statistics and the bootstrap over validation images (`fcnlab report --ci`).
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

}  // namespace fcnlab::report
