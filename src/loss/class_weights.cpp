#include "loss/class_weights.h"

#include <fmt/format.h>

#include <algorithm>

#include "core/error.h"

namespace fcnlab {

std::vector<double> median_frequency_weights(const std::vector<std::int64_t>& pixel_counts,
                                             const std::vector<std::int64_t>& image_pixel_totals) {
  if (pixel_counts.size() != image_pixel_totals.size())
    throw DataError(fmt::format("median-frequency weights: {} pixel counts but {} image totals", pixel_counts.size(),
                                image_pixel_totals.size()));
  std::vector<double> freq(pixel_counts.size(), 0.0), present;
  for (std::size_t c = 0; c < freq.size(); ++c) {
    if (pixel_counts[c] <= 0) continue;
    if (image_pixel_totals[c] < pixel_counts[c])
      throw DataError(fmt::format("median-frequency weights: class {} has {} pixels but its images only {}", c,
                                  pixel_counts[c], image_pixel_totals[c]));
    freq[c] = static_cast<double>(pixel_counts[c]) / static_cast<double>(image_pixel_totals[c]);
    present.push_back(freq[c]);
  }
  if (present.empty()) throw DataError("median-frequency weights: no class has any labelled pixel");
  std::sort(present.begin(), present.end());
  const std::size_t m = present.size();
  const double median = m % 2 ? present[m / 2] : 0.5 * (present[m / 2 - 1] + present[m / 2]);
  std::vector<double> w(freq.size(), 0.0);
  for (std::size_t c = 0; c < w.size(); ++c)
    if (freq[c] > 0) w[c] = median / freq[c];
  return w;
}

}  // namespace fcnlab
