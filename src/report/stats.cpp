#include "report/stats.h"

#include <fmt/format.h>

#include <algorithm>
#include <boost/math/distributions/non_central_t.hpp>
#include <boost/math/distributions/students_t.hpp>
#include <cmath>
#include <limits>
#include <optional>
#include <utility>

#include "core/error.h"
#include "core/rng.h"
#include "metrics/confusion.h"
#include "metrics/evaluator.h"

namespace fcnlab::report {

namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

}  // namespace

MeanStd mean_std(const std::vector<double>& values) {
  MeanStd s;
  double sum = 0;
  for (double v : values)
    if (std::isfinite(v)) {
      sum += v;
      ++s.n;
    }
  if (s.n == 0) return {kNaN, kNaN, 0};
  s.mean = sum / s.n;
  if (s.n < 2) {
    s.std = kNaN;
    return s;
  }
  double ss = 0;
  for (double v : values)
    if (std::isfinite(v)) ss += (v - s.mean) * (v - s.mean);
  s.std = std::sqrt(ss / (s.n - 1));
  return s;
}

double sample_variance(const std::vector<double>& values) {
  const MeanStd s = mean_std(values);
  return s.n < 2 ? kNaN : s.std * s.std;
}

std::optional<Interval> percentile_interval(std::vector<double> samples, double level) {
  samples.erase(std::remove_if(samples.begin(), samples.end(), [](double v) { return !std::isfinite(v); }),
                samples.end());
  if (samples.empty()) return std::nullopt;
  std::sort(samples.begin(), samples.end());
  const auto quantile = [&](double q) {
    const double pos = q * static_cast<double>(samples.size() - 1);
    const auto i = static_cast<std::size_t>(std::floor(pos));
    const double frac = pos - static_cast<double>(i);
    if (i + 1 >= samples.size()) return samples.back();
    return samples[i] * (1 - frac) + samples[i + 1] * frac;
  };
  const double alpha = (1 - level) / 2;
  return Interval{quantile(alpha), quantile(1 - alpha)};
}

namespace {

bool is_confusion_metric(const std::string& metric) {
  return metric == "pixel_acc" || metric == "mean_acc" || metric == "mean_iou" || metric == "fw_iou";
}

// trimap_acc_<w> / trimap_miou_<w>: (true for miou, w); nullopt for other names.
std::optional<std::pair<bool, int>> trimap_metric(const std::string& metric) {
  for (const auto& [prefix, miou] : {std::pair<std::string, bool>{"trimap_acc_", false}, {"trimap_miou_", true}}) {
    if (metric.rfind(prefix, 0) != 0 || metric.size() == prefix.size()) continue;
    const std::string digits = metric.substr(prefix.size());
    if (digits.size() > 9 || !std::all_of(digits.begin(), digits.end(), [](char ch) { return ch >= '0' && ch <= '9'; }))
      return std::nullopt;
    return std::pair<bool, int>{miou, std::stoi(digits)};
  }
  return std::nullopt;
}

// The index of width `w` in the file's trimap widths, or -1.
int trimap_band(const FinalRecord& final, int w) {
  const auto it = std::find(final.trimap_width.begin(), final.trimap_width.end(), w);
  return it == final.trimap_width.end() ? -1 : static_cast<int>(it - final.trimap_width.begin());
}

// The scores of the per-image confusions of `final` summed with multiplicities `weights` [N]
// (image i counted weights[i] times). IoError when the per-image confusions are missing.
Scores weighted_scores(const FinalRecord& final, const std::vector<std::uint32_t>& weights) {
  const auto C = static_cast<std::size_t>(final.num_classes());
  const auto N = static_cast<std::size_t>(final.images);
  if (final.per_image_confusion.size() != N * C * C || weights.size() != N)
    throw IoError(fmt::format("per-image confusion has {} values, expected {} images x {} x {} classes",
                              final.per_image_confusion.size(), weights.size(), C, C));
  std::vector<std::int64_t> sum(C * C, 0);
  for (std::size_t i = 0; i < N; ++i) {
    const std::uint32_t w = weights[i];
    if (w == 0) continue;
    const std::int32_t* m = final.per_image_confusion.data() + i * C * C;
    for (std::size_t k = 0; k < C * C; ++k) sum[k] += static_cast<std::int64_t>(w) * m[k];
  }
  return scores_from_confusion(sum.data(), static_cast<int>(C));
}

// One confusion-matrix metric of `scores`.
double score_of(const Scores& s, const std::string& metric) {
  if (metric == "pixel_acc") return s.pixel_acc;
  if (metric == "mean_acc") return s.mean_acc;
  if (metric == "mean_iou") return s.mean_iou;
  if (metric == "fw_iou") return s.fw_iou;
  throw Error(fmt::format("metric '{}' cannot be computed from confusion matrices", metric));
}

}  // namespace

bool bootstrappable(const std::string& metric) {
  return is_confusion_metric(metric) || metric == "bf_score" || metric == "boundary_iou" ||
         trimap_metric(metric).has_value();
}

bool can_bootstrap(const FinalRecord& final, const std::string& metric) {
  if (is_confusion_metric(metric)) return true;
  if (!bootstrappable(metric) || final.per_image_bf.empty()) return false;
  const auto t = trimap_metric(metric);
  return !t || trimap_band(final, t->second) >= 0;
}

std::vector<double> resampled_metrics(const FinalRecord& final, const std::vector<std::string>& metrics,
                                      const std::vector<std::uint32_t>& weights) {
  std::optional<Scores> scores;
  std::vector<double> out;
  out.reserve(metrics.size());
  for (const auto& m : metrics) {
    if (is_confusion_metric(m)) {
      if (!scores) scores = weighted_scores(final, weights);
      out.push_back(score_of(*scores, m));
      continue;
    }
    if (!can_bootstrap(final, m))
      throw IoError(fmt::format("metric '{}' cannot be resampled: the run file has no per-image data for it", m));
    // Sizes are checked by RunFileReader; the functions throw DataError should they not fit.
    if (m == "bf_score") {
      out.push_back(bf_from_images(final.per_image_bf, final.num_classes(), weights).score);
    } else if (m == "boundary_iou") {
      out.push_back(boundary_iou_from_images(final.per_image_boundary_band, final.num_classes(), weights).score);
    } else {
      const auto [miou, w] = *trimap_metric(m);
      const Scores s = trimap_from_images(final.per_image_trimap, static_cast<int>(final.trimap_width.size()),
                                          final.num_classes(), trimap_band(final, w), weights);
      out.push_back(miou ? s.mean_iou : s.pixel_acc);
    }
  }
  return out;
}

std::vector<std::vector<std::uint32_t>> bootstrap_weights(std::int64_t images, int resamples, std::uint64_t seed) {
  std::vector<std::vector<std::uint32_t>> out;
  if (images <= 0) return out;
  Rng rng = Rng::from_state(seed);
  const auto n = static_cast<std::uint64_t>(images);
  out.assign(static_cast<std::size_t>(resamples), std::vector<std::uint32_t>(static_cast<std::size_t>(n), 0));
  for (auto& w : out)
    for (std::uint64_t k = 0; k < n; ++k) ++w[static_cast<std::size_t>(rng.below_unbiased(n))];
  return out;
}

// --- tests behind the verdicts ----------------------------------------------------------------

namespace {

// Boost's t distributions take any df > 0; past this the t is the normal to double precision,
// and capping keeps an infinite df (a known variance) in the domain.
constexpr double kMaxDf = 1e7;

boost::math::students_t_distribution<double> t_dist(double df) {
  return boost::math::students_t_distribution<double>(std::min(df, kMaxDf));
}

// P(T > x) for Student's t.
double upper_tail(double x, double df) {
  return boost::math::cdf(boost::math::complement(t_dist(df), x));
}

}  // namespace

double t_quantile(double q, double df) {
  return boost::math::quantile(t_dist(df), q);
}

bool TEstimate::usable() const {
  return std::isfinite(value) && std::isfinite(se) && std::isfinite(df) && se >= 0 && df > 0;
}

TEstimate t_estimate(double value, const std::vector<VarianceTerm>& terms) {
  double total = 0, denominator = 0;
  for (const auto& t : terms) {
    if (!std::isfinite(t.variance) || t.variance < 0 || !(t.df > 0)) return {value, kNaN, kNaN};
    total += t.variance;
    if (std::isfinite(t.df)) denominator += t.variance * t.variance / t.df;
  }
  // Every term zero (identical runs, one image): the estimate is exact; any df will do.
  const double df = total == 0 ? kMaxDf : denominator == 0 ? kMaxDf : total * total / denominator;
  return {value, std::sqrt(total), df};
}

std::optional<Interval> t_interval(const TEstimate& e, double level) {
  if (!e.usable()) return std::nullopt;
  const double half = t_quantile(1 - (1 - level) / 2, e.df) * e.se;
  return Interval{e.value - half, e.value + half};
}

double p_two_sided(const TEstimate& e) {
  if (!e.usable()) return kNaN;
  if (e.se == 0) return e.value == 0 ? 1.0 : 0.0;
  return std::min(1.0, 2 * upper_tail(std::fabs(e.value) / e.se, e.df));
}

double p_equivalence(const TEstimate& e, double margin) {
  if (!e.usable() || !(margin > 0)) return kNaN;
  if (e.se == 0) return std::fabs(e.value) < margin ? 0.0 : 1.0;
  // H0: value <= -margin, rejected for large (value + margin) / se; H0: value >= margin likewise.
  const double p_low = upper_tail((e.value + margin) / e.se, e.df);
  const double p_high = upper_tail((margin - e.value) / e.se, e.df);
  return std::max(p_low, p_high);
}

std::vector<double> holm_adjust(const std::vector<double>& p) {
  std::vector<std::size_t> order;
  for (std::size_t i = 0; i < p.size(); ++i)
    if (!std::isnan(p[i])) order.push_back(i);
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return p[a] < p[b]; });
  std::vector<double> out(p.size(), kNaN);
  const double m = static_cast<double>(order.size());
  double running = 0;
  for (std::size_t j = 0; j < order.size(); ++j) {
    running = std::max(running, std::min(1.0, (m - static_cast<double>(j)) * p[order[j]]));
    out[order[j]] = running;
  }
  return out;
}

double power_with_seeds(const PowerPlan& plan, double n) {
  std::vector<VarianceTerm> terms{{plan.v_img, plan.img_df}};
  if (std::isfinite(n)) {
    terms.push_back({plan.var_a / n, n - 1});
    terms.push_back({plan.var_b / n, n - 1});
  }
  const TEstimate e = t_estimate(plan.effect, terms);
  if (!e.usable()) return kNaN;
  if (e.se == 0) return plan.effect == 0 ? plan.alpha : 1.0;
  const double df = std::min(e.df, kMaxDf);
  const double c = t_quantile(1 - plan.alpha / 2, df);
  const double delta = std::fabs(plan.effect) / e.se;
  // Far in the tail the noncentral t is 1 to double precision; Boost's series would only be slow.
  if (delta - c > 40) return 1.0;
  const boost::math::non_central_t_distribution<double> nct(df, delta);
  return boost::math::cdf(boost::math::complement(nct, c)) + boost::math::cdf(nct, -c);
}

std::optional<int> seeds_needed(const PowerPlan& plan) {
  if (!std::isfinite(plan.effect) || plan.effect == 0) return std::nullopt;
  const auto enough = [&](double n) {
    const double p = power_with_seeds(plan, n);
    return std::isfinite(p) && p >= plan.power;
  };
  // With infinitely many seeds only the image-sampling variance is left.
  if (!enough(std::numeric_limits<double>::infinity())) return std::nullopt;
  constexpr int kMostSeeds = 1 << 24;
  int hi = 2;
  while (!enough(hi)) {
    if (hi >= kMostSeeds) return std::nullopt;
    hi *= 2;
  }
  int lo = hi / 2;  // not enough (or below the minimum of 2)
  if (hi == 2) return 2;
  while (hi - lo > 1) {
    const int mid = lo + (hi - lo) / 2;
    (enough(mid) ? hi : lo) = mid;
  }
  return hi;
}

}  // namespace fcnlab::report
