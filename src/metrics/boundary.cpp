#include "metrics/boundary.h"

#include <algorithm>
#include <cmath>
#include <cstddef>

#include "metrics/distance.h"

namespace fcnlab {

namespace {
std::size_t idx(int y, int x, int width) {
  return static_cast<std::size_t>(y) * static_cast<std::size_t>(width) + static_cast<std::size_t>(x);
}

// out = 1 where keep(pixel) and differs(pixel, n) for one of its 4-neighbours n inside the image.
template <class Keep, class Differs>
void four_neighbour_edges(const std::uint8_t* in, int height, int width, std::uint8_t* out, Keep keep,
                          Differs differs) {
  for (int y = 0; y < height; ++y) {
    const std::uint8_t* r = in + idx(y, 0, width);
    const std::uint8_t* up = y > 0 ? r - width : nullptr;
    const std::uint8_t* dn = y + 1 < height ? r + width : nullptr;
    std::uint8_t* o = out + idx(y, 0, width);
    for (int x = 0; x < width; ++x) {
      const std::uint8_t v = r[x];
      o[x] = static_cast<std::uint8_t>(keep(v) &&
                                       ((x > 0 && differs(v, r[x - 1])) || (x + 1 < width && differs(v, r[x + 1])) ||
                                        (up && differs(v, up[x])) || (dn && differs(v, dn[x]))));
    }
  }
}
}  // namespace

void label_boundary(const std::uint8_t* labels, int height, int width, std::uint8_t* out) {
  four_neighbour_edges(
      labels, height, width, out, [](std::uint8_t) { return true; },
      [](std::uint8_t v, std::uint8_t n) { return n != v; });
}

void mask_boundary(const std::uint8_t* mask, int height, int width, std::uint8_t* out) {
  four_neighbour_edges(
      mask, height, width, out, [](std::uint8_t v) { return v != 0; },
      [](std::uint8_t, std::uint8_t n) { return n == 0; });
}

void inner_band(const std::uint8_t* mask, int height, int width, int d, std::uint8_t* out) {
  // Erosion by a (2d+1)^2 square = a pixel survives when every pixel within Chebyshev distance d
  // is in the mask (outside the image counts as background). Rows first: survives horizontally
  // when the nearest background in its row (or the border) is more than d away.
  const std::size_t W = static_cast<std::size_t>(width);
  std::vector<std::uint8_t> hs(static_cast<std::size_t>(height) * W);
  for (int y = 0; y < height; ++y) {
    const std::uint8_t* r = mask + idx(y, 0, width);
    std::uint8_t* h = hs.data() + idx(y, 0, width);
    int last = -1;  // last background x (the border at -1)
    for (int x = 0; x < width; ++x) {
      if (!r[x]) last = x;
      h[x] = static_cast<std::uint8_t>(r[x] && x - last > d);
    }
    int next = width;
    for (int x = width - 1; x >= 0; --x) {
      if (!r[x]) next = x;
      if (next - x <= d) h[x] = 0;
    }
  }
  // Columns: eroded when the nearest horizontal non-survivor in its column is more than d away.
  std::vector<int> run(W, 0);  // distance to the nearest non-survivor above (border at -1)
  std::vector<int> up(static_cast<std::size_t>(height) * W);
  for (int y = 0; y < height; ++y) {
    const std::uint8_t* h = hs.data() + idx(y, 0, width);
    int* u = up.data() + idx(y, 0, width);
    for (std::size_t x = 0; x < W; ++x) {
      run[x] = h[x] ? run[x] + 1 : 0;
      u[x] = run[x];
    }
  }
  std::fill(run.begin(), run.end(), 0);
  for (int y = height - 1; y >= 0; --y) {
    const std::uint8_t* h = hs.data() + idx(y, 0, width);
    const std::uint8_t* m = mask + idx(y, 0, width);
    const int* u = up.data() + idx(y, 0, width);
    std::uint8_t* o = out + idx(y, 0, width);
    for (std::size_t x = 0; x < W; ++x) {
      run[x] = h[x] ? run[x] + 1 : 0;
      const bool eroded = std::min(run[x], u[x]) > d;
      o[x] = static_cast<std::uint8_t>(m[x] && !eroded);
    }
  }
}

double bf_tolerance_px(int height, int width, double bf_tolerance) {
  return bf_tolerance * std::sqrt(static_cast<double>(height) * height + static_cast<double>(width) * width);
}

int boundary_iou_dilation_px(int height, int width, double ratio) {
  const double diag = std::sqrt(static_cast<double>(height) * height + static_cast<double>(width) * width);
  return std::max(1, static_cast<int>(std::nearbyint(ratio * diag)));
}

BoundaryMatch match_boundaries(const std::uint8_t* gt_mask, const std::uint8_t* pred_mask, int height, int width,
                               double theta) {
  BoundaryMatch m;
  const std::size_t N = static_cast<std::size_t>(height) * static_cast<std::size_t>(width);
  for (std::size_t i = 0; i < N && !m.predicted; ++i) m.predicted = pred_mask[i] != 0;
  std::vector<std::uint8_t> bg(N), bp(N), rows_g(static_cast<std::size_t>(height)), rows_p(rows_g.size());
  mask_boundary(gt_mask, height, width, bg.data());
  mask_boundary(pred_mask, height, width, bp.data());
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      const std::size_t i = idx(y, x, width);
      m.gt_boundary += bg[i];
      m.pred_boundary += bp[i];
      rows_g[static_cast<std::size_t>(y)] |= bg[i];
      rows_p[static_cast<std::size_t>(y)] |= bp[i];
    }
  }
  if (m.gt_boundary == 0 || m.pred_boundary == 0) return m;
  const double t2 = theta * theta;
  std::vector<float> dist;
  // Distances to the ground-truth boundary, read at predicted boundary pixels (precision).
  squared_distance_transform(bg.data(), height, width, dist, rows_p.data());
  for (std::size_t i = 0; i < N; ++i) m.pred_matched += bp[i] && static_cast<double>(dist[i]) <= t2;
  // Distances to the predicted boundary, read at ground-truth boundary pixels (recall).
  squared_distance_transform(bp.data(), height, width, dist, rows_g.data());
  for (std::size_t i = 0; i < N; ++i) m.gt_matched += bg[i] && static_cast<double>(dist[i]) <= t2;
  return m;
}

double bf_from_match(const BoundaryMatch& m) {
  if (!m.predicted) return 0.0;
  if (m.gt_boundary == 0 && m.pred_boundary == 0) return 1.0;
  if (m.gt_boundary == 0 || m.pred_boundary == 0) return 0.0;
  const double p = static_cast<double>(m.pred_matched) / static_cast<double>(m.pred_boundary);
  const double r = static_cast<double>(m.gt_matched) / static_cast<double>(m.gt_boundary);
  return p + r > 0 ? 2 * p * r / (p + r) : 0.0;
}

}  // namespace fcnlab
