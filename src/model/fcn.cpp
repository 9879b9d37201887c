#include "model/fcn.h"

#include <fmt/format.h>

#include <cmath>

#include "core/error.h"
#include "model/conv_relu.h"
#include "model/pretrained.h"

namespace fcnlab {

namespace nn = torch::nn;

torch::Tensor bilinear_kernel(int k) {
  const int f = (k + 1) / 2;
  const double c = (k % 2 == 1) ? f - 1 : f - 0.5;
  auto idx = torch::arange(k, torch::kFloat64);
  auto w1 = 1 - (idx - c).abs() / f;
  return torch::outer(w1, w1).to(torch::kFloat32);
}

torch::Tensor convolutionalise(const torch::Tensor& fc_weight, std::int64_t channels, std::int64_t kh,
                               std::int64_t kw) {
  TORCH_CHECK(fc_weight.dim() == 2 && fc_weight.size(1) == channels * kh * kw, "convolutionalise: weight ",
              fc_weight.sizes(), " does not take a flattened [", channels, ",", kh, ",", kw, "] map");
  return fc_weight.reshape({fc_weight.size(0), channels, kh, kw});
}

namespace {

void he_init(const nn::Conv2d& conv) {
  nn::init::kaiming_normal_(conv->weight, 0.0, torch::kFanOut, torch::kReLU);
  nn::init::zeros_(conv->bias);
}

}  // namespace

// ---------------------------------------------------------------- VGG16

VGG16Impl::VGG16Impl(std::array<int, 5> block_channels, int fc_channels, bool batchnorm, double dropout,
                     int conv1_padding, int fc6_padding)
    : dropout_(dropout), conv1_padding_(conv1_padding), fc6_padding_(fc6_padding) {
  torch::NoGradGuard no_grad;
  int in = 3;
  auto add_norm = [&](const std::string& name, int c) {
    if (!batchnorm) return;
    norms.push_back(register_module(name, nn::BatchNorm2d(c)));
  };
  for (std::size_t b = 0; b < 5; ++b) {
    for (int i = 1; i <= kVggBlockConvs[b]; ++i) {
      const int pad = (b == 0 && i == 1) ? conv1_padding : 1;
      const std::string name = fmt::format("conv{}_{}", b + 1, i);
      convs.push_back(register_module(name, nn::Conv2d(nn::Conv2dOptions(in, block_channels[b], 3).padding(pad))));
      he_init(convs.back());
      add_norm(fmt::format("bn{}_{}", b + 1, i), block_channels[b]);
      in = block_channels[b];
    }
  }
  fc6 = register_module("fc6", nn::Conv2d(nn::Conv2dOptions(in, fc_channels, 7).padding(fc6_padding)));
  he_init(fc6);
  add_norm("bn6", fc_channels);
  fc7 = register_module("fc7", nn::Conv2d(nn::Conv2dOptions(fc_channels, fc_channels, 1)));
  he_init(fc7);
  add_norm("bn7", fc_channels);
}

torch::Tensor VGG16Impl::conv_relu(std::size_t i, nn::Conv2d& conv, std::int64_t padding, const torch::Tensor& x) {
  if (fuse_conv_relu_ && norms.empty() && conv.get() != fc6.get())
    return conv2d_relu(x, conv->weight, conv->bias, padding);
  auto y = conv->forward(x);
  if (!norms.empty()) y = norms[i]->forward(y);
  return torch::relu_(y);
}

VggFeatures VGG16Impl::forward(torch::Tensor x) {
  VggFeatures f;
  std::size_t i = 0;
  for (std::size_t b = 0; b < 5; ++b) {
    for (int n = 0; n < kVggBlockConvs[b]; ++n, ++i) x = conv_relu(i, convs[i], i == 0 ? conv1_padding_ : 1, x);
    x = torch::max_pool2d(x, {2, 2}, {2, 2}, {0, 0}, {1, 1}, /*ceil_mode=*/true);
    if (b == 1) f.pool2 = x;
    if (b == 2) f.pool3 = x;
    if (b == 3) f.pool4 = x;
  }
  x = conv_relu(i++, fc6, fc6_padding_, x);
  if (dropout_ > 0) x = torch::dropout(x, dropout_, is_training());
  x = conv_relu(i++, fc7, 0, x);
  if (dropout_ > 0) x = torch::dropout(x, dropout_, is_training());
  f.fc7 = x;
  return f;
}

// ---------------------------------------------------------------- upsampling

UpsamplerImpl::UpsamplerImpl(int channels, int factor, Padding padding, Upsample mode)
    : geom_(upsample_geometry(factor, padding)), channels_(channels) {
  torch::NoGradGuard no_grad;
  const auto bilinear = bilinear_kernel(geom_.kernel);
  if (mode == Upsample::bilinear) {
    kernel = register_buffer("kernel", bilinear.expand({channels, 1, geom_.kernel, geom_.kernel}).contiguous());
    return;
  }
  deconv = register_module("deconv", nn::ConvTranspose2d(nn::ConvTranspose2dOptions(channels, channels, geom_.kernel)
                                                             .stride(geom_.stride)
                                                             .padding(geom_.padding)
                                                             .bias(false)));
  if (mode == Upsample::learned) {
    deconv->weight.zero_();
    for (int c = 0; c < channels; ++c) deconv->weight[c][c].copy_(bilinear);
  }
}

torch::Tensor UpsamplerImpl::forward(const torch::Tensor& x) {
  if (deconv) return deconv->forward(x);
  return torch::conv_transpose2d(x, kernel, {}, geom_.stride, geom_.padding, 0, channels_);
}

// ---------------------------------------------------------------- FCN

FCNImpl::FCNImpl(const FcnSpec& spec) : spec_(spec), plan_(fcn_head_plan(spec)) {
  torch::NoGradGuard no_grad;
  const int C = spec.num_classes;
  backbone = register_module("backbone", VGG16(spec.block_channels, spec.fc_channels, spec.batchnorm, spec.dropout,
                                               plan_.conv1_padding, plan_.fc6_padding));
  auto score_layer = [&](const std::string& name, int in) {
    auto conv = register_module(name, nn::Conv2d(nn::Conv2dOptions(in, C, 1)));
    conv->weight.zero_();  // as the reference: an untrained head outputs zeros
    conv->bias.zero_();
    return conv;
  };
  score_fr = score_layer("score_fr", spec.fc_channels);
  for (const SkipLevel& level : plan_.skips) {
    upscore.push_back(register_module(level.up_name, Upsampler(C, 2, spec.padding, spec.upsample)));
    score_pool.push_back(score_layer(level.score_name, spec.block_channels[static_cast<std::size_t>(level.block - 1)]));
    if (spec.fusion == Fusion::concat) {
      auto conv = register_module(level.fuse_name, nn::Conv2d(nn::Conv2dOptions(2 * C, C, 1)));
      auto eye = torch::eye(C).view({C, C, 1, 1});
      conv->weight.copy_(torch::cat({eye, eye}, 1));
      conv->bias.zero_();
      fuse.push_back(conv);
    }
  }
  final_up = register_module(plan_.final_name, Upsampler(C, plan_.final_factor, spec.padding, spec.upsample));
}

namespace {

torch::Tensor crop(const torch::Tensor& x, int offset, std::int64_t h, std::int64_t w, const std::string& what) {
  if (x.size(2) < offset + h || x.size(3) < offset + w)
    throw DataError(fmt::format("FCN: {} is {}x{}, too small for a {}x{} crop at offset {}", what, x.size(2), x.size(3),
                                h, w, offset));
  if (offset == 0 && x.size(2) == h && x.size(3) == w) return x;
  return x.narrow(2, offset, h).narrow(3, offset, w);
}

}  // namespace

torch::Tensor FCNImpl::forward(torch::Tensor x) {
  TORCH_CHECK(x.dim() == 4 && x.size(1) == 3, "FCN expects [B,3,H,W], got ", x.sizes());
  const std::int64_t H = x.size(2), W = x.size(3);
  const std::int64_t m = plan_.input_multiple;
  const std::int64_t pad_h = (H + m - 1) / m * m - H, pad_w = (W + m - 1) / m * m - W;
  if (pad_h > 0 || pad_w > 0) x = torch::constant_pad_nd(x, {0, pad_w, 0, pad_h}, 0);

  const VggFeatures f = backbone->forward(x);
  torch::Tensor score = score_fr->forward(f.fc7);
  for (std::size_t i = 0; i < plan_.skips.size(); ++i) {
    const SkipLevel& level = plan_.skips[i];
    const torch::Tensor up = upscore[i]->forward(score);
    torch::Tensor pool = level.block == 4 ? f.pool4 : level.block == 3 ? f.pool3 : f.pool2;
    if (level.input_scale != 1.0) pool = pool * level.input_scale;
    const torch::Tensor s =
        crop(score_pool[i]->forward(pool), level.crop_offset, up.size(2), up.size(3), level.score_name);
    switch (spec_.fusion) {
      case Fusion::sum:
        score = up + s;
        break;
      case Fusion::max:
        score = torch::maximum(up, s);
        break;
      case Fusion::concat:
        score = fuse[i]->forward(torch::cat({up, s}, 1));
        break;
    }
  }
  score = final_up->forward(score);
  // A view into the padded score map: the loss reads it in place (no copy of [B,C,H,W]).
  return crop(score, plan_.final_crop_offset, H, W, plan_.final_name);
}

FCN make_fcn(const ModelConfig& cfg, int num_classes) {
  if (num_classes < 1) throw ConfigError(fmt::format("make_fcn: num_classes must be >= 1, got {}", num_classes));
  FCN model(fcn_spec(cfg, num_classes));
  if (!cfg.pretrained.empty()) {
    if (cfg.batchnorm)
      throw ConfigError(fmt::format(
          "model.pretrained = \"{}\" needs model.batchnorm = false: the importer reads torchvision's plain VGG16",
          cfg.pretrained));
    load_vgg16_weights(*model->backbone, cfg.pretrained);
  }
  return model;
}

std::vector<torch::Tensor> trainable_parameters(FCN& model) {
  std::vector<torch::Tensor> out;
  for (auto& p : model->parameters())
    if (p.requires_grad()) out.push_back(p);
  return out;
}

}  // namespace fcnlab
