#pragma once
// One training step's forward and backward, shared by the trainer and `fcnlab bench train` so the
// benchmark times exactly what training runs.
#include <torch/torch.h>

#include <functional>
#include <memory>
#include <vector>

#include "config/config.h"

#include "config/enums.h"
#include "loss/loss.h"
#include "model/fcn.h"
#include "train/device.h"

namespace fcnlab {

// Moves a freshly built or loaded model to `device` and applies the run's speed switches:
// optim.channels_last (to_channels_last) and optim.fuse_conv_relu (VGG16Impl::set_fuse_conv_relu),
// the latter only without run.deterministic.
void prepare_model(FCN& model, const Config& cfg, const torch::Device& device);

// The optimiser of optim.name over the model's trainable parameters: SGD with momentum and weight
// decay (ForeachSGD), or Adam. With optim.bias_lr_mult and optim.bias_decay_mult both 1, one
// parameter group holds every parameter in model order; otherwise there are two, the rest and then
// the parameters named `bias`, the latter with bias_decay_mult x the weight decay and (see
// set_learning_rate) bias_lr_mult x the learning rate.
std::unique_ptr<torch::optim::Optimizer> make_optimizer(const OptimConfig& o, FCN& model);

// Sets the learning rate of an optimiser from make_optimizer(o, ...) to `lr`, and of its bias group
// to lr x o.bias_lr_mult.
void set_learning_rate(torch::optim::Optimizer& optimizer, const OptimConfig& o, double lr);

// The training loss of `cfg` (make_loss with `class_weights`): with run.deterministic = false, the
// fused CE kernels (LossKernels::fused), otherwise the deterministic formulations.
std::unique_ptr<Loss> make_step_loss(const Config& cfg, std::vector<double> class_weights);

struct StepSettings {
  torch::Device device{torch::kCPU};
  Amp amp = Amp::off;
  bool channels_last = false;
};

// Moves the batch to the device (asynchronously from pinned memory, in the model's layout), runs
// the forward pass under autocast, the loss in fp32 divided by `divide` (iter_size), and the
// backward pass through `scaler`. Returns the loss, detached and still on the device: nothing is
// read back, so the host can queue the next step while the GPU works. `after_phase`, when given,
// is called after each phase ("batch to device", "forward", "loss", "backward"): `fcnlab bench
// train --breakdown` synchronises and times there.
torch::Tensor forward_backward(FCN& model, const Loss& loss, const torch::Tensor& images, const torch::Tensor& labels,
                               const StepSettings& settings, const LossScaler& scaler, double divide = 1.0,
                               const std::function<void(const char* phase)>& after_phase = {});

// What an optimisation step works on, built as `fcnlab train` builds it: the model (initialised
// under run.seed, then prepare_model), its trainable parameters, the optimiser, the loss and the
// fp16 loss scaler. The trainer and `fcnlab bench train` both step through it.
class Learner {
 public:
  Learner(const Config& cfg, const torch::Device& device, std::vector<double> class_weights);

  void zero_grad() { optimizer_->zero_grad(); }
  // forward_backward of one batch into the accumulated gradients.
  torch::Tensor forward_backward(const torch::Tensor& images, const torch::Tensor& labels, double divide = 1.0,
                                 const std::function<void(const char* phase)>& after_phase = {}) {
    return fcnlab::forward_backward(model_, *loss_, images, labels, settings_, scaler_, divide, after_phase);
  }
  // The optimiser step (fp16: skipped on inf/NaN gradients, the loss scale lowered; LossScaler).
  void step() { scaler_.step(*optimizer_, params_); }

  FCN& model() { return model_; }
  torch::optim::Optimizer& optimizer() { return *optimizer_; }
  LossScaler& scaler() { return scaler_; }

 private:
  FCN model_;
  std::vector<torch::Tensor> params_;
  std::unique_ptr<torch::optim::Optimizer> optimizer_;
  std::unique_ptr<Loss> loss_;
  LossScaler scaler_;
  StepSettings settings_;
};

}  // namespace fcnlab
