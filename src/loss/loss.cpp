#include "loss/loss.h"

#include <fmt/format.h>

#include <cmath>
#include <cstring>
#include <sstream>
#include <string>
#include <utility>

#include "config/enums.h"
#include "core/error.h"

namespace fcnlab {

namespace {

constexpr std::int64_t kVoid = 255;

std::string shape(const torch::Tensor& t) {
  std::ostringstream s;
  s << t.sizes();
  return s.str();
}

// Shapes and label range; returns the labels as int64.
torch::Tensor checked_labels(const torch::Tensor& logits, const torch::Tensor& labels) {
  if (logits.dim() != 4 || labels.dim() != 3 || logits.size(0) != labels.size(0) || logits.size(2) != labels.size(1) ||
      logits.size(3) != labels.size(2))
    throw DataError(fmt::format("loss: logits {} and labels {} do not match ([B,C,H,W] and [B,H,W])", shape(logits),
                                shape(labels)));
  const std::int64_t C = logits.size(1);
  // The value check reads a flag back: cheap for host labels, but for labels already on a GPU it
  // would make the host wait for the queued forward pass every step. Those come from the training
  // loader, whose labels check_dataset_quick validated before training started.
  if (labels.device().is_cpu() && labels.numel() > 0) {
    const torch::Tensor h = labels.to(torch::kLong);
    if (((h < 0) | ((h >= C) & (h != kVoid))).any().item<bool>())
      throw DataError(fmt::format("loss: a label is outside [0, {}) and is not 255 (void)", C));
  }
  return labels.to(logits.device(), torch::kLong);
}

// [B,C,H,W] one-hot in the logits' dtype; all zeros on void pixels (no scatter).
torch::Tensor one_hot(const torch::Tensor& labels, std::int64_t C, const torch::TensorOptions& opts) {
  const auto classes = torch::arange(C, labels.options()).view({1, C, 1, 1});
  return labels.unsqueeze(1).eq(classes).to(opts.dtype());
}

torch::Tensor reduce(const torch::Tensor& per_pixel, const torch::Tensor& weights, Reduction reduction) {
  const torch::Tensor num = (per_pixel * weights).sum();
  if (reduction == Reduction::sum) return num;
  return num / weights.sum().clamp_min(1e-12);
}

// Per-pixel -log p_label ([B,H,W], 0 on void) and the one-hot labels.
torch::Tensor pixel_nll(const torch::Tensor& logits, const torch::Tensor& oh) {
  return -(torch::log_softmax(logits, 1) * oh).sum(1);
}

torch::Tensor weights_tensor(const std::vector<double>& w, const torch::Tensor& like) {
  return torch::tensor(w, torch::TensorOptions().dtype(torch::kDouble)).to(like.device(), like.scalar_type());
}

// Stable descending argsort of each row of a contiguous CPU tensor [rows, n] (float or double) by
// LSD radix sort on order-preserving integer keys: several times faster than torch::sort on the
// CPU for the Lovasz errors, and deterministic. Same order as a stable descending sort.
template <typename F, typename U>
void radix_argsort_desc_rows(const F* x, std::int64_t rows, std::int64_t n, std::int64_t* perm) {
  static_assert(sizeof(F) == sizeof(U), "key width");
  constexpr int kBits = 8 * static_cast<int>(sizeof(U));
  constexpr U kSign = U{1} << (kBits - 1);
  const auto N = static_cast<std::size_t>(n);
  std::vector<U> keys(N), keys2(N);
  std::vector<std::int64_t> idx2(N);
  for (std::int64_t r = 0; r < rows; ++r) {
    const F* xr = x + r * n;
    std::int64_t* pr = perm + r * n;
    for (std::size_t i = 0; i < N; ++i) {
      const F v = xr[i] == F(0) ? F(0) : xr[i];  // -0.0 ties with 0.0, as in torch::sort
      U u;
      std::memcpy(&u, &v, sizeof(U));
      u = (u & kSign) ? static_cast<U>(~u) : static_cast<U>(u ^ kSign);  // ascending key
      keys[i] = static_cast<U>(~u);                                      // descending
      pr[i] = static_cast<std::int64_t>(i);
    }
    for (int shift = 0; shift < kBits; shift += 8) {
      std::size_t count[257] = {0};
      for (std::size_t i = 0; i < N; ++i) ++count[((keys[i] >> shift) & 0xFF) + 1];
      if (count[((keys[0] >> shift) & 0xFF) + 1] == N) continue;  // one digit value: nothing moves
      for (int b = 0; b < 256; ++b) count[b + 1] += count[b];
      for (std::size_t i = 0; i < N; ++i) {
        const std::size_t dst = count[(keys[i] >> shift) & 0xFF]++;
        keys2[dst] = keys[i];
        idx2[dst] = pr[i];
      }
      std::copy(keys2.begin(), keys2.end(), keys.begin());
      std::copy(idx2.begin(), idx2.end(), pr);
    }
  }
}

}  // namespace

std::pair<torch::Tensor, torch::Tensor> stable_sort_descending(const torch::Tensor& t) {
  if (t.device().is_cpu() && (t.scalar_type() == torch::kFloat || t.scalar_type() == torch::kDouble) &&
      t.size(-1) > 0) {
    torch::Tensor perm;
    {
      torch::NoGradGuard no_grad;
      const torch::Tensor c = t.detach().contiguous();
      perm = torch::empty(c.sizes(), c.options().dtype(torch::kLong));
      const std::int64_t n = c.size(-1), rows = c.numel() / n;
      if (c.scalar_type() == torch::kFloat)
        radix_argsort_desc_rows<float, std::uint32_t>(c.data_ptr<float>(), rows, n, perm.data_ptr<std::int64_t>());
      else
        radix_argsort_desc_rows<double, std::uint64_t>(c.data_ptr<double>(), rows, n, perm.data_ptr<std::int64_t>());
    }
    return {t.gather(-1, perm), perm};
  }
  auto sorted = torch::sort(t, /*stable=*/true, /*dim=*/-1, /*descending=*/true);
  return {std::get<0>(sorted), std::get<1>(sorted)};
}

torch::Tensor cross_entropy(const torch::Tensor& logits, const torch::Tensor& labels, Reduction reduction,
                            const std::vector<double>& class_weights) {
  const torch::Tensor l = checked_labels(logits, labels);
  const std::int64_t C = logits.size(1);
  const torch::Tensor oh = one_hot(l, C, logits.options());
  torch::Tensor w;
  if (class_weights.empty()) {
    w = oh.sum(1);  // 1 on valid pixels, 0 on void
  } else {
    if (static_cast<std::int64_t>(class_weights.size()) != C)
      throw ConfigError(fmt::format("loss.class_weights: {} weights for {} classes", class_weights.size(), C));
    w = (oh * weights_tensor(class_weights, logits).view({1, C, 1, 1})).sum(1);
  }
  return reduce(pixel_nll(logits, oh), w, reduction);
}

torch::Tensor fused_cross_entropy(const torch::Tensor& logits, const torch::Tensor& labels, Reduction reduction) {
  const torch::Tensor l = checked_labels(logits, labels);
  // Always summed, then divided here: nll_loss's own mean is 0/0 (NaN) on a batch without a valid
  // pixel, where this contract says 0.
  const torch::Tensor total = torch::nll_loss2d(torch::log_softmax(logits, 1), l, /*weight=*/{}, at::Reduction::Sum,
                                                /*ignore_index=*/kVoid);
  if (reduction == Reduction::sum) return total;
  return total / l.ne(kVoid).sum().clamp_min(1);
}

torch::Tensor focal_loss(const torch::Tensor& logits, const torch::Tensor& labels, double gamma, Reduction reduction) {
  const torch::Tensor l = checked_labels(logits, labels);
  const torch::Tensor oh = one_hot(l, logits.size(1), logits.options());
  const torch::Tensor valid = oh.sum(1);
  // log p of the label; a harmless constant on void pixels keeps pow's gradient finite there.
  const torch::Tensor logp =
      torch::where(valid > 0, (torch::log_softmax(logits, 1) * oh).sum(1), torch::full({}, -1.0, logits.options()));
  const torch::Tensor modulating = (1 - torch::exp(logp)).clamp_min(1e-30).pow(gamma);
  return reduce(-modulating * logp, valid, reduction);
}

torch::Tensor boundary_weight_map(const torch::Tensor& labels, int width, double weight, torch::ScalarType dtype) {
  torch::NoGradGuard no_grad;
  const auto B = labels.size(0), H = labels.size(1), W = labels.size(2);
  torch::Tensor b = torch::zeros({B, H, W}, labels.options().dtype(torch::kBool));
  if (W > 1) {
    const auto dx = labels.slice(2, 1).ne(labels.slice(2, 0, W - 1));
    b.slice(2, 1).logical_or_(dx);
    b.slice(2, 0, W - 1).logical_or_(dx);
  }
  if (H > 1) {
    const auto dy = labels.slice(1, 1).ne(labels.slice(1, 0, H - 1));
    b.slice(1, 1).logical_or_(dy);
    b.slice(1, 0, H - 1).logical_or_(dy);
  }
  // Dilation by a Euclidean disk of radius `width`: a convolution with the disk's indicator.
  const int k = 2 * width + 1;
  std::vector<double> disk(static_cast<std::size_t>(k * k), 0.0);
  for (int y = -width; y <= width; ++y)
    for (int x = -width; x <= width; ++x)
      if (x * x + y * y <= width * width) disk[static_cast<std::size_t>((y + width) * k + x + width)] = 1.0;
  const auto kernel = torch::tensor(disk, torch::TensorOptions().dtype(torch::kDouble))
                          .to(labels.device(), torch::kFloat)
                          .view({1, 1, k, k});
  const auto near = torch::conv2d(b.to(torch::kFloat).unsqueeze(1), kernel, {}, 1, width).squeeze(1) > 0.5;
  const auto valid = labels.ne(kVoid);
  return (1.0 + (weight - 1.0) * near.to(dtype)) * valid.to(dtype);
}

torch::Tensor boundary_cross_entropy(const torch::Tensor& logits, const torch::Tensor& labels, int width, double weight,
                                     Reduction reduction) {
  const torch::Tensor l = checked_labels(logits, labels);
  const torch::Tensor oh = one_hot(l, logits.size(1), logits.options());
  return reduce(pixel_nll(logits, oh), boundary_weight_map(l, width, weight, logits.scalar_type()), reduction);
}

torch::Tensor dice_loss(const torch::Tensor& logits, const torch::Tensor& labels) {
  const torch::Tensor l = checked_labels(logits, labels);
  const torch::Tensor oh = one_hot(l, logits.size(1), logits.options());
  const torch::Tensor valid = oh.sum(1, /*keepdim=*/true);
  const torch::Tensor p = torch::softmax(logits, 1);
  const std::vector<std::int64_t> dims{0, 2, 3};
  const torch::Tensor inter = (p * oh).sum(dims);
  const torch::Tensor gt = oh.sum(dims);
  const torch::Tensor denom = (p * valid).sum(dims) + gt;
  const torch::Tensor present = (gt > 0).to(logits.scalar_type());
  const torch::Tensor dice = 2 * inter / denom.clamp_min(1e-12);
  return ((1 - dice) * present).sum() / present.sum().clamp_min(1);
}

torch::Tensor lovasz_softmax(const torch::Tensor& probs, const torch::Tensor& labels, bool per_image) {
  const torch::Tensor l = checked_labels(probs, labels);
  const auto B = probs.size(0), C = probs.size(1);
  const std::int64_t G = per_image ? B : 1;  // groups: images, or the whole batch
  // [G, C, P] probabilities and one-hot labels; [G, 1, P] validity.
  // (Contiguous: elementwise ops on the permuted strides cost several times more.)
  auto group = [&](const torch::Tensor& t) {
    return per_image ? t.reshape({B, C, -1}) : t.reshape({B, C, -1}).transpose(0, 1).reshape({1, C, -1});
  };
  const torch::Tensor p = group(probs);
  const torch::Tensor fg = group(one_hot(l, C, probs.options())).contiguous();
  const torch::Tensor valid = l.ne(kVoid).reshape({G, 1, -1});
  // Errors sorted in decreasing order; void pixels get -1 and sort last, where they change nothing.
  const torch::Tensor errors = torch::where(valid, (fg - p).abs(), torch::full({}, -1.0, probs.options()));
  const auto [err_sorted, perm] = stable_sort_descending(errors);
  torch::Tensor grad;
  {
    torch::NoGradGuard no_grad;
    const torch::Tensor fg_sorted = fg.gather(2, perm);
    // Void pixels sort last (error -1): the first n_valid sorted positions are the valid ones.
    const torch::Tensor n_valid = valid.sum(2, /*keepdim=*/true);
    const torch::Tensor valid_sorted =
        (torch::arange(perm.size(2), perm.options()).view({1, 1, -1}) < n_valid).to(probs.scalar_type());
    const torch::Tensor gts = fg.sum(2, /*keepdim=*/true);
    const torch::Tensor inter = gts - fg_sorted.cumsum(2);
    const torch::Tensor uni = gts + ((1 - fg_sorted) * valid_sorted).cumsum(2);
    const torch::Tensor jaccard = 1 - inter / uni.clamp_min(1);
    // Gradient of the Lovasz extension of the Jaccard loss at the sorted errors.
    const auto P = jaccard.size(2);
    grad = P > 1 ? torch::cat({jaccard.slice(2, 0, 1), jaccard.slice(2, 1) - jaccard.slice(2, 0, P - 1)}, 2) : jaccard;
  }
  const torch::Tensor per_class = (err_sorted * grad).sum(2);  // [G, C]
  const torch::Tensor present = (fg.sum(2) > 0).to(probs.scalar_type());
  const torch::Tensor per_group = (per_class * present).sum(1) / present.sum(1).clamp_min(1);
  return per_group.mean();
}

namespace {

class CrossEntropyLoss : public Loss {
 public:
  CrossEntropyLoss(Reduction r, std::vector<double> w, LossKernels k)
      : reduction_(r), weights_(std::move(w)), fused_(k == LossKernels::fused && weights_.empty()) {}
  torch::Tensor operator()(const torch::Tensor& logits, const torch::Tensor& labels) const override {
    return fused_ ? fused_cross_entropy(logits, labels, reduction_)
                  : cross_entropy(logits, labels, reduction_, weights_);
  }

 private:
  Reduction reduction_;
  std::vector<double> weights_;
  bool fused_;
};

class FocalLoss : public Loss {
 public:
  FocalLoss(double gamma, Reduction r) : gamma_(gamma), reduction_(r) {}
  torch::Tensor operator()(const torch::Tensor& logits, const torch::Tensor& labels) const override {
    return focal_loss(logits, labels, gamma_, reduction_);
  }

 private:
  double gamma_;
  Reduction reduction_;
};

class BoundaryCrossEntropyLoss : public Loss {
 public:
  BoundaryCrossEntropyLoss(int width, double weight, Reduction r) : width_(width), weight_(weight), reduction_(r) {}
  torch::Tensor operator()(const torch::Tensor& logits, const torch::Tensor& labels) const override {
    return boundary_cross_entropy(logits, labels, width_, weight_, reduction_);
  }

 private:
  int width_;
  double weight_;
  Reduction reduction_;
};

class DiceLoss : public Loss {
 public:
  torch::Tensor operator()(const torch::Tensor& logits, const torch::Tensor& labels) const override {
    return dice_loss(logits, labels);
  }
};

class LovaszLoss : public Loss {
 public:
  explicit LovaszLoss(bool per_image) : per_image_(per_image) {}
  torch::Tensor operator()(const torch::Tensor& logits, const torch::Tensor& labels) const override {
    return lovasz_softmax(torch::softmax(logits, 1), labels, per_image_);
  }

 private:
  bool per_image_;
};

// first + aux_weight * second
class CompositeLoss : public Loss {
 public:
  CompositeLoss(std::unique_ptr<Loss> first, std::unique_ptr<Loss> second, double aux_weight)
      : first_(std::move(first)), second_(std::move(second)), aux_weight_(aux_weight) {}
  torch::Tensor operator()(const torch::Tensor& logits, const torch::Tensor& labels) const override {
    return (*first_)(logits, labels) + aux_weight_ * (*second_)(logits, labels);
  }

 private:
  std::unique_ptr<Loss> first_, second_;
  double aux_weight_;
};

}  // namespace

std::unique_ptr<Loss> make_loss(const LossConfig& cfg, int num_classes, std::vector<double> class_weights,
                                LossKernels kernels) {
  if (num_classes < 1) throw ConfigError(fmt::format("loss: number of classes must be >= 1, got {}", num_classes));
  switch (cfg.name) {
    case LossName::ce:
      return std::make_unique<CrossEntropyLoss>(cfg.reduction, std::vector<double>{}, kernels);
    case LossName::wce: {
      if (class_weights.empty() && cfg.class_weighting == ClassWeighting::given) class_weights = cfg.class_weights;
      if (static_cast<int>(class_weights.size()) != num_classes)
        throw ConfigError(fmt::format(
            "loss.name = \"wce\" needs {} class weights (got {}): set loss.class_weights = \"median_freq\" or a "
            "list of {} numbers",
            num_classes, class_weights.size(), num_classes));
      for (double w : class_weights)
        if (!(w >= 0) || !std::isfinite(w))
          throw ConfigError(fmt::format("loss.class_weights: weight {} is not a finite number >= 0", w));
      return std::make_unique<CrossEntropyLoss>(cfg.reduction, std::move(class_weights), kernels);
    }
    case LossName::dice:
      return std::make_unique<DiceLoss>();
    case LossName::lovasz:
      return std::make_unique<LovaszLoss>(cfg.per_image);
    case LossName::focal:
      return std::make_unique<FocalLoss>(cfg.focal_gamma, cfg.reduction);
    case LossName::boundary_ce:
      return std::make_unique<BoundaryCrossEntropyLoss>(cfg.boundary_width, cfg.boundary_weight, cfg.reduction);
    case LossName::ce_dice:
      return std::make_unique<CompositeLoss>(
          std::make_unique<CrossEntropyLoss>(cfg.reduction, std::vector<double>{}, kernels),
          std::make_unique<DiceLoss>(), cfg.aux_weight);
    case LossName::ce_lovasz:
      return std::make_unique<CompositeLoss>(
          std::make_unique<CrossEntropyLoss>(cfg.reduction, std::vector<double>{}, kernels),
          std::make_unique<LovaszLoss>(cfg.per_image), cfg.aux_weight);
  }
  throw ConfigError("loss.name: unknown loss");
}

}  // namespace fcnlab
