#include "train/hooks.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <utility>

#include "core/error.h"
#include "core/host.h"
#include "data/voc.h"
#include "train/final_record.h"
#include "train/live_record.h"
#include "train/trainer.h"

namespace fcnlab {

double TrainState::wall_seconds() const {
  return wall_before + std::chrono::duration<double>(std::chrono::steady_clock::now() - session_start).count();
}

TrainLoop::TrainLoop(Step step, std::int64_t stop_after) : step_(std::move(step)), stop_after_(stop_after) {}

void TrainLoop::register_hook(std::unique_ptr<HookBase> hook) {
  hooks_.push_back(std::move(hook));
}

void TrainLoop::run(TrainState& s) {
  for (auto& h : hooks_) h->before_train(s);
  while (s.saved.iteration < s.total && s.outcome == TrainOutcome::running) {
    for (auto& h : hooks_) h->before_step(s);
    step_(s);
    ++s.saved.iteration;
    after_step(s);
  }
  if (s.outcome == TrainOutcome::running) s.outcome = TrainOutcome::finished;
  for (auto& h : hooks_) h->after_train(s);
}

void TrainLoop::after_step(TrainState& s) {
  const std::int64_t it = s.saved.iteration;
  s.stop = stop_requested().load() || (stop_after_ >= 0 && it >= stop_after_);
  s.sync = std::any_of(hooks_.begin(), hooks_.end(), [&](const auto& h) { return h->needs_sync(s); });
  for (auto& h : hooks_) {
    h->after_step(s);
    if (s.outcome != TrainOutcome::running) break;
  }
}

LossLogHook::LossLogHook(std::int64_t log_every, int images_per_batch, int iter_size, std::string run_id)
    : log_every_(log_every), images_per_batch_(images_per_batch), iter_size_(iter_size), run_id_(std::move(run_id)) {}

void LossLogHook::before_step(TrainState& /*s*/) {
  // Nothing pending: the last step was a log point, or this is the first step.
  if (pending_.empty()) interval_start_ = std::chrono::steady_clock::now();
}

void LossLogHook::after_step(TrainState& s) {
  const std::int64_t it = s.saved.iteration;
  pending_.push_back({it, s.lr, s.loss});
  if (it % log_every_ == 0 || s.sync || s.stop || it == s.total) flush(s);
}

// One read-back for all pending losses; the time since the last log point is spread over their steps.
void LossLogHook::flush(TrainState& s) {
  std::vector<torch::Tensor> losses;
  losses.reserve(pending_.size());
  for (const auto& p : pending_) losses.push_back(p.loss.reshape({1}));
  const auto host = torch::cat(losses).to(torch::kCPU, torch::kFloat64).contiguous();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - interval_start_).count();
  const auto images = static_cast<double>(pending_.size()) * images_per_batch_ * iter_size_;
  const double ips = seconds > 0 ? images / seconds : 0.0;
  s.saved.train_seconds += seconds;
  const double* v = host.data_ptr<double>();
  const std::vector<PendingStep> steps = std::exchange(pending_, {});
  for (std::size_t i = 0; i < steps.size(); ++i) {
    if (!std::isfinite(v[i])) {
      const std::int64_t at = steps[i].iteration;
      s.outcome = TrainOutcome::diverged;
      s.message = fmt::format("loss became {} at iteration {} (lr {:.3g})", v[i], at, steps[i].lr);
      spdlog::error("run {} diverged: {}", run_id_, s.message);
      s.saved.iteration = at - 1;
      return;
    }
    s.saved.train.push_back({steps[i].iteration, v[i], steps[i].lr, ips});
  }
}

ProgressHook::ProgressHook(std::string label, std::int64_t total) : progress_(std::move(label), total) {}

void ProgressHook::before_train(TrainState& s) {
  progress_.reset_rate(s.saved.iteration);
  points_shown_ = s.saved.train.size();
}

void ProgressHook::after_step(TrainState& s) {
  const auto& train = s.saved.train;
  if (train.size() == points_shown_) return;  // not a log point
  points_shown_ = train.size();
  const TrainPoint& p = train.back();
  progress_.update(p.step, fmt::format("loss {:.4f} lr {:.3g} {:.1f} img/s", p.loss, p.lr, p.img_per_s));
}

void ProgressHook::after_train(TrainState& s) {
  if (s.outcome != TrainOutcome::finished) return;
  progress_.finish(fmt::format("loss {:.4f}", s.saved.train.empty() ? 0.0 : s.saved.train.back().loss));
}

LiveRecordHook::LiveRecordHook(std::filesystem::path file, double min_interval_s)
    : file_(std::move(file)), min_interval_s_(min_interval_s) {}

void LiveRecordHook::before_train(TrainState& s) {
  train_points_ = s.saved.train.size();
  val_points_ = s.saved.val.size();
  start_iteration_ = s.saved.iteration;
  start_ = std::chrono::steady_clock::now();
  write(s, "running");
}

void LiveRecordHook::after_step(TrainState& s) {
  const bool logged = s.saved.train.size() != train_points_, evaluated = s.saved.val.size() != val_points_;
  if (!logged && !evaluated) return;
  train_points_ = s.saved.train.size();
  val_points_ = s.saved.val.size();
  const double since = std::chrono::duration<double>(std::chrono::steady_clock::now() - last_write_).count();
  if (evaluated || since >= min_interval_s_) write(s, "running");
}

void LiveRecordHook::after_train(TrainState& s) {
  switch (s.outcome) {
    case TrainOutcome::finished:
      return write(s, "finished");
    case TrainOutcome::diverged:
      return write(s, "diverged");
    case TrainOutcome::interrupted:
    case TrainOutcome::running:
      break;
  }
  write(s, "stopped");
}

void LiveRecordHook::write(const TrainState& s, const char* state) {
  LiveRecord r;
  r.state = state;
  r.iteration = s.saved.iteration;
  r.total = s.total;
  if (!s.saved.train.empty()) {
    r.loss = s.saved.train.back().loss;
    r.img_per_s = s.saved.train.back().img_per_s;
  }
  if (!s.saved.val.empty()) r.val_mean_iou = s.saved.val.back().mean_iou;
  const auto now = std::chrono::steady_clock::now();
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const auto done = s.saved.iteration - start_iteration_;
  if (done > 0 && r.state == "running")
    r.eta_s = elapsed / static_cast<double>(done) * static_cast<double>(s.total - s.saved.iteration);
  r.updated_utc = utc_now();
  r.host = host_name();
  r.pid = static_cast<long>(::getpid());
  try {
    write_live_record(file_, r);
  } catch (const IoError& e) {  // a view of the run must not stop it
    spdlog::warn("{}", e.what());
  }
  last_write_ = now;
}

ValPoint val_point(std::int64_t step, const EvalResult& r) {
  return {step, r.scores.pixel_acc, r.scores.mean_acc, r.scores.mean_iou, r.scores.fw_iou, r.bf_score, r.boundary_iou};
}

EvalHook::EvalHook(std::int64_t every, Evaluate evaluate) : every_(every), evaluate_(std::move(evaluate)) {}

bool EvalHook::needs_sync(const TrainState& s) const {
  const std::int64_t it = s.saved.iteration;
  return every_ > 0 && it % every_ == 0 && it < s.total;
}

void EvalHook::after_step(TrainState& s) {
  if (!needs_sync(s)) return;
  const std::int64_t it = s.saved.iteration;
  const EvalResult r = evaluate_(nullptr, nullptr);
  s.saved.val.push_back(val_point(it, r));
  spdlog::info("val @{}: mean IoU {:.4f} pixel acc {:.4f} BF {:.4f} boundary IoU {:.4f}", it, r.scores.mean_iou,
               r.scores.pixel_acc, r.bf_score, r.boundary_iou);
}

void EvalHook::after_train(TrainState& s) {
  if (s.outcome != TrainOutcome::finished) return;
  FinalEvaluation f;
  f.result = evaluate_(&f.examples, &f.image_ids);
  s.saved.val.push_back(val_point(s.total, f.result));
  s.final = std::move(f);
}

CheckpointHook::CheckpointHook(std::int64_t every, std::filesystem::path work_dir, Save save)
    : every_(every), work_dir_(std::move(work_dir)), save_(std::move(save)) {}

bool CheckpointHook::needs_sync(const TrainState& s) const {
  const std::int64_t it = s.saved.iteration;
  return it < s.total && ((every_ > 0 && it % every_ == 0) || s.stop);
}

void CheckpointHook::after_step(TrainState& s) {
  if (!needs_sync(s)) return;
  s.saved.wall_seconds = s.wall_seconds();
  save_(s.saved);
  if (!s.stop) return;
  s.outcome = TrainOutcome::interrupted;
  s.message = fmt::format("stopped at iteration {}/{}; checkpoint written to {}; run the same command to resume",
                          s.saved.iteration, s.total, work_dir_.string());
  spdlog::warn("{}", s.message);
}

ResultWriterHook::ResultWriterHook(const Config& cfg, RunInfo info, RunPaths paths, SaveWeights save_weights)
    : cfg_(cfg), info_(std::move(info)), paths_(std::move(paths)), save_weights_(std::move(save_weights)) {}

void ResultWriterHook::after_train(TrainState& s) {
  if (s.outcome == TrainOutcome::diverged) {
    write(s, nullptr, nullptr);
    remove_checkpoints(paths_.work_dir);
    return;
  }
  if (s.outcome != TrainOutcome::finished) return;
  if (!s.final) throw Error(fmt::format("run {} finished without a final evaluation", paths_.run_id));
  const EvalResult& r = s.final->result;
  const FinalRecord final = to_final_record(r, class_names(cfg_.data), s.final->image_ids);
  save_weights_(paths_.final_weights());
  write(s, &final, cfg_.eval.examples > 0 ? &s.final->examples : nullptr);
  remove_checkpoints(paths_.work_dir);
  spdlog::info("finished {}: mean IoU {:.4f}, pixel acc {:.4f}, BF {:.4f}, boundary IoU {:.4f} in {} -> {}",
               paths_.run_id, r.scores.mean_iou, r.scores.pixel_acc, r.bf_score, r.boundary_iou,
               format_duration(s.wall_seconds()), paths_.result_file.string());
}

void ResultWriterHook::write(const TrainState& s, const FinalRecord* final, const Examples* examples) {
  RunInfo info = info_;
  info.created_utc = utc_now();
  info.status = s.outcome == TrainOutcome::finished ? RunStatus::finished : RunStatus::diverged;
  info.message = s.message;
  info.wall_seconds = s.wall_seconds();
  const CheckpointState& st = s.saved;
  info.train_img_per_s = st.train_seconds > 0 ? static_cast<double>(st.images_seen) / st.train_seconds : 0.0;
  RunFileWriter writer(paths_.result_file);
  writer.write_info(info);
  writer.append_train(st.train);
  writer.append_val(st.val);
  if (final) writer.write_final(*final);
  if (examples) writer.write_examples(*examples);
  writer.commit();
}

}  // namespace fcnlab
