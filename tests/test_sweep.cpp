// Tests of src/sweep and `fcnlab sweep`: grid expansion, union and dedup, multirun parsing,
// skip/resume states, sharding, and an end-to-end toy sweep run twice.
#include <catch2/catch.hpp>
#include <set>

#include "config/loader.h"
#include "core/error.h"
#include "helpers.h"
#include "results/run_file.h"
#include "sweep/launcher.h"
#include "sweep/sweep.h"

using namespace fcnlab;
using Catch::Matchers::Contains;
using fcnlab::test::run_fcnlab;
using fcnlab::test::TempDir;
using fcnlab::test::write_file;

TEST_CASE("split_values splits at top-level commas only", "[sweep]") {
  CHECK(split_values("32,16,8") == std::vector<std::string>{"32", "16", "8"});
  CHECK(split_values("[0.5,2.0],[1.0,1.0]") == std::vector<std::string>{"[0.5,2.0]", "[1.0,1.0]"});
  CHECK(split_values("\"a,b\",c") == std::vector<std::string>{"\"a,b\"", "c"});
  CHECK(split_values("ce+dice") == std::vector<std::string>{"ce+dice"});
}

TEST_CASE("grids expand as cartesian products, unite, and dedup by config hash", "[sweep]") {
  TempDir dir;
  write_file(dir / "configs/base.toml", "[model]\nwidth = 0.25\n");
  write_file(dir / "exp/abl.toml",
             "base = \"../configs/base.toml\"\nseeds = [0, 1]\n"
             "[set]\noptim.iterations = 7\n"
             "[[grid]]\nmodel.skip = [32, 8]\nmodel.fusion = [\"sum\", \"concat\"]\n"
             "[[grid]]\nmodel.skip = 8\nmodel.fusion = \"sum\"\nloss.name = [\"ce\", \"dice\"]\n");
  const SweepSpec s = load_sweep_file(dir / "exp/abl.toml", {"run.results_dir=" + (dir / "res").string()});
  // grid 1: 2 x 2 x 2 seeds = 8; grid 2: 2 losses x 2 seeds = 4, of which (8, sum, ce) x 2 duplicate grid 1.
  REQUIRE(s.runs.size() == 10);
  CHECK(s.name == "abl");
  std::set<std::string> hashes;
  for (const auto& r : s.runs) {
    hashes.insert(r.hash);
    CHECK(r.config.model.width == 0.25);    // base applied
    CHECK(r.config.optim.iterations == 7);  // [set] applied
    CHECK(r.config.run.experiment == "abl");
    CHECK(r.paths.result_file.parent_path() == dir / "res/abl");
  }
  CHECK(hashes.size() == 10);
  CHECK(s.axis_keys == std::vector<std::string>{"loss.name", "model.fusion", "model.skip", "run.seed"});
  CHECK(s.runs[0].axes.size() == 4);

  // Command-line overrides apply to every run; commas give several values.
  const SweepSpec t = load_sweep_file(dir / "exp/abl.toml", {"optim.iterations=3", "run.seed=5"});
  for (const auto& r : t.runs) {
    CHECK(r.config.optim.iterations == 3);
    CHECK(r.config.run.seed == 5);
  }
  CHECK(t.runs.size() == 5);
}

TEST_CASE("the shipped paper sweep trains each net as long as its preset", "[sweep]") {
  const SweepSpec s = load_sweep_file(fcnlab::test::source_dir() / "experiments/voc_paper.toml", {});
  REQUIRE(s.runs.size() == 3);
  for (const auto& r : s.runs) {
    INFO(to_string(r.config.model.skip));
    const char* preset = r.config.model.skip == Skip::s32   ? "fcn32s.toml"
                         : r.config.model.skip == Skip::s16 ? "fcn16s.toml"
                                                            : "fcn8s.toml";
    const Config p = load_config({fcnlab::test::source_dir() / "configs" / preset}, {});
    CHECK(r.config.optim.iterations == p.optim.iterations);
    CHECK(r.config.optim.lr == p.optim.lr);
  }
}

TEST_CASE("sweep-file errors name the file, line and key", "[sweep]") {
  TempDir dir;
  write_file(dir / "bad.toml", "[[grid]]\nmodel.skp = [32, 8]\n");
  CHECK_THROWS_WITH(load_sweep_file(dir / "bad.toml", {}),
                    Contains("bad.toml:2") && Contains("unknown key 'model.skp'") && Contains("model.skip"));
  write_file(dir / "bad2.toml", "[[grid]]\nmodel.skip = [32, 7]\n");
  CHECK_THROWS_WITH(load_sweep_file(dir / "bad2.toml", {}), Contains("model.skip") && Contains("32 | 16 | 8 | 4"));
  write_file(dir / "bad3.toml", "grids = 3\n");
  CHECK_THROWS_WITH(load_sweep_file(dir / "bad3.toml", {}), Contains("unknown sweep-file key 'grids'"));
  CHECK_THROWS_AS(load_sweep_file(dir / "none.toml", {}), ConfigError);
  write_file(dir / "bad4.toml", "[[grid]]\nmodel.skip = [32, 8]\nrun.threads = [1, 2]\n");
  CHECK_THROWS_WITH(load_sweep_file(dir / "bad4.toml", {}),
                    Contains("bad4.toml:3") && Contains("run.threads cannot be a sweep axis"));
}

TEST_CASE("command-line multirun: product of comma lists, adhoc name from the spec", "[sweep]") {
  const SweepSpec s = make_multirun({}, {"model.skip=32,16,8", "loss.name=ce,dice", "optim.lr=0.01"}, "");
  CHECK(s.runs.size() == 6);
  CHECK(s.name.rfind("adhoc-", 0) == 0);
  CHECK(s.name.size() == 14);
  CHECK(make_multirun({}, {"model.skip=32,16,8", "loss.name=ce,dice", "optim.lr=0.01"}, "").name == s.name);
  CHECK(make_multirun({}, {"model.skip=32,16"}, "").name != s.name);
  CHECK(make_multirun({}, {"model.skip=32,16"}, "mine").name == "mine");
  for (const auto& r : s.runs) CHECK(r.config.optim.lr == 0.01);
  CHECK(s.axis_keys == std::vector<std::string>{"loss.name", "model.skip"});
  CHECK_THROWS_WITH(make_multirun({}, {"model.skipp=32,16"}, ""), Contains("did you mean model.skip?"));
  // A key left out of the run id would collapse to one run: an error, unless it has one value.
  CHECK_THROWS_WITH(
      make_multirun({}, {"model.skip=32,8", "optim.fuse_conv_relu=false,true"}, ""),
      Contains("optim.fuse_conv_relu cannot be a sweep axis") && Contains("2 values would all be one run"));
  CHECK(make_multirun({}, {"model.skip=32,8", "run.threads=1"}, "").runs.size() == 2);
}

TEST_CASE("run states: a finished file is done, a checkpoint is partial", "[sweep]") {
  TempDir dir;
  const SweepSpec s = make_multirun({}, {"model.skip=32,16,8", "run.results_dir=" + dir.path().string()}, "st");
  CHECK(run_state(s.runs[0]).state == RunState::todo);
  {
    RunFileWriter w(s.runs[0].paths.result_file);
    RunInfo i;
    i.status = RunStatus::finished;
    w.write_info(i);
    w.commit();
  }
  CHECK(run_state(s.runs[0]).state == RunState::done);
  CHECK(run_state(s.runs[0]).detail == "finished");
  CHECK(run_state(s.runs[0]).result == RunStatus::finished);
  write_file(s.runs[1].paths.work_dir / "ckpt-000000200.pt", "x");
  CHECK(run_state(s.runs[1]).state == RunState::partial);
  CHECK_THAT(run_state(s.runs[1]).detail, Contains("200"));
  CHECK_FALSE(run_state(s.runs[1]).result);
  CHECK(run_state(s.runs[2]).state == RunState::todo);
}

TEST_CASE("a run's file names: the ones the trainer, the sweep and older runs' dirs use", "[sweep]") {
  const SweepSpec s = make_multirun({}, {"run.results_dir=/r"}, "names");
  const RunPaths& p = s.runs[0].paths;
  const std::filesystem::path w = "/r/names/.work/" + p.run_id;
  CHECK(p.work_dir == w);
  CHECK(p.result_file == "/r/names/" + p.run_id + ".h5");
  CHECK(p.result_part_file() == "/r/names/" + p.run_id + ".h5.part");
  CHECK(p.lock_file() == w / "lock");
  CHECK(p.train_log() == w / "train.log");
  CHECK(p.stdout_log() == w / "stdout.log");
  CHECK(p.config_file() == w / "config.toml");
  CHECK(p.final_weights() == w / "model-final.pt");
  CHECK(p.checkpoint(200) == w / "ckpt-000000200.pt");
  CHECK(checkpoint_iteration(p.checkpoint(1234567890)) == 1234567890);
  CHECK_FALSE(checkpoint_iteration(w / ".ckpt-000000200.pt.tmp"));
  CHECK_FALSE(checkpoint_iteration(w / "ckpt-.pt"));
  CHECK(run_paths(s.runs[0].config, std::string(kRerunSubdir)).experiment_dir == "/r/names/reruns");
  const std::filesystem::path slurm = slurm_dir_of("/r/names");
  CHECK(slurm == "/r/names/slurm");
  CHECK(slurm_log_pattern(slurm) == "/r/names/slurm/%A_%a.log");
  CHECK(slurm_jobs_file(slurm) == "/r/names/slurm/jobs.tsv");
  CHECK(sbatch_script_file(slurm, "20261207-060000") == "/r/names/slurm/sweep-20261207-060000.sbatch");
  CHECK(sbatch_script_file(slurm, "20261207-060000", 2) == "/r/names/slurm/sweep-20261207-060000-2.sbatch");
}

TEST_CASE("shards partition the runs: every run exactly once", "[sweep]") {
  for (std::size_t runs : {0u, 1u, 7u, 12u}) {
    for (int n : {1, 2, 3, 5}) {
      std::vector<int> seen(runs, 0);
      for (int i = 0; i < n; ++i)
        for (auto k : shard_indices(runs, i, n)) ++seen[k];
      for (auto c : seen) CHECK(c == 1);
    }
  }
  CHECK_THROWS_AS(shard_indices(5, 3, 3), OptionError);
}

TEST_CASE("a 4-run toy sweep runs, and run again trains nothing", "[sweep][e2e]") {
  TempDir dir;
  const auto toy = dir / "toy";
  REQUIRE(run_fcnlab("make-toy --out " + toy.string() + " --train 32 --val 8").exit_code == 0);
  const std::string args = "sweep --config " + (fcnlab::test::source_dir() / "configs/toy.toml").string() +
                           " --name e2e model.skip=32,8 model.fusion=sum,concat optim.iterations=12 eval.every=0 "
                           "run.threads=1 data.root=" +
                           toy.string() + " run.results_dir=" + (dir / "res").string();
  const auto dry = run_fcnlab(args + " --dry-run");
  CHECK(dry.exit_code == 0);
  CHECK_THAT(dry.out, Contains("4 runs") && Contains("todo"));
  const auto first = run_fcnlab(args);
  INFO(first.out);
  REQUIRE(first.exit_code == 0);
  CHECK_THAT(first.out, Contains("4 trained now, 0 already done"));
  int files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir / "res/e2e"))
    if (e.path().extension() == ".h5") {
      ++files;
      CHECK(RunFileReader(e.path()).info().status == RunStatus::finished);
    }
  CHECK(files == 4);
  const auto second = run_fcnlab(args);
  CHECK(second.exit_code == 0);
  CHECK_THAT(second.out, Contains("0 trained now, 4 already done"));
  const auto dry2 = run_fcnlab(args + " --dry-run");
  CHECK_THAT(dry2.out, Contains("done") && !Contains("todo"));

  // A run that another process ends between this sweep's check and its child's start counts as
  // ended there, not as trained here. The race made deterministic: the child is started through a
  // wrapper that first puts the run's result file (moved away before) in place.
  const SweepSpec spec =
      make_multirun({fcnlab::test::source_dir() / "configs/toy.toml"},
                    {"model.skip=32,8", "model.fusion=sum,concat", "optim.iterations=12", "eval.every=0",
                     "run.threads=1", "data.root=" + toy.string(), "run.results_dir=" + (dir / "res").string()},
                    "e2e");
  REQUIRE(spec.runs.size() == 4);
  const auto result = spec.runs[0].paths.result_file;
  std::filesystem::rename(result, dir / "ended-elsewhere.h5");
  const auto wrapper = dir / "train-after-another.sh";
  fcnlab::test::write_file(wrapper, "#!/bin/sh\ncp '" + (dir / "ended-elsewhere.h5").string() + "' '" +
                                        result.string() + "' && exec '" FCNLAB_EXE "' \"$@\"\n");
  std::filesystem::permissions(wrapper, std::filesystem::perms::owner_exec, std::filesystem::perm_options::add);
  LaunchOptions launch;
  launch.exe = wrapper;
  const SweepOutcome raced = run_local(spec, {0}, launch);
  CHECK(raced.trained == 0);
  CHECK(raced.elsewhere == std::vector<std::size_t>{0});
  CHECK(raced.failed.empty());
  CHECK(RunFileReader(result).info().status == RunStatus::finished);
}

TEST_CASE("a [decide] section: seeds 0..max_seeds-1 of every configuration, and errors that name the key", "[sweep]") {
  TempDir dir;
  const std::string head =
      "[set]\noptim.iterations = 7\n[[grid]]\nmodel.skip = [32, 8]\n[[grid]]\nmodel.skip = 8\nloss.name = \"dice\"\n";
  write_file(dir / "d.toml", head +
                                 "[decide]\nvs = [\"model.skip=32\", \"loss.name=ce\"]\nmetrics = \"mean_iou\"\n"
                                 "margin = { mean_iou = 0.01 }\nmin_seeds = 2\nmax_seeds = 5\nseed_step = 2\n");
  const SweepSpec s = load_sweep_file(dir / "d.toml", {});
  REQUIRE(s.decide.has_value());
  CHECK(s.decide->seed_counts() == std::vector<int>{2, 4, 5});
  CHECK(s.decide->margins.of("mean_iou") == 0.01);
  REQUIRE(s.runs.size() == 15);  // 3 configurations x 5 seeds
  std::vector<std::pair<std::size_t, int>> slot;
  const DecideDesign design = sweep_design(s, &slot);
  CHECK(design.keys == std::vector<std::string>{"loss.name", "model.skip"});
  CHECK(design.arms.size() == 3);
  std::set<std::pair<std::size_t, int>> slots(slot.begin(), slot.end());
  CHECK(slots.size() == 15);
  CHECK(plan_comparisons(*s.decide, design).size() == 2);  // 8 vs 32 (ce), dice vs ce (skip 8)
  // With no result files: round 1 is seeds 0 and 1 of all three configurations.
  write_file(dir / "d.toml", head + "[decide]\nvs = \"model.skip=32\"\nmetrics = [\"mean_iou\"]\nmax_seeds = 3\n");
  const SweepSpec r = load_sweep_file(dir / "d.toml", {"run.results_dir=" + (dir / "res").string()});
  const SweepDecision sd = decide_sweep(r);
  CHECK(sd.decision.round == 1);
  CHECK_FALSE(sd.decision.finished);
  CHECK(sd.next_runs().size() == 4);  // the dice configuration is in no comparison of this vs
  for (const auto i : sd.next_runs()) CHECK(r.runs[i].config.run.seed < 2);

  const auto error_of = [&](const std::string& decide, const std::vector<std::string>& overrides = {}) {
    write_file(dir / "e.toml", head + decide);
    try {
      load_sweep_file(dir / "e.toml", overrides);
    } catch (const ConfigError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  const std::string ok = "vs = \"model.skip=32\"\nmetrics = \"mean_iou\"\nmax_seeds = 4\n";
  CHECK_THAT(error_of("[decide]\nvs = \"model.skip=32\"\nmetrics = \"mean_iou\"\n"), Contains("needs max_seeds"));
  CHECK_THAT(error_of("[decide]\n" + ok + "min_seed = 3\n"),
             Contains("e.toml") && Contains("min_seed") && Contains("did you mean min_seeds?"));
  CHECK_THAT(error_of("[decide]\n" + ok + "min_seeds = 1\n"), Contains("min_seeds"));
  CHECK_THAT(error_of("[decide]\n" + ok + "alpha = \"x\"\n"), Contains("alpha must be a number"));
  CHECK_THAT(error_of("[decide]\n" + ok + "margin = -1\n"), Contains("margin must be > 0"));
  CHECK_THAT(error_of("[decide]\nvs = \"model.skip=16\"\nmetrics = \"mean_iou\"\nmax_seeds = 4\n"),
             Contains("model.skip = 16") && Contains("32, 8"));
  CHECK_THAT(error_of("[decide]\nvs = \"model.fusion=sum\"\nmetrics = \"mean_iou\"\nmax_seeds = 4\n"),
             Contains("not a key the grid varies"));
  CHECK_THAT(error_of("[decide]\n" + ok, {"run.seed=0,1"}), Contains("run.seed") && Contains("[decide]"));
  write_file(dir / "f.toml", "seeds = [0, 1]\n" + head + "[decide]\n" + ok);
  CHECK_THROWS_WITH(load_sweep_file(dir / "f.toml", {}), Contains("seeds cannot be given with [decide]"));
}
