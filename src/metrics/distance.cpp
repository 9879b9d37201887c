#include "metrics/distance.h"

#include <algorithm>
#include <cstddef>

namespace fcnlab {

namespace {

// Scratch buffers for the 1-D pass, reused across calls on a thread.
struct Envelope {
  std::vector<int> v;
  std::vector<double> z;
  void reserve(int n) {
    if (static_cast<int>(v.size()) < n) {
      v.resize(static_cast<std::size_t>(n));
      z.resize(static_cast<std::size_t>(n) + 1);
    }
  }
};

void envelope_1d(const float* f, float* d, int n, Envelope& e) {
  e.reserve(n);
  int* v = e.v.data();
  double* z = e.z.data();
  int k = -1;
  for (int q = 0; q < n; ++q) {
    if (f[q] >= kNoSeed) continue;
    const double fq = static_cast<double>(f[q]) + static_cast<double>(q) * q;
    if (k < 0) {
      k = 0;
      v[0] = q;
      z[0] = -1e300;
      z[1] = 1e300;
      continue;
    }
    // Pop the parabolas the new one hides; z[0] = -inf stops the loop at the first one.
    double s = 0;
    for (;;) {
      const int p = v[k];
      s = (fq - (static_cast<double>(f[p]) + static_cast<double>(p) * p)) / (2.0 * (q - p));
      if (s > z[k]) break;
      --k;
    }
    ++k;
    v[k] = q;
    z[k] = s;
    z[k + 1] = 1e300;
  }
  if (k < 0) {
    std::fill(d, d + n, kNoSeed);
    return;
  }
  int j = 0;
  for (int q = 0; q < n; ++q) {
    while (z[j + 1] < q) ++j;
    const double dq = static_cast<double>(q - v[j]);
    d[q] = static_cast<float>(dq * dq + static_cast<double>(f[v[j]]));
  }
}

thread_local Envelope tl_envelope;
thread_local std::vector<int> tl_col;
thread_local std::vector<float> tl_row;

}  // namespace

void squared_distance_1d(const float* f, float* d, int n) {
  envelope_1d(f, d, n, tl_envelope);
}

void squared_distance_transform(const std::uint8_t* seeds, int height, int width, std::vector<float>& out,
                                const std::uint8_t* rows) {
  const auto W = static_cast<std::size_t>(width);
  const auto N = static_cast<std::size_t>(height) * W;
  out.resize(N);
  if (N == 0) return;
  // Pass 1 along columns: distance to the nearest seed in the same column (binary seeds, so two
  // scans suffice), processed row by row for contiguous memory access.
  constexpr int kFar = 1 << 28;
  std::vector<int>& g = tl_col;
  g.resize(N);
  for (std::size_t x = 0; x < W; ++x) g[x] = seeds[x] ? 0 : kFar;
  for (std::size_t y = 1; y < static_cast<std::size_t>(height); ++y) {
    const std::uint8_t* s = seeds + y * W;
    int* gy = g.data() + y * W;
    const int* gp = gy - W;
    for (std::size_t x = 0; x < W; ++x) gy[x] = s[x] ? 0 : std::min(gp[x] + 1, kFar);
  }
  for (std::size_t y = static_cast<std::size_t>(height) - 1; y-- > 0;) {
    int* gy = g.data() + y * W;
    const int* gn = gy + W;
    for (std::size_t x = 0; x < W; ++x) gy[x] = std::min(gy[x], gn[x] + 1);
  }
  // Pass 2 along rows: the lower envelope of parabolas over the squared column distances.
  std::vector<float>& f = tl_row;
  f.resize(W);
  for (std::size_t y = 0; y < static_cast<std::size_t>(height); ++y) {
    if (rows && !rows[y]) continue;
    const int* gy = g.data() + y * W;
    bool any = false;
    for (std::size_t x = 0; x < W; ++x) {
      if (gy[x] >= kFar) {
        f[x] = kNoSeed;
      } else {
        f[x] = static_cast<float>(gy[x]) * static_cast<float>(gy[x]);
        any = true;
      }
    }
    float* d = out.data() + y * W;
    if (!any) {
      std::fill(d, d + W, kNoSeed);
      continue;
    }
    envelope_1d(f.data(), d, width, tl_envelope);
  }
}

}  // namespace fcnlab
