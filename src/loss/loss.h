#pragma once
// Segmentation losses on [B,C,H,W] logits and [B,H,W] int64 labels (255 = void, ignored by all).
// Every loss is built from elementwise ops, reductions, softmax, sort and cumsum: no nll_loss2d,
// scatter or index_put, so CUDA in deterministic mode has a deterministic kernel for each op.
// The one exception is opt-in: LossKernels::fused (runs with run.deterministic = false).
#include <torch/torch.h>

#include <memory>
#include <utility>
#include <vector>

#include "config/config.h"
#include "loss/class_weights.h"

namespace fcnlab {

class Loss {
 public:
  virtual ~Loss() = default;
  // A scalar. DataError for mismatched shapes or, for labels on the CPU, a label outside [0, C)
  // other than 255 (labels already on a GPU are not value-checked: that would synchronise).
  virtual torch::Tensor operator()(const torch::Tensor& logits, const torch::Tensor& labels) const = 0;
};

// Which kernels the losses may use. deterministic: the formulations above. fused: unweighted CE
// (ce, and the CE term of ce_dice/ce_lovasz) runs as log_softmax + nll_loss2d with ignore_index
// 255, which moves about a third of the memory of the one-hot form (one [B,C,H,W] one-hot, product
// and sum fewer, forward and backward) but sums with atomics on CUDA, so it is not deterministic
// there. Same value up to summation order; every other loss is unchanged.
enum class LossKernels { deterministic, fused };

// loss.name selects the loss; `class_weights` (size C) are used by wce and, when empty there,
// loss.class_weights given in the config (ConfigError when neither gives C weights).
std::unique_ptr<Loss> make_loss(const LossConfig& cfg, int num_classes, std::vector<double> class_weights = {},
                                LossKernels kernels = LossKernels::deterministic);

// The building blocks, for tests and composites. `reduction` applies to the per-pixel losses:
// mean = sum(w * loss) / sum(w) over valid pixels (w = 1 for unweighted CE), sum = the reference's
// unnormalised sum. A batch without a valid pixel gives 0 (with a zero gradient).
torch::Tensor cross_entropy(const torch::Tensor& logits, const torch::Tensor& labels, Reduction reduction,
                            const std::vector<double>& class_weights = {});
// cross_entropy without class weights through log_softmax + nll_loss2d (LossKernels::fused).
torch::Tensor fused_cross_entropy(const torch::Tensor& logits, const torch::Tensor& labels, Reduction reduction);
torch::Tensor focal_loss(const torch::Tensor& logits, const torch::Tensor& labels, double gamma, Reduction reduction);
// CE with pixels within `width` px (Euclidean) of a label boundary (void included, 4-neighbours)
// weighted by `weight`.
torch::Tensor boundary_cross_entropy(const torch::Tensor& logits, const torch::Tensor& labels, int width, double weight,
                                     Reduction reduction);
// The per-pixel weights of boundary_cross_entropy ([B,H,W], 0 on void pixels).
torch::Tensor boundary_weight_map(const torch::Tensor& labels, int width, double weight, torch::ScalarType dtype);
// 1 - mean over classes present in the batch of 2|P∩G| / (|P| + |G|) on softmax probabilities,
// void pixels excluded; 0 when no pixel is valid.
torch::Tensor dice_loss(const torch::Tensor& logits, const torch::Tensor& labels);
// Lovasz-softmax (Berman et al. 2018), classes = present, on probabilities [B,C,H,W]; per image
// (mean over images) or over the whole batch.
torch::Tensor lovasz_softmax(const torch::Tensor& probs, const torch::Tensor& labels, bool per_image);
// Stable descending sort along the last dimension, (values, indices) as torch::sort(t, true, -1,
// true); on the CPU an LSD radix sort (Lovasz's bottleneck), elsewhere torch::sort.
std::pair<torch::Tensor, torch::Tensor> stable_sort_descending(const torch::Tensor& t);

}  // namespace fcnlab
