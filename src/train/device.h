#pragma once
// The device side of a training step: autocast (optim.amp), memory layout (optim.channels_last),
// fp16 loss scaling, host-to-device copies and peak device memory. Shared by the trainer and
// `fcnlab bench train`, so the benchmark times exactly the trainer's step.
#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

#include "config/enums.h"

namespace fcnlab {

// ConfigError unless `amp` can run on `device`: bf16 on the CPU or CUDA, fp16 (autocast and loss
// scaling) on CUDA only. Checked by configure_runtime before a run starts, and by the two below.
void require_amp_supported(const torch::Device& device, Amp amp);

// Autocast on `device` for the scope's lifetime with optim.amp's dtype (nothing for Amp::off):
// the matmul/conv family runs in bf16/fp16, weights are cast once per scope (autocast's cache),
// parameters stay fp32. Restores the previous autocast state on exit. Autocast is thread-local:
// open it in the thread that runs the forward pass.
class AutocastScope {
 public:
  AutocastScope(const torch::Device& device, Amp amp);
  ~AutocastScope();
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
  bool active_ = false;
  c10::DeviceType type_ = c10::DeviceType::CPU;
  bool prev_enabled_ = false;
  c10::ScalarType prev_dtype_ = c10::ScalarType::BFloat16;
};

// Puts every 4-D parameter and buffer of `module` (convolution weights, the frozen bilinear
// kernels) in channels-last layout, in place (the tensors stay the same objects: an optimiser
// built before or after sees them).
void to_channels_last(torch::nn::Module& module);

// The memory format the model's inputs should have.
inline c10::MemoryFormat input_format(bool channels_last) {
  return channels_last ? c10::MemoryFormat::ChannelsLast : c10::MemoryFormat::Contiguous;
}

// Copies a host batch to `device` (non-blocking: the loader hands out pinned memory when training
// on CUDA) in the layout the model expects.
torch::Tensor images_to_device(const torch::Tensor& images, const torch::Device& device, bool channels_last);

// Dynamic loss scaling for fp16 (torch.amp.GradScaler's algorithm and defaults: scale 2^16,
// x2 after 2000 steps without inf/NaN gradients, x0.5 and the step skipped on one), built on the
// ATen ops GradScaler itself uses. Disabled (scale() is the identity, step() always steps) unless
// `enabled`. The ops exist for CUDA only in LibTorch 1.13: enabling it on the CPU is a ConfigError.
class LossScaler {
 public:
  LossScaler(const torch::Device& device, bool enabled);
  torch::Tensor scale(const torch::Tensor& loss) const;
  // Unscales the gradients of `params` in place, steps `optimizer` unless any was inf/NaN (this
  // reads one flag back from the device), then updates the scale. Returns whether it stepped.
  bool step(torch::optim::Optimizer& optimizer, const std::vector<torch::Tensor>& params);
  // Checkpointing: the scale and the count of good steps since it last changed.
  std::vector<double> state() const;
  void load_state(const std::vector<double>& state);

 private:
  bool enabled_ = false;
  torch::Tensor scale_, growth_tracker_, found_inf_;
};

// Peak device memory since the last reset (CUDA only: on the CPU `known` is false and the host's
// peak RSS is the figure to quote).
struct DeviceMemory {
  bool known = false;
  double peak_allocated_mib = 0;  // tensors
  double peak_reserved_mib = 0;   // the caching allocator's pool
};
void reset_peak_memory(const torch::Device& device);
DeviceMemory peak_memory(const torch::Device& device);

// Waits for the device's queued work (no-op on the CPU).
void synchronize(const torch::Device& device);

// The model name of CUDA device `index` as the driver reports it (cudaDeviceProp::name, e.g.
// "NVIDIA H100 80GB HBM3"); "" in a build without CUDA code.
std::string cuda_device_model(int index);

}  // namespace fcnlab
