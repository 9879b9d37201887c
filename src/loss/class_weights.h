#pragma once
// Class weights for weighted cross-entropy from the training labels' statistics (ClassPixelStats,
// data/check.h). Torch-free.
#include <cstddef>
#include <cstdint>
#include <vector>

namespace fcnlab {

// Median-frequency weights (Eigen & Fergus 2015): freq_c = pixel_counts[c] / image_pixel_totals[c],
// weight_c = median(freq over classes with pixels) / freq_c. Classes with no pixels get weight 0
// (they cannot contribute to the loss). DataError when the sizes differ or no class has pixels.
std::vector<double> median_frequency_weights(const std::vector<std::int64_t>& pixel_counts,
                                             const std::vector<std::int64_t>& image_pixel_totals);

}  // namespace fcnlab
