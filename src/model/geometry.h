#pragma once
// FCN architecture as plain data (no torch): channel counts, the head's skip levels, the crop
// offsets derived from the layer geometry, and a per-layer table (output sizes, strides,
// parameters, multiply-adds) for a given input size. The torch module (fcn.h) is built from the
// same FcnSpec and uses the same offsets, so the table and the network cannot drift apart.
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "config/config.h"

namespace fcnlab {

// VGG16: five blocks of 3x3 convs (2,2,3,3,3) with these channels at width 1.0.
inline constexpr std::array<int, 5> kVggBlockConvs{2, 2, 3, 3, 3};
inline constexpr std::array<int, 5> kVggBaseChannels{64, 128, 256, 512, 512};
inline constexpr int kCaffeInputPad = 100;  // conv1_1 padding of the reference (padding = caffe)
inline constexpr int kSameMultiple = 32;    // padding = same: input padded to a multiple of this

// Channel count scaled by the width multiplier: max(4, round(base * width)).
int scaled_channels(int base, double width);

// Everything the module needs, in plain values (what make_fcn derives from ModelConfig).
struct FcnSpec {
  int num_classes = 21;
  std::array<int, 5> block_channels = kVggBaseChannels;
  int fc_channels = 4096;
  double dropout = 0.5;
  bool batchnorm = false;
  Skip skip = Skip::s8;
  Fusion fusion = Fusion::sum;
  Upsample upsample = Upsample::learned;
  Padding padding = Padding::caffe;
  bool score_scaling = false;
};
FcnSpec fcn_spec(const ModelConfig& cfg, int num_classes);

// One fused skip level of the head, coarse to fine: pool4 (stride 16), pool3 (8), pool2 (4).
struct SkipLevel {
  int stride = 16;         // stride of the pooled map (16, 8, 4)
  int block = 4;           // VGG block whose pool output is scored (4 = pool4)
  std::string pool;        // "pool4"
  double input_scale = 1;  // score_scaling: 0.01 (pool4), 1e-4 (pool3), 1e-6 (pool2); else 1
  int crop_offset = 0;     // offset of the skip's score map cropped to the upsampled coarser map
  std::string score_name;  // score_pool4
  std::string up_name;     // upsampler feeding this level: upscore2, upscore_pool4, upscore_pool3
  std::string fuse_name;   // fuse_pool4
};

struct HeadPlan {
  int conv1_padding = 1;   // 100 with padding = caffe
  int fc6_padding = 3;     // 0 with padding = caffe
  int input_multiple = 1;  // same: inputs padded (bottom/right) to a multiple of 32
  std::vector<SkipLevel> skips;
  int final_factor = 32;  // last upsampling factor (= finest fused stride)
  int final_crop_offset = 0;
  std::string final_name;  // upscore32, upscore16, upscore8, upscore4
};
HeadPlan fcn_head_plan(const FcnSpec& spec);

// Transposed conv geometry of an x`factor` upsampler: kernel 2f, stride f, padding f/2 with
// same-padding (exact x f output, aligned with align_corners=false interpolation), 0 with caffe.
struct UpGeom {
  int kernel, stride, padding;
};
UpGeom upsample_geometry(int factor, Padding padding);

struct LayerInfo {
  std::string name;  // conv1_1, pool1, fc6, score_fr, upscore2, fuse_pool4, crop, ...
  std::string op;    // e.g. "conv 3x3 s1 p1 +BN", "deconv 16x16 s8 (fixed)"
  int in_channels = 0;
  int out_channels = 0;
  std::int64_t height = 0;  // output size at the given input size
  std::int64_t width = 0;
  double stride = 1;        // input pixels per output cell
  std::int64_t params = 0;  // trainable parameters (BatchNorm affine included)
  std::int64_t frozen = 0;  // frozen kernel elements (fixed bilinear buffers)
  std::int64_t macs = 0;    // multiply-adds of one image's forward pass
};
// The layers in execution order at input height x width. BN, ReLU, dropout, pooling and the
// element-wise sum/max of fusion are free in `macs`; convs, transposed convs and the 1x1 concat
// fusion conv are counted over their full (uncropped) outputs.
std::vector<LayerInfo> fcn_layers(const FcnSpec& spec, std::int64_t height, std::int64_t width);

struct LayerTotals {
  std::int64_t params = 0, frozen = 0, macs = 0;
};
LayerTotals totals(const std::vector<LayerInfo>& layers);

// "FCN-8s" etc.
std::string fcn_name(Skip skip);

// Forward FLOPs of one image (2 x multiply-adds), from the layer table.
std::int64_t fcn_flops(const ModelConfig& cfg, int num_classes, int height, int width);

}  // namespace fcnlab
