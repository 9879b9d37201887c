#include "model/conv_relu.h"

#include <torch/cuda.h>

#include <array>
#include <vector>

#include "model/autocast_compat.h"

namespace fcnlab {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::tensor_list;

// The dtype autocast would run a convolution of `x` in: its lower-precision dtype when autocast is
// on for x's device type and x is floating point, else x's own.
c10::ScalarType compute_dtype(const torch::Tensor& x) {
  const auto type = x.device().type();
  if ((type == c10::DeviceType::CUDA || type == c10::DeviceType::CPU) && autocast::enabled(type) &&
      x.is_floating_point())
    return autocast::dtype(type);
  return x.scalar_type();
}

class Conv2dRelu : public torch::autograd::Function<Conv2dRelu> {
 public:
  // Autograd runs this with grad mode off.
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& x, const torch::Tensor& weight,
                               const torch::Tensor& bias, std::int64_t padding) {
    const auto dtype = compute_dtype(x);
    const auto xc = x.to(dtype), wc = weight.to(dtype), bc = bias.to(dtype);
    const std::array<std::int64_t, 2> stride{1, 1}, pad{padding, padding}, dilation{1, 1};
    torch::Tensor y = conv2d_relu_fuses(xc) ? at::cudnn_convolution_relu(xc, wc, bc, stride, pad, dilation, 1)
                                            : at::conv2d(xc, wc, bc, stride, pad, dilation, 1).relu_();
    ctx->save_for_backward({xc, wc, y});
    ctx->saved_data["padding"] = padding;
    ctx->saved_data["x_dtype"] = static_cast<std::int64_t>(x.scalar_type());
    ctx->saved_data["w_dtype"] = static_cast<std::int64_t>(weight.scalar_type());
    ctx->saved_data["b_dtype"] = static_cast<std::int64_t>(bias.scalar_type());
    return y;
  }

  static tensor_list backward(AutogradContext* ctx, tensor_list grad_outputs) {
    const auto saved = ctx->get_saved_variables();
    const auto &xc = saved[0], &wc = saved[1], &y = saved[2];
    const std::int64_t p = ctx->saved_data["padding"].toInt();
    const auto dtype = [&](const char* key) { return static_cast<c10::ScalarType>(ctx->saved_data[key].toInt()); };
    const auto g = at::threshold_backward(grad_outputs[0].to(y.scalar_type()), y, 0);
    const std::array<bool, 3> mask{ctx->needs_input_grad(0), ctx->needs_input_grad(1), ctx->needs_input_grad(2)};
    const std::array<std::int64_t, 1> bias_size{wc.size(0)};
    const std::array<std::int64_t, 2> stride{1, 1}, pad{p, p}, dilation{1, 1}, output_padding{0, 0};
    auto [gx, gw, gb] = at::convolution_backward(g, xc, wc, at::IntArrayRef(bias_size), stride, pad, dilation,
                                                 /*transposed=*/false, output_padding, /*groups=*/1, mask);
    const auto back = [](const torch::Tensor& t, c10::ScalarType d) { return t.defined() ? t.to(d) : t; };
    return {back(gx, dtype("x_dtype")), back(gw, dtype("w_dtype")), back(gb, dtype("b_dtype")), torch::Tensor()};
  }
};

}  // namespace

bool conv2d_relu_fuses(const torch::Tensor& x) {
  // Never in deterministic mode (the trainer does not fuse when run.deterministic, see step.cpp): cuDNN's fused
  // kernel is run with deterministic = false whatever the global flag says.
  const auto& ctx = at::globalContext();
  return x.is_cuda() && ctx.userEnabledCuDNN() && !ctx.deterministicCuDNN() && torch::cuda::cudnn_is_available();
}

torch::Tensor conv2d_relu(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias,
                          std::int64_t padding) {
  return Conv2dRelu::apply(x, weight, bias, padding);
}

}  // namespace fcnlab
