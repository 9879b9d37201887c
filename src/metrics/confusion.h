#pragma once
// Confusion matrix over pixels and the four FCN scores (DESIGN.md "Metrics"). Torch-free.
#include <cstddef>
#include <cstdint>
#include <vector>

namespace fcnlab {

inline constexpr std::uint8_t kVoidLabel = 255;

struct Scores {
  double pixel_acc = 0, mean_acc = 0, mean_iou = 0, fw_iou = 0;  // NaN when nothing is counted
  std::vector<double> per_class_iou;  // [C], NaN for classes with neither ground truth nor prediction
  std::vector<double> per_class_acc;  // [C], NaN for classes without ground-truth pixels
  int classes_counted_iou = 0;        // classes in mean_iou (ground truth or predicted)
  int classes_counted_acc = 0;        // classes in mean_acc and fw_iou (ground truth present)
};

// Scores of a raw row-major C*C confusion (rows ground truth, columns prediction):
// pixel_acc = sum diag / sum; mean_acc over classes with ground truth; mean_iou over classes with
// ground truth or prediction (predicted-but-absent classes count with IoU 0); fw_iou = sum over
// classes with ground truth of (row sum / total) * IoU. Classes left out are counted, never 0/NaN.
Scores scores_from_confusion(const std::int64_t* counts, int num_classes);
// The same scores from the confusion's marginals alone, per class: the diagonal, the row sums
// (ground-truth pixels) and the column sums (predicted pixels), each [C]. Equal to
// scores_from_confusion of any confusion with these marginals.
Scores scores_from_marginals(const std::int64_t* diag, const std::int64_t* row, const std::int64_t* col,
                             int num_classes);

class ConfusionMatrix {
 public:
  explicit ConfusionMatrix(int num_classes);
  void reset();
  // n pixels; labels equal to 255 are ignored. A label or prediction >= C (other than a void
  // label) throws DataError.
  void update(const std::uint8_t* pred, const std::uint8_t* label, std::size_t n);
  void merge(const ConfusionMatrix& other);     // DataError when the class counts differ
  void add_counts(const std::int64_t* counts);  // adds a raw C*C matrix
  Scores scores() const { return scores_from_confusion(counts_.data(), num_classes_); }
  const std::vector<std::int64_t>& counts() const { return counts_; }  // row-major C*C, rows gt
  int num_classes() const { return num_classes_; }
  std::int64_t total() const;

 private:
  int num_classes_;
  std::vector<std::int64_t> counts_;
};

}  // namespace fcnlab
