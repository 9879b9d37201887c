// fcnlab bench metrics: cost of the boundary metrics (trimap, BF score, Boundary IoU) per image
// on synthetic 500x375 VOC-like label maps with 21 classes, on one core.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <iostream>
#include <random>
#include <vector>

#include "cli/options.h"
#include "metrics/evaluator.h"

namespace fcnlab::cli {

namespace {

using Bytes = std::vector<std::uint8_t>;

struct Pair {
  Bytes gt, pred;
};

// "objects": 20 ellipses (classes 1..20) on background 0, each ringed by a 3 px void band as in
// VOC; the prediction moves and resizes every ellipse by a few pixels and fills void with its
// neighbour. "scattered": 25 px blocks of random classes, so every class spans the whole image.
Pair make_pair(int h, int w, bool scattered, std::mt19937& rng) {
  Pair p{Bytes(static_cast<std::size_t>(h * w), 0), Bytes(static_cast<std::size_t>(h * w), 0)};
  auto at = [w](int y, int x) { return static_cast<std::size_t>(y * w + x); };
  if (scattered) {
    std::uniform_int_distribution<int> cls(0, 20), flip(0, 9);
    for (int by = 0; by < h; by += 25)
      for (int bx = 0; bx < w; bx += 25) {
        const auto c = static_cast<std::uint8_t>(cls(rng));
        const auto pc = flip(rng) == 0 ? static_cast<std::uint8_t>(cls(rng)) : c;
        for (int y = by; y < std::min(h, by + 25); ++y)
          for (int x = bx; x < std::min(w, bx + 25); ++x) {
            p.gt[at(y, x)] = c;
            p.pred[at(y, x)] = pc;
          }
      }
    return p;
  }
  std::uniform_real_distribution<double> jitter(-4, 4);
  for (int k = 0; k < 20; ++k) {
    const double cy = 45 + (k / 5) * 95, cx = 50 + (k % 5) * 100, ry = 30 + 4 * (k % 3), rx = 35 + 3 * (k % 4);
    const double py = cy + jitter(rng), px = cx + jitter(rng), pry = ry + jitter(rng), prx = rx + jitter(rng);
    const auto c = static_cast<std::uint8_t>(k + 1);
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) {
        const double e = ((y - cy) / ry) * ((y - cy) / ry) + ((x - cx) / rx) * ((x - cx) / rx);
        if (e <= 1.0)
          p.gt[at(y, x)] = c;
        else if (e <= 1.18)
          p.gt[at(y, x)] = 255;
        const double ep = ((y - py) / pry) * ((y - py) / pry) + ((x - px) / prx) * ((x - px) / prx);
        if (ep <= 1.0) p.pred[at(y, x)] = c;
      }
  }
  return p;
}

}  // namespace

int bench_metrics(const Args& args) {
  int iters = 50;
  po::options_description opts("Options");
  opts.add_options()("iters", po::value<int>(&iters)->default_value(iters), "images to time per case");
  const auto p = parse_args("bench metrics", args, opts, false);
  if (p.help) {
    print_help("fcnlab bench metrics [--iters N]",
               "Times the boundary metrics (trimap for widths 1..32, BF score, Boundary IoU; defaults of\n"
               "eval.*) per 500x375 image with 21 classes on one core, on VOC-like objects and on a\n"
               "worst case where every class spans the whole image; then the whole per-image evaluation\n"
               "(confusion matrices included).",
               opts);
    return 0;
  }
  const int h = 375, w = 500;
  std::mt19937 rng(0);
  std::cout << fmt::format("bench metrics: {}x{} images, 21 classes, {} images per case, one thread\n", w, h, iters);
  for (bool scattered : {false, true}) {
    std::vector<Pair> pairs;
    for (int i = 0; i < 4; ++i) pairs.push_back(make_pair(h, w, scattered, rng));
    SegmentationEvaluator ev(21, BoundaryOptions{});
    for (const auto& pr : pairs) ev.process_boundary(pr.pred.data(), pr.gt.data(), h, w);  // warm-up
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < iters; ++i) {
      const auto& pr = pairs[static_cast<std::size_t>(i) % pairs.size()];
      ev.process_boundary(pr.pred.data(), pr.gt.data(), h, w);
    }
    const double boundary_ms =
        1000.0 * std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / iters;
    ev.reset();
    t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < iters; ++i) {
      const auto& pr = pairs[static_cast<std::size_t>(i) % pairs.size()];
      ev.process(pr.pred.data(), pr.gt.data(), h, w);
    }
    const double all_ms = 1000.0 * std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / iters;
    const EvalResult r = ev.evaluate();
    std::cout << fmt::format(
        "  {:<9}  boundary metrics {:6.2f} ms/image   whole evaluation {:6.2f} ms/image   "
        "(mIoU {:.3f}, BF {:.3f}, Boundary IoU {:.3f})\n",
        scattered ? "scattered" : "objects", boundary_ms, all_ms, r.scores.mean_iou, r.bf_score, r.boundary_iou);
  }
  return 0;
}

}  // namespace fcnlab::cli
