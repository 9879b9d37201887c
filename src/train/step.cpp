#include "train/step.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <utility>

#include "core/error.h"
#include "train/sgd.h"

namespace fcnlab {

void prepare_model(FCN& model, const Config& cfg, const torch::Device& device) {
  model->to(device);
  if (cfg.optim.channels_last) to_channels_last(*model);
  // Never in deterministic mode: cuDNN's fused kernels are not deterministic, and the key is left
  // out of the run id, so it must not change what a deterministic run computes (not even on the
  // CPU, where the fused node's backward is another sequence of kernels).
  const bool fuse = cfg.optim.fuse_conv_relu && !cfg.run.deterministic;
  if (cfg.optim.fuse_conv_relu && !fuse)
    spdlog::info("optim.fuse_conv_relu is off for this run: run.deterministic = true takes the unfused kernels");
  else if (fuse && cfg.model.batchnorm)
    spdlog::info("optim.fuse_conv_relu fuses nothing here: model.batchnorm puts a BatchNorm between conv and ReLU");
  model->backbone->set_fuse_conv_relu(fuse);
}

namespace {

bool has_bias_group(const OptimConfig& o) {
  return o.bias_lr_mult != 1.0 || o.bias_decay_mult != 1.0;
}

// The parameter groups of make_optimizer: all trainable parameters in model order, or the rest and
// then the parameters named `bias`. Both take the optimiser's defaults; make() sets the bias group's.
std::vector<torch::optim::OptimizerParamGroup> param_groups(const OptimConfig& o, FCN& model) {
  if (!has_bias_group(o)) return {torch::optim::OptimizerParamGroup(trainable_parameters(model))};
  std::vector<torch::Tensor> rest, biases;
  for (const auto& p : model->named_parameters()) {
    if (!p.value().requires_grad()) continue;
    const auto& name = p.key();
    const auto dot = name.rfind('.');
    (name.compare(dot == std::string::npos ? 0 : dot + 1, std::string::npos, "bias") == 0 ? biases : rest)
        .push_back(p.value());
  }
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(std::move(rest));
  groups.emplace_back(std::move(biases));
  return groups;
}

// The optimiser, with the bias group's learning rate and weight decay set on the group after
// construction. (Options given with a group would not do: LibTorch 2.x merges them with the
// defaults, taking the defaults' value for every field left at its constructor default, so a
// bias decay of 0 would become the weights' decay.)
template <class Opt, class Options>
std::unique_ptr<torch::optim::Optimizer> make(const OptimConfig& o, FCN& model, const Options& options) {
  auto opt = std::make_unique<Opt>(param_groups(o, model), options);
  if (has_bias_group(o)) {
    auto& bias = static_cast<Options&>(opt->param_groups().at(1).options());
    bias.lr(o.lr * o.bias_lr_mult);
    bias.weight_decay(o.weight_decay * o.bias_decay_mult);
  }
  return opt;
}

}  // namespace

std::unique_ptr<torch::optim::Optimizer> make_optimizer(const OptimConfig& o, FCN& model) {
  switch (o.name) {
    case Optimizer::sgd:
      return make<ForeachSGD>(o, model,
                              torch::optim::SGDOptions(o.lr).momentum(o.momentum).weight_decay(o.weight_decay));
    case Optimizer::adam:
      return make<torch::optim::Adam>(
          o, model, torch::optim::AdamOptions(o.lr).betas({o.adam_beta1, o.adam_beta2}).weight_decay(o.weight_decay));
  }
  throw ConfigError("optim.name: unsupported optimiser");
}

void set_learning_rate(torch::optim::Optimizer& optimizer, const OptimConfig& o, double lr) {
  auto& groups = optimizer.param_groups();
  const std::size_t expected = has_bias_group(o) ? 2 : 1;
  if (groups.size() != expected)
    throw ConfigError(
        fmt::format("optim.bias_lr_mult/optim.bias_decay_mult: this config needs {} parameter group(s), "
                    "the optimiser has {} (it was made for another config)",
                    expected, groups.size()));
  groups[0].options().set_lr(lr);
  if (expected == 2) groups[1].options().set_lr(lr * o.bias_lr_mult);
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

namespace {
FCN seeded_model(const Config& cfg, const torch::Device& device) {
  torch::manual_seed(static_cast<std::uint64_t>(cfg.run.seed));  // the init is reproducible
  FCN model = make_fcn(cfg.model, cfg.data.num_classes);
  prepare_model(model, cfg, device);
  return model;
}
}  // namespace

Learner::Learner(const Config& cfg, const torch::Device& device, std::vector<double> class_weights)
    : model_(seeded_model(cfg, device)),
      params_(trainable_parameters(model_)),
      optimizer_(make_optimizer(cfg.optim, model_)),
      loss_(make_step_loss(cfg, std::move(class_weights))),
      scaler_(device, cfg.optim.amp == Amp::fp16),
      settings_{device, cfg.optim.amp, cfg.optim.channels_last} {}

}  // namespace fcnlab
