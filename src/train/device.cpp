#include "train/device.h"

#include <ATen/autocast_mode.h>
#include <fmt/format.h>

#include "core/error.h"
#include "model/autocast_compat.h"

#ifdef FCNLAB_WITH_CUDA
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDACachingAllocator.h>
#endif

namespace fcnlab {

void require_amp_supported(const torch::Device& device, Amp amp) {
  if (amp == Amp::off) return;
  if (!device.is_cuda() && !device.is_cpu())
    throw ConfigError(
        fmt::format("optim.amp = \"{}\": autocast on device {} is not supported", to_string(amp), device.str()));
  if (amp == Amp::fp16 && device.is_cpu())
    throw ConfigError(
        "optim.amp = \"fp16\" needs CUDA (LibTorch's CPU autocast and loss scaling are bf16-only); "
        "this run is on the CPU: use optim.amp = \"bf16\" or \"off\"");
}

AutocastScope::AutocastScope(const torch::Device& device, Amp amp) {
  if (amp == Amp::off) return;
  require_amp_supported(device, amp);
  type_ = device.type();
  prev_enabled_ = autocast::enabled(type_);
  prev_dtype_ = autocast::dtype(type_);
  autocast::set_dtype(type_, amp == Amp::fp16 ? c10::ScalarType::Half : c10::ScalarType::BFloat16);
  autocast::set_enabled(type_, true);
  at::autocast::increment_nesting();
  active_ = true;
}

AutocastScope::~AutocastScope() {
  if (!active_) return;
  // Leaving the outermost scope drops the weights cast in it (they change at the next step).
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  autocast::set_enabled(type_, prev_enabled_);
  autocast::set_dtype(type_, prev_dtype_);
}

void to_channels_last(torch::nn::Module& module) {
  torch::NoGradGuard no_grad;
  auto convert = [](torch::Tensor& t) {
    if (t.defined() && t.dim() == 4) t.set_data(t.contiguous(c10::MemoryFormat::ChannelsLast));
  };
  for (auto& p : module.parameters()) convert(p);
  for (auto& b : module.buffers()) convert(b);
}

torch::Tensor images_to_device(const torch::Tensor& images, const torch::Device& device, bool channels_last) {
  // Copy first, then change the layout on the device (a host-side permute would be a slow CPU copy).
  return images.to(device, /*non_blocking=*/true).contiguous(input_format(channels_last));
}

LossScaler::LossScaler(const torch::Device& device, bool enabled) : enabled_(enabled) {
  if (!enabled_) return;
  require_amp_supported(device, Amp::fp16);
  const auto f32 = torch::TensorOptions().dtype(torch::kFloat32).device(device);
  scale_ = torch::full({1}, 65536.0, f32);
  growth_tracker_ = torch::zeros({1}, torch::TensorOptions().dtype(torch::kInt32).device(device));
  found_inf_ = torch::zeros({1}, f32);
}

torch::Tensor LossScaler::scale(const torch::Tensor& loss) const {
  return enabled_ ? loss * scale_.reshape({}) : loss;  // a scalar stays a scalar
}

bool LossScaler::step(torch::optim::Optimizer& optimizer, const std::vector<torch::Tensor>& params) {
  if (!enabled_) {
    optimizer.step();
    return true;
  }
  std::vector<torch::Tensor> grads;
  for (const auto& p : params)
    if (p.grad().defined()) grads.push_back(p.grad());
  found_inf_.zero_();
  const auto inv_scale = scale_.to(torch::kFloat64).reciprocal().to(torch::kFloat32);
  at::_amp_foreach_non_finite_check_and_unscale_(grads, found_inf_, inv_scale);
  const bool finite = found_inf_.item<float>() == 0.0f;
  if (finite) optimizer.step();
  at::_amp_update_scale_(scale_, growth_tracker_, found_inf_, /*scale_growth_factor=*/2.0,
                         /*scale_backoff_factor=*/0.5, /*growth_interval=*/2000);
  return finite;
}

std::vector<double> LossScaler::state() const {
  if (!enabled_) return {};
  return {scale_.item<double>(), static_cast<double>(growth_tracker_.item<int>())};
}

void LossScaler::load_state(const std::vector<double>& state) {
  if (!enabled_ || state.empty()) return;
  if (state.size() != 2) throw IoError(fmt::format("loss scaler state has {} values, expected 2", state.size()));
  scale_.fill_(state[0]);
  growth_tracker_.fill_(static_cast<int>(state[1]));
}

void synchronize(const torch::Device& device) {
  if (device.is_cuda()) torch::cuda::synchronize(device.index());
}

void reset_peak_memory(const torch::Device& device) {
#ifdef FCNLAB_WITH_CUDA
  if (device.is_cuda()) c10::cuda::CUDACachingAllocator::resetPeakStats(device.index());
#else
  (void)device;
#endif
}

DeviceMemory peak_memory(const torch::Device& device) {
  DeviceMemory m;
#ifdef FCNLAB_WITH_CUDA
  if (device.is_cuda()) {
    const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(device.index());
    // Index 0 is StatType::AGGREGATE (all pools), in 1.13 and 2.x alike.
    m.known = true;
    m.peak_allocated_mib = static_cast<double>(stats.allocated_bytes[0].peak) / (1024.0 * 1024.0);
    m.peak_reserved_mib = static_cast<double>(stats.reserved_bytes[0].peak) / (1024.0 * 1024.0);
  }
#else
  (void)device;
#endif
  return m;
}

std::string cuda_device_model(int index) {
#ifdef FCNLAB_WITH_CUDA
  return at::cuda::getDeviceProperties(static_cast<c10::DeviceIndex>(index))->name;
#else
  (void)index;
  return "";
#endif
}

}  // namespace fcnlab
