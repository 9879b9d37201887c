// Adaptive seeds (sweep/decide.h): the plan's looks, the comparisons a design forms, the next
// runs as a function of the run files, and the whole sequential procedure checked by simulation
// against a known truth: with no true difference it declares one in about alpha of experiments or
// fewer (and testing every look at alpha would not), with a clear effect it stops at min_seeds,
// with a small effect it adds seeds and finds it more often than the fixed min_seeds design.
#include <algorithm>
#include <catch2/catch.hpp>
#include <map>
#include <random>
#include <set>

#include "core/error.h"
#include "simulated_runs.h"
#include "sweep/decide.h"

using namespace fcnlab;
using fcnlab::testing::Truth;

namespace {

DecidePlan skip_plan(int min_seeds, int max_seeds, int step) {
  DecidePlan plan;
  plan.vs = {"model.skip=32"};
  plan.metrics = {"mean_iou", "bf_score"};
  plan.min_seeds = min_seeds;
  plan.max_seeds = max_seeds;
  plan.seed_step = step;
  plan.resamples = 200;
  return plan;
}

// One simulated experiment: arm k is model.skip = skips[k], `effects[k]` above the first arm;
// every arm has max_seeds finished runs (the procedure reads only those it asks for).
struct Experiment {
  DecideDesign design;
  std::vector<report::Run> runs;
  std::vector<Observation> observed;
};

const std::vector<std::string> kSkips{"32", "16", "8"};

Experiment simulate(const Truth& truth, const std::vector<double>& effects, int max_seeds, std::mt19937& rng) {
  Experiment e;
  e.design.keys = {"model.skip"};
  const int arms = static_cast<int>(effects.size());
  const auto images = fcnlab::testing::simulated_images(truth, arms, rng);
  e.runs.reserve(effects.size() * static_cast<std::size_t>(max_seeds));
  for (int a = 0; a < arms; ++a) {
    const std::string& skip = kSkips[static_cast<std::size_t>(a)];
    e.design.arms.push_back({skip});
    for (int s = 0; s < max_seeds; ++s)
      e.runs.push_back(fcnlab::testing::simulated_run(truth, images, a, effects[static_cast<std::size_t>(a)],
                                                      {{"model.skip", skip}}, s, rng));
  }
  for (const auto& r : e.runs)
    e.observed.push_back(
        {static_cast<std::size_t>(std::find(kSkips.begin(), kSkips.end(), r.config.at("model.skip")) - kSkips.begin()),
         static_cast<int>(r.info.seed), &r});
  return e;
}

bool any_significant(const Comparison& c) {
  return std::any_of(c.cells.begin(), c.cells.end(),
                     [](const CellDecision& cell) { return cell.verdict == Verdict::significant; });
}

// The seeds the procedure ran in each arm: the most any of its comparisons asked for.
std::map<std::size_t, int> seeds_spent(const Decision& d) {
  std::map<std::size_t, int> spent;
  for (const auto& c : d.comparisons)
    for (const auto& cell : c.cells)
      for (const auto arm : {c.arm, c.reference}) spent[arm] = std::max(spent[arm], cell.seeds);
  return spent;
}

struct Rates {
  double any_significant = 0;  // experiments where some comparison of `watched` was declared significant
  double stopped_at_min = 0;   // experiments where every comparison was decided at look 1
  double mean_runs = 0;        // runs spent per experiment
};

Rates rates(const DecidePlan& plan, const Truth& truth, const std::vector<double>& effects,
            const std::set<std::size_t>& watched_arms, int experiments, std::uint32_t seed) {
  std::mt19937 rng(seed);
  Rates r;
  for (int e = 0; e < experiments; ++e) {
    const Experiment ex = simulate(truth, effects, plan.max_seeds, rng);
    const Decision d = decide(plan, ex.design, ex.observed);
    REQUIRE(d.finished);
    bool sig = false, all_at_min = true;
    for (const auto& c : d.comparisons) {
      if (watched_arms.count(c.arm)) sig = sig || any_significant(c);
      for (const auto& cell : c.cells) all_at_min = all_at_min && cell.look == 1 && cell.verdict != Verdict::undecided;
    }
    r.any_significant += sig ? 1 : 0;
    r.stopped_at_min += all_at_min ? 1 : 0;
    for (const auto& [arm, n] : seeds_spent(d)) r.mean_runs += n;
  }
  r.any_significant /= experiments;
  r.stopped_at_min /= experiments;
  r.mean_runs /= experiments;
  return r;
}

}  // namespace

TEST_CASE("decide: the planned looks and their seed counts", "[decide]") {
  CHECK(skip_plan(2, 6, 2).seed_counts() == std::vector<int>{2, 4, 6});
  CHECK(skip_plan(2, 7, 2).seed_counts() == std::vector<int>{2, 4, 6, 7});  // the last look is max_seeds
  CHECK(skip_plan(3, 3, 1).seed_counts() == std::vector<int>{3});
  CHECK(skip_plan(2, 8, 2).look_alpha() == Approx(0.05 / 4));
  CHECK_NOTHROW(validate(skip_plan(2, 6, 2), "x.toml"));
  CHECK_THROWS_WITH(validate(skip_plan(1, 6, 2), "x.toml"), Catch::Contains("min_seeds"));
  CHECK_THROWS_WITH(validate(skip_plan(4, 3, 1), "x.toml"), Catch::Contains("max_seeds"));
  CHECK_THROWS_WITH(validate(skip_plan(2, 6, 0), "x.toml"), Catch::Contains("seed_step"));
  DecidePlan typo = skip_plan(2, 6, 2);
  typo.vs = {"model.skp=32"};
  CHECK_THROWS_WITH(validate(typo, "x.toml"), Catch::Contains("model.skp") && Catch::Contains("model.skip"));
  DecidePlan margin = skip_plan(2, 6, 2);
  margin.margins.per_metric["pixel_acc"] = 0.01;
  CHECK_THROWS_WITH(validate(margin, "x.toml"), Catch::Contains("pixel_acc"));
}

TEST_CASE("decide: comparisons pair each arm with the reference of equal other keys", "[decide]") {
  DecideDesign design;
  design.keys = {"model.fusion", "model.skip"};
  // skip 32/16/8 with sum; concat with skip 8 only (the toy ablation's shape).
  design.arms = {{"sum", "32"}, {"sum", "16"}, {"sum", "8"}, {"concat", "8"}};
  DecidePlan plan = skip_plan(2, 4, 1);
  plan.vs = {"model.skip=32", "model.fusion=sum"};
  const auto cs = plan_comparisons(plan, design);
  REQUIRE(cs.size() == 3);
  CHECK((cs[0].vs == 0 && cs[0].arm == 1 && cs[0].reference == 0));  // sum 16 vs sum 32
  CHECK((cs[1].vs == 0 && cs[1].arm == 2 && cs[1].reference == 0));  // sum 8 vs sum 32
  CHECK((cs[2].vs == 1 && cs[2].arm == 3 && cs[2].reference == 2));  // concat 8 vs sum 8
  CHECK(cs[0].cells.size() == 2);

  plan.vs = {"model.skip=64"};
  CHECK_THROWS_AS(plan_comparisons(plan, design), ConfigError);
  plan.vs = {"loss.name=ce"};
  CHECK_THROWS_WITH(plan_comparisons(plan, design), Catch::Contains("not a key the grid varies"));
  plan.vs = {"model.fusion=concat"};  // concat exists only at skip 8, and sum 8 pairs with it
  CHECK(plan_comparisons(plan, design).size() == 1);
  design.arms.pop_back();
  design.arms.push_back({"concat", "4"});  // no sum arm at skip 4: nothing pairs
  CHECK_THROWS_WITH(plan_comparisons(plan, design), Catch::Contains("nothing to compare"));
}

TEST_CASE("decide: the next runs follow from the run files, and stepping through them gives the replayed verdicts",
          "[decide]") {
  const DecidePlan plan = skip_plan(2, 6, 2);
  Truth truth;
  truth.base = 0.5;
  truth.seed_sd = 0.01;
  std::mt19937 rng(5);
  // Arm 16 is clearly better than 32; arm 8 equals 32: the first comparison closes at look 1,
  // the second stays open and takes its arms (8 and the shared 32) to 4, then 6 seeds.
  const Experiment ex = simulate(truth, {0.0, 30 * truth.seed_sd, 0.0}, plan.max_seeds, rng);
  std::vector<Observation> have;
  std::vector<std::vector<std::pair<std::size_t, int>>> rounds;
  for (int guard = 0; guard < 10; ++guard) {
    const Decision d = decide(plan, ex.design, have);
    if (d.finished) break;
    REQUIRE_FALSE(d.missing.empty());
    rounds.push_back(d.missing);
    for (const auto& o : ex.observed)
      if (std::binary_search(d.missing.begin(), d.missing.end(), std::make_pair(o.arm, o.seed))) have.push_back(o);
  }
  REQUIRE(rounds.size() >= 2);
  // Round 1: every arm, seeds 0 and 1.
  CHECK(rounds[0] == std::vector<std::pair<std::size_t, int>>{{0, 0}, {0, 1}, {1, 0}, {1, 1}, {2, 0}, {2, 1}});
  // Round 2: seeds 2 and 3 of the open comparison's arms only (16 vs 32 was decided).
  CHECK(rounds[1] == std::vector<std::pair<std::size_t, int>>{{0, 2}, {0, 3}, {2, 2}, {2, 3}});
  const Decision stepped = decide(plan, ex.design, have);
  const Decision replayed = decide(plan, ex.design, ex.observed);  // every seed present: the same verdicts
  REQUIRE(stepped.finished);
  REQUIRE(replayed.finished);
  for (std::size_t c = 0; c < stepped.comparisons.size(); ++c)
    for (std::size_t k = 0; k < 2; ++k) {
      const auto &a = stepped.comparisons[c].cells[k], &b = replayed.comparisons[c].cells[k];
      CHECK(a.verdict == b.verdict);
      CHECK(a.look == b.look);
      CHECK(a.cell.p_adjusted == b.cell.p_adjusted);
    }
  CHECK(stepped.comparisons[0].cells[0].verdict == Verdict::significant);
  CHECK(stepped.comparisons[0].cells[0].look == 1);
  CHECK(stepped.comparisons[1].cells[0].seeds > 2);
  // A run that ended without a result (diverged) is not asked for again; its arm has one run fewer.
  std::vector<Observation> diverged = have;
  for (auto& o : diverged)
    if (o.arm == 2 && o.seed == 1) o.run = nullptr;
  const Decision dd = decide(plan, ex.design, diverged);
  CHECK(dd.finished);
  CHECK(dd.unusable == std::vector<std::pair<std::size_t, int>>{{2, 1}});
  CHECK(dd.comparisons[1].cells[0].runs_a == dd.comparisons[1].cells[0].seeds - 1);
  // Every run of the reference diverged: neither comparison can be tested, and both run to
  // max_seeds, undecided (the table of a look is not asked for a reference it does not have).
  std::vector<Observation> lost = ex.observed;
  for (auto& o : lost)
    if (o.arm == 0) o.run = nullptr;
  const Decision dl = decide(plan, ex.design, lost);
  CHECK(dl.finished);
  for (const auto& c : dl.comparisons)
    for (const auto& cell : c.cells) {
      CHECK(cell.verdict == Verdict::undecided);
      CHECK(cell.seeds == plan.max_seeds);
      CHECK(cell.cell.no_test == "no finished run");
    }
}

TEST_CASE("decide: with no true difference, the whole sequence declares one in at most about alpha of experiments",
          "[decide][simulation]") {
  for (const bool pooled : {false, true}) {
    // 2, 4, 6, 8 seeds: 4 looks, each at 0.0125. Two metrics, Holm within a look.
    DecidePlan plan = skip_plan(2, 8, 2);
    plan.pooled_seed_variance = pooled;
    Truth truth;
    const Rates split = rates(plan, truth, {0.0, 0.0}, {1}, 400, 21);
    // Looking again at the full alpha after each round (what the split prevents): the same
    // experiments, each look at 0.05.
    DecidePlan naive = plan;
    naive.alpha = plan.alpha * plan.looks();
    const Rates every_look = rates(naive, truth, {0.0, 0.0}, {1}, 400, 21);
    INFO((pooled ? "pooled" : "Welch") << ", no effect, 400 experiments: " << 100 * split.any_significant
                                       << "% declared a difference (alpha split over " << plan.looks() << " looks), "
                                       << 100 * every_look.any_significant << "% when every look tests at alpha; "
                                       << split.mean_runs << " runs on average");
    // alpha plus two binomial standard errors of 400 experiments (1.1%).
    CHECK(split.any_significant <= 0.072);
    CHECK(every_look.any_significant > split.any_significant);

    // Three arms: 16 clearly better than 32 (decided and closed at look 1), 8 equal to 32. The
    // closed comparison leaves the look's family; the null one must still hold alpha.
    Truth centred = truth;
    centred.base = 0.5;
    const Rates mixed = rates(plan, centred, {0.0, 10 * truth.seed_sd, 0.0}, {2}, 300, 23);
    INFO("one clear and one null comparison: " << 100 * mixed.any_significant << "% of 300 declared the null one");
    CHECK(mixed.any_significant <= 0.076);
  }
}

TEST_CASE("decide: a clear effect stops at min_seeds", "[decide][simulation]") {
  // Shares around 0.5, so that the better arm's scores stay clear of 1 (clamped scores would lose
  // their seed variance).
  Truth truth;
  truth.base = 0.5;
  truth.seed_sd = 0.01;
  const std::vector<double> clear{0.0, 25 * truth.seed_sd};
  // Each arm's own seed variance (Welch) from 3 seeds: 2 degrees of freedom each.
  const Rates welch = rates(skip_plan(3, 9, 2), truth, clear, {1}, 100, 31);
  INFO("25 seed SDs, min_seeds 3: " << 100 * welch.stopped_at_min << "% stopped at 3 seeds, "
                                    << 100 * welch.any_significant << "% significant, " << welch.mean_runs
                                    << " runs on average of 18");
  CHECK(welch.stopped_at_min >= 0.95);
  CHECK(welch.any_significant == 1.0);
  // With 2 seeds a Welch test has 1 to 2 degrees of freedom; the seed variance pooled over the
  // arms has 2 (and more with more arms).
  DecidePlan pooled = skip_plan(2, 8, 2);
  pooled.pooled_seed_variance = true;
  const Rates two = rates(pooled, truth, clear, {1}, 100, 33);
  INFO("25 seed SDs, min_seeds 2, pooled seed variance: " << 100 * two.stopped_at_min << "% stopped at 2 seeds, "
                                                          << 100 * two.any_significant << "% significant, "
                                                          << two.mean_runs << " runs on average of 16");
  CHECK(two.stopped_at_min >= 0.95);
  CHECK(two.any_significant == 1.0);
  CHECK(two.mean_runs < 4.2);
  // Welch at 2 seeds stops early less often: its first look needs a much larger t.
  const Rates welch2 = rates(skip_plan(2, 8, 2), truth, clear, {1}, 100, 33);
  INFO("25 seed SDs, min_seeds 2, Welch: " << 100 * welch2.stopped_at_min << "% stopped at 2 seeds");
  CHECK(welch2.stopped_at_min >= 0.8);
  CHECK(welch2.any_significant == 1.0);
}

TEST_CASE("decide: a small effect gets more seeds and is found more often than with min_seeds everywhere",
          "[decide][simulation]") {
  const DecidePlan adaptive = skip_plan(2, 8, 2);
  const DecidePlan fixed = skip_plan(2, 2, 1);  // one look at 2 seeds, at the full alpha
  Truth truth;
  const std::vector<double> effects{0.0, 2.5 * truth.seed_sd};
  const Rates a = rates(adaptive, truth, effects, {1}, 200, 41);
  const Rates f = rates(fixed, truth, effects, {1}, 200, 41);
  INFO("2.5 seed SDs, 200 experiments: adaptive found it in "
       << 100 * a.any_significant << "% with " << a.mean_runs
       << " runs on average; 2 seeds fixed: " << 100 * f.any_significant << "%");
  CHECK(a.any_significant > f.any_significant + 0.2);
  CHECK(a.mean_runs > 4);
  CHECK(a.mean_runs < 16);
}

TEST_CASE("decide: with a wide margin and no difference, equivalence closes comparisons early",
          "[decide][simulation]") {
  DecidePlan plan = skip_plan(2, 8, 2);
  Truth truth;
  plan.margins.all = 8 * truth.seed_sd;
  std::mt19937 rng(51);
  int equivalent = 0, significant = 0;
  double runs = 0;
  for (int e = 0; e < 100; ++e) {
    const Experiment ex = simulate(truth, {0.0, 0.0}, plan.max_seeds, rng);
    const Decision d = decide(plan, ex.design, ex.observed);
    const auto& c = d.comparisons.front();
    equivalent += std::all_of(c.cells.begin(), c.cells.end(),
                              [](const CellDecision& x) { return x.verdict == Verdict::equivalent; });
    significant += any_significant(c) ? 1 : 0;
    for (const auto& [arm, n] : seeds_spent(d)) runs += n;
  }
  INFO(equivalent << " of 100 equivalent, " << significant << " significant, " << runs / 100 << " runs on average");
  CHECK(equivalent >= 80);
  CHECK(significant <= 7);
  CHECK(runs / 100 < 12);
}
