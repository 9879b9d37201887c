#pragma once
// Adaptive seeds: a sweep file's [decide] section names comparisons (`vs = ["model.skip=32"]`,
// each compared as `report --vs` does, within equal other keys), metrics and equivalence margins.
// The sweep runs every configuration of the grid (an "arm") with min_seeds seeds, tests every
// comparison, and adds seed_step seeds to the arms of the comparisons still undecided, until
// each is decided (significant or equivalent) or has max_seeds.
//
// The error rate across looks: the comparisons are tested at each of the K planned looks
// (seed counts min_seeds, min_seeds + seed_step, ..., max_seeds), and stopping at the first
// significant look would inflate false positives. alpha is split evenly over the K looks
// (Bonferroni over looks: each look tests at alpha / K), and within a look Holm's procedure runs
// over the cells (comparison x metric) tested there. The union bound over looks holds whatever
// the correlation between looks (they share seeds); group-sequential boundaries (Pocock,
// O'Brien-Fleming) assume z statistics with independent increments and known variance, which
// t tests on 2 to 10 seeds with an estimated seed variance and a shared image-sampling variance
// are not. The price is a stricter level at each look; the tests in tests/test_decide.cpp give
// the false-positive rate and power this buys.
//
// Everything is recomputed from the run files: the looks are replayed with the first n seeds of
// each arm, a cell's verdict is fixed at the look that decided it (later seeds of an arm shared
// with an open comparison do not change it), and the next round is what the first incomplete look
// lacks. So a killed sweep, --jobs, --shard and concurrent sweeps need nothing remembered.
#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/enum_names.h"
#include "report/report.h"

namespace fcnlab {

struct SweepSpec;

struct DecidePlan {
  std::vector<std::string> vs;       // "key=value" each: compare every arm against the arm with key=value
  std::vector<std::string> metrics;  // as `report --metrics`
  report::Margins margins;           // equivalence margins (none: only "significant" can decide)
  double alpha = 0.05;               // over the whole sequence of looks and all cells
  int min_seeds = 2, max_seeds = 0, seed_step = 1;
  int resamples = 1000;  // image bootstrap resamples, as `report`
  // Each arm's seed variance from its own runs (Welch; false), or pooled over the configurations
  // tested at a look (true: more degrees of freedom when few seeds, if the seed noise is alike).
  bool pooled_seed_variance = false;

  int looks() const;                     // planned looks: seed counts min, min + step, ..., max
  int seeds_at(int look) const;          // seeds per arm at look 1..looks()
  double look_alpha() const;             // alpha / looks()
  std::vector<int> seed_counts() const;  // seeds_at(1..looks())
};

// ConfigError naming `where` and the field unless the plan is well formed (2 <= min_seeds <=
// max_seeds, seed_step >= 1, 0 < alpha < 1, at least one vs and one metric, each vs key=value).
void validate(const DecidePlan& plan, const std::string& where);

// The arms: the configurations of the grid, told apart by the values of `keys` (the sweep's axes
// other than run.seed), as display values (report::display_value).
struct DecideDesign {
  std::vector<std::string> keys;
  std::vector<std::vector<std::string>> arms;
};

// What one (arm, seed) run's files say: ended with a usable result (`run`), or ended without one
// (diverged: `run` is null). Runs without a result file are not observations.
struct Observation {
  std::size_t arm = 0;
  int seed = 0;
  const report::Run* run = nullptr;
};

enum class Verdict { undecided, significant, equivalent };
template <>
struct EnumNames<Verdict> {  // to_string(Verdict): the word the decide table prints
  static constexpr std::array<std::pair<Verdict, std::string_view>, 3> table{
      {{Verdict::undecided, "undecided"}, {Verdict::significant, "significant"}, {Verdict::equivalent, "equivalent"}}};
};

struct CellDecision {
  std::string metric;
  Verdict verdict = Verdict::undecided;
  int look = 0;                // the look that decided it, or the last look that tested it (0: none yet)
  int seeds = 0;               // seeds per arm at that look
  int runs_a = 0, runs_b = 0;  // finished runs of the arm and of the reference used at that look
  report::DiffCell cell;       // Δ, its interval at 1 - alpha/K, p and Holm-adjusted p of that look
};

struct Comparison {
  std::size_t vs = 0;               // index in DecidePlan::vs
  std::size_t arm = 0;              // the compared arm
  std::size_t reference = 0;        // the arm with vs's key = vs's value and the same other keys
  std::vector<CellDecision> cells;  // one per metric
  bool decided() const;
};

struct Decision {
  int looks = 0;
  int round = 0;  // the look whose runs are awaited (1-based); looks() + 1 once finished
  int seeds = 0;  // seeds per arm that round asks of the open comparisons' arms
  bool finished = false;
  std::vector<Comparison> comparisons;
  std::vector<std::pair<std::size_t, int>> missing;   // (arm, seed) the round still lacks, sorted
  std::vector<std::pair<std::size_t, int>> unusable;  // (arm, seed) ended without a result, left out
};

// The comparisons of the plan over the design: every arm whose value of a vs key differs from the
// vs value and whose other keys equal those of an arm that has it. ConfigError ("[decide] vs")
// for a key that is not one of the design's keys, a value no arm has, or a vs that forms no pair.
std::vector<Comparison> plan_comparisons(const DecidePlan& plan, const DecideDesign& design);

// Replays the looks over the observations (seeds 0, 1, ... of each arm) and returns the verdicts
// and the round in progress. Deterministic: the same observations give the same decision.
// ConfigError ("[decide] metrics") when a finished run lacks a metric.
Decision decide(const DecidePlan& plan, const DecideDesign& design, const std::vector<Observation>& observed);

// The same for a sweep: its arms, and its run files read now. A sweep with a [decide] section
// has the runs arm x seed 0..max_seeds-1.
struct SweepDecision {
  DecideDesign design;
  std::vector<std::pair<std::size_t, int>> slot;  // per run index: (arm, seed)
  Decision decision;
  std::size_t ended = 0;                       // runs of the design with a result file (the compute spent)
  std::vector<std::size_t> next_runs() const;  // run indices of decision.missing
};
DecideDesign sweep_design(const SweepSpec& spec, std::vector<std::pair<std::size_t, int>>* slot = nullptr);
SweepDecision decide_sweep(const SweepSpec& spec);

// Text: the plan, the round, one line per comparison and metric, and (finished) the runs spent
// against the fixed design that runs max_seeds seeds of every arm.
std::string render_decision(const DecidePlan& plan, const SweepDecision& d);

}  // namespace fcnlab
