#include "train/trainer.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <csignal>
#include <iterator>
#include <optional>

#include "config/loader.h"
#include "core/error.h"
#include "core/host.h"
#include "core/log.h"
#include "core/progress.h"
#include "core/version.h"
#include "data/check.h"
#include "data/loader.h"
#include "data/voc.h"
#include "loss/loss.h"
#include "metrics/evaluator.h"
#include "model/fcn.h"
#include "train/checkpoint.h"
#include "train/evaluate.h"
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

// Installs SIGINT/SIGTERM handlers for the duration of a run and restores the previous ones.
class SignalScope {
 public:
  SignalScope() {
    stop_requested().store(false);
    prev_int_ = std::signal(SIGINT, on_stop_signal);
    prev_term_ = std::signal(SIGTERM, on_stop_signal);
  }
  ~SignalScope() {
    std::signal(SIGINT, prev_int_);
    std::signal(SIGTERM, prev_term_);
  }
  SignalScope(const SignalScope&) = delete;
  SignalScope& operator=(const SignalScope&) = delete;

 private:
  void (*prev_int_)(int) = SIG_DFL;
  void (*prev_term_)(int) = SIG_DFL;
};

// Adds the run's log file to the logger for the duration of a run.
class LogFileScope {
 public:
  explicit LogFileScope(const std::filesystem::path& file) { add_log_file(file); }
  ~LogFileScope() { remove_log_file(); }
  LogFileScope(const LogFileScope&) = delete;
  LogFileScope& operator=(const LogFileScope&) = delete;
};

// Median-frequency class weights from the training labels (loss.class_weights = "median_freq").
std::vector<double> class_weights_for(const Config& cfg, const VocSegmentation& train) {
  if (cfg.loss.class_weighting == ClassWeighting::given) return cfg.loss.class_weights;
  if (cfg.loss.class_weighting == ClassWeighting::none) return {};
  const int c = cfg.data.num_classes;
  std::vector<std::int64_t> pixels(static_cast<std::size_t>(c), 0), image_totals(static_cast<std::size_t>(c), 0);
  for (std::size_t i = 0; i < train.size(); ++i) {
    const Sample sample = train.get(i);
    std::vector<std::int64_t> counts(static_cast<std::size_t>(c), 0);
    std::int64_t total = 0;
    for (const auto v : sample.label.pixels) {
      if (v >= c) continue;  // void
      ++counts[v];
      ++total;
    }
    for (int k = 0; k < c; ++k) {
      const auto n = counts[static_cast<std::size_t>(k)];
      pixels[static_cast<std::size_t>(k)] += n;
      if (n > 0) image_totals[static_cast<std::size_t>(k)] += total;
    }
  }
  return median_frequency_weights(pixels, image_totals);
}

RunInfo make_info(const Config& cfg, const TrainOptions& opt, const RunPaths& paths, const RuntimeInfo& rt,
                  const std::string& fingerprint) {
  RunInfo i;
  i.fcnlab_version = version();
  i.git_commit = git_commit();
  i.git_dirty = git_dirty();
  i.created_utc = utc_now();
  i.host = host_name();
  i.torch_version = rt.torch_version;
  i.cuda_version = rt.cuda_version;
  i.cudnn_version = rt.cudnn_version;
  i.device = rt.device_name;
  i.cpu_model = cpu_model();
  i.gpu_model = rt.gpu_model;
  i.deterministic = cfg.run.deterministic;
  i.config_toml = to_canonical_toml(cfg);
  i.config_hash = config_hash_hex(cfg);
  i.overrides = opt.overrides;
  i.experiment = cfg.run.experiment;
  i.run_id = paths.run_id;
  i.seed = cfg.run.seed;
  i.data_fingerprint = fingerprint;
  return i;
}

}  // namespace

std::filesystem::path final_weights_path(const RunPaths& paths) {
  return paths.work_dir / "model-final.pt";
}

TrainResult train_run(const Config& cfg, const TrainOptions& opt) {
  const auto wall_start = std::chrono::steady_clock::now();
  TrainResult result;
  result.paths = run_paths(cfg, opt.subdir);
  const RunPaths& paths = result.paths;
  std::filesystem::create_directories(paths.work_dir);
  // One process per run: held until train_run returns (or the process dies: the kernel drops it).
  const auto lock_file = run_lock_file(paths.work_dir);
  const std::optional<RunLock> lock = RunLock::try_acquire(lock_file);
  if (!lock) {
    const std::string holder = run_lock_holder(lock_file);
    throw RunLockedError(fmt::format("run {} is being trained by another process ({}; lock {}); not starting it twice",
                                     paths.run_id, holder.empty() ? "holder unknown" : holder, lock_file.string()));
  }
  // Checked under the lock: a process that held it may have just finished the run.
  if (!opt.restart && std::filesystem::exists(paths.result_file)) {
    const RunFileReader existing(paths.result_file);
    result.status = existing.info().status;
    result.already_ended = true;
    result.message = fmt::format("{} already ended (status {}): {}", paths.run_id, to_string(result.status),
                                 paths.result_file.string());
    return result;
  }
  LogFileScope log_scope(paths.work_dir / "train.log");
  spdlog::info("run {} -> {}", paths.run_id, paths.result_file.string());

  RuntimeInfo rt = configure_runtime(cfg);
  const torch::Device device = rt.device;

  // Data: refuse to start on a broken dataset (fast check: headers and label values).
  check_dataset_quick(cfg.data);
  const std::string fingerprint = dataset_fingerprint(cfg.data);
  std::shared_ptr<const VocSegmentation> train_set = VocSegmentation::from_config(cfg.data, Split::train);
  const auto val_set = VocSegmentation::from_config(cfg.data, Split::val);
  const int num_classes = cfg.data.num_classes;

  // Model, optimiser, loss. The model is built under the run seed so its init is reproducible.
  torch::manual_seed(static_cast<std::uint64_t>(cfg.run.seed));
  FCN model = make_fcn(cfg.model, num_classes);
  prepare_model(model, cfg, device);
  const std::vector<torch::Tensor> params = trainable_parameters(model);
  auto optimizer = make_optimizer(cfg.optim, model);
  const auto loss_fn = make_step_loss(cfg, class_weights_for(cfg, *train_set));
  LossScaler scaler(device, cfg.optim.amp == Amp::fp16);
  const StepSettings step_settings{device, cfg.optim.amp, cfg.optim.channels_last};

  TrainLoader loader(train_set, cfg.data, cfg.optim.batch_size, static_cast<std::uint64_t>(cfg.run.seed),
                     cfg.data.workers);
  loader.set_pin_memory(device.is_cuda());
  const std::int64_t total =
      cfg.optim.epochs > 0
          ? std::max<std::int64_t>(1, cfg.optim.epochs * loader.batches_per_epoch() / cfg.optim.iter_size)
          : cfg.optim.iterations;

  // Resume or start.
  CheckpointState state;
  state.config_hash = config_hash_hex(cfg);
  if (opt.restart) {
    remove_checkpoints(paths.work_dir);
    spdlog::info("starting from scratch (--restart; {} iterations)", total);
  } else if (const auto ckpts = list_checkpoints(paths.work_dir); !ckpts.empty()) {
    // Newest first. One that does not load (nothing is fsync'd, so a crash can leave the newest
    // renamed into place but short) falls back to the one before it, which checkpoint.keep >= 2
    // keeps; each load replaces the model, optimiser and RNG states as a whole.
    std::optional<std::filesystem::path> ckpt;
    for (auto it = ckpts.rbegin(); it != ckpts.rend() && !ckpt; ++it) {
      try {
        state = load_checkpoint(it->second, model, *optimizer);
        ckpt = it->second;
      } catch (const IoError& e) {
        if (std::next(it) == ckpts.rend()) throw;
        spdlog::warn("{}; trying the checkpoint before it", e.what());
      }
    }
    if (state.config_hash != config_hash_hex(cfg))
      throw IoError(fmt::format("{}: checkpoint of config {} does not match this run's config {}; use --restart",
                                ckpt->string(), state.config_hash, config_hash_hex(cfg)));
    scaler.load_state(state.loss_scaler);
    // The thread count changes a CPU run in rounding: with run.threads = 0 (all cores, which
    // differ between machines, e.g. after a SLURM requeue), resume on the checkpoint's count.
    if (device.is_cpu() && state.cpu_threads > 0 && state.cpu_threads != torch::get_num_threads()) {
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
    if (cfg.optim.channels_last) to_channels_last(*model);  // loading replaced the tensors' storage
    loader.seek(state.loader_epoch, state.loader_index);
    result.resumed_from = state.iteration;
    spdlog::info("resuming from checkpoint {} (iteration {}/{})", ckpt->string(), state.iteration, total);
  } else {
    spdlog::info("starting from scratch (no checkpoint; {} iterations)", total);
  }
  state.cpu_threads = device.is_cpu() ? torch::get_num_threads() : 0;  // what this run's checkpoints record
  // The RNG seeded above (or restored from the checkpoint) drives dropout from here on.

  SignalScope signals;
  Progress progress(fmt::format("train {}", paths.run_id), total);
  progress.reset_rate(state.iteration);
  const double wall_before = state.wall_seconds;
  auto wall_now = [&] {
    return wall_before + std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
  };
  auto checkpoint = [&] {
    state.loss_scaler = scaler.state();
    state.loader_epoch = loader.epoch();
    state.loader_index = loader.index_in_epoch();
    state.wall_seconds = wall_now();
    save_checkpoint(paths.work_dir, model, *optimizer, state, cfg.checkpoint.keep);
  };
  auto evaluate_into_curve = [&](std::int64_t step) {
    const EvalResult r = evaluate_model(model, *val_set, cfg, device, nullptr);
    state.val.push_back(
        {step, r.scores.pixel_acc, r.scores.mean_acc, r.scores.mean_iou, r.scores.fw_iou, r.bf_score, r.boundary_iou});
    spdlog::info("val @{}: mean IoU {:.4f} pixel acc {:.4f} BF {:.4f} boundary IoU {:.4f}", step, r.scores.mean_iou,
                 r.scores.pixel_acc, r.bf_score, r.boundary_iou);
    model->train();
  };

  auto write_result = [&](RunStatus status, const std::string& message, const FinalRecord* final,
                          const Examples* examples) {
    RunInfo info = make_info(cfg, opt, paths, rt, fingerprint);
    info.status = status;
    info.message = message;
    info.wall_seconds = wall_now();
    info.train_img_per_s = state.train_seconds > 0 ? static_cast<double>(state.images_seen) / state.train_seconds : 0.0;
    RunFileWriter writer(paths.result_file);
    writer.write_info(info);
    writer.append_train(state.train);
    writer.append_val(state.val);
    if (final) writer.write_final(*final);
    if (examples) writer.write_examples(*examples);
    writer.commit();
  };

  // Step losses stay on the device until a log point (every run.log_every iterations, and before
  // an evaluation, a checkpoint or the end): reading one back each step would make the host wait
  // for the GPU every step. Divergence is therefore noticed at the next log point.
  struct PendingStep {
    std::int64_t iteration;
    double lr;
    torch::Tensor loss;
  };
  std::vector<PendingStep> pending;
  auto interval_start = std::chrono::steady_clock::now();
  std::optional<std::pair<PendingStep, double>> bad;  // first step whose loss was not finite
  // Reads the pending losses back (one synchronisation), records them, and returns false when one
  // was not finite. The time since the last log point is spread over its steps.
  auto flush = [&]() -> bool {
    if (pending.empty()) return true;
    std::vector<torch::Tensor> losses;
    losses.reserve(pending.size());
    for (const auto& p : pending) losses.push_back(p.loss.reshape({1}));
    const auto host = torch::cat(losses).to(torch::kCPU, torch::kFloat64).contiguous();
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - interval_start).count();
    const auto images = static_cast<double>(pending.size()) * cfg.optim.batch_size * cfg.optim.iter_size;
    const double ips = seconds > 0 ? images / seconds : 0.0;
    state.train_seconds += seconds;
    const double* v = host.data_ptr<double>();
    for (std::size_t i = 0; i < pending.size(); ++i) {
      if (!std::isfinite(v[i])) {
        bad.emplace(pending[i], v[i]);
        pending.clear();
        return false;
      }
      state.train.push_back({pending[i].iteration, v[i], pending[i].lr, ips});
    }
    progress.update(pending.back().iteration,
                    fmt::format("loss {:.4f} lr {:.3g} {:.1f} img/s", v[pending.size() - 1], pending.back().lr, ips));
    pending.clear();
    interval_start = std::chrono::steady_clock::now();
    return true;
  };
  auto diverge = [&]() {
    const std::int64_t at = bad->first.iteration;
    result.status = RunStatus::diverged;
    result.message = fmt::format("loss became {} at iteration {} (lr {:.3g})", bad->second, at, bad->first.lr);
    spdlog::error("run {} diverged: {}", paths.run_id, result.message);
    state.iteration = at - 1;
    write_result(RunStatus::diverged, result.message, nullptr, nullptr);
    remove_checkpoints(paths.work_dir);
    result.iterations_done = at - 1;
    result.wall_seconds = wall_now();
    return result;
  };

  model->train();
  std::int64_t it = state.iteration;
  while (it < total) {
    const double lr = learning_rate(cfg.optim, it, total);
    set_learning_rate(*optimizer, cfg.optim, lr);
    optimizer->zero_grad();
    torch::Tensor step_loss;
    for (int k = 0; k < cfg.optim.iter_size; ++k) {
      const Batch batch = loader.next();
      const auto loss =
          forward_backward(model, *loss_fn, batch.images, batch.labels, step_settings, scaler, cfg.optim.iter_size);
      step_loss = step_loss.defined() ? step_loss + loss : loss;
      state.images_seen += batch.images.size(0);
    }
    // fp16: steps with inf/NaN gradients are skipped and the loss scale lowered (LossScaler).
    scaler.step(*optimizer, params);
    ++it;
    state.iteration = it;
    pending.push_back({it, lr, step_loss});

    const bool eval_now = cfg.eval.every > 0 && it % cfg.eval.every == 0 && it < total;
    const bool stop = stop_requested().load() || (opt.stop_after >= 0 && it >= opt.stop_after);
    const bool checkpoint_now =
        (cfg.checkpoint.every > 0 && it % cfg.checkpoint.every == 0 && it < total) || (stop && it < total);
    if (it % cfg.run.log_every == 0 || eval_now || checkpoint_now || stop || it == total) {
      if (!flush()) return diverge();
    }
    if (eval_now) evaluate_into_curve(it);
    if (checkpoint_now) checkpoint();
    if (eval_now || checkpoint_now) interval_start = std::chrono::steady_clock::now();
    if (stop && it < total) {
      result.interrupted = true;
      result.iterations_done = it;
      result.wall_seconds = wall_now();
      result.message =
          fmt::format("stopped at iteration {}/{}; checkpoint written to {}; run the same command to resume", it, total,
                      paths.work_dir.string());
      spdlog::warn("{}", result.message);
      return result;
    }
  }
  progress.finish(fmt::format("loss {:.4f}", state.train.empty() ? 0.0 : state.train.back().loss));

  // Final evaluation on the whole val split, example predictions, the run file.
  Examples examples;
  std::vector<std::string> image_ids;
  const EvalResult r = evaluate_model(model, *val_set, cfg, device, &examples, &image_ids);
  state.val.push_back(
      {total, r.scores.pixel_acc, r.scores.mean_acc, r.scores.mean_iou, r.scores.fw_iou, r.bf_score, r.boundary_iou});
  const FinalRecord final = to_final_record(r, class_names(cfg.data), image_ids);
  save_model_file(model, final_weights_path(paths));
  write_result(RunStatus::finished, "", &final, cfg.eval.examples > 0 ? &examples : nullptr);
  remove_checkpoints(paths.work_dir);
  spdlog::info("finished {}: mean IoU {:.4f}, pixel acc {:.4f}, BF {:.4f}, boundary IoU {:.4f} in {} -> {}",
               paths.run_id, r.scores.mean_iou, r.scores.pixel_acc, r.bf_score, r.boundary_iou,
               format_duration(wall_now()), paths.result_file.string());
  result.status = RunStatus::finished;
  result.iterations_done = total;
  result.wall_seconds = wall_now();
  return result;
}

FinalRecord evaluate_saved_model(const Config& cfg, const EvalOptions& options) {
  const RuntimeInfo rt = configure_runtime(cfg);
  FCN model = make_fcn(cfg.model, cfg.data.num_classes);
  try {
    torch::load(model, options.weights.string());
  } catch (const c10::Error& e) {
    throw IoError(
        fmt::format("{}: cannot load model weights: {}", options.weights.string(), e.what_without_backtrace()));
  }
  prepare_model(model, cfg, rt.device);
  const std::string split = options.split.empty() ? cfg.data.val_split : options.split;
  const VocSegmentation ds(cfg.data.root, cfg.data.image_dir, cfg.data.label_dir,
                           read_split_list(split_list_path(cfg.data, split)));
  std::vector<std::string> image_ids;
  const EvalResult r = evaluate_model(model, ds, cfg, rt.device, nullptr, &image_ids);
  return to_final_record(r, class_names(cfg.data), image_ids);
}

}  // namespace fcnlab
