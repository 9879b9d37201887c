#pragma once
// Joint image/label transforms on LibTorch tensors: random scale (bilinear for images, nearest for
// labels, both on pixel centres), random crop to data.crop (images padded with the mean, i.e. 0
// after normalisation; labels with 255), horizontal/vertical flips, normalisation.
#include <torch/torch.h>

#include "config/config.h"
#include "core/rng.h"
#include "data/image_io.h"
#include "data/voc.h"

namespace fcnlab {

struct TensorSample {
  torch::Tensor image;  // [3,H,W] float32, normalised with data.mean / data.std
  torch::Tensor label;  // [H,W] int64, 255 = void
};

// uint8 HWC RGB -> [3,H,W] float32 ((x / 255 - mean) / std).
torch::Tensor normalise_image(const Image8& rgb, const DataConfig& cfg);
// [3,H,W] normalised -> uint8 HWC (for tests and example images).
Image8 denormalise_image(const torch::Tensor& image, const DataConfig& cfg);
// uint8 HxW -> [H,W] int64.
torch::Tensor label_tensor(const Image8& label);

// What the augmentation of one sample drew (for tests and logs).
struct AugmentDraw {
  double scale = 1.0;
  int scaled_h = 0, scaled_w = 0;
  int crop_y = 0, crop_x = 0;  // crop offset in the scaled image
  bool hflip = false, vflip = false;
};

// The training transform: draws scale, crop offset and flips from `rng` in a fixed order.
// With data.crop = 0 the scaled image is returned whole.
TensorSample augment_sample(const Sample& raw, const DataConfig& cfg, Rng& rng, AugmentDraw* draw = nullptr);
// Validation: normalisation only.
TensorSample plain_sample(const Sample& raw, const DataConfig& cfg);

// Resizes: bilinear (align_corners = false) for [3,H,W] float images, nearest on pixel centres
// (source index floor((i + 0.5) * in / out)) for [H,W] labels.
torch::Tensor resize_image(const torch::Tensor& image, int h, int w);
torch::Tensor resize_label(const torch::Tensor& label, int h, int w);

}  // namespace fcnlab
