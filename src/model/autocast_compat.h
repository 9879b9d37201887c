#pragma once
// Autocast's thread-local state by device type, across LibTorch versions: 2.4 replaced the
// per-device functions (is_enabled, is_cpu_enabled, get_autocast_gpu_dtype, ...) by ones taking
// the device type, and deprecated the old ones. Used by the fused conv + ReLU (which casts its
// inputs as autocast would) and by train/device's AutocastScope.
#include <ATen/autocast_mode.h>
#include <c10/core/DeviceType.h>
#include <c10/core/ScalarType.h>
#include <torch/version.h>

#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
#define FCNLAB_AUTOCAST_BY_DEVICE_TYPE 1
#endif

namespace fcnlab::autocast {

#ifdef FCNLAB_AUTOCAST_BY_DEVICE_TYPE
inline bool enabled(c10::DeviceType type) {
  return at::autocast::is_autocast_enabled(type);
}
inline void set_enabled(c10::DeviceType type, bool on) {
  at::autocast::set_autocast_enabled(type, on);
}
inline c10::ScalarType dtype(c10::DeviceType type) {
  return at::autocast::get_autocast_dtype(type);
}
inline void set_dtype(c10::DeviceType type, c10::ScalarType dtype) {
  at::autocast::set_autocast_dtype(type, dtype);
}
#else
inline bool enabled(c10::DeviceType type) {
  return type == c10::DeviceType::CUDA ? at::autocast::is_enabled() : at::autocast::is_cpu_enabled();
}
inline void set_enabled(c10::DeviceType type, bool on) {
  if (type == c10::DeviceType::CUDA)
    at::autocast::set_enabled(on);
  else
    at::autocast::set_cpu_enabled(on);
}
inline c10::ScalarType dtype(c10::DeviceType type) {
  return type == c10::DeviceType::CUDA ? at::autocast::get_autocast_gpu_dtype()
                                       : at::autocast::get_autocast_cpu_dtype();
}
inline void set_dtype(c10::DeviceType type, c10::ScalarType dtype) {
  if (type == c10::DeviceType::CUDA)
    at::autocast::set_autocast_gpu_dtype(dtype);
  else
    at::autocast::set_autocast_cpu_dtype(dtype);
}
#endif

}  // namespace fcnlab::autocast
