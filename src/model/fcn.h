#pragma once
// The FCN-VGG16 of Long, Shelhamer & Darrell with every ablation axis of DESIGN.md: skip
// (32/16/8/4), fusion (sum/concat/max), upsampling (learned/fixed bilinear/random), padding
// (caffe 100-px pad + geometric crops, or same-padding), at-once score scaling, optional BN.
#include <torch/torch.h>

#include <cstdint>
#include <vector>

#include "config/config.h"
#include "model/geometry.h"

namespace fcnlab {

// The bilinear upsampling kernel of the reference (surgery.upsample_filt), size k x k:
// w(i,j) = (1 - |i - c| / f) (1 - |j - c| / f), f = ceil(k / 2), c = f - 1 (k odd) or f - 0.5.
torch::Tensor bilinear_kernel(int k);

// Convolutionalisation: the [out, channels*kh*kw] matrix of a fully connected layer applied to a
// flattened (C-order) [channels, kh, kw] map becomes the equivalent [out, channels, kh, kw] kernel.
torch::Tensor convolutionalise(const torch::Tensor& fc_weight, std::int64_t channels, std::int64_t kh, std::int64_t kw);

struct VggFeatures {
  torch::Tensor pool2, pool3, pool4, fc7;
};

// VGG16 with fc6 (7x7 conv) and fc7 (1x1 conv) as convolutions. With `batchnorm`, BatchNorm follows
// every conv (fc6 and fc7 included). Init: He (Kaiming normal, fan_out, ReLU) weights, zero biases.
class VGG16Impl : public torch::nn::Module {
 public:
  VGG16Impl(std::array<int, 5> block_channels, int fc_channels, bool batchnorm, double dropout, int conv1_padding,
            int fc6_padding);
  VggFeatures forward(torch::Tensor x);
  // Run conv + bias + ReLU as one node (conv2d_relu, cuDNN's fused forward on CUDA) for conv1_1 ...
  // conv5_3 and fc7. Not fc6: cuDNN's fused 7x7 kernels were measured many times slower than the
  // plain ones (pytorch/pytorch#68506). Ignored with batchnorm (BN sits between conv and ReLU).
  // A speed switch (optim.fuse_conv_relu): the function computed is the same.
  void set_fuse_conv_relu(bool on) { fuse_conv_relu_ = on; }

  std::vector<torch::nn::Conv2d> convs;       // conv1_1 ... conv5_3 (13)
  std::vector<torch::nn::BatchNorm2d> norms;  // one per conv, fc6, fc7 (empty without batchnorm)
  torch::nn::Conv2d fc6{nullptr}, fc7{nullptr};

 private:
  torch::Tensor conv_relu(std::size_t i, torch::nn::Conv2d& conv, std::int64_t padding, const torch::Tensor& x);
  double dropout_;
  int conv1_padding_, fc6_padding_;
  bool fuse_conv_relu_ = false;
};
TORCH_MODULE(VGG16);

// x`factor` upsampling of a C-channel score map as a transposed conv (geometry: upsample_geometry).
// learned: C x C kernel, bilinear on the diagonal, trained; learned_random: PyTorch's default init,
// trained; bilinear: the same bilinear kernel frozen, per channel (a buffer, not a parameter).
class UpsamplerImpl : public torch::nn::Module {
 public:
  UpsamplerImpl(int channels, int factor, Padding padding, Upsample mode);
  torch::Tensor forward(const torch::Tensor& x);

  torch::nn::ConvTranspose2d deconv{nullptr};  // learned, learned_random
  torch::Tensor kernel;                        // bilinear: frozen [C, 1, k, k]

 private:
  UpGeom geom_;
  int channels_;
};
TORCH_MODULE(Upsampler);

class FCNImpl : public torch::nn::Module {
 public:
  explicit FCNImpl(const FcnSpec& spec);
  // [B,3,H,W] -> [B,C,H,W] logits, any H, W >= 1.
  torch::Tensor forward(torch::Tensor x);
  const FcnSpec& spec() const { return spec_; }
  const HeadPlan& plan() const { return plan_; }

  VGG16 backbone{nullptr};
  torch::nn::Conv2d score_fr{nullptr};
  std::vector<torch::nn::Conv2d> score_pool;  // per skip level (coarse to fine)
  std::vector<Upsampler> upscore;             // x2 upsamplers feeding each skip level
  std::vector<torch::nn::Conv2d> fuse;        // concat: 1x1 conv 2C -> C, init [I I] (= sum at start)
  Upsampler final_up{nullptr};

 private:
  FcnSpec spec_;
  HeadPlan plan_;
};
TORCH_MODULE(FCN);

// Builds the model of `cfg` (random init from the current torch seed) and loads cfg.pretrained
// (torchvision VGG16 weights in HDF5, see pretrained.h) when it is non-empty.
FCN make_fcn(const ModelConfig& cfg, int num_classes);

// The parameters the optimiser should see: requires_grad ones (fixed bilinear kernels are buffers).
std::vector<torch::Tensor> trainable_parameters(FCN& model);

}  // namespace fcnlab
