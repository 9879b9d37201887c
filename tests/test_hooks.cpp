// Tests of the training hooks (src/train/hooks.h), each on its own with a small TrainState and
// stand-ins for the model's work, and of the loop that calls them.
#include "catch_torch.h"

#include <cmath>
#include <limits>

#include "helpers.h"
#include "results/run_file.h"
#include "train/hooks.h"
#include "train/live_record.h"
#include "train/trainer.h"

using namespace fcnlab;
using Catch::Matchers::Contains;
using fcnlab::test::TempDir;

namespace {

// Drives one hook through the steps first..last as the loop would, the step's loss given by `loss_at`.
template <class LossAt>
void take_steps(HookBase& hook, TrainState& s, std::int64_t first, std::int64_t last, LossAt loss_at) {
  for (std::int64_t it = first; it <= last && s.outcome == TrainOutcome::running; ++it) {
    hook.before_step(s);
    s.saved.iteration = it;
    s.lr = 0.01 * static_cast<double>(it);
    s.loss = torch::tensor(loss_at(it), torch::kFloat32);
    s.sync = hook.needs_sync(s);
    hook.after_step(s);
  }
}

std::vector<std::int64_t> steps_of(const std::vector<TrainPoint>& points) {
  std::vector<std::int64_t> steps;
  for (const auto& p : points) steps.push_back(p.step);
  return steps;
}

std::vector<std::int64_t> steps_of(const std::vector<ValPoint>& points) {
  std::vector<std::int64_t> steps;
  for (const auto& p : points) steps.push_back(p.step);
  return steps;
}

// A real evaluation of one 2x2 image, with its mean IoU depending on `wrong` mispredicted pixels.
EvalResult small_eval(int num_classes, int wrong) {
  SegmentationEvaluator ev(num_classes, BoundaryOptions{});
  const std::vector<std::uint8_t> label{0, 0, 1, 1};
  std::vector<std::uint8_t> pred = label;
  for (int i = 0; i < wrong; ++i) pred[static_cast<std::size_t>(i)] = 1;
  ev.process(pred.data(), label.data(), 2, 2);
  return ev.evaluate();
}

RunPaths paths_in(const TempDir& dir) {
  RunPaths p;
  p.run_id = "toy-run";
  p.experiment_dir = dir.path();
  p.result_file = dir / "toy-run.h5";
  p.work_dir = dir / ".work" / "toy-run";
  std::filesystem::create_directories(p.work_dir);
  return p;
}

}  // namespace

TEST_CASE("the loss hook reads losses back at log points only, and records each step", "[hooks]") {
  LossLogHook hook(/*log_every=*/4, /*images_per_batch=*/2, /*iter_size=*/1, "run");
  TrainState s;
  s.total = 10;
  take_steps(hook, s, 1, 3, [](std::int64_t it) { return static_cast<double>(it); });
  CHECK(s.saved.train.empty());  // nothing read back before the first log point
  take_steps(hook, s, 4, 4, [](std::int64_t it) { return static_cast<double>(it); });
  REQUIRE(steps_of(s.saved.train) == std::vector<std::int64_t>{1, 2, 3, 4});
  CHECK(s.saved.train[2].loss == 3.0);
  CHECK(s.saved.train[2].lr == Approx(0.03));
  s.stop = true;  // a stop makes any step a log point
  take_steps(hook, s, 5, 5, [](std::int64_t) { return 0.5; });
  CHECK(steps_of(s.saved.train).back() == 5);
  s.stop = false;
  take_steps(hook, s, 6, 10, [](std::int64_t) { return 0.25; });  // the last step is a log point
  CHECK(steps_of(s.saved.train).size() == 10);
  CHECK(s.saved.train.back().loss == 0.25);
  CHECK(s.outcome == TrainOutcome::running);
}

TEST_CASE("the loss hook stops on a non-finite loss with status diverged, before that step", "[hooks]") {
  LossLogHook hook(/*log_every=*/4, 2, 1, "run");
  TrainState s;
  s.total = 20;
  const double nan = std::numeric_limits<double>::quiet_NaN();
  take_steps(hook, s, 1, 20, [&](std::int64_t it) { return it == 6 ? nan : 1.0; });
  CHECK(s.outcome == TrainOutcome::diverged);
  CHECK(s.saved.iteration == 5);                                               // resumes from before step 6
  CHECK(steps_of(s.saved.train) == std::vector<std::int64_t>{1, 2, 3, 4, 5});  // noticed at the log point 8
  CHECK_THAT(s.message, Contains("loss became nan at iteration 6"));
}

TEST_CASE("the eval hook evaluates every N steps before the last, and the finished run at its last step", "[hooks]") {
  std::vector<bool> with_examples;
  int calls = 0;
  EvalHook hook(/*every=*/4, [&](Examples* examples, std::vector<std::string>* ids) {
    with_examples.push_back(examples != nullptr && ids != nullptr);
    return small_eval(2, calls++ % 2);
  });
  TrainState s;
  s.total = 12;
  std::vector<std::int64_t> synced;
  for (std::int64_t it = 1; it <= s.total; ++it) {
    s.saved.iteration = it;
    if (hook.needs_sync(s)) synced.push_back(it);
    hook.after_step(s);
  }
  CHECK(synced == std::vector<std::int64_t>{4, 8});
  CHECK(steps_of(s.saved.val) == std::vector<std::int64_t>{4, 8});
  CHECK(s.saved.val[0].mean_iou == 1.0);
  CHECK(s.saved.val[1].mean_iou < 1.0);
  CHECK_FALSE(s.final);
  s.outcome = TrainOutcome::finished;
  hook.after_train(s);
  CHECK(steps_of(s.saved.val) == std::vector<std::int64_t>{4, 8, 12});
  REQUIRE(s.final);
  CHECK(s.final->result.scores.mean_iou == s.saved.val.back().mean_iou);
  CHECK(with_examples == std::vector<bool>{false, false, true});  // example predictions at the end only
}

TEST_CASE("the eval hook does not evaluate a run that did not finish", "[hooks]") {
  int calls = 0;
  EvalHook hook(/*every=*/0, [&](Examples*, std::vector<std::string>*) {
    ++calls;
    return small_eval(2, 0);
  });
  TrainState s;
  s.total = 3;
  s.saved.iteration = 3;
  for (const auto outcome : {TrainOutcome::diverged, TrainOutcome::interrupted}) {
    s.outcome = outcome;
    hook.after_train(s);
  }
  CHECK(calls == 0);
  CHECK(s.saved.val.empty());
}

TEST_CASE("the checkpoint hook writes every N steps before the last, and at a stop, which interrupts the run",
          "[hooks]") {
  std::vector<std::int64_t> written;
  CheckpointHook hook(/*every=*/3, "work", [&](CheckpointState& st) { written.push_back(st.iteration); });
  TrainState s;
  s.total = 9;
  s.wall_before = 100;
  for (std::int64_t it = 1; it <= s.total; ++it) {
    s.saved.iteration = it;
    hook.after_step(s);
  }
  CHECK(written == std::vector<std::int64_t>{3, 6});  // not 9: the run file follows
  CHECK(s.saved.wall_seconds >= 100);
  CHECK(s.outcome == TrainOutcome::running);

  s.saved.iteration = 4;
  s.stop = true;
  CHECK(hook.needs_sync(s));
  hook.after_step(s);
  CHECK(written.back() == 4);
  CHECK(s.outcome == TrainOutcome::interrupted);
  CHECK_THAT(s.message, Contains("stopped at iteration 4/9"));

  // A stop at the last step finishes the run instead.
  TrainState last;
  last.total = 9;
  last.saved.iteration = 9;
  last.stop = true;
  hook.after_step(last);
  CHECK(written.size() == 3);
  CHECK(last.outcome == TrainOutcome::running);
}

TEST_CASE("the result writer hook writes a diverged run's file and drops its checkpoints", "[hooks]") {
  TempDir dir;
  const Config cfg = test::toy_config();
  const RunPaths paths = paths_in(dir);
  test::write_file(paths.work_dir / "ckpt-3.pt", "x");
  bool weights_saved = false;
  ResultWriterHook hook(cfg, RunInfo{}, paths, [&](const std::filesystem::path&) { weights_saved = true; });
  TrainState s;
  s.saved.train = {{1, 0.5, 0.1, 10}, {2, 0.4, 0.1, 10}};
  s.outcome = TrainOutcome::interrupted;
  hook.after_train(s);
  CHECK_FALSE(std::filesystem::exists(paths.result_file));  // resumable: checkpoints kept, no file
  CHECK(std::filesystem::exists(paths.work_dir / "ckpt-3.pt"));

  s.outcome = TrainOutcome::diverged;
  s.message = "loss became nan at iteration 3 (lr 0.1)";
  hook.after_train(s);
  const RunFileReader r(paths.result_file);
  CHECK(r.info().status == RunStatus::diverged);
  CHECK(r.info().message == s.message);
  CHECK(steps_of(r.train()) == std::vector<std::int64_t>{1, 2});
  CHECK_FALSE(r.final());
  CHECK_FALSE(weights_saved);
  CHECK(list_checkpoints(paths.work_dir).empty());
}

TEST_CASE("the result writer hook saves the final weights and writes a finished run's file", "[hooks]") {
  TempDir dir;
  const Config cfg = test::toy_config({"eval.examples=0"});
  const RunPaths paths = paths_in(dir);
  std::filesystem::path weights;
  ResultWriterHook hook(cfg, RunInfo{}, paths, [&](const std::filesystem::path& file) {
    test::write_file(file, "weights");
    weights = file;
  });
  TrainState s;
  s.outcome = TrainOutcome::finished;
  s.final = FinalEvaluation{small_eval(cfg.data.num_classes, 1), {"img0"}, {}};
  s.saved.val = {val_point(5, s.final->result)};
  hook.after_train(s);
  CHECK(weights == paths.final_weights());
  const RunFileReader r(paths.result_file);
  CHECK(r.info().status == RunStatus::finished);
  CHECK(r.info().message.empty());
  REQUIRE(r.final());
  CHECK(steps_of(r.val()) == std::vector<std::int64_t>{5});
  CHECK_FALSE(r.examples());
}

TEST_CASE("the loop reads losses back before every checkpoint, and a stop ends it interrupted", "[hooks]") {
  std::vector<std::size_t> curve_at_save;
  TrainLoop loop(
      [](TrainState& s) {
        s.lr = 0.1;
        s.loss = torch::tensor(1.0 / static_cast<double>(s.saved.iteration + 1));
      },
      /*stop_after=*/8);
  loop.register_hook(std::make_unique<LossLogHook>(/*log_every=*/100, 1, 1, "run"));
  loop.register_hook(std::make_unique<CheckpointHook>(
      /*every=*/3, "work", [&](CheckpointState& st) { curve_at_save.push_back(st.train.size()); }));
  TrainState s;
  s.total = 20;
  loop.run(s);
  CHECK(curve_at_save == std::vector<std::size_t>{3, 6, 8});  // each save holds every step before it
  CHECK(s.outcome == TrainOutcome::interrupted);
  CHECK(s.saved.iteration == 8);
}

TEST_CASE("the loop skips the later hooks of a diverged step and finishes a run that reaches the end", "[hooks]") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  auto run = [&](std::int64_t bad_step, std::vector<std::int64_t>& saved) {
    TrainLoop loop(
        [&](TrainState& s) {
          s.lr = 0.1;
          s.loss = torch::tensor(s.saved.iteration + 1 == bad_step ? nan : 1.0);
        },
        -1);
    loop.register_hook(std::make_unique<LossLogHook>(/*log_every=*/100, 1, 1, "run"));
    loop.register_hook(std::make_unique<CheckpointHook>(/*every=*/2, "work",
                                                        [&](CheckpointState& st) { saved.push_back(st.iteration); }));
    TrainState s;
    s.total = 6;
    loop.run(s);
    return s.outcome;
  };
  std::vector<std::int64_t> saved;
  CHECK(run(4, saved) == TrainOutcome::diverged);
  CHECK(saved == std::vector<std::int64_t>{2});  // step 4's checkpoint is not written
  saved.clear();
  CHECK(run(-1, saved) == TrainOutcome::finished);
  CHECK(saved == std::vector<std::int64_t>{2, 4});
}

TEST_CASE("the live record hook writes the run's progress at log points and its end state", "[hooks]") {
  TempDir dir;
  const auto file = dir / "progress.toml";
  LiveRecordHook hook(file, /*min_interval_s=*/0.0);
  TrainState s;
  s.total = 10;
  hook.before_train(s);
  auto r = read_live_record(file);
  REQUIRE(r.has_value());
  CHECK(r->state == "running");
  CHECK(r->iteration == 0);
  CHECK(r->total == 10);
  CHECK(std::isnan(r->loss));
  CHECK(std::abs(seconds_since_utc(r->updated_utc)) < 60);
  // A step that is no log point leaves the record as it was.
  s.saved.iteration = 3;
  hook.after_step(s);
  CHECK(read_live_record(file)->iteration == 0);
  s.saved.iteration = 4;
  s.saved.train.push_back({4, 0.75, 0.01, 12.5});
  hook.after_step(s);
  r = read_live_record(file);
  CHECK(r->iteration == 4);
  CHECK(r->loss == 0.75);
  CHECK(r->img_per_s == 12.5);
  CHECK(r->eta_s >= 0);
  s.saved.iteration = 10;
  s.saved.val.push_back(ValPoint{10, 0.9, 0.8, 0.625, 0.7, 0.5, 0.4});
  s.outcome = TrainOutcome::finished;
  hook.after_train(s);
  r = read_live_record(file);
  CHECK(r->state == "finished");
  CHECK(r->iteration == 10);
  CHECK(r->val_mean_iou == 0.625);
  CHECK(std::isnan(r->eta_s));  // only a running run has one
  s.outcome = TrainOutcome::interrupted;
  hook.after_train(s);
  CHECK(read_live_record(file)->state == "stopped");
  // A file that is not a record reads as none (a view never fails on it).
  fcnlab::test::write_file(file, "state = ");
  CHECK_FALSE(read_live_record(file).has_value());
  CHECK_FALSE(read_live_record(dir / "none.toml").has_value());
}
