#include "data/transforms.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/error.h"

namespace fcnlab {

torch::Tensor normalise_image(const Image8& rgb, const DataConfig& cfg) {
  if (rgb.channels != 3) throw DataError(fmt::format("normalise_image: expected 3 channels, got {}", rgb.channels));
  auto hwc = torch::from_blob(const_cast<std::uint8_t*>(rgb.pixels.data()), {rgb.height, rgb.width, 3}, torch::kUInt8);
  auto chw = hwc.permute({2, 0, 1}).to(torch::kFloat32).contiguous();
  // (x / 255 - mean) / std  ==  x * (1 / (255 std)) - mean / std
  const float s[3] = {static_cast<float>(1.0 / (255.0 * cfg.std[0])), static_cast<float>(1.0 / (255.0 * cfg.std[1])),
                      static_cast<float>(1.0 / (255.0 * cfg.std[2]))};
  const float m[3] = {static_cast<float>(cfg.mean[0] / cfg.std[0]), static_cast<float>(cfg.mean[1] / cfg.std[1]),
                      static_cast<float>(cfg.mean[2] / cfg.std[2])};
  for (int c = 0; c < 3; ++c) chw[c].mul_(s[c]).sub_(m[c]);
  return chw;
}

Image8 denormalise_image(const torch::Tensor& image, const DataConfig& cfg) {
  auto t = image.detach().to(torch::kCPU, torch::kFloat32).clone();
  for (int c = 0; c < 3; ++c)
    t[c].mul_(cfg.std[static_cast<std::size_t>(c)]).add_(cfg.mean[static_cast<std::size_t>(c)]);
  t = (t * 255.0).round_().clamp_(0, 255).to(torch::kUInt8).permute({1, 2, 0}).contiguous();
  Image8 out = make_image(static_cast<int>(t.size(1)), static_cast<int>(t.size(0)), 3);
  std::memcpy(out.pixels.data(), t.data_ptr<std::uint8_t>(), out.pixels.size());
  return out;
}

torch::Tensor label_tensor(const Image8& label) {
  if (label.channels != 1) throw DataError(fmt::format("label_tensor: expected 1 channel, got {}", label.channels));
  return torch::from_blob(const_cast<std::uint8_t*>(label.pixels.data()), {label.height, label.width}, torch::kUInt8)
      .to(torch::kInt64);
}

torch::Tensor resize_image(const torch::Tensor& image, int h, int w) {
  namespace F = torch::nn::functional;
  return F::interpolate(image.unsqueeze(0), F::InterpolateFuncOptions()
                                                .size(std::vector<std::int64_t>{h, w})
                                                .mode(torch::kBilinear)
                                                .align_corners(false))
      .squeeze(0);
}

namespace {
torch::Tensor nearest_index(std::int64_t in, std::int64_t out) {
  auto idx = torch::empty({out}, torch::kInt64);
  auto* p = idx.data_ptr<std::int64_t>();
  for (std::int64_t i = 0; i < out; ++i)
    p[i] = std::min<std::int64_t>(
        in - 1, static_cast<std::int64_t>(
                    std::floor((static_cast<double>(i) + 0.5) * static_cast<double>(in) / static_cast<double>(out))));
  return idx;
}
}  // namespace

torch::Tensor resize_label(const torch::Tensor& label, int h, int w) {
  return label.index_select(0, nearest_index(label.size(0), h)).index_select(1, nearest_index(label.size(1), w));
}

TensorSample plain_sample(const Sample& raw, const DataConfig& cfg) {
  return {normalise_image(raw.image, cfg), label_tensor(raw.label)};
}

namespace {

// Source rows (or columns) of output positions [start, start + count) of a bilinear resize from
// `in` to `out` pixels, align_corners = false, as torch's upsample_bilinear2d computes them.
struct LerpCoords {
  torch::Tensor i0, i1, w;  // int64, int64, float32
};
LerpCoords lerp_coords(std::int64_t in, std::int64_t out, std::int64_t start, std::int64_t count) {
  LerpCoords c{torch::empty({count}, torch::kInt64), torch::empty({count}, torch::kInt64),
               torch::empty({count}, torch::kFloat32)};
  auto* i0 = c.i0.data_ptr<std::int64_t>();
  auto* i1 = c.i1.data_ptr<std::int64_t>();
  auto* w = c.w.data_ptr<float>();
  const double scale = static_cast<double>(in) / static_cast<double>(out);
  for (std::int64_t k = 0; k < count; ++k) {
    const double src = std::max(0.0, (static_cast<double>(start + k) + 0.5) * scale - 0.5);
    const std::int64_t a = std::min<std::int64_t>(static_cast<std::int64_t>(src), in - 1);
    i0[k] = a;
    i1[k] = std::min<std::int64_t>(a + 1, in - 1);
    w[k] = static_cast<float>(src - static_cast<double>(a));
  }
  return c;
}

torch::Tensor nearest_range(std::int64_t in, std::int64_t out, std::int64_t start, std::int64_t count) {
  auto idx = torch::empty({count}, torch::kInt64);
  auto* p = idx.data_ptr<std::int64_t>();
  for (std::int64_t k = 0; k < count; ++k)
    p[k] = std::min<std::int64_t>(
        in - 1, static_cast<std::int64_t>(std::floor((static_cast<double>(start + k) + 0.5) * static_cast<double>(in) /
                                                     static_cast<double>(out))));
  return idx;
}

}  // namespace

TensorSample augment_sample(const Sample& raw, const DataConfig& cfg, Rng& rng, AugmentDraw* draw) {
  AugmentDraw d;
  const double lo = cfg.scale.at(0), hi = cfg.scale.at(1);
  d.scale = rng.uniform(lo, hi);
  const int h = raw.image.height, w = raw.image.width;
  d.scaled_h = std::max(1, static_cast<int>(std::lround(h * d.scale)));
  d.scaled_w = std::max(1, static_cast<int>(std::lround(w * d.scale)));
  const int c = cfg.crop;
  if (c > 0) {
    d.crop_y = static_cast<int>(rng.below(static_cast<std::uint64_t>(std::max(d.scaled_h - c, 0) + 1)));
    d.crop_x = static_cast<int>(rng.below(static_cast<std::uint64_t>(std::max(d.scaled_w - c, 0) + 1)));
  }
  d.hflip = cfg.hflip && rng.chance(0.5);
  d.vflip = cfg.vflip && rng.chance(0.5);
  if (draw) *draw = d;

  // Only the crop window of the rescaled image is computed: bilinear interpolation is separable,
  // so rows then columns are interpolated with index_select + lerp on the window's pixels alone
  // (the same sampling positions as upsample_bilinear2d, align_corners = false).
  const int ch = c > 0 ? std::min(c, d.scaled_h) : d.scaled_h;
  const int cw = c > 0 ? std::min(c, d.scaled_w) : d.scaled_w;
  auto hwc = torch::from_blob(const_cast<std::uint8_t*>(raw.image.pixels.data()), {h, w, 3}, torch::kUInt8);
  auto lab = torch::from_blob(const_cast<std::uint8_t*>(raw.label.pixels.data()), {h, w}, torch::kUInt8);
  torch::Tensor img;  // [ch, cw, 3] float, 0..255
  if (d.scaled_h == h && d.scaled_w == w) {
    img = hwc.slice(0, d.crop_y, d.crop_y + ch).slice(1, d.crop_x, d.crop_x + cw).to(torch::kFloat32);
    lab = lab.slice(0, d.crop_y, d.crop_y + ch).slice(1, d.crop_x, d.crop_x + cw);
  } else {
    const LerpCoords ry = lerp_coords(h, d.scaled_h, d.crop_y, ch);
    const LerpCoords rx = lerp_coords(w, d.scaled_w, d.crop_x, cw);
    auto top = hwc.index_select(0, ry.i0).to(torch::kFloat32);
    auto bot = hwc.index_select(0, ry.i1).to(torch::kFloat32);
    auto rows = top.add_((bot - top).mul_(ry.w.view({-1, 1, 1})));  // [ch, w, 3]
    auto left = rows.index_select(1, rx.i0);
    auto right = rows.index_select(1, rx.i1);
    img = left.add_((right - left).mul_(rx.w.view({1, -1, 1})));  // [ch, cw, 3]
    lab = lab.index_select(0, nearest_range(h, d.scaled_h, d.crop_y, ch))
              .index_select(1, nearest_range(w, d.scaled_w, d.crop_x, cw));
  }
  // normalise: (x / 255 - mean) / std
  const auto scale =
      torch::tensor({static_cast<float>(1.0 / (255.0 * cfg.std[0])), static_cast<float>(1.0 / (255.0 * cfg.std[1])),
                     static_cast<float>(1.0 / (255.0 * cfg.std[2]))});
  const auto shift =
      torch::tensor({static_cast<float>(cfg.mean[0] / cfg.std[0]), static_cast<float>(cfg.mean[1] / cfg.std[1]),
                     static_cast<float>(cfg.mean[2] / cfg.std[2])});
  torch::Tensor image = img.mul_(scale).sub_(shift).permute({2, 0, 1});
  torch::Tensor label = lab;
  if (c > 0 && (ch < c || cw < c)) {  // pad bottom/right: image with the mean (0 after normalisation), label with void
    auto pi = torch::zeros({3, c, c}, torch::kFloat32);
    auto pl = torch::full({c, c}, 255, torch::kUInt8);
    pi.slice(1, 0, ch).slice(2, 0, cw).copy_(image);
    pl.slice(0, 0, ch).slice(1, 0, cw).copy_(label);
    image = pi;
    label = pl;
  }
  if (d.hflip) {
    image = image.flip({2});
    label = label.flip({1});
  }
  if (d.vflip) {
    image = image.flip({1});
    label = label.flip({0});
  }
  return {image.contiguous(), label.to(torch::kInt64).contiguous()};
}

}  // namespace fcnlab
