#pragma once
// The training loop and the hooks that act around its steps, after detectron2's HookBase: loss
// logging with the divergence stop, progress, periodic and final evaluation, checkpoints and the
// run file. Each hook keeps its own state and sees the run through the shared TrainState, so each
// can be built and exercised alone; train_run (trainer.cpp) assembles them around the real step.
#include <torch/torch.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/config.h"
#include "core/progress.h"
#include "metrics/evaluator.h"
#include "results/run_file.h"
#include "train/checkpoint.h"
#include "train/run_paths.h"

namespace fcnlab {

enum class TrainOutcome {
  running,
  finished,    // all iterations done
  diverged,    // a step's loss was not finite
  interrupted  // stopped early (signal or stop_after) with a checkpoint to resume from
};

// The final evaluation on the whole val split, for the run file.
struct FinalEvaluation {
  EvalResult result;
  std::vector<std::string> image_ids;  // in the order of result's per-image rows
  Examples examples;
};

// What the loop and its hooks share.
struct TrainState {
  CheckpointState saved;   // iterations done, curves, counters: what a checkpoint stores
  std::int64_t total = 0;  // iterations of the whole run
  // The step just taken, valid in after_step: its learning rate and its loss, still on the device.
  double lr = 0;
  torch::Tensor loss;
  bool stop = false;  // a signal or stop_after asks to stop after this step
  bool sync = false;  // a hook acts on the curves after this step: the losses are read back first
  TrainOutcome outcome = TrainOutcome::running;
  std::string message;                   // why the run ended early
  std::optional<FinalEvaluation> final;  // set on a finished run by EvalHook::after_train
  // Wall time over every session of the run: that recorded by the checkpoint resumed from plus this one's.
  std::chrono::steady_clock::time_point session_start = std::chrono::steady_clock::now();
  double wall_before = 0;
  double wall_seconds() const;
};

class HookBase {
 public:
  HookBase() = default;
  virtual ~HookBase() = default;
  HookBase(const HookBase&) = delete;
  HookBase& operator=(const HookBase&) = delete;
  HookBase(HookBase&&) = delete;
  HookBase& operator=(HookBase&&) = delete;

  virtual void before_train(TrainState& /*s*/) {}
  virtual void before_step(TrainState& /*s*/) {}
  // Whether after_step will read or store the curves (an evaluation, a checkpoint). Losses stay on
  // the device between log points, so such a step must be a log point too: the loop asks every
  // hook before any after_step runs and sets TrainState::sync.
  virtual bool needs_sync(const TrainState& /*s*/) const { return false; }
  virtual void after_step(TrainState& /*s*/) {}
  virtual void after_train(TrainState& /*s*/) {}
};

// Runs the steps from s.saved.iteration to s.total, calling the hooks in the order registered.
// A hook ends the run early by setting s.outcome: the hooks after it skip that step's after_step
// (a diverged step is neither evaluated nor checkpointed). A run that reaches s.total is finished.
class TrainLoop {
 public:
  // One optimiser step at iteration s.saved.iteration: sets s.lr and s.loss; the loop counts it.
  using Step = std::function<void(TrainState&)>;
  // `stop_after` >= 0: ask to stop after that iteration (as a signal does; stop_requested()).
  TrainLoop(Step step, std::int64_t stop_after);
  void register_hook(std::unique_ptr<HookBase> hook);
  void run(TrainState& s);

 private:
  void after_step(TrainState& s);
  Step step_;
  std::int64_t stop_after_;
  std::vector<std::unique_ptr<HookBase>> hooks_;
};

// Reads the step losses back every `log_every` iterations (and at every other log point), records
// them in the train curve with the images/s of the steps since the last log point, and ends the run
// as diverged at the first loss that is not finite (the run resumes from before that step: the
// curve stops there). Reading back each step would make the host wait for the device every step.
class LossLogHook : public HookBase {
 public:
  LossLogHook(std::int64_t log_every, int images_per_batch, int iter_size, std::string run_id);
  void before_step(TrainState& s) override;
  void after_step(TrainState& s) override;

 private:
  struct PendingStep {
    std::int64_t iteration;
    double lr;
    torch::Tensor loss;
  };
  void flush(TrainState& s);
  std::int64_t log_every_;
  int images_per_batch_, iter_size_;
  std::string run_id_;
  std::vector<PendingStep> pending_;
  // Start of the training time since the last log point; evaluations and checkpoints, which
  // follow log points, are left out.
  std::chrono::steady_clock::time_point interval_start_;
};

// The progress line: updated at each log point, finished with the last loss.
class ProgressHook : public HookBase {
 public:
  ProgressHook(std::string label, std::int64_t total);
  void before_train(TrainState& s) override;
  void after_step(TrainState& s) override;
  void after_train(TrainState& s) override;

 private:
  Progress progress_;
  std::size_t points_shown_ = 0;
};

// The run's live record (train/live_record.h): written when training starts, at log points (at
// most every `min_interval_s` seconds, and at every evaluation), and when the run ends.
class LiveRecordHook : public HookBase {
 public:
  LiveRecordHook(std::filesystem::path file, double min_interval_s = 2.0);
  void before_train(TrainState& s) override;
  void after_step(TrainState& s) override;
  void after_train(TrainState& s) override;

 private:
  void write(const TrainState& s, const char* state);
  std::filesystem::path file_;
  double min_interval_s_;
  std::size_t train_points_ = 0, val_points_ = 0;
  std::int64_t start_iteration_ = 0;
  std::chrono::steady_clock::time_point start_, last_write_;
};

// The val curve point of an evaluation at `step`.
ValPoint val_point(std::int64_t step, const EvalResult& r);

// Evaluates every `every` iterations before the last into the val curve, and a finished run at
// its last iteration into the val curve and TrainState::final (with example predictions).
class EvalHook : public HookBase {
 public:
  // Evaluates the model on the val split; `examples` and `image_ids` as in evaluate_model.
  using Evaluate = std::function<EvalResult(Examples* examples, std::vector<std::string>* image_ids)>;
  EvalHook(std::int64_t every, Evaluate evaluate);
  bool needs_sync(const TrainState& s) const override;
  void after_step(TrainState& s) override;
  void after_train(TrainState& s) override;

 private:
  std::int64_t every_;
  Evaluate evaluate_;
};

// Checkpoints every `every` iterations before the last, and when asked to stop before the last,
// which then ends the run as interrupted.
class CheckpointHook : public HookBase {
 public:
  // Completes `state` with what the loop's objects hold (loader position, loss scale) and writes it.
  using Save = std::function<void(CheckpointState& state)>;
  CheckpointHook(std::int64_t every, std::filesystem::path work_dir, Save save);
  bool needs_sync(const TrainState& s) const override;
  void after_step(TrainState& s) override;

 private:
  std::int64_t every_;
  std::filesystem::path work_dir_;
  Save save_;
};

// Writes the run file of a finished run (with the final weights beside it) or of a diverged one,
// then removes the checkpoints the run file supersedes. An interrupted run keeps its checkpoints.
class ResultWriterHook : public HookBase {
 public:
  // `info` holds all but status, message, times and created_utc, filled in when writing.
  using SaveWeights = std::function<void(const std::filesystem::path& file)>;
  ResultWriterHook(const Config& cfg, RunInfo info, RunPaths paths, SaveWeights save_weights);
  void after_train(TrainState& s) override;

 private:
  void write(const TrainState& s, const FinalRecord* final, const Examples* examples);
  const Config& cfg_;
  RunInfo info_;
  RunPaths paths_;
  SaveWeights save_weights_;
};

}  // namespace fcnlab
