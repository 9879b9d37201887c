#include "metrics/evaluator.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <utility>

#include "core/error.h"
#include "metrics/boundary.h"
#include "metrics/distance.h"

namespace fcnlab {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::size_t sz(int v) {
  return static_cast<std::size_t>(v);
}

struct Box {
  int x0 = std::numeric_limits<int>::max(), y0 = std::numeric_limits<int>::max(), x1 = -1, y1 = -1;  // inclusive
  bool empty() const { return x1 < 0; }
  void add(int x, int y) {
    x0 = std::min(x0, x);
    x1 = std::max(x1, x);
    y0 = std::min(y0, y);
    y1 = std::max(y1, y);
  }
};

void check_values(const std::uint8_t* pred, const std::uint8_t* label, std::size_t n, int num_classes) {
  const auto C = static_cast<unsigned>(num_classes);
  for (std::size_t i = 0; i < n; ++i) {
    if (pred[i] >= C) throw DataError(fmt::format("prediction value {} at pixel {} is outside [0, {})", pred[i], i, C));
    if (label[i] >= C && label[i] != kVoidLabel)
      throw DataError(
          fmt::format("label value {} at pixel {} is outside [0, {}) and is not 255 (void)", label[i], i, C));
  }
}

// Trimap: distance of every pixel to the nearest ground-truth label boundary (void included).
// Adds this image's row: per band and class, right, ground-truth and predicted pixels.
void add_trimap_counts(const std::uint8_t* pred, const std::uint8_t* label, int height, int width,
                       const std::vector<int>& widths, std::size_t C, std::int32_t* row) {
  const std::size_t n = sz(height) * sz(width);
  std::vector<std::uint8_t> lb(n);
  label_boundary(label, height, width, lb.data());
  std::vector<float> dist;
  squared_distance_transform(lb.data(), height, width, dist);
  const std::size_t K = widths.size();
  std::vector<double> w2(K);
  for (std::size_t k = 0; k < K; ++k) w2[k] = static_cast<double>(widths[k]) * widths[k];
  for (std::size_t i = 0; i < n; ++i) {
    if (label[i] == kVoidLabel) continue;
    const double d2 = static_cast<double>(dist[i]);
    if (d2 > w2[K - 1]) continue;
    std::size_t k = 0;
    while (d2 > w2[k]) ++k;
    std::int32_t* band = row + k * C * 3;
    band[3 * label[i]] += label[i] == pred[i];
    ++band[3 * label[i] + 1];
    ++band[3 * pred[i] + 2];
  }
}

// Per-class boxes of the ground truth and of the prediction (non-void pixels), so that the
// class-wise work is proportional to the area each class touches.
std::pair<std::vector<Box>, std::vector<Box>> class_boxes(const std::uint8_t* pred, const std::uint8_t* label,
                                                          int height, int width, std::size_t C) {
  std::vector<Box> gbox(C), pbox(C);
  for (int y = 0; y < height; ++y) {
    const std::uint8_t* l = label + sz(y) * sz(width);
    const std::uint8_t* p = pred + sz(y) * sz(width);
    for (int x = 0; x < width; ++x) {
      if (l[x] == kVoidLabel) continue;
      gbox[l[x]].add(x, y);
      pbox[p[x]].add(x, y);
    }
  }
  return {std::move(gbox), std::move(pbox)};
}

// Both boxes and one pixel of margin: the crop's inner edges are then outside both masks, so
// boundaries and erosions computed on the crop equal those on the whole image.
Box union_with_margin(Box b, const Box& other, int height, int width) {
  if (!other.empty()) {
    b.add(other.x0, other.y0);
    b.add(other.x1, other.y1);
  }
  b.x0 = std::max(0, b.x0 - 1);
  b.y0 = std::max(0, b.y0 - 1);
  b.x1 = std::min(width - 1, b.x1 + 1);
  b.y1 = std::min(height - 1, b.y1 + 1);
  return b;
}

// One class's masks on a crop: ground truth, prediction and void. Void is "don't care" here as in
// the confusion matrix: the prediction's class mask is cut to the non-void pixels, like the ground
// truth's (as Gated-SCNN's BF evaluation does). Otherwise whatever is predicted inside a void band
// moves the predicted boundary away from the ground truth's, which hugs the band's inner edge: a
// prediction right on every non-void pixel would score well below 1 (BF 0 and Boundary IoU 0.42
// for an object with a 3-px void outline). The buffers are reused from class to class.
struct ClassCrop {
  int bw = 0, bh = 0;
  std::vector<std::uint8_t> gm, pm, vm, bandg, bandp;

  void fill(const std::uint8_t* pred, const std::uint8_t* label, int width, const Box& b, std::size_t c) {
    bw = b.x1 - b.x0 + 1;
    bh = b.y1 - b.y0 + 1;
    const std::size_t bn = sz(bw) * sz(bh);
    gm.resize(bn);
    pm.resize(bn);
    vm.resize(bn);
    for (int y = 0; y < bh; ++y) {
      const std::size_t src = sz(b.y0 + y) * sz(width) + sz(b.x0);
      const std::size_t dst = sz(y) * sz(bw);
      for (int x = 0; x < bw; ++x) {
        const std::uint8_t l = label[src + sz(x)];
        const bool is_void = l == kVoidLabel;
        gm[dst + sz(x)] = l == c;
        pm[dst + sz(x)] = !is_void && pred[src + sz(x)] == c;
        vm[dst + sz(x)] = is_void;
      }
    }
  }

  // Boundary IoU: inner bands of width d, counted on non-void pixels: (intersection, union).
  std::pair<std::int64_t, std::int64_t> band_counts(int d) {
    const std::size_t bn = gm.size();
    bandg.resize(bn);
    bandp.resize(bn);
    inner_band(gm.data(), bh, bw, d, bandg.data());
    inner_band(pm.data(), bh, bw, d, bandp.data());
    std::int64_t inter = 0, uni = 0;
    for (std::size_t i = 0; i < bn; ++i) {
      if (vm[i]) continue;
      inter += bandg[i] & bandp[i];
      uni += bandg[i] | bandp[i];
    }
    return {inter, uni};
  }

  BoundaryMatch match(double theta) const { return match_boundaries(gm.data(), pm.data(), bh, bw, theta); }
};

}  // namespace

SegmentationEvaluator::SegmentationEvaluator(int num_classes, BoundaryOptions opts)
    : num_classes_(num_classes), opts_(std::move(opts)), confusion_(num_classes) {
  // Preconditions, not input checks: validate() refuses such eval.* values in every config first.
  if (opts_.trimap_widths.empty() || !std::is_sorted(opts_.trimap_widths.begin(), opts_.trimap_widths.end()) ||
      opts_.trimap_widths.front() < 1 || !(opts_.bf_tolerance > 0) || !(opts_.boundary_iou_dilation > 0))
    throw std::invalid_argument("SegmentationEvaluator: boundary options outside validate()'s eval.* ranges");
  reset();
}

void SegmentationEvaluator::reset() {
  confusion_.reset();
  per_image_.clear();
  images_ = 0;
  trimap_.clear();
  bf_values_.clear();
  band_.clear();
}

void SegmentationEvaluator::process(const std::uint8_t* pred, const std::uint8_t* label, int height, int width) {
  process_boundary(pred, label, height, width);  // validates the values first
  const std::size_t C = sz(num_classes_);
  const std::size_t n = sz(height) * sz(width);
  std::vector<std::int64_t> local(C * C, 0);
  for (std::size_t i = 0; i < n; ++i)
    if (label[i] != kVoidLabel) ++local[label[i] * C + pred[i]];
  const std::size_t base = per_image_.size();
  per_image_.resize(base + C * C);
  for (std::size_t k = 0; k < C * C; ++k) per_image_[base + k] = static_cast<std::int32_t>(local[k]);
  confusion_.add_counts(local.data());
  ++images_;
}

void SegmentationEvaluator::process_boundary(const std::uint8_t* pred, const std::uint8_t* label, int height,
                                             int width) {
  if (height <= 0 || width <= 0) throw DataError(fmt::format("empty image ({}x{})", width, height));
  const std::size_t n = sz(height) * sz(width);
  check_values(pred, label, n, num_classes_);
  const std::size_t C = sz(num_classes_);

  const std::size_t tri_row = trimap_.size();
  trimap_.resize(tri_row + opts_.trimap_widths.size() * C * 3, 0);
  add_trimap_counts(pred, label, height, width, opts_.trimap_widths, C, trimap_.data() + tri_row);

  const auto [gbox, pbox] = class_boxes(pred, label, height, width, C);
  const double theta = bf_tolerance_px(height, width, opts_.bf_tolerance);
  const int d = boundary_iou_dilation_px(height, width, opts_.boundary_iou_dilation);
  const std::size_t bf_row = bf_values_.size(), band_row = band_.size();
  bf_values_.resize(bf_row + C, kNaN);
  band_.resize(band_row + 2 * C, 0);
  ClassCrop crop;
  for (std::size_t c = 0; c < C; ++c) {
    if (gbox[c].empty() && pbox[c].empty()) continue;
    crop.fill(pred, label, width, union_with_margin(gbox[c], pbox[c], height, width), c);
    const auto [inter, uni] = crop.band_counts(d);
    band_[band_row + 2 * c] = static_cast<std::int32_t>(inter);
    band_[band_row + 2 * c + 1] = static_cast<std::int32_t>(uni);
    // BF score for the classes present in the ground truth.
    if (!gbox[c].empty()) bf_values_[bf_row + c] = bf_from_match(crop.match(theta));
  }
}

void SegmentationEvaluator::merge(const SegmentationEvaluator& other) {
  if (other.num_classes_ != num_classes_ || other.opts_.trimap_widths != opts_.trimap_widths ||
      other.opts_.bf_tolerance != opts_.bf_tolerance ||
      other.opts_.boundary_iou_dilation != opts_.boundary_iou_dilation)
    throw DataError("evaluator merge: the evaluators differ in classes or boundary options");
  confusion_.merge(other.confusion_);
  per_image_.insert(per_image_.end(), other.per_image_.begin(), other.per_image_.end());
  images_ += other.images_;
  trimap_.insert(trimap_.end(), other.trimap_.begin(), other.trimap_.end());
  bf_values_.insert(bf_values_.end(), other.bf_values_.begin(), other.bf_values_.end());
  band_.insert(band_.end(), other.band_.begin(), other.band_.end());
}

EvalResult SegmentationEvaluator::evaluate() const {
  EvalResult r;
  r.num_classes = num_classes_;
  r.images = images_;
  r.confusion = confusion_.counts();
  r.scores = confusion_.scores();
  r.per_image_confusion = per_image_;
  r.trimap_width = opts_.trimap_widths;
  r.per_image_bf = bf_values_;
  r.per_image_boundary_band = band_;
  r.per_image_trimap = trimap_;
  const int K = static_cast<int>(opts_.trimap_widths.size());
  for (int k = 0; k < K; ++k) {
    const Scores s = trimap_from_images(trimap_, K, num_classes_, k, {});
    r.trimap_pixel_acc.push_back(s.pixel_acc);
    r.trimap_mean_iou.push_back(s.mean_iou);
  }
  auto bf = bf_from_images(bf_values_, num_classes_, {});
  r.bf_score = bf.score;
  r.bf_per_class = std::move(bf.per_class);
  auto biou = boundary_iou_from_images(band_, num_classes_, {});
  r.boundary_iou = biou.score;
  r.boundary_iou_per_class = std::move(biou.per_class);
  return r;
}

namespace {

// The number of images of per-image data of `per_image` values per image; DataError unless the
// sizes fit (and the weights, when given, are one per image).
std::size_t images_of(std::size_t values, std::size_t per_image, const std::vector<std::uint32_t>& weights,
                      const char* what) {
  if (per_image == 0 || values % per_image != 0 || (!weights.empty() && weights.size() != values / per_image))
    throw DataError(fmt::format("{}: {} values do not make whole images of {} values{}", what, values, per_image,
                                weights.empty() ? "" : fmt::format(" for {} weights", weights.size())));
  return values / per_image;
}

std::uint32_t weight_of(const std::vector<std::uint32_t>& weights, std::size_t i) {
  return weights.empty() ? 1u : weights[i];
}

}  // namespace

ClassMeanScore bf_from_images(const std::vector<double>& per_image_bf, int num_classes,
                              const std::vector<std::uint32_t>& weights) {
  const std::size_t C = sz(num_classes);
  const std::size_t N = images_of(per_image_bf.size(), C, weights, "per-image BF");
  std::vector<double> class_sum(C, 0.0), class_n(C, 0.0);
  double image_sum = 0, image_n = 0;
  for (std::size_t i = 0; i < N; ++i) {
    const double w = weight_of(weights, i);
    if (w == 0) continue;
    double s = 0;
    int n = 0;
    for (std::size_t c = 0; c < C; ++c) {
      const double f = per_image_bf[i * C + c];
      if (std::isnan(f)) continue;
      s += f;
      ++n;
      class_sum[c] += w * f;
      class_n[c] += w;
    }
    if (n > 0) {
      image_sum += w * (s / n);
      image_n += w;
    }
  }
  ClassMeanScore out;
  out.per_class.assign(C, kNaN);
  for (std::size_t c = 0; c < C; ++c)
    if (class_n[c] > 0) out.per_class[c] = class_sum[c] / class_n[c];
  out.score = image_n > 0 ? image_sum / image_n : kNaN;
  return out;
}

ClassMeanScore boundary_iou_from_images(const std::vector<std::int32_t>& per_image_band, int num_classes,
                                        const std::vector<std::uint32_t>& weights) {
  const std::size_t C = sz(num_classes);
  const std::size_t N = images_of(per_image_band.size(), 2 * C, weights, "per-image Boundary IoU bands");
  std::vector<std::int64_t> inter(C, 0), uni(C, 0);
  for (std::size_t i = 0; i < N; ++i) {
    const std::int64_t w = weight_of(weights, i);
    if (w == 0) continue;
    const std::int32_t* row = per_image_band.data() + i * 2 * C;
    for (std::size_t c = 0; c < C; ++c) {
      inter[c] += w * row[2 * c];
      uni[c] += w * row[2 * c + 1];
    }
  }
  ClassMeanScore out;
  out.per_class.assign(C, kNaN);
  double sum = 0;
  int n = 0;
  for (std::size_t c = 0; c < C; ++c) {
    if (uni[c] <= 0) continue;
    out.per_class[c] = static_cast<double>(inter[c]) / static_cast<double>(uni[c]);
    sum += out.per_class[c];
    ++n;
  }
  out.score = n > 0 ? sum / n : kNaN;
  return out;
}

Scores trimap_from_images(const std::vector<std::int32_t>& per_image_trimap, int bands, int num_classes, int band,
                          const std::vector<std::uint32_t>& weights) {
  const std::size_t C = sz(num_classes), K = sz(bands);
  if (band < 0 || band >= bands) throw DataError(fmt::format("trimap band {} outside [0, {})", band, bands));
  const std::size_t N = images_of(per_image_trimap.size(), K * C * 3, weights, "per-image trimap counts");
  std::vector<std::int64_t> diag(C, 0), row(C, 0), col(C, 0);
  for (std::size_t i = 0; i < N; ++i) {
    const std::int64_t w = weight_of(weights, i);
    if (w == 0) continue;
    const std::int32_t* image = per_image_trimap.data() + i * K * C * 3;
    for (std::size_t k = 0; k <= sz(band); ++k)
      for (std::size_t c = 0; c < C; ++c) {
        const std::int32_t* v = image + (k * C + c) * 3;
        diag[c] += w * v[0];
        row[c] += w * v[1];
        col[c] += w * v[2];
      }
  }
  return scores_from_marginals(diag.data(), row.data(), col.data(), num_classes);
}

}  // namespace fcnlab
