#include "model/geometry.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "core/error.h"

namespace fcnlab {

int scaled_channels(int base, double width) {
  return std::max(4, static_cast<int>(std::lround(base * width)));
}

FcnSpec fcn_spec(const ModelConfig& cfg, int num_classes) {
  FcnSpec s;
  s.num_classes = num_classes;
  for (std::size_t b = 0; b < s.block_channels.size(); ++b)
    s.block_channels[b] = scaled_channels(kVggBaseChannels[b], cfg.width);
  s.fc_channels = scaled_channels(cfg.fc_channels, cfg.width);
  s.dropout = cfg.dropout;
  s.batchnorm = cfg.batchnorm;
  s.skip = cfg.skip;
  s.fusion = cfg.fusion;
  s.upsample = cfg.upsample;
  s.padding = cfg.padding;
  s.score_scaling = cfg.score_scaling;
  return s;
}

UpGeom upsample_geometry(int factor, Padding padding) {
  return {2 * factor, factor, padding == Padding::same ? factor / 2 : 0};
}

std::string fcn_name(Skip skip) {
  return fmt::format("FCN-{}s", static_cast<int>(skip));
}

namespace {

// Where cell j of a feature map sits in input-image coordinates: scale * j + shift (the centre
// of its receptive field, as caffe's coord_map computes it).
struct CoordMap {
  double scale = 1, shift = 0;
  CoordMap conv(int k, int s, int p) const { return {scale * s, shift + scale * ((k - 1) / 2.0 - p)}; }
  CoordMap deconv(int k, int s, int p) const { return {scale / s, shift + scale * (p - (k - 1) / 2.0) / s}; }
};

// Offset at which `x` must be cropped so that its cells line up with those of `ref`. The two
// throws are invariants of the head plan that no config reaches (the model tests build every
// skip x padding x upsample combination), hence logic_error.
int crop_offset(const CoordMap& x, const CoordMap& ref, const std::string& what) {
  if (std::abs(x.scale - ref.scale) > 1e-9)
    throw std::logic_error(fmt::format("FCN geometry: {} is cropped against a map of another stride", what));
  const double off = (ref.shift - x.shift) / x.scale;
  if (off < -1e-9 || std::abs(off - std::round(off)) > 1e-9)
    throw std::logic_error(fmt::format("FCN geometry: crop offset of {} is {}, not a non-negative integer", what, off));
  return static_cast<int>(std::lround(off));
}

const char* pool_name(int block) {
  static const char* names[] = {"pool1", "pool2", "pool3", "pool4", "pool5"};
  return names[block - 1];
}

}  // namespace

HeadPlan fcn_head_plan(const FcnSpec& spec) {
  HeadPlan plan;
  const bool caffe = spec.padding == Padding::caffe;
  plan.conv1_padding = caffe ? kCaffeInputPad : 1;
  plan.fc6_padding = caffe ? 0 : 3;
  plan.input_multiple = caffe ? 1 : kSameMultiple;

  // Coordinate maps of the pool outputs and of fc7.
  std::array<CoordMap, 6> pool{};  // pool[b] = output of block b (1..5)
  CoordMap m = CoordMap{}.conv(3, 1, plan.conv1_padding);
  for (int b = 1; b <= 5; ++b) {
    if (b > 1) m = m.conv(3, 1, 1);  // the block's first conv (other convs: same geometry)
    m = m.conv(2, 2, 0);             // 2x2 max-pool, stride 2
    pool[static_cast<std::size_t>(b)] = m;
  }
  CoordMap score = pool[5].conv(7, 1, plan.fc6_padding);  // fc6; fc7 and score_fr are 1x1

  const int finest = static_cast<int>(spec.skip);
  int stride = 32;
  const char* up_names[] = {"upscore2", "upscore_pool4", "upscore_pool3"};
  for (int block = 4; stride > finest; --block) {
    const UpGeom g = upsample_geometry(2, spec.padding);
    score = score.deconv(g.kernel, g.stride, g.padding);
    stride /= 2;
    SkipLevel level;
    level.stride = stride;
    level.block = block;
    level.pool = pool_name(block);
    level.input_scale = spec.score_scaling ? std::pow(10.0, -2.0 * (5 - block)) : 1.0;
    level.score_name = std::string("score_") + level.pool;
    level.up_name = up_names[4 - block];
    level.fuse_name = std::string("fuse_") + level.pool;
    level.crop_offset = crop_offset(pool[static_cast<std::size_t>(block)], score, level.score_name);
    plan.skips.push_back(level);
  }
  plan.final_factor = stride;
  plan.final_name = fmt::format("upscore{}", stride);
  const UpGeom g = upsample_geometry(stride, spec.padding);
  score = score.deconv(g.kernel, g.stride, g.padding);
  plan.final_crop_offset = crop_offset(score, CoordMap{}, plan.final_name);
  return plan;
}

namespace {

struct Shape {
  int c;
  std::int64_t h, w;
  double stride;
};

std::int64_t conv_out(std::int64_t n, int k, int s, int p) {
  return (n + 2 * p - k) / s + 1;
}

class TableBuilder {
 public:
  std::vector<LayerInfo> layers;

  Shape conv(const std::string& name, const Shape& in, int out_c, int k, int p, bool bn) {
    Shape out{out_c, conv_out(in.h, k, 1, p), conv_out(in.w, k, 1, p), in.stride};
    LayerInfo l = base(name, fmt::format("conv {}x{} p{}{}", k, k, p, bn ? " +BN" : ""), in, out);
    l.params = std::int64_t{out_c} * in.c * k * k + out_c + (bn ? 2 * out_c : 0);
    l.macs = out.h * out.w * out_c * std::int64_t{in.c} * k * k;
    return add(l, out);
  }
  Shape pool(const std::string& name, const Shape& in) {
    // 2x2 stride 2, ceil mode
    Shape out{in.c, (in.h + 1) / 2, (in.w + 1) / 2, in.stride * 2};
    return add(base(name, "max-pool 2x2 s2 ceil", in, out), out);
  }
  Shape deconv(const std::string& name, const Shape& in, int factor, Padding padding, Upsample mode) {
    const UpGeom g = upsample_geometry(factor, padding);
    Shape out{in.c, (in.h - 1) * g.stride - 2 * g.padding + g.kernel, (in.w - 1) * g.stride - 2 * g.padding + g.kernel,
              in.stride / factor};
    const bool fixed = mode == Upsample::bilinear;
    LayerInfo l = base(name,
                       fmt::format("deconv {}x{} s{} p{} ({})", g.kernel, g.kernel, g.stride, g.padding,
                                   fixed                       ? "fixed bilinear"
                                   : mode == Upsample::learned ? "bilinear init"
                                                               : "random init"),
                       in, out);
    const std::int64_t kk = std::int64_t{g.kernel} * g.kernel;
    // Fixed bilinear is a depthwise (per-class) frozen kernel; learned ones are full C x C.
    (fixed ? l.frozen : l.params) = fixed ? in.c * kk : std::int64_t{in.c} * in.c * kk;
    l.macs = in.h * in.w * in.c * (fixed ? 1 : std::int64_t{in.c}) * kk;
    return add(l, out);
  }
  Shape fuse(const std::string& name, const Shape& coarse, Fusion fusion) {
    LayerInfo l = base(name,
                       fusion == Fusion::concat ? "concat + conv 1x1"
                       : fusion == Fusion::sum  ? "sum"
                                                : "max",
                       coarse, coarse);
    if (fusion == Fusion::concat) {
      l.in_channels = 2 * coarse.c;
      l.params = std::int64_t{coarse.c} * 2 * coarse.c + coarse.c;
      l.macs = coarse.h * coarse.w * coarse.c * 2 * std::int64_t{coarse.c};
    }
    return add(l, coarse);
  }
  Shape crop(const std::string& name, const Shape& in, std::int64_t h, std::int64_t w, int offset) {
    Shape out{in.c, h, w, in.stride};
    if (in.h < offset + h || in.w < offset + w)
      throw DataError(fmt::format("input too small for this FCN: {} needs {}x{} at offset {}, has {}x{}", name, h, w,
                                  offset, in.h, in.w));
    return add(base(name, fmt::format("crop offset {}", offset), in, out), out);
  }
  Shape pad(const std::string& name, const Shape& in, std::int64_t h, std::int64_t w) {
    Shape out{in.c, h, w, in.stride};
    return add(base(name, "zero-pad bottom/right", in, out), out);
  }

 private:
  static LayerInfo base(const std::string& name, const std::string& op, const Shape& in, const Shape& out) {
    LayerInfo l;
    l.name = name;
    l.op = op;
    l.in_channels = in.c;
    l.out_channels = out.c;
    l.height = out.h;
    l.width = out.w;
    l.stride = out.stride;
    return l;
  }
  Shape add(const LayerInfo& l, const Shape& out) {
    layers.push_back(l);
    return out;
  }
};

}  // namespace

std::vector<LayerInfo> fcn_layers(const FcnSpec& spec, std::int64_t height, std::int64_t width) {
  if (height < 1 || width < 1) throw DataError(fmt::format("input size {}x{}: expected at least 1x1", height, width));
  const HeadPlan plan = fcn_head_plan(spec);
  TableBuilder t;
  Shape x{3, height, width, 1};
  const auto round_up = [&](std::int64_t n) {
    return (n + plan.input_multiple - 1) / plan.input_multiple * plan.input_multiple;
  };
  if (round_up(height) != height || round_up(width) != width) x = t.pad("pad", x, round_up(height), round_up(width));

  std::array<Shape, 6> pools{};
  for (int b = 1; b <= 5; ++b) {
    for (int i = 1; i <= kVggBlockConvs[static_cast<std::size_t>(b - 1)]; ++i) {
      const int p = (b == 1 && i == 1) ? plan.conv1_padding : 1;
      x = t.conv(fmt::format("conv{}_{}", b, i), x, spec.block_channels[static_cast<std::size_t>(b - 1)], 3, p,
                 spec.batchnorm);
    }
    x = t.pool(pool_name(b), x);
    pools[static_cast<std::size_t>(b)] = x;
  }
  if (x.h + 2 * plan.fc6_padding < 7 || x.w + 2 * plan.fc6_padding < 7)
    throw DataError(fmt::format("input size {}x{}: too small for this FCN (pool5 is {}x{}, under the 7x7 fc6 kernel)",
                                height, width, x.h, x.w));
  x = t.conv("fc6", x, spec.fc_channels, 7, plan.fc6_padding, spec.batchnorm);
  x = t.conv("fc7", x, spec.fc_channels, 1, 0, spec.batchnorm);
  Shape score = t.conv("score_fr", x, spec.num_classes, 1, 0, false);
  for (const SkipLevel& level : plan.skips) {
    score = t.deconv(level.up_name, score, 2, spec.padding, spec.upsample);
    Shape s = t.conv(level.score_name, pools[static_cast<std::size_t>(level.block)], spec.num_classes, 1, 0, false);
    t.crop(level.score_name + "c", s, score.h, score.w, level.crop_offset);
    score = t.fuse(level.fuse_name, score, spec.fusion);
  }
  score = t.deconv(plan.final_name, score, plan.final_factor, spec.padding, spec.upsample);
  t.crop("score", score, height, width, plan.final_crop_offset);
  return t.layers;
}

LayerTotals totals(const std::vector<LayerInfo>& layers) {
  LayerTotals s;
  for (const auto& l : layers) {
    s.params += l.params;
    s.frozen += l.frozen;
    s.macs += l.macs;
  }
  return s;
}

std::int64_t fcn_flops(const ModelConfig& cfg, int num_classes, int height, int width) {
  return 2 * totals(fcn_layers(fcn_spec(cfg, num_classes), height, width)).macs;
}

}  // namespace fcnlab
