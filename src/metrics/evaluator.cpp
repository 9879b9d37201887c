#include "metrics/evaluator.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

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

}  // namespace

SegmentationEvaluator::SegmentationEvaluator(int num_classes, BoundaryOptions opts)
    : num_classes_(num_classes), opts_(std::move(opts)), confusion_(num_classes) {
  if (opts_.trimap_widths.empty() || !std::is_sorted(opts_.trimap_widths.begin(), opts_.trimap_widths.end()) ||
      opts_.trimap_widths.front() < 1)
    throw ConfigError("eval.trimap_widths: must be a non-empty ascending list of widths >= 1 (pixels)");
  if (!(opts_.bf_tolerance > 0)) throw ConfigError("eval.bf_tolerance: must be > 0");
  if (!(opts_.boundary_iou_dilation > 0)) throw ConfigError("eval.boundary_iou_dilation: must be > 0");
  reset();
}

void SegmentationEvaluator::reset() {
  const std::size_t C = sz(num_classes_);
  confusion_.reset();
  per_image_.clear();
  images_ = 0;
  trimap_.assign(opts_.trimap_widths.size() * C * C, 0);
  bf_values_.clear();
  biou_inter_.assign(C, 0);
  biou_union_.assign(C, 0);
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

  // Trimap: distance of every pixel to the nearest ground-truth label boundary (void included).
  std::vector<std::uint8_t> lb(n);
  label_boundary(label, height, width, lb.data());
  std::vector<float> dist;
  squared_distance_transform(lb.data(), height, width, dist);
  const std::size_t K = opts_.trimap_widths.size();
  std::vector<double> w2(K);
  for (std::size_t k = 0; k < K; ++k) w2[k] = static_cast<double>(opts_.trimap_widths[k]) * opts_.trimap_widths[k];
  for (std::size_t i = 0; i < n; ++i) {
    if (label[i] == kVoidLabel) continue;
    const double d2 = static_cast<double>(dist[i]);
    if (d2 > w2[K - 1]) continue;
    std::size_t k = 0;
    while (d2 > w2[k]) ++k;
    ++trimap_[(k * C + label[i]) * C + pred[i]];
  }

  // Per-class boxes, so that the class-wise work is proportional to the area each class touches.
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
  const double theta = bf_tolerance_px(height, width, opts_.bf_tolerance);
  const int d = boundary_iou_dilation_px(height, width, opts_.boundary_iou_dilation);
  const std::size_t bf_row = bf_values_.size();
  bf_values_.resize(bf_row + C, kNaN);
  std::vector<std::uint8_t> gm, pm, vm, bandg, bandp;
  for (std::size_t c = 0; c < C; ++c) {
    if (gbox[c].empty() && pbox[c].empty()) continue;
    Box b = gbox[c];
    if (!pbox[c].empty()) {
      b.add(pbox[c].x0, pbox[c].y0);
      b.add(pbox[c].x1, pbox[c].y1);
    }
    // One pixel of margin: the crop's inner edges are then outside both masks, so boundaries and
    // erosions computed on the crop equal those on the whole image.
    b.x0 = std::max(0, b.x0 - 1);
    b.y0 = std::max(0, b.y0 - 1);
    b.x1 = std::min(width - 1, b.x1 + 1);
    b.y1 = std::min(height - 1, b.y1 + 1);
    const int bw = b.x1 - b.x0 + 1, bh = b.y1 - b.y0 + 1;
    const std::size_t bn = sz(bw) * sz(bh);
    // Void is "don't care" here as in the confusion matrix: the prediction's class mask is cut to
    // the non-void pixels, like the ground truth's (as Gated-SCNN's BF evaluation does). Otherwise
    // whatever is predicted inside a void band moves the predicted boundary away from the ground
    // truth's, which hugs the band's inner edge: a prediction right on every non-void pixel would
    // score well below 1 (BF 0 and Boundary IoU 0.42 for an object with a 3-px void outline).
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
    // Boundary IoU: inner bands, counted on non-void pixels and summed over the split.
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
    biou_inter_[c] += inter;
    biou_union_[c] += uni;
    // BF score for the classes present in the ground truth.
    if (!gbox[c].empty()) {
      bf_values_[bf_row + c] = bf_from_match(match_boundaries(gm.data(), pm.data(), bh, bw, theta));
    }
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
  for (std::size_t i = 0; i < trimap_.size(); ++i) trimap_[i] += other.trimap_[i];
  bf_values_.insert(bf_values_.end(), other.bf_values_.begin(), other.bf_values_.end());
  for (std::size_t c = 0; c < biou_inter_.size(); ++c) {
    biou_inter_[c] += other.biou_inter_[c];
    biou_union_[c] += other.biou_union_[c];
  }
}

EvalResult SegmentationEvaluator::evaluate() const {
  const std::size_t C = sz(num_classes_);
  EvalResult r;
  r.num_classes = num_classes_;
  r.images = images_;
  r.confusion = confusion_.counts();
  r.scores = confusion_.scores();
  r.per_image_confusion = per_image_;
  r.trimap_width = opts_.trimap_widths;
  std::vector<std::int64_t> cum(C * C, 0);
  for (std::size_t k = 0; k < opts_.trimap_widths.size(); ++k) {
    for (std::size_t i = 0; i < C * C; ++i) cum[i] += trimap_[k * C * C + i];
    const Scores s = scores_from_confusion(cum.data(), num_classes_);
    r.trimap_pixel_acc.push_back(s.pixel_acc);
    r.trimap_mean_iou.push_back(s.mean_iou);
  }
  r.bf_per_class.assign(C, kNaN);
  r.boundary_iou_per_class.assign(C, kNaN);
  // BF: mean over classes within an image, then over images; per class, mean over the images
  // holding it.
  std::vector<double> class_sum(C, 0.0);
  std::vector<std::int64_t> class_n(C, 0);
  double image_sum = 0;
  std::int64_t image_n = 0;
  for (std::size_t row = 0; row < bf_values_.size(); row += C) {
    double s = 0;
    int n = 0;
    for (std::size_t c = 0; c < C; ++c) {
      const double f = bf_values_[row + c];
      if (std::isnan(f)) continue;
      s += f;
      ++n;
      class_sum[c] += f;
      ++class_n[c];
    }
    if (n > 0) {
      image_sum += s / n;
      ++image_n;
    }
  }
  double biou_sum = 0;
  int biou_n = 0;
  for (std::size_t c = 0; c < C; ++c) {
    if (class_n[c] > 0) r.bf_per_class[c] = class_sum[c] / static_cast<double>(class_n[c]);
    if (biou_union_[c] > 0) {
      r.boundary_iou_per_class[c] = static_cast<double>(biou_inter_[c]) / static_cast<double>(biou_union_[c]);
      biou_sum += r.boundary_iou_per_class[c];
      ++biou_n;
    }
  }
  r.bf_score = image_n > 0 ? image_sum / static_cast<double>(image_n) : kNaN;
  r.boundary_iou = biou_n > 0 ? biou_sum / biou_n : kNaN;
  return r;
}

}  // namespace fcnlab
