// Tests of src/metrics: the exact distance transform against brute force, the confusion matrix
// and the four FCN scores (absent-class rule included), and the boundary metrics on shapes whose
// answers are known in closed form (half-plane trimaps, shifted squares, eroded squares).
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "core/error.h"
#include "metrics/boundary.h"
#include "metrics/confusion.h"
#include "metrics/distance.h"
#include "metrics/evaluator.h"

using namespace fcnlab;

namespace {

using Bytes = std::vector<std::uint8_t>;

Bytes fill(int h, int w, std::uint8_t v) {
  return Bytes(static_cast<std::size_t>(h * w), v);
}
void rect(Bytes& img, int w, int y0, int x0, int rh, int rw, std::uint8_t v) {
  for (int y = y0; y < y0 + rh; ++y)
    for (int x = x0; x < x0 + rw; ++x) img[static_cast<std::size_t>(y * w + x)] = v;
}
std::int64_t count(const Bytes& b) {
  std::int64_t n = 0;
  for (auto v : b) n += v != 0;
  return n;
}

}  // namespace

TEST_CASE("the distance transform is exact (brute force on random seeds)") {
  std::mt19937 rng(7);
  const int h = 23, w = 31;
  for (double density : {0.0, 0.003, 0.05, 0.4}) {
    std::bernoulli_distribution bern(density);
    Bytes seeds(static_cast<std::size_t>(h * w));
    for (auto& s : seeds) s = bern(rng);
    std::vector<float> d;
    squared_distance_transform(seeds.data(), h, w, d);
    for (int y = 0; y < h; ++y) {
      for (int x = 0; x < w; ++x) {
        double best = kNoSeed;
        for (int sy = 0; sy < h; ++sy)
          for (int sx = 0; sx < w; ++sx)
            if (seeds[static_cast<std::size_t>(sy * w + sx)])
              best = std::min(best, static_cast<double>((sy - y) * (sy - y) + (sx - x) * (sx - x)));
        REQUIRE(static_cast<double>(d[static_cast<std::size_t>(y * w + x)]) == best);
      }
    }
  }
  SECTION("only the rows asked for are computed, and they are the same") {
    Bytes seeds = fill(h, w, 0);
    seeds[5 * w + 3] = 1;
    seeds[17 * w + 29] = 1;
    std::vector<float> full, part;
    squared_distance_transform(seeds.data(), h, w, full);
    Bytes rows(h, 0);
    rows[4] = rows[20] = 1;
    squared_distance_transform(seeds.data(), h, w, part, rows.data());
    for (int y : {4, 20})
      for (int x = 0; x < w; ++x)
        CHECK(part[static_cast<std::size_t>(y * w + x)] == full[static_cast<std::size_t>(y * w + x)]);
    CHECK(full[4 * w + 3] == 1.0f);
  }
}

TEST_CASE("confusion matrix scores on a hand-made 4x4 case, absent-class rule included") {
  // Rows: ground truth; 255 is void. Class 3 is predicted but absent from the ground truth
  // (counts with IoU 0); with 5 classes, class 4 is absent from both (left out, not 0).
  const Bytes gt{0, 0, 1, 1, 0, 0, 1, 1, 2, 2, 255, 255, 2, 2, 255, 255};
  const Bytes pr{0, 1, 1, 1, 0, 0, 1, 1, 2, 3, 0, 0, 2, 2, 1, 1};
  for (int C : {4, 5}) {
    ConfusionMatrix m(C);
    m.update(pr.data(), gt.data(), gt.size());
    CHECK(m.total() == 12);
    CHECK(m.counts()[0 * C + 1] == 1);
    CHECK(m.counts()[2 * C + 3] == 1);
    const Scores s = m.scores();
    CHECK(s.pixel_acc == Approx(10.0 / 12).epsilon(1e-12));
    CHECK(s.mean_acc == Approx((0.75 + 1.0 + 0.75) / 3).epsilon(1e-12));
    CHECK(s.mean_iou == Approx((0.75 + 0.8 + 0.75 + 0.0) / 4).epsilon(1e-12));
    CHECK(s.fw_iou == Approx((4.0 / 12) * (0.75 + 0.8 + 0.75)).epsilon(1e-12));
    CHECK(s.classes_counted_iou == 4);
    CHECK(s.classes_counted_acc == 3);
    CHECK(s.per_class_iou[3] == 0.0);
    CHECK(std::isnan(s.per_class_acc[3]));
    if (C == 5) {
      CHECK(std::isnan(s.per_class_iou[4]));
      CHECK(std::isnan(s.per_class_acc[4]));
    }
  }
  SECTION("merge adds, reset clears, and out-of-range values are errors") {
    ConfusionMatrix a(4), b(4);
    a.update(pr.data(), gt.data(), 8);
    b.update(pr.data() + 8, gt.data() + 8, 8);
    a.merge(b);
    ConfusionMatrix all(4);
    all.update(pr.data(), gt.data(), gt.size());
    CHECK(a.counts() == all.counts());
    a.reset();
    CHECK(a.total() == 0);
    const Bytes bad_pred{4}, ok{0}, bad_label{7};
    CHECK_THROWS_AS(a.update(bad_pred.data(), ok.data(), 1), DataError);
    CHECK_THROWS_AS(a.update(ok.data(), bad_label.data(), 1), DataError);
    ConfusionMatrix c5(5);
    CHECK_THROWS_AS(a.merge(c5), DataError);
  }
  SECTION("scores_from_confusion of an empty matrix is NaN with nothing counted") {
    const std::vector<std::int64_t> zero(9, 0);
    const Scores s = scores_from_confusion(zero.data(), 3);
    CHECK(std::isnan(s.pixel_acc));
    CHECK(std::isnan(s.mean_iou));
    CHECK(s.classes_counted_iou == 0);
  }
}

TEST_CASE("label and mask boundaries of a square") {
  const int h = 12, w = 14, s = 5;
  Bytes img = fill(h, w, 0);
  rect(img, w, 3, 4, s, s, 1);
  Bytes out(img.size());
  label_boundary(img.data(), h, w, out.data());
  CHECK(count(out) == 8 * s - 4);  // inner ring 4s-4 plus the 4s outer 4-neighbours
  mask_boundary(img.data(), h, w, out.data());
  CHECK(count(out) == 4 * s - 4);
  // A mask filling the image has no boundary (the image edge is not one).
  Bytes full = fill(h, w, 1);
  mask_boundary(full.data(), h, w, out.data());
  CHECK(count(out) == 0);
}

TEST_CASE("Boundary IoU inner bands and the dilation width") {
  const int h = 40, w = 50;
  Bytes sq = fill(h, w, 0);
  rect(sq, w, 10, 12, 20, 20, 1);
  Bytes band(sq.size());
  for (int d : {1, 3, 7}) {
    inner_band(sq.data(), h, w, d, band.data());
    CHECK(count(band) == 20 * 20 - (20 - 2 * d) * (20 - 2 * d));
  }
  inner_band(sq.data(), h, w, 12, band.data());  // erosion removes the whole square
  CHECK(count(band) == 400);
  // Zero padding: a mask filling the image erodes from the image edges.
  Bytes full = fill(h, w, 1);
  inner_band(full.data(), h, w, 2, band.data());
  CHECK(count(band) == h * w - (h - 4) * (w - 4));
  CHECK(boundary_iou_dilation_px(375, 500, 0.02) == 12);  // 12.5 rounds to even, as Python's round
  CHECK(boundary_iou_dilation_px(60, 80, 0.03) == 3);
  CHECK(boundary_iou_dilation_px(10, 10, 0.001) == 1);
  CHECK(bf_tolerance_px(60, 80, 0.025) == Approx(2.5));
}

TEST_CASE("BF score of a square shifted by k px: 1 within the tolerance, closed form beyond") {
  const int h = 60, w = 80, s = 20;  // diagonal 100: theta = 0.025 x 100 = 2.5 px
  Bytes gt = fill(h, w, 0);
  rect(gt, w, 20, 30, s, s, 1);
  for (int k : {0, 1, 2, 3, 5}) {
    Bytes pr = fill(h, w, 0);
    rect(pr, w, 20, 30 + k, s, s, 1);
    Bytes gm(gt.size()), pm(gt.size());
    for (std::size_t i = 0; i < gt.size(); ++i) {
      gm[i] = gt[i] == 1;
      pm[i] = pr[i] == 1;
    }
    const BoundaryMatch m = match_boundaries(gm.data(), pm.data(), h, w, 2.5);
    CHECK(m.gt_boundary == 4 * s - 4);
    CHECK(m.pred_boundary == 4 * s - 4);
    // k > theta: top and bottom rows match but for their k - 2 overhanging pixels, the leading
    // edge only within 2 rows of the corners, the trailing edge not at all.
    const double expected = k <= 2 ? 1.0 : (2.0 * ((s - k) + 2) + 4) / (4 * s - 4);
    CHECK(bf_from_match(m) == Approx(expected).epsilon(1e-12));
    CHECK(m.pred_matched == m.gt_matched);

    BoundaryOptions opts;
    opts.bf_tolerance = 0.025;
    SegmentationEvaluator ev(2, opts);
    ev.process(pr.data(), gt.data(), h, w);
    const EvalResult r = ev.evaluate();
    CHECK(r.bf_per_class[1] == Approx(expected).epsilon(1e-12));
  }
  SECTION("a boundary pixel exactly theta away is matched") {
    Bytes gm = fill(h, w, 0), pm = fill(h, w, 0);
    rect(gm, w, 20, 30, s, s, 1);
    rect(pm, w, 20, 32, s, s, 1);  // shifted by 2 px, theta = 2.0
    CHECK(bf_from_match(match_boundaries(gm.data(), pm.data(), h, w, 2.0)) == 1.0);
    CHECK(bf_from_match(match_boundaries(gm.data(), pm.data(), h, w, 1.99)) < 1.0);
  }
  SECTION("a class not predicted scores 0; an image of one class predicted right scores 1") {
    BoundaryMatch none;
    none.gt_boundary = 10;
    CHECK(bf_from_match(none) == 0.0);
    Bytes zero = fill(h, w, 0);
    SegmentationEvaluator ev(2, BoundaryOptions{});
    ev.process(zero.data(), zero.data(), h, w);
    const EvalResult r = ev.evaluate();
    CHECK(r.bf_score == 1.0);
    CHECK(std::isnan(r.bf_per_class[1]));
  }
}

TEST_CASE("trimap accuracy and mean IoU on a half-plane: band pixel counts in closed form") {
  // Columns < 20 are class 0, the rest class 1: the label boundary is columns 19 and 20, and the
  // band of width w is columns [19 - w, 20 + w] (10 px each). The prediction is wrong in column
  // 18 (inside every band) and column 3 (inside the bands with w >= 16).
  const int h = 10, w = 40;
  Bytes gt = fill(h, w, 0), pr;
  rect(gt, w, 0, 20, h, 20, 1);
  pr = gt;
  rect(pr, w, 0, 18, h, 1, 1);
  rect(pr, w, 0, 3, h, 1, 1);
  SegmentationEvaluator ev(2, BoundaryOptions{});
  ev.process(pr.data(), gt.data(), h, w);
  const EvalResult r = ev.evaluate();
  REQUIRE(r.trimap_width == std::vector<int>{1, 2, 4, 8, 16, 32});
  const std::vector<double> band_px{40, 60, 100, 180, 340, 400};
  const std::vector<double> wrong{10, 10, 10, 10, 20, 20};
  for (std::size_t k = 0; k < 6; ++k) CHECK(r.trimap_pixel_acc[k] == Approx(1 - wrong[k] / band_px[k]).epsilon(1e-12));
  CHECK(r.trimap_mean_iou[0] == Approx((0.5 + 2.0 / 3) / 2).epsilon(1e-12));
  CHECK(r.scores.pixel_acc == Approx(380.0 / 400).epsilon(1e-12));
  SECTION("void pixels are left out of the bands") {
    Bytes gv = gt;
    rect(gv, w, 0, 18, h, 1, 255);  // the wrong column becomes void: it is a boundary itself now
    SegmentationEvaluator ev2(2, BoundaryOptions{});
    ev2.process(pr.data(), gv.data(), h, w);
    const EvalResult r2 = ev2.evaluate();
    CHECK(r2.trimap_pixel_acc[0] == 1.0);
    CHECK(r2.confusion[0 * 2 + 1] == 10);  // only column 3 is wrong now
  }
}

TEST_CASE("Boundary IoU: a mask with itself is 1, with its 1-px erosion below 1 (closed form)") {
  const int h = 60, w = 80;  // diagonal 100: d = round(0.03 x 100) = 3
  BoundaryOptions opts;
  opts.boundary_iou_dilation = 0.03;
  Bytes gt = fill(h, w, 0), er = fill(h, w, 0);
  rect(gt, w, 20, 30, 20, 20, 1);
  rect(er, w, 21, 31, 18, 18, 1);
  SegmentationEvaluator self(2, opts);
  self.process(gt.data(), gt.data(), h, w);
  CHECK(self.evaluate().boundary_iou == 1.0);
  SegmentationEvaluator ev(2, opts);
  ev.process(er.data(), gt.data(), h, w);
  const EvalResult r = ev.evaluate();
  // gt band: 20^2 - 14^2; pred band: 18^2 - 12^2; intersection 18^2 - 14^2; union 20^2 - 12^2.
  CHECK(r.boundary_iou_per_class[1] == Approx(128.0 / 256.0).epsilon(1e-12));
  CHECK(r.boundary_iou < 1.0);
  SECTION("accumulated over images: intersections and unions are summed") {
    ev.process(gt.data(), gt.data(), h, w);  // adds 204 / 204
    CHECK(ev.evaluate().boundary_iou_per_class[1] == Approx((128.0 + 204) / (256.0 + 204)).epsilon(1e-12));
  }
}

TEST_CASE("void is don't-care in BF and Boundary IoU: right on every non-void pixel scores 1") {
  const int h = 60, w = 80;  // diagonal 100: theta 0.75 px, d = 3
  BoundaryOptions opts;
  opts.boundary_iou_dilation = 0.03;
  Bytes gt = fill(h, w, 0);
  SECTION("an object with a 3-px void outline; the prediction's edge lies inside the void") {
    rect(gt, w, 17, 27, 26, 26, 255);
    rect(gt, w, 20, 30, 20, 20, 1);
    for (int grow : {0, 1, 2, 3}) {  // 0: the object alone; 3: the object and all its void outline
      Bytes pr = fill(h, w, 0);
      rect(pr, w, 20 - grow, 30 - grow, 20 + 2 * grow, 20 + 2 * grow, 1);
      SegmentationEvaluator ev(2, opts);
      ev.process(pr.data(), gt.data(), h, w);
      const EvalResult r = ev.evaluate();
      CHECK(r.scores.mean_iou == 1.0);
      CHECK(r.bf_score == 1.0);
      CHECK(r.boundary_iou_per_class[0] == 1.0);
      CHECK(r.boundary_iou_per_class[1] == 1.0);
    }
  }
  SECTION("one class around a void blob; the prediction has no boundary at all") {
    rect(gt, w, 25, 35, 10, 10, 255);
    const Bytes pr = fill(h, w, 0);
    SegmentationEvaluator ev(2, opts);
    ev.process(pr.data(), gt.data(), h, w);
    const EvalResult r = ev.evaluate();
    CHECK(r.bf_score == 1.0);
    CHECK(r.boundary_iou == 1.0);
  }
  SECTION("a class predicted only on void pixels counts nowhere") {
    rect(gt, w, 25, 35, 10, 10, 255);
    Bytes pr = fill(h, w, 0);
    rect(pr, w, 25, 35, 10, 10, 1);
    SegmentationEvaluator ev(2, opts);
    ev.process(pr.data(), gt.data(), h, w);
    const EvalResult r = ev.evaluate();
    CHECK(std::isnan(r.boundary_iou_per_class[1]));
    CHECK(std::isnan(r.bf_per_class[1]));
    CHECK(r.boundary_iou == 1.0);
  }
  SECTION("a wrong prediction on non-void pixels still counts") {
    rect(gt, w, 17, 27, 26, 26, 255);
    rect(gt, w, 20, 30, 20, 20, 1);
    Bytes pr = fill(h, w, 0);
    rect(pr, w, 21, 31, 18, 18, 1);  // one non-void pixel short on every side
    SegmentationEvaluator ev(2, opts);
    ev.process(pr.data(), gt.data(), h, w);
    const EvalResult r = ev.evaluate();
    CHECK(r.bf_per_class[1] == 0.0);                                             // 1 px apart, theta 0.75
    CHECK(r.boundary_iou_per_class[1] == Approx(128.0 / 256.0).epsilon(1e-12));  // as without void
  }
}

TEST_CASE("the evaluator keeps per-image confusions, merges in order and checks values") {
  std::mt19937 rng(3);
  std::uniform_int_distribution<int> cls(0, 3);
  const int h = 16, w = 20, C = 4;
  std::vector<Bytes> gts, prs;
  for (int i = 0; i < 3; ++i) {
    Bytes g(static_cast<std::size_t>(h * w)), p(g.size());
    for (std::size_t k = 0; k < g.size(); ++k) {
      g[k] = static_cast<std::uint8_t>(k % 17 == 0 ? 255 : cls(rng));
      p[k] = static_cast<std::uint8_t>(cls(rng));
    }
    gts.push_back(g);
    prs.push_back(p);
  }
  SegmentationEvaluator all(C, BoundaryOptions{}), a(C, BoundaryOptions{}), b(C, BoundaryOptions{});
  ConfusionMatrix cm(C);
  for (int i = 0; i < 3; ++i) {
    all.process(prs[i].data(), gts[i].data(), h, w);
    (i < 1 ? a : b).process(prs[i].data(), gts[i].data(), h, w);
    cm.update(prs[i].data(), gts[i].data(), gts[i].size());
  }
  a.merge(b);
  const EvalResult r = all.evaluate(), m = a.evaluate();
  CHECK(r.images == 3);
  CHECK(r.confusion == cm.counts());
  CHECK(r.per_image_confusion.size() == static_cast<std::size_t>(3 * C * C));
  ConfusionMatrix second(C);
  second.update(prs[1].data(), gts[1].data(), gts[1].size());
  for (int k = 0; k < C * C; ++k)
    CHECK(r.per_image_confusion[static_cast<std::size_t>(C * C + k)] == second.counts()[static_cast<std::size_t>(k)]);
  CHECK(m.per_image_confusion == r.per_image_confusion);
  CHECK(m.bf_score == r.bf_score);
  CHECK(m.boundary_iou == r.boundary_iou);
  CHECK(m.trimap_mean_iou == r.trimap_mean_iou);
  CHECK(r.scores.mean_iou == Approx(cm.scores().mean_iou));
  Bytes bad = prs[0];
  bad[5] = 4;
  CHECK_THROWS_AS(all.process(bad.data(), gts[0].data(), h, w), DataError);
  all.reset();
  CHECK(all.evaluate().images == 0);
}

TEST_CASE("per-image boundary data: weights count images again, and no weights give evaluate()'s scores") {
  // Images of random rectangles (some with a void outline) and predictions that shift and relabel
  // some of them: boundaries, bands and trimaps of every kind.
  std::mt19937 rng(11);
  const int h = 24, w = 30, C = 5;
  std::uniform_int_distribution<int> cls(0, C - 1), xs(0, w - 1), ys(0, h - 1), shift(-2, 2), coin(0, 3);
  std::vector<Bytes> gts, prs;
  for (int i = 0; i < 5; ++i) {
    Bytes g(static_cast<std::size_t>(h * w), 0), p(g.size(), 0);
    for (int r = 0; r < 4; ++r) {
      const int x0 = xs(rng), y0 = ys(rng), x1 = std::min(w, x0 + 4 + xs(rng) / 2),
                y1 = std::min(h, y0 + 4 + ys(rng) / 2);
      const auto c = static_cast<std::uint8_t>(cls(rng));
      const auto pc = static_cast<std::uint8_t>(coin(rng) == 0 ? cls(rng) : c);
      const int dx = shift(rng), dy = shift(rng);
      const bool outline = coin(rng) == 0;
      for (int y = y0; y < y1; ++y)
        for (int x = x0; x < x1; ++x) {
          const bool edge = y == y0 || y == y1 - 1 || x == x0 || x == x1 - 1;
          g[static_cast<std::size_t>(y * w + x)] = outline && edge ? 255 : c;
          const int px = std::clamp(x + dx, 0, w - 1), py = std::clamp(y + dy, 0, h - 1);
          p[static_cast<std::size_t>(py * w + px)] = pc;
        }
    }
    gts.push_back(g);
    prs.push_back(p);
  }
  const BoundaryOptions opts{{1, 2, 4}, 0.05, 0.05};
  const int K = 3;
  SegmentationEvaluator once(C, opts);
  for (int i = 0; i < 5; ++i)
    once.process(prs[static_cast<std::size_t>(i)].data(), gts[static_cast<std::size_t>(i)].data(), h, w);
  const EvalResult r = once.evaluate();
  REQUIRE(r.per_image_bf.size() == static_cast<std::size_t>(5 * C));
  REQUIRE(r.per_image_boundary_band.size() == static_cast<std::size_t>(5 * C * 2));
  REQUIRE(r.per_image_trimap.size() == static_cast<std::size_t>(5 * K * C * 3));
  CHECK(r.bf_score > 0.1);
  CHECK(r.bf_score < 0.95);
  CHECK(r.boundary_iou > 0.1);
  CHECK(r.boundary_iou < 0.95);

  // Without weights: exactly what evaluate() reported.
  const auto bf = bf_from_images(r.per_image_bf, C, {});
  const auto biou = boundary_iou_from_images(r.per_image_boundary_band, C, {});
  CHECK(bf.score == r.bf_score);
  CHECK(biou.score == r.boundary_iou);
  for (int c = 0; c < C; ++c) {
    const auto k = static_cast<std::size_t>(c);
    CHECK((bf.per_class[k] == r.bf_per_class[k] || (std::isnan(bf.per_class[k]) && std::isnan(r.bf_per_class[k]))));
    CHECK((biou.per_class[k] == r.boundary_iou_per_class[k] ||
           (std::isnan(biou.per_class[k]) && std::isnan(r.boundary_iou_per_class[k]))));
  }
  for (int k = 0; k < K; ++k) {
    const Scores t = trimap_from_images(r.per_image_trimap, K, C, k, {});
    CHECK(t.pixel_acc == r.trimap_pixel_acc[static_cast<std::size_t>(k)]);
    CHECK(t.mean_iou == r.trimap_mean_iou[static_cast<std::size_t>(k)]);
  }

  // Weights {2, 0, 1, 3, 1} give the scores of a split holding those images that many times.
  const std::vector<std::uint32_t> weights{2, 0, 1, 3, 1};
  SegmentationEvaluator repeated(C, opts);
  for (std::size_t i = 0; i < weights.size(); ++i)
    for (std::uint32_t n = 0; n < weights[i]; ++n) repeated.process(prs[i].data(), gts[i].data(), h, w);
  const EvalResult d = repeated.evaluate();
  CHECK(d.bf_score != Approx(r.bf_score));  // the weights matter here
  CHECK(bf_from_images(r.per_image_bf, C, weights).score == Approx(d.bf_score).epsilon(1e-12));
  CHECK(boundary_iou_from_images(r.per_image_boundary_band, C, weights).score == d.boundary_iou);
  for (int k = 0; k < K; ++k) {
    const Scores t = trimap_from_images(r.per_image_trimap, K, C, k, weights);
    CHECK(t.pixel_acc == d.trimap_pixel_acc[static_cast<std::size_t>(k)]);
    CHECK(t.mean_iou == d.trimap_mean_iou[static_cast<std::size_t>(k)]);
  }

  // Sizes that do not fit are refused.
  CHECK_THROWS_AS(bf_from_images(r.per_image_bf, C, {1, 2}), DataError);
  CHECK_THROWS_AS(boundary_iou_from_images({1, 2, 3}, C, {}), DataError);
  CHECK_THROWS_AS(trimap_from_images(r.per_image_trimap, K, C, K, {}), DataError);
}

TEST_CASE("scores from marginals equal the scores of the confusion") {
  std::mt19937 rng(5);
  std::uniform_int_distribution<int> count(0, 40);
  const int C = 6;
  std::vector<std::int64_t> m(static_cast<std::size_t>(C * C));
  for (auto& v : m) v = count(rng);
  m[2 * C + 2] = 0;  // a class with ground truth but no right pixel
  for (int j = 0; j < C; ++j)
    m[static_cast<std::size_t>(5 * C + j)] = m[static_cast<std::size_t>(j * C + 5)] = 0;  // class 5: absent
  std::vector<std::int64_t> diag(C), row(C, 0), col(C, 0);
  for (int i = 0; i < C; ++i) {
    diag[static_cast<std::size_t>(i)] = m[static_cast<std::size_t>(i * C + i)];
    for (int j = 0; j < C; ++j) {
      row[static_cast<std::size_t>(i)] += m[static_cast<std::size_t>(i * C + j)];
      col[static_cast<std::size_t>(j)] += m[static_cast<std::size_t>(i * C + j)];
    }
  }
  const Scores a = scores_from_confusion(m.data(), C),
               b = scores_from_marginals(diag.data(), row.data(), col.data(), C);
  CHECK(a.pixel_acc == b.pixel_acc);
  CHECK(a.mean_acc == b.mean_acc);
  CHECK(a.mean_iou == b.mean_iou);
  CHECK(a.fw_iou == b.fw_iou);
  CHECK(b.classes_counted_iou == C - 1);
  CHECK(std::isnan(b.per_class_iou[5]));
  CHECK(b.per_class_iou[2] == 0.0);
}

TEST_CASE("the 1-D lower envelope equals the brute-force minimum over seeds", "[metrics][distance]") {
  std::mt19937 gen(7);
  std::uniform_int_distribution<int> value(0, 40), seed(0, 3);
  for (int n : {1, 2, 7, 31}) {
    for (int trial = 0; trial < 20; ++trial) {
      std::vector<float> f(static_cast<std::size_t>(n)), d(static_cast<std::size_t>(n));
      for (auto& x : f) x = seed(gen) == 0 ? static_cast<float>(value(gen)) : kNoSeed;  // about 1 in 4 a seed
      squared_distance_1d(f.data(), d.data(), n);
      for (int q = 0; q < n; ++q) {
        float best = kNoSeed;
        for (int p = 0; p < n; ++p)
          if (f[static_cast<std::size_t>(p)] < kNoSeed)
            best = std::min(best, static_cast<float>((q - p) * (q - p)) + f[static_cast<std::size_t>(p)]);
        CHECK(d[static_cast<std::size_t>(q)] == best);
      }
    }
  }
}
