#include "train/evaluate.h"

#include <fmt/format.h>
#include <torch/version.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <deque>
#include <future>
#include <memory>
#include <string_view>
#include <thread>

#include "core/error.h"
#include "data/loader.h"
#include "train/device.h"
#include "train/step.h"

namespace fcnlab {

RuntimeInfo configure_runtime(const Config& cfg) {
  RuntimeInfo rt;
  const bool cuda = torch::cuda::is_available();
  switch (cfg.run.device.kind) {
    case DeviceKind::cpu:
      rt.device = torch::Device(torch::kCPU);
      break;
    case DeviceKind::cuda:
      if (!cuda)
        throw ConfigError(fmt::format("run.device = \"{}\": no CUDA device is available to this LibTorch {}",
                                      to_string(cfg.run.device), TORCH_VERSION));
      rt.device = torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(std::max(cfg.run.device.index, 0)));
      break;
    case DeviceKind::auto_:
      rt.device = cuda ? torch::Device(torch::kCUDA, 0) : torch::Device(torch::kCPU);
      break;
  }
  require_amp_supported(rt.device, cfg.optim.amp);
  const int threads =
      cfg.run.threads > 0 ? cfg.run.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  torch::set_num_threads(threads);
  torch::manual_seed(static_cast<std::uint64_t>(cfg.run.seed));
  at::globalContext().setDeterministicCuDNN(cfg.run.deterministic);
  at::globalContext().setBenchmarkCuDNN(!cfg.run.deterministic);
  at::globalContext().setDeterministicAlgorithms(cfg.run.deterministic, /*warn_only=*/false);
  // Deterministic cuBLAS needs a fixed workspace, set before its first handle (PyTorch raises
  // otherwise when a matmul runs in deterministic mode); a value the user set is kept.
  if (cfg.run.deterministic && rt.device.is_cuda()) ::setenv("CUBLAS_WORKSPACE_CONFIG", ":4096:8", /*overwrite=*/0);

  rt.torch_version = TORCH_VERSION;
  if (rt.device.is_cpu()) {
    rt.device_name = cpu_device_name(threads);
  } else {
    rt.device_name = fmt::format("cuda:{}", rt.device.index());
    rt.gpu_model = cuda_device_model(rt.device.index());
    if (at::globalContext().hasCuDNN()) rt.cudnn_version = std::to_string(at::detail::getCUDAHooks().versionCuDNN());
    const std::string config = at::detail::getCUDAHooks().showConfig();
    const auto pos = config.find("CUDA Runtime ");
    if (pos != std::string::npos) rt.cuda_version = config.substr(pos + 13, config.find('\n', pos) - pos - 13);
  }
  return rt;
}

std::string cpu_device_name(int threads) {
  return fmt::format("cpu ({} threads)", threads);
}

int recorded_cpu_threads(const std::string& device_name) {
  constexpr std::string_view prefix = "cpu (";
  if (device_name.rfind(prefix, 0) != 0) return 0;
  int threads = 0;
  const char* end = device_name.data() + device_name.size();
  if (std::from_chars(device_name.data() + prefix.size(), end, threads).ec != std::errc() || threads < 1) return 0;
  return device_name == cpu_device_name(threads) ? threads : 0;
}

namespace {

// Sets a model to eval mode for a scope and gives it back the mode it had.
class EvalModeScope {
 public:
  explicit EvalModeScope(FCN& model) : model_(model), was_training_(model->is_training()) { model_->eval(); }
  ~EvalModeScope() { model_->train(was_training_); }
  EvalModeScope(const EvalModeScope&) = delete;
  EvalModeScope& operator=(const EvalModeScope&) = delete;

 private:
  FCN& model_;
  bool was_training_;
};

// The example images, labels and predictions, each at the top left of a frame as large as the
// largest of them (void / 0 elsewhere).
void pack_examples(const std::vector<Sample>& kept, const std::vector<torch::Tensor>& kept_pred, Examples& e) {
  e.count = static_cast<std::int64_t>(kept.size());
  e.height = 0;
  e.width = 0;
  for (const auto& s : kept) {
    e.height = std::max<std::int64_t>(e.height, s.image.height);
    e.width = std::max<std::int64_t>(e.width, s.image.width);
  }
  const auto hw = static_cast<std::size_t>(e.height * e.width);
  e.image.assign(static_cast<std::size_t>(e.count) * hw * 3, 0);
  e.label.assign(static_cast<std::size_t>(e.count) * hw, 255);
  e.pred.assign(static_cast<std::size_t>(e.count) * hw, 255);
  e.ids.clear();
  for (std::size_t i = 0; i < kept.size(); ++i) {
    const auto& s = kept[i];
    const auto* pp = kept_pred[i].data_ptr<std::uint8_t>();
    for (int y = 0; y < s.image.height; ++y) {
      for (int x = 0; x < s.image.width; ++x) {
        const auto dst =
            i * hw + static_cast<std::size_t>(y) * static_cast<std::size_t>(e.width) + static_cast<std::size_t>(x);
        const auto src =
            static_cast<std::size_t>(y) * static_cast<std::size_t>(s.image.width) + static_cast<std::size_t>(x);
        for (int c = 0; c < 3; ++c)
          e.image[dst * 3 + static_cast<std::size_t>(c)] = s.image.pixels[src * 3 + static_cast<std::size_t>(c)];
        e.label[dst] = s.label.pixels[src];
        e.pred[dst] = pp[src];
      }
    }
    e.ids.push_back(s.id);
  }
}

// One decoded val batch, with its samples when examples are kept.
struct DecodedBatch {
  Batch batch;
  std::vector<Sample> samples;
};

}  // namespace

FCN load_trained_model(const Config& cfg, const std::filesystem::path& weights, const torch::Device& device) {
  if (!std::filesystem::exists(weights))
    throw IoError(fmt::format("{}: model weights not found (pass --checkpoint)", weights.string()));
  FCN model = make_fcn(cfg.model, cfg.data.num_classes);
  try {
    torch::load(model, weights.string());
  } catch (const c10::Error& e) {
    throw IoError(fmt::format("{}: cannot load model weights: {}", weights.string(), e.what_without_backtrace()));
  }
  prepare_model(model, cfg, device);
  return model;
}

BatchPredictions predict_batch(FCN& model, const Batch& batch, const Config& cfg, const torch::Device& device) {
  torch::Tensor logits;
  {
    // The training precision and layout (optim.amp, optim.channels_last) for evaluation too.
    AutocastScope autocast(device, cfg.optim.amp);
    logits = model->forward(images_to_device(batch.images, device, cfg.optim.channels_last));
  }
  const auto pred = logits.argmax(1).to(torch::kCPU, torch::kUInt8).contiguous();
  const auto label = batch.labels.to(torch::kUInt8).contiguous();
  BatchPredictions out;
  for (std::size_t k = 0; k < batch.sizes.size(); ++k) {
    const auto [h, w] = batch.sizes[k];
    const auto kk = static_cast<std::int64_t>(k);
    // Crop the padding of the batch away: metrics see each image at its own size.
    out.pred.push_back(pred[kk].slice(0, 0, h).slice(1, 0, w).contiguous());
    out.label.push_back(label[kk].slice(0, 0, h).slice(1, 0, w).contiguous());
  }
  return out;
}

SegmentationEvaluator score_batch(const BatchPredictions& p, int num_classes, const BoundaryOptions& options) {
  SegmentationEvaluator e(num_classes, options);
  for (std::size_t k = 0; k < p.pred.size(); ++k)
    e.process(p.pred[k].data_ptr<std::uint8_t>(), p.label[k].data_ptr<std::uint8_t>(),
              static_cast<int>(p.pred[k].size(0)), static_cast<int>(p.pred[k].size(1)));
  return e;
}

BoundaryOptions boundary_options(const EvalConfig& eval) {
  return BoundaryOptions{eval.trimap_widths, eval.bf_tolerance, eval.boundary_iou_dilation};
}

// Three stages overlap: the next batch decodes while the model runs on this one, and each batch's
// metrics (the boundary metrics are most of the time on the CPU) run on their own thread, at most
// data.workers batches at once, while the model goes on. The batches' evaluators merge in batch
// order, so the result is the serial evaluation's exactly.
EvalResult evaluate_model(FCN& model, const VocSegmentation& ds, const Config& cfg, const torch::Device& device,
                          Examples* examples, std::vector<std::string>* image_ids) {
  torch::NoGradGuard no_grad;
  const EvalModeScope eval_mode(model);
  const BoundaryOptions bopts = boundary_options(cfg.eval);
  SegmentationEvaluator evaluator(cfg.data.num_classes, bopts);
  const auto n_examples = examples ? std::min<std::size_t>(static_cast<std::size_t>(cfg.eval.examples), ds.size()) : 0;
  const auto batches = val_batches(ds.size(), cfg.data.val_batch);
  const auto decode = [&](std::size_t b) {
    DecodedBatch d;
    d.batch = load_val_batch(ds, batches[b], cfg.data, batches[b].front() < n_examples ? &d.samples : nullptr);
    return d;
  };
  const std::size_t in_flight = static_cast<std::size_t>(std::max(1, cfg.data.workers));
  std::vector<Sample> kept;
  std::vector<torch::Tensor> kept_pred;
  if (image_ids) image_ids->clear();
  std::deque<std::future<SegmentationEvaluator>> scoring;
  std::future<DecodedBatch> next;
  if (!batches.empty()) next = std::async(std::launch::async, decode, 0);  // an empty split scores nothing
  for (std::size_t b = 0; b < batches.size(); ++b) {
    DecodedBatch d = next.get();
    if (b + 1 < batches.size()) next = std::async(std::launch::async, decode, b + 1);
    auto p = std::make_shared<const BatchPredictions>(predict_batch(model, d.batch, cfg, device));
    for (std::size_t k = 0; k < batches[b].size(); ++k) {
      if (image_ids) image_ids->push_back(ds.id(batches[b][k]));
      if (batches[b][k] < n_examples) {
        kept.push_back(std::move(d.samples[k]));
        kept_pred.push_back(p->pred[k]);
      }
    }
    scoring.push_back(
        std::async(std::launch::async, [p, &cfg, &bopts] { return score_batch(*p, cfg.data.num_classes, bopts); }));
    for (; scoring.size() > in_flight; scoring.pop_front()) evaluator.merge(scoring.front().get());
  }
  for (; !scoring.empty(); scoring.pop_front()) evaluator.merge(scoring.front().get());
  if (examples && !kept.empty()) pack_examples(kept, kept_pred, *examples);
  return evaluator.evaluate();
}

}  // namespace fcnlab
