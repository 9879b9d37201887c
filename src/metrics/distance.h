#pragma once
// Exact Euclidean distance transform (Felzenszwalb & Huttenlocher, "Distance Transforms of Sampled
// Functions", Theory of Computing 2012): the one image kernel of the boundary metrics. Torch-free.
#include <cstdint>
#include <vector>

namespace fcnlab {

inline constexpr float kNoSeed = 1e30f;  // squared distance where the image holds no seed at all

// Squared Euclidean distance from every pixel of a height x width row-major image to the nearest
// pixel with seeds[i] != 0; kNoSeed everywhere when there is none. `out` is resized to h*w.
// With `rows` (size h), only the rows with rows[y] != 0 are computed (the others hold garbage):
// the boundary metrics read distances only at a sparse set of pixels.
void squared_distance_transform(const std::uint8_t* seeds, int height, int width, std::vector<float>& out,
                                const std::uint8_t* rows = nullptr);

// The 1-D lower envelope of parabolas: d[q] = min_p (q - p)^2 + f[p], for n samples. Entries of f
// >= kNoSeed are not seeds. Exposed for tests.
void squared_distance_1d(const float* f, float* d, int n);

}  // namespace fcnlab
