#pragma once
// Class weights for weighted cross-entropy, computed from training labels. Torch-free.
#include <cstddef>
#include <cstdint>
#include <vector>

namespace fcnlab {

// Per-class pixel statistics over a set of label maps (255 = void, not counted).
struct ClassPixelStats {
  explicit ClassPixelStats(int num_classes);
  // One label map of n pixels; a value >= num_classes other than 255 throws DataError.
  void add(const std::uint8_t* labels, std::size_t n);
  std::vector<std::int64_t> pixel_counts;        // [C] pixels of class c
  std::vector<std::int64_t> image_pixel_totals;  // [C] non-void pixels of the images holding class c
};

// Median-frequency weights (Eigen & Fergus 2015): freq_c = pixel_counts[c] / image_pixel_totals[c],
// weight_c = median(freq over classes with pixels) / freq_c. Classes with no pixels get weight 0
// (they cannot contribute to the loss). DataError when the sizes differ or no class has pixels.
std::vector<double> median_frequency_weights(const std::vector<std::int64_t>& pixel_counts,
                                             const std::vector<std::int64_t>& image_pixel_totals);

}  // namespace fcnlab
