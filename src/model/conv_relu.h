#pragma once
// relu(conv2d(x, weight, bias)), stride 1 and square zero padding, as one autograd node whose
// forward can fuse: on CUDA with cuDNN it is cuDNN's convolution with the bias add and the ReLU in
// its epilogue (at::cudnn_convolution_relu), instead of a convolution followed by two more passes
// over its output (bias add, ReLU); elsewhere it is conv2d then relu_. The backward, on every
// device, masks the incoming gradient with the output (threshold_backward, as ReLU's) and calls
// convolution_backward, saving what autograd saves for conv2d + relu_ (input, weight, output).
// Under autocast the inputs are cast to autocast's dtype, as autocast does for conv2d; gradients
// come back in the dtypes of the arguments. cuDNN's fused kernels are not deterministic: callers
// use this only when run.deterministic is false (optim.fuse_conv_relu). The output must not be
// modified in place (it is saved for the backward; autograd's version check would throw).
#include <torch/torch.h>

#include <cstdint>

namespace fcnlab {

torch::Tensor conv2d_relu(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias,
                          std::int64_t padding);

// Whether conv2d_relu on `x`'s device runs cuDNN's fused kernel (CUDA with cuDNN enabled and not
// in deterministic mode).
bool conv2d_relu_fuses(const torch::Tensor& x);

}  // namespace fcnlab
