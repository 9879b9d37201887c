#include "train/trainer.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <algorithm>
#include <iterator>
#include <memory>
#include <optional>
#include <utility>

#include "config/loader.h"
#include "core/error.h"
#include "core/host.h"
#include "core/log.h"
#include "core/signals.h"
#include "core/version.h"
#include "data/check.h"
#include "data/loader.h"
#include "data/voc.h"
#include "loss/class_weights.h"
#include "loss/loss.h"
#include "metrics/evaluator.h"
#include "model/fcn.h"
#include "train/checkpoint.h"
#include "train/evaluate.h"
#include "train/hooks.h"
#include "train/run_lock.h"
#include "train/schedule.h"
#include "train/step.h"

namespace fcnlab {

std::atomic<bool>& stop_requested() {
  static std::atomic<bool> flag{false};
  return flag;
}

namespace {

extern "C" void on_stop_signal(int) {
  stop_requested().store(true);
}

// Adds the run's log file to the logger for the duration of a run.
class LogFileScope {
 public:
  explicit LogFileScope(const std::filesystem::path& file) { add_log_file(file); }
  ~LogFileScope() { remove_log_file(); }
  LogFileScope(const LogFileScope&) = delete;
  LogFileScope& operator=(const LogFileScope&) = delete;
};

// The class weights of loss.class_weights: given, none, or median-frequency weights from the
// statistics of the training labels.
std::vector<double> class_weights_for(const Config& cfg, const ClassPixelStats& train_classes) {
  if (cfg.loss.class_weighting == ClassWeighting::given) return cfg.loss.class_weights;
  if (cfg.loss.class_weighting == ClassWeighting::none) return {};
  return median_frequency_weights(train_classes.pixel_counts, train_classes.image_pixel_totals);
}

RunInfo make_info(const Config& cfg, const TrainOptions& opt, const RunPaths& paths, const RuntimeInfo& rt,
                  const std::string& fingerprint) {
  RunInfo i;
  i.fcnlab_version = version();
  i.git_commit = git_commit();
  i.git_dirty = git_dirty();
  i.host = host_name();
  i.torch_version = rt.torch_version;
  i.cuda_version = rt.cuda_version;
  i.cudnn_version = rt.cudnn_version;
  i.device = rt.device_name;
  i.cpu_model = cpu_model();
  i.gpu_model = rt.gpu_model;
  i.deterministic = cfg.run.deterministic;
  i.config_toml = to_canonical_toml(cfg);
  i.config_hash = paths.config_hash;
  i.overrides = opt.overrides;
  i.experiment = cfg.run.experiment;
  i.run_id = paths.run_id;
  i.seed = cfg.run.seed;
  i.data_fingerprint = fingerprint;
  return i;
}

// One process per run: the lock is held until its RunLock is destroyed (or the process dies: the kernel drops it).
RunLock lock_run(const RunPaths& paths) {
  const auto lock_file = paths.lock_file();
  std::optional<RunLock> lock = RunLock::try_acquire(lock_file);
  if (!lock) {
    const std::string holder = run_lock_holder(lock_file);
    throw RunLockedError(fmt::format("run {} is being trained by another process ({}; lock {}); not starting it twice",
                                     paths.run_id, holder.empty() ? "holder unknown" : holder, lock_file.string()));
  }
  return std::move(*lock);
}

// The thread count changes a CPU run in rounding: with run.threads = 0 (all cores, which differ
// between machines, e.g. after a SLURM requeue), a resumed run keeps the checkpoint's count.
void use_checkpoint_threads(const Config& cfg, const CheckpointState& state, RuntimeInfo& rt) {
  if (!rt.device.is_cpu() || state.cpu_threads <= 0 || state.cpu_threads == torch::get_num_threads()) return;
  if (cfg.run.threads == 0) {
    spdlog::info("resuming on the checkpoint's {} threads (run.threads = 0 would give {} here)", state.cpu_threads,
                 torch::get_num_threads());
    torch::set_num_threads(state.cpu_threads);
    rt.device_name = cpu_device_name(state.cpu_threads);
  } else {
    spdlog::warn(
        "the checkpoint ran on {} threads, this run on run.threads = {}: it will differ in rounding from "
        "an uninterrupted run",
        state.cpu_threads, cfg.run.threads);
  }
}

// A split from the list the start-up data check read (it passed, so the list is there).
std::shared_ptr<const VocSegmentation> checked_split(const DataConfig& d, const DataCheckReport& check, Split split) {
  const std::string name = split_name(d, split);
  for (const auto& s : check.splits)
    if (s.name == name) return VocSegmentation::from_ids(d, s.ids, s.list_file);
  return VocSegmentation::from_config(d, split);
}

// What one training session steps, evaluates and checkpoints: data, model, optimiser, loss, loader.
class Trainer {
 public:
  Trainer(const Config& cfg, const torch::Device& device, const DataCheckReport& check)
      : cfg_(cfg),
        device_(device),
        train_set_(checked_split(cfg.data, check, Split::train)),
        val_set_(checked_split(cfg.data, check, Split::val)),
        learner_(cfg, device, class_weights_for(cfg, check.train_classes)),
        loader_(train_set_, cfg.data, cfg.optim.batch_size, static_cast<std::uint64_t>(cfg.run.seed),
                cfg.data.workers) {
    loader_.set_pin_memory(device.is_cuda());
  }

  std::int64_t total_iterations() const {
    return cfg_.optim.epochs > 0
               ? std::max<std::int64_t>(1, cfg_.optim.epochs * loader_.batches_per_epoch() / cfg_.optim.iter_size)
               : cfg_.optim.iterations;
  }

  // The state of the checkpoint resumed from (its iteration in resumed_from), or a fresh one.
  struct Start {
    CheckpointState state;
    std::int64_t resumed_from = -1;
  };
  Start start(const TrainOptions& opt, const RunPaths& paths, std::int64_t total, RuntimeInfo& rt);

  void step(TrainState& s) {
    const double lr = learning_rate(cfg_.optim, s.saved.iteration, s.total);
    set_learning_rate(learner_.optimizer(), cfg_.optim, lr);
    learner_.zero_grad();
    torch::Tensor step_loss;
    for (int k = 0; k < cfg_.optim.iter_size; ++k) {
      const Batch batch = loader_.next();
      const auto loss = learner_.forward_backward(batch.images, batch.labels, cfg_.optim.iter_size);
      step_loss = step_loss.defined() ? step_loss + loss : loss;
      s.saved.images_seen += batch.images.size(0);
    }
    learner_.step();
    s.lr = lr;
    s.loss = step_loss;
  }

  void save(CheckpointState& state, const std::filesystem::path& work_dir) {
    state.loss_scaler = learner_.scaler().state();
    state.loader_epoch = loader_.epoch();
    state.loader_index = loader_.index_in_epoch();
    save_checkpoint(work_dir, learner_.model(), learner_.optimizer(), state, cfg_.checkpoint.keep);
  }

  EvalResult evaluate(Examples* examples, std::vector<std::string>* image_ids) {
    return evaluate_model(learner_.model(), *val_set_, cfg_, device_, examples, image_ids);
  }

  void save_weights(const std::filesystem::path& file) { save_model_file(learner_.model(), file); }

 private:
  CheckpointState resume(const std::vector<std::pair<std::int64_t, std::filesystem::path>>& ckpts,
                         const std::string& config_hash, std::int64_t total, RuntimeInfo& rt);

  const Config& cfg_;
  torch::Device device_;
  std::shared_ptr<const VocSegmentation> train_set_, val_set_;
  Learner learner_;
  TrainLoader loader_;
};

Trainer::Start Trainer::start(const TrainOptions& opt, const RunPaths& paths, std::int64_t total, RuntimeInfo& rt) {
  Start start;
  CheckpointState& state = start.state;
  state.config_hash = paths.config_hash;
  if (opt.restart) {
    remove_checkpoints(paths.work_dir);
    spdlog::info("starting from scratch (--restart; {} iterations)", total);
  } else if (const auto ckpts = list_checkpoints(paths.work_dir); !ckpts.empty()) {
    state = resume(ckpts, paths.config_hash, total, rt);
    start.resumed_from = state.iteration;
  } else {
    spdlog::info("starting from scratch (no checkpoint; {} iterations)", total);
  }
  state.cpu_threads = device_.is_cpu() ? torch::get_num_threads() : 0;  // what this run's checkpoints record
  learner_.model()->train();  // evaluate_model gives this mode back after each evaluation
  // The RNG seeded by the model's construction (or restored from the checkpoint) drives dropout from here on.
  return start;
}

CheckpointState Trainer::resume(const std::vector<std::pair<std::int64_t, std::filesystem::path>>& ckpts,
                                const std::string& config_hash, std::int64_t total, RuntimeInfo& rt) {
  // Newest first. One that does not load (checkpoints are fsync'd before the rename, but a damaged
  // disk or a file system that ignores fsync can still leave the newest short) falls back to the
  // one before it, which checkpoint.keep >= 2 keeps; each load replaces the model, optimiser and
  // RNG states as a whole.
  CheckpointState state;
  std::optional<std::filesystem::path> ckpt;
  for (auto it = ckpts.rbegin(); it != ckpts.rend() && !ckpt; ++it) {
    try {
      state = load_checkpoint(it->second, learner_.model(), learner_.optimizer());
      ckpt = it->second;
    } catch (const IoError& e) {
      if (std::next(it) == ckpts.rend()) throw;
      spdlog::warn("{}; trying the checkpoint before it", e.what());
    }
  }
  if (state.config_hash != config_hash)
    throw IoError(fmt::format("{}: checkpoint of config {} does not match this run's config {}; use --restart",
                              ckpt->string(), state.config_hash, config_hash));
  learner_.scaler().load_state(state.loss_scaler);
  use_checkpoint_threads(cfg_, state, rt);
  if (cfg_.optim.channels_last) to_channels_last(*learner_.model());  // loading replaced the tensors' storage
  loader_.seek(state.loader_epoch, state.loader_index);
  spdlog::info("resuming from checkpoint {} (iteration {}/{})", ckpt->string(), state.iteration, total);
  return state;
}

// The result of a run whose result file was found under the lock: a process that held it may have just finished it.
TrainResult already_ended(const RunPaths& paths) {
  TrainResult result;
  result.paths = paths;
  const RunFileReader existing(paths.result_file);
  result.status = existing.info().status;
  result.already_ended = true;
  result.message = fmt::format("{} already ended (status {}): {}", paths.run_id, to_string(result.status),
                               paths.result_file.string());
  return result;
}

RunStatus run_status(TrainOutcome outcome) {
  switch (outcome) {
    case TrainOutcome::finished:
      return RunStatus::finished;
    case TrainOutcome::diverged:
      return RunStatus::diverged;
    case TrainOutcome::running:
    case TrainOutcome::interrupted:
      break;
  }
  return RunStatus::failed;
}

}  // namespace

TrainResult train_run(const Config& cfg, const TrainOptions& opt) {
  TrainState s;  // its clock starts now
  TrainResult result;
  result.paths = run_paths(cfg, opt.subdir);
  const RunPaths& paths = result.paths;
  std::filesystem::create_directories(paths.work_dir);
  const RunLock lock = lock_run(paths);
  if (!opt.restart && std::filesystem::exists(paths.result_file)) return already_ended(paths);
  LogFileScope log_scope(paths.train_log());
  spdlog::info("run {} -> {}", paths.run_id, paths.result_file.string());

  RuntimeInfo rt = configure_runtime(cfg);
  // Data: refuse to start on a broken dataset (fast check: headers and label values).
  const DataCheckReport data_check = check_dataset_quick(cfg.data);
  const std::string fingerprint = dataset_fingerprint(cfg.data, data_check.splits);
  Trainer trainer(cfg, rt.device, data_check);
  s.total = trainer.total_iterations();
  Trainer::Start start = trainer.start(opt, paths, s.total, rt);
  s.saved = std::move(start.state);
  result.resumed_from = start.resumed_from;
  s.wall_before = s.saved.wall_seconds;

  const StopSignalScope signals(stop_requested(), on_stop_signal);
  TrainLoop loop([&trainer](TrainState& st) { trainer.step(st); }, opt.stop_after);
  loop.register_hook(
      std::make_unique<LossLogHook>(cfg.run.log_every, cfg.optim.batch_size, cfg.optim.iter_size, paths.run_id));
  loop.register_hook(std::make_unique<ProgressHook>(fmt::format("train {}", paths.run_id), s.total));
  loop.register_hook(std::make_unique<EvalHook>(
      cfg.eval.every, [&trainer](Examples* ex, std::vector<std::string>* ids) { return trainer.evaluate(ex, ids); }));
  loop.register_hook(std::make_unique<CheckpointHook>(cfg.checkpoint.every, paths.work_dir,
                                                      [&](CheckpointState& st) { trainer.save(st, paths.work_dir); }));
  loop.register_hook(std::make_unique<ResultWriterHook>(
      cfg, make_info(cfg, opt, paths, rt, fingerprint), paths,
      [&trainer](const std::filesystem::path& file) { trainer.save_weights(file); }));
  // Last: its after_step sees this step's evaluation, its after_train the run file written.
  loop.register_hook(std::make_unique<LiveRecordHook>(paths.live_record()));
  loop.run(s);

  result.status = run_status(s.outcome);
  result.interrupted = s.outcome == TrainOutcome::interrupted;
  result.iterations_done = s.saved.iteration;
  result.message = s.message;
  result.wall_seconds = s.wall_seconds();
  return result;
}

FinalRecord evaluate_saved_model(const Config& cfg, const EvalOptions& options) {
  const RuntimeInfo rt = configure_runtime(cfg);
  FCN model = load_trained_model(cfg, options.weights, rt.device);
  const std::string split = options.split.empty() ? cfg.data.val_split : options.split;
  const VocSegmentation ds(cfg.data.root, cfg.data.image_dir, cfg.data.label_dir,
                           read_split_list(split_list_path(cfg.data, split)));
  std::vector<std::string> image_ids;
  const EvalResult r = evaluate_model(model, ds, cfg, rt.device, nullptr, &image_ids);
  return to_final_record(r, class_names(cfg.data), image_ids);
}

}  // namespace fcnlab
