// Tests of the statistics behind a report's verdicts, against known truths: hand-computed values
// of the t tests, Holm's adjustment and Welch–Satterthwaite; the power behind "seeds needed"
// checked by simulation; and whole reports of simulated ablations (seed effect, image effect,
// arm-by-image effect, run-by-image noise) with and without a true difference, checked for their
// false-positive rate, their power and their equivalence verdicts.
#include <fmt/format.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <random>

#include "report/report.h"
#include "report/stats.h"
#include "simulated_runs.h"

using namespace fcnlab;
using namespace fcnlab::report;

TEST_CASE("verdicts: Welch–Satterthwaite degrees of freedom and t tests match hand-computed values", "[report]") {
  // (1 + 1)² / (1/2 + 1/2) = 4; a term with infinite df adds to the variance only.
  CHECK(t_estimate(0, {{1, 2}, {1, 2}}).df == Approx(4));
  CHECK(t_estimate(0, {{1, 1}, {4, INFINITY}}).df == Approx(25));
  CHECK(t_estimate(0, {{1, 1}, {4, INFINITY}}).se == Approx(std::sqrt(5.0)));
  CHECK_FALSE(t_estimate(0, {{1, 0}}).usable());  // one run: no df
  // t(0.975, 4) = 2.776445: a two-sided p of 0.05, and the 95% interval's half width.
  const TEstimate e{2.776445, 1.0, 4.0};
  CHECK(p_two_sided(e) == Approx(0.05).margin(1e-6));
  const auto ci = t_interval(TEstimate{1.0, 0.5, 4.0}, 0.95);
  REQUIRE(ci.has_value());
  CHECK(ci->lo == Approx(1.0 - 0.5 * 2.776445).margin(1e-6));
  CHECK(ci->hi == Approx(1.0 + 0.5 * 2.776445).margin(1e-6));
  // Equivalence: P(T_10 > 3) = 0.006671 for a difference of 0 within a margin of 3 se.
  CHECK(p_equivalence(TEstimate{0, 1, 10}, 3) == Approx(0.006671).margin(2e-6));
  // Near the margin equivalence cannot be shown; beyond it, the p exceeds 0.5.
  CHECK(p_equivalence(TEstimate{2.9, 1, 10}, 3) > 0.4);
  CHECK(p_equivalence(TEstimate{-3.5, 1, 10}, 3) > 0.5);
}

TEST_CASE("verdicts: Holm's adjustment on a hand-computed family", "[report]") {
  // Sorted: 0.005 x 4 = 0.02, 0.01 x 3 = 0.03, 0.03 x 2 = 0.06, 0.04 x 1 -> max(0.06, 0.04) = 0.06.
  const auto adjusted = holm_adjust({0.01, 0.04, 0.03, 0.005, NAN});
  REQUIRE(adjusted.size() == 5);
  CHECK(adjusted[0] == Approx(0.03));
  CHECK(adjusted[1] == Approx(0.06));
  CHECK(adjusted[2] == Approx(0.06));
  CHECK(adjusted[3] == Approx(0.02));
  CHECK(std::isnan(adjusted[4]));                    // not a member of the family
  CHECK(holm_adjust({0.6, 0.7})[1] == Approx(1.0));  // capped at 1
}

namespace {

// A Welch test of two arms of n seeds whose image part has variance v_img, as a report makes it,
// with v_img itself estimated (scaled chi-square with img_df df).
double simulated_power(const PowerPlan& plan, int n, int trials, std::mt19937& rng) {
  std::normal_distribution<double> z;
  std::chi_squared_distribution<double> chi(plan.img_df);
  int found = 0;
  for (int t = 0; t < trials; ++t) {
    std::vector<double> a, b;
    for (int i = 0; i < n; ++i) {
      a.push_back(plan.effect + std::sqrt(plan.var_a) * z(rng));
      b.push_back(std::sqrt(plan.var_b) * z(rng));
    }
    const MeanStd sa = mean_std(a), sb = mean_std(b);
    const double diff = sa.mean - sb.mean + std::sqrt(plan.v_img) * z(rng);
    const double v_img = plan.v_img * chi(rng) / plan.img_df;
    const TEstimate e =
        t_estimate(diff, {{sa.std * sa.std / n, n - 1.0}, {sb.std * sb.std / n, n - 1.0}, {v_img, plan.img_df}});
    found += p_two_sided(e) < plan.alpha ? 1 : 0;
  }
  return static_cast<double>(found) / trials;
}

}  // namespace

TEST_CASE("verdicts: the seeds needed give the planned power, checked by simulation", "[report]") {
  PowerPlan plan;
  plan.var_a = 1.0;
  plan.var_b = 1.5;
  plan.v_img = 0.05;
  plan.img_df = 59;
  plan.effect = 1.5;
  plan.alpha = 0.05;
  const auto n = seeds_needed(plan);
  REQUIRE(n.has_value());
  INFO("seeds needed: " << *n);
  CHECK(*n > 2);
  CHECK(power_with_seeds(plan, *n) >= 0.8);
  CHECK(power_with_seeds(plan, *n - 1) < 0.8);
  std::mt19937 rng(12345);
  const double at_n = simulated_power(plan, *n, 4000, rng);
  const double below = simulated_power(plan, *n - 1, 4000, rng);
  INFO("simulated power with " << *n << " seeds: " << at_n << ", with " << *n - 1 << ": " << below);
  CHECK(at_n >= 0.77);  // 0.8 less two binomial standard errors of 4000 trials and the planning's rounding
  CHECK(at_n <= 0.90);
  CHECK(below < at_n);

  // A smaller alpha (Holm's first step in a larger table) asks for more seeds.
  PowerPlan strict = plan;
  strict.alpha = 0.005;
  CHECK(seeds_needed(strict).value_or(0) > *n);
  // The image-sampling variance alone too wide for the effect: no number of seeds suffices.
  PowerPlan wide = plan;
  wide.v_img = 1.0;
  CHECK_FALSE(seeds_needed(wide).has_value());
  PowerPlan none = plan;
  none.effect = 0;
  CHECK_FALSE(seeds_needed(none).has_value());
}

namespace {

using fcnlab::testing::SimImage;

// The truth of a simulated ablation (tests/simulated_runs.h): arm B (model.skip = 8) gains
// `effect` over arm A (model.skip = 32); each arm runs `seeds` seeds.
struct Truth : fcnlab::testing::Truth {
  double effect = 0;
  int seeds = 3;
};

Run simulated_run(const Truth& truth, const std::vector<SimImage>& images, int arm, int seed, std::mt19937& rng) {
  return fcnlab::testing::simulated_run(truth, images, arm, arm == 1 ? truth.effect : 0,
                                        {{"model.skip", arm == 0 ? "32" : "8"}}, seed, rng);
}

std::vector<Run> simulated_experiment(const Truth& truth, std::mt19937& rng) {
  const auto images = fcnlab::testing::simulated_images(truth, 2, rng);
  std::vector<Run> runs;
  for (int arm = 0; arm < 2; ++arm)
    for (int seed = 0; seed < truth.seeds; ++seed) runs.push_back(simulated_run(truth, images, arm, seed, rng));
  return runs;
}

// Verdicts over many simulated experiments: the rate of Δ cells (mean_iou and bf_score of skip 8
// vs skip 32) that are significant and that are equivalent, with the mean Δ and the pooled
// within-arm standard deviation of the runs' scores (to check the truth's size in seed SDs).
struct Rates {
  double significant = 0, equivalent = 0;
  double mean_diff[2] = {0, 0}, seed_sd[2] = {0, 0};
};

Rates simulate(const Truth& truth, int experiments, std::uint32_t seed, const Margins& margins = {}) {
  std::mt19937 rng(seed);
  ReportOptions o;
  o.by = {"model.skip"};
  o.vs = "model.skip=32";
  o.metrics = {"mean_iou", "bf_score"};
  o.resamples = 200;
  o.margins = margins;
  Rates rates;
  int cells = 0;
  double within_ss[2] = {0, 0}, within_df = 0;
  for (int e = 0; e < experiments; ++e) {
    const auto runs = simulated_experiment(truth, rng);
    o.seed = rng();
    const Report r = build_report(runs, o);
    REQUIRE(r.family == 2);
    for (const auto& row : r.rows) {
      for (std::size_t k = 0; k < 2; ++k)
        within_ss[k] += (row.metrics[k].stat.n - 1) * std::pow(row.metrics[k].stat.std, 2);
      within_df += row.metrics[0].stat.n - 1;
      if (row.is_reference) continue;
      for (std::size_t k = 0; k < 2; ++k) {
        const auto& d = row.diffs[k];
        REQUIRE(d.tested());
        rates.significant += d.significant ? 1 : 0;
        rates.equivalent += d.equivalent.value_or(false) ? 1 : 0;
        rates.mean_diff[k] += d.diff / experiments;
        ++cells;
      }
    }
  }
  rates.significant /= cells;
  rates.equivalent /= cells;
  for (std::size_t k = 0; k < 2; ++k) rates.seed_sd[k] = std::sqrt(within_ss[k] / within_df);
  return rates;
}

}  // namespace

TEST_CASE("verdicts: with no true difference, at most about 5% of Δ cells are significant", "[report][simulation]") {
  for (const int seeds : {2, 3}) {
    Truth null;
    null.seeds = seeds;
    const Rates r = simulate(null, 300, static_cast<std::uint32_t>(100 + seeds));
    INFO(seeds << " seeds per arm: " << 100 * r.significant << "% of 600 Δ cells significant");
    // 5% plus two binomial standard errors of 600 cells (0.9%).
    CHECK(r.significant <= 0.068);
  }
}

TEST_CASE("verdicts: a true difference of 4 seed standard deviations is found with 3 seeds per arm",
          "[report][simulation]") {
  Truth truth;
  truth.seeds = 3;
  // 4.4 share SDs: with the run-by-image noise, about 4 SDs of the runs' scores (checked below).
  truth.effect = 4.4 * truth.seed_sd;
  const Rates r = simulate(truth, 200, 7);
  for (std::size_t k = 0; k < 2; ++k) {
    // The premise: the simulated difference is about 4 standard deviations of the runs' scores.
    INFO("metric " << k << ": mean difference " << r.mean_diff[k] << ", seed sd " << r.seed_sd[k] << " ("
                   << r.mean_diff[k] / r.seed_sd[k] << " sd)");
    CHECK(r.mean_diff[k] / r.seed_sd[k] > 3.8);
    CHECK(r.mean_diff[k] / r.seed_sd[k] < 4.3);
  }
  INFO(100 * r.significant << "% of 400 Δ cells significant");
  CHECK(r.significant > 0.6);
}

TEST_CASE("verdicts: with no true difference and a wide margin, equivalence is found", "[report][simulation]") {
  Truth null;
  null.seeds = 3;
  Margins wide;
  wide.all = 6 * null.seed_sd;  // 6 seed SDs in mean IoU; about 5 in BF
  const Rates r = simulate(null, 200, 11, wide);
  INFO(100 * r.equivalent << "% of 400 Δ cells equivalent, " << 100 * r.significant << "% significant");
  CHECK(r.equivalent > 0.8);
  CHECK(r.significant <= 0.07);
  // A margin below the noise: equivalence can rarely be shown.
  Margins narrow;
  narrow.all = 0.25 * null.seed_sd;
  CHECK(simulate(null, 50, 13, narrow).equivalent < 0.1);
}
