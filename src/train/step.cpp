#include "train/step.h"

namespace fcnlab {

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
