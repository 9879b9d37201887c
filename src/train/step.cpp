#include "train/step.h"

#include <utility>

#include "core/error.h"
#include "train/sgd.h"

namespace fcnlab {

void prepare_model(FCN& model, const Config& cfg, const torch::Device& device) {
  model->to(device);
  if (cfg.optim.channels_last) to_channels_last(*model);
  model->backbone->set_fuse_conv_relu(cfg.optim.fuse_conv_relu);
}

std::unique_ptr<torch::optim::Optimizer> make_optimizer(const OptimConfig& o, std::vector<torch::Tensor> params) {
  switch (o.name) {
    case Optimizer::sgd:
      return std::make_unique<ForeachSGD>(
          std::move(params), torch::optim::SGDOptions(o.lr).momentum(o.momentum).weight_decay(o.weight_decay));
    case Optimizer::adam:
      return std::make_unique<torch::optim::Adam>(
          std::move(params),
          torch::optim::AdamOptions(o.lr).betas({o.adam_beta1, o.adam_beta2}).weight_decay(o.weight_decay));
  }
  throw ConfigError("optim.name: unsupported optimiser");
}

std::unique_ptr<Loss> make_step_loss(const Config& cfg, std::vector<double> class_weights) {
  return make_loss(cfg.loss, cfg.data.num_classes, std::move(class_weights),
                   cfg.run.deterministic ? LossKernels::deterministic : LossKernels::fused);
}

torch::Tensor forward_backward(FCN& model, const Loss& loss, const torch::Tensor& images, const torch::Tensor& labels,
                               const StepSettings& settings, const LossScaler& scaler, double divide,
                               const std::function<void(const char* phase)>& after_phase) {
  auto done = [&](const char* phase) {
    if (after_phase) after_phase(phase);
  };
  const auto x = images_to_device(images, settings.device, settings.channels_last);
  const auto y = labels.to(settings.device, /*non_blocking=*/true);
  done("batch to device");
  torch::Tensor logits;
  {
    AutocastScope autocast(settings.device, settings.amp);
    logits = model->forward(x);
  }
  done("forward");
  // The loss (log-softmax, sums over the image) in fp32, as autocast's own policy would have it.
  auto l = loss(logits.to(torch::kFloat32), y);
  if (divide != 1.0) l = l / divide;
  done("loss");
  scaler.scale(l).backward();
  done("backward");
  return l.detach();
}

}  // namespace fcnlab
