#include "train/step.h"

namespace fcnlab {

torch::Tensor forward_backward(FCN& model, const Loss& loss, const torch::Tensor& images, const torch::Tensor& labels,
                               const StepSettings& settings, const LossScaler& scaler, double divide) {
  const auto x = images_to_device(images, settings.device, settings.channels_last);
  const auto y = labels.to(settings.device, /*non_blocking=*/true);
  torch::Tensor logits;
  {
    AutocastScope autocast(settings.device, settings.amp);
    logits = model->forward(x);
  }
  // The loss (log-softmax, sums over the image) in fp32, as autocast's own policy would have it.
  auto l = loss(logits.to(torch::kFloat32), y);
  if (divide != 1.0) l = l / divide;
  scaler.scale(l).backward();
  return l.detach();
}

}  // namespace fcnlab
