// Tests of src/loss: hand-computed values, double-precision finite-difference gradients, void
// pixels contributing nothing, Lovasz = 1 - IoU on hard predictions, median-frequency weights.
#include "catch_torch.h"

#include <cmath>
#include <string>
#include <vector>

#include "config/config.h"
#include "core/error.h"
#include "data/check.h"
#include "loss/class_weights.h"
#include "loss/loss.h"

using namespace fcnlab;

namespace {

const auto kDouble = torch::TensorOptions().dtype(torch::kDouble);

// Three pixels in a row: A logits (0, 0) label 0; B logits (ln 3, 0) label `b_label`; C void.
torch::Tensor three_logits() {
  return torch::tensor({0.0, std::log(3.0), 5.0, 0.0, 0.0, -2.0}, kDouble).view({1, 2, 1, 3});
}
torch::Tensor three_labels(std::int64_t b_label) {
  return torch::tensor({std::int64_t{0}, b_label, std::int64_t{255}}, torch::kLong).view({1, 1, 3});
}

LossConfig cfg_for(LossName name) {
  LossConfig c;
  c.name = name;
  c.aux_weight = 0.7;
  c.focal_gamma = 2.0;
  c.boundary_width = 1;
  c.boundary_weight = 3.0;
  return c;
}

const std::vector<LossName> kAllLosses{LossName::ce,    LossName::wce,         LossName::dice,    LossName::lovasz,
                                       LossName::focal, LossName::boundary_ce, LossName::ce_dice, LossName::ce_lovasz};

std::unique_ptr<Loss> make(LossName name, int C, bool per_image = false) {
  LossConfig c = cfg_for(name);
  c.per_image = per_image;
  std::vector<double> w;
  if (name == LossName::wce)
    for (int i = 0; i < C; ++i) w.push_back(0.5 + i);
  return make_loss(c, C, w);
}

std::string name_of(LossName n) {
  return std::string(to_string(n));
}

// Random labels in [0, C) with about a fifth void.
torch::Tensor random_labels(std::int64_t B, std::int64_t C, std::int64_t H, std::int64_t W) {
  auto l = torch::randint(0, C, {B, H, W}, torch::kLong);
  return torch::where(torch::rand({B, H, W}) < 0.2, torch::full({}, std::int64_t{255}, torch::kLong), l);
}

}  // namespace

TEST_CASE("losses on hand-computed three-pixel cases") {
  const double ln2 = std::log(2.0), ln43 = std::log(4.0 / 3.0);
  const auto x = three_logits();
  CHECK(cross_entropy(x, three_labels(0), Reduction::mean).item<double>() == Approx((ln2 + ln43) / 2).epsilon(1e-9));
  CHECK(cross_entropy(x, three_labels(0), Reduction::sum).item<double>() == Approx(ln2 + ln43).epsilon(1e-9));
  // wce, B labelled 1 (p = 1/4): (2 ln 2 + 0.5 ln 4) / (2 + 0.5)
  CHECK(cross_entropy(x, three_labels(1), Reduction::mean, {2.0, 0.5}).item<double>() ==
        Approx(1.2 * ln2).epsilon(1e-9));
  CHECK(focal_loss(x, three_labels(0), 2.0, Reduction::mean).item<double>() ==
        Approx((0.25 * ln2 + ln43 / 16) / 2).epsilon(1e-9));
  CHECK(focal_loss(x, three_labels(0), 0.0, Reduction::mean).item<double>() == Approx((ln2 + ln43) / 2).epsilon(1e-9));
  // Dice, B labelled 1: class 0 2*0.5/(1.25+1), class 1 2*0.25/(0.75+1)
  CHECK(dice_loss(x, three_labels(1)).item<double>() == Approx(1 - (4.0 / 9 + 2.0 / 7) / 2).epsilon(1e-9));
  // Lovasz, B labelled 1: class 0 errors (0.75, 0.5) with gradient (0.5, 0.5); class 1 (0.75, 0.5) with (1, 0)
  CHECK(lovasz_softmax(torch::softmax(x, 1), three_labels(1), false).item<double>() == Approx(0.6875).epsilon(1e-9));
  // Composites through make_loss: ce + 0.7 * dice
  const auto l1 = three_labels(1);
  CHECK((*make(LossName::ce_dice, 2))(x, l1).item<double>() ==
        Approx(cross_entropy(x, l1, Reduction::mean).item<double>() + 0.7 * dice_loss(x, l1).item<double>())
            .epsilon(1e-12));
  CHECK((*make(LossName::ce_lovasz, 2))(x, l1).item<double>() ==
        Approx(cross_entropy(x, l1, Reduction::mean).item<double>() + 0.7 * 0.6875).epsilon(1e-9));
}

TEST_CASE("Lovasz-softmax equals 1 - IoU (mean over present classes) for hard one-hot predictions") {
  torch::manual_seed(1);
  const std::int64_t B = 2, C = 4, H = 6, W = 7;
  for (int trial = 0; trial < 5; ++trial) {
    const auto labels = random_labels(B, C, H, W);
    const auto pred = torch::randint(0, C, {B, H, W}, torch::kLong);
    const auto probs = pred.unsqueeze(1).eq(torch::arange(C).view({1, C, 1, 1})).to(torch::kDouble);
    const auto valid = labels.ne(255);
    double sum = 0;
    int present = 0;
    for (std::int64_t c = 0; c < C; ++c) {
      const auto g = labels.eq(c), p = pred.eq(c) & valid;
      const double gt_px = g.sum().item<double>();
      if (gt_px == 0) continue;
      sum += 1 - (g & p).sum().item<double>() / (g | p).sum().item<double>();
      ++present;
    }
    CHECK(lovasz_softmax(probs, labels, false).item<double>() == Approx(sum / present).epsilon(1e-12));
  }
  SECTION("one class: a hard mask against the ground truth") {
    // 1 x 1 x 2 x 4: ground truth 1 1 1 0 / 0 0 0 0, prediction 1 1 0 0 / 1 0 0 0 (class 1).
    // Class 1 IoU = 2 / 4; class 0 (present too) IoU = 4 / 6.
    auto gt = torch::tensor({1, 1, 1, 0, 0, 0, 0, 0}, torch::kLong).view({1, 2, 4});
    auto pr = torch::tensor({1, 1, 0, 0, 1, 0, 0, 0}, torch::kLong).view({1, 2, 4});
    auto probs = pr.unsqueeze(1).eq(torch::arange(2).view({1, 2, 1, 1})).to(torch::kDouble);
    CHECK(lovasz_softmax(probs, gt, false).item<double>() == Approx(((1 - 0.5) + (1 - 4.0 / 6)) / 2).epsilon(1e-12));
    // Through make_loss with saturated logits.
    CHECK((*make(LossName::lovasz, 2))(probs * 80.0, gt).item<double>() == Approx(5.0 / 12).epsilon(1e-9));
  }
  SECTION("per image is the mean of the images' losses") {
    const auto labels = random_labels(B, C, H, W);
    const auto probs = torch::softmax(torch::randn({B, C, H, W}, kDouble), 1);
    const double a = lovasz_softmax(probs.slice(0, 0, 1), labels.slice(0, 0, 1), false).item<double>();
    const double b = lovasz_softmax(probs.slice(0, 1, 2), labels.slice(0, 1, 2), false).item<double>();
    CHECK(lovasz_softmax(probs, labels, true).item<double>() == Approx((a + b) / 2).epsilon(1e-12));
    CHECK(lovasz_softmax(probs, labels, false).item<double>() != Approx((a + b) / 2).epsilon(1e-12));
  }
}

TEST_CASE("finite-difference gradient checks in double precision, every loss") {
  torch::manual_seed(2);
  const std::int64_t B = 2, C = 3, H = 4, W = 5;
  const auto labels = random_labels(B, C, H, W);
  for (LossName name : kAllLosses) {
    for (bool per_image : {false, true}) {
      if (per_image && name != LossName::lovasz) continue;
      INFO("loss " << name_of(name) << (per_image ? " per image" : ""));
      const auto loss = make(name, static_cast<int>(C), per_image);
      auto x = torch::randn({B, C, H, W}, kDouble).requires_grad_(true);
      (*loss)(x, labels).backward();
      const auto grad = x.grad().clone();
      torch::NoGradGuard no_grad;
      auto xd = x.detach().clone();
      auto flat = xd.view({-1});
      const double h = 1e-6;
      double max_err = 0;
      for (std::int64_t i = 0; i < flat.numel(); ++i) {
        const double v = flat[i].item<double>();
        flat[i] = v + h;
        const double up = (*loss)(xd, labels).item<double>();
        flat[i] = v - h;
        const double dn = (*loss)(xd, labels).item<double>();
        flat[i] = v;
        const double fd = (up - dn) / (2 * h);
        max_err = std::max(max_err, std::abs(fd - grad.view({-1})[i].item<double>()));
      }
      CHECK(max_err < 1e-6);
      CHECK(grad.abs().sum().item<double>() > 1e-3);  // the check is not vacuous
    }
  }
}

TEST_CASE("void pixels contribute nothing: their logits change neither loss nor gradient") {
  torch::manual_seed(3);
  const std::int64_t B = 2, C = 3, H = 6, W = 6;
  const auto labels = random_labels(B, C, H, W);
  const auto void_px = labels.eq(255).unsqueeze(1).expand({B, C, H, W});
  REQUIRE(labels.eq(255).any().item<bool>());
  for (LossName name : kAllLosses) {
    for (Reduction red : {Reduction::mean, Reduction::sum}) {
      INFO("loss " << name_of(name));
      LossConfig cfg = cfg_for(name);
      cfg.reduction = red;
      std::vector<double> w;
      if (name == LossName::wce) w = {0.5, 1.5, 2.5};
      const auto loss = make_loss(cfg, static_cast<int>(C), w);
      auto a = torch::randn({B, C, H, W}, kDouble).requires_grad_(true);
      auto b = torch::where(void_px, 10 * torch::randn({B, C, H, W}, kDouble), a.detach()).requires_grad_(true);
      const auto la = (*loss)(a, labels), lb = (*loss)(b, labels);
      la.backward();
      lb.backward();
      CHECK(la.item<double>() == Approx(lb.item<double>()).epsilon(1e-12));
      CHECK(torch::allclose(a.grad(), b.grad(), 1e-10, 1e-12));
      CHECK(a.grad().masked_select(void_px).abs().max().item<double>() == 0.0);
    }
  }
  SECTION("a batch without a valid pixel gives 0 and a zero gradient, never NaN") {
    const auto all_void = torch::full({B, H, W}, std::int64_t{255}, torch::kLong);
    for (LossName name : kAllLosses) {
      INFO("loss " << name_of(name));
      auto x = torch::randn({B, C, H, W}, kDouble).requires_grad_(true);
      const auto l = (*make(name, static_cast<int>(C)))(x, all_void);
      l.backward();
      CHECK(l.item<double>() == 0.0);
      CHECK(x.grad().abs().max().item<double>() == 0.0);
    }
  }
}

TEST_CASE("fused CE kernels (run.deterministic = false) equal the one-hot CE, value and gradient") {
  torch::manual_seed(5);
  const std::int64_t B = 2, C = 4, H = 5, W = 7;
  const auto labels = random_labels(B, C, H, W);
  REQUIRE(labels.eq(255).any().item<bool>());
  for (LossName name : {LossName::ce, LossName::ce_dice, LossName::ce_lovasz}) {
    for (Reduction red : {Reduction::mean, Reduction::sum}) {
      INFO("loss " << name_of(name) << ", reduction " << to_string(red));
      LossConfig cfg = cfg_for(name);
      cfg.reduction = red;
      const auto one_hot = make_loss(cfg, static_cast<int>(C), {}, LossKernels::deterministic);
      const auto fused = make_loss(cfg, static_cast<int>(C), {}, LossKernels::fused);
      auto a = torch::randn({B, C, H, W}, kDouble).requires_grad_(true);
      auto b = a.detach().clone().requires_grad_(true);
      const auto la = (*one_hot)(a, labels), lb = (*fused)(b, labels);
      la.backward();
      lb.backward();
      CHECK(lb.item<double>() == Approx(la.item<double>()).epsilon(1e-12));
      CHECK(torch::allclose(a.grad(), b.grad(), 1e-10, 1e-12));
      CHECK(b.grad().abs().sum().item<double>() > 1e-3);
    }
  }
  SECTION("it is nll_loss2d (the autograd node says so), and only for unweighted CE") {
    LossConfig cfg = cfg_for(LossName::ce);
    cfg.reduction = Reduction::sum;
    auto x = torch::randn({B, C, H, W}, kDouble).requires_grad_(true);
    const auto node = [&](LossKernels k, LossName name, std::vector<double> w) {
      cfg.name = name;
      return (*make_loss(cfg, static_cast<int>(C), std::move(w), k))(x, labels).grad_fn()->name();
    };
    CHECK(node(LossKernels::fused, LossName::ce, {}).find("NllLoss2D") != std::string::npos);
    CHECK(node(LossKernels::deterministic, LossName::ce, {}).find("NllLoss") == std::string::npos);
    CHECK(node(LossKernels::fused, LossName::wce, {1.0, 2.0, 3.0, 4.0}).find("NllLoss") == std::string::npos);
  }
  SECTION("a batch without a valid pixel gives 0 and a zero gradient for either reduction") {
    const auto all_void = torch::full({B, H, W}, std::int64_t{255}, torch::kLong);
    for (Reduction red : {Reduction::mean, Reduction::sum}) {
      auto x = torch::randn({B, C, H, W}, kDouble).requires_grad_(true);
      const auto l = fused_cross_entropy(x, all_void, red);
      l.backward();
      CHECK(l.item<double>() == 0.0);
      CHECK(x.grad().abs().max().item<double>() == 0.0);
    }
  }
  SECTION("a label out of range is a DataError, as for the one-hot form") {
    auto bad = labels.clone();
    bad[0][0][0] = C;
    CHECK_THROWS_AS(fused_cross_entropy(torch::randn({B, C, H, W}, kDouble), bad, Reduction::mean), DataError);
  }
}

TEST_CASE("boundary-weighted CE: the weight map is the Euclidean band around label boundaries") {
  torch::manual_seed(4);
  const std::int64_t B = 1, H = 11, W = 12;
  auto labels = torch::zeros({B, H, W}, torch::kLong);
  labels.slice(1, 3, 8).slice(2, 2, 6).fill_(1);
  labels[0][9][10] = 255;
  for (int width : {1, 2, 3}) {
    const auto map = boundary_weight_map(labels, width, 4.0, torch::kDouble);
    auto acc = labels.accessor<std::int64_t, 3>();
    auto m = map.accessor<double, 3>();
    // Brute force: a boundary pixel differs from a 4-neighbour; weighted when within `width`.
    auto is_boundary = [&](std::int64_t y, std::int64_t x) {
      const std::int64_t v = acc[0][y][x];
      return (x > 0 && acc[0][y][x - 1] != v) || (x + 1 < W && acc[0][y][x + 1] != v) ||
             (y > 0 && acc[0][y - 1][x] != v) || (y + 1 < H && acc[0][y + 1][x] != v);
    };
    int weighted = 0;
    for (std::int64_t y = 0; y < H; ++y) {
      for (std::int64_t x = 0; x < W; ++x) {
        bool near = false;
        for (std::int64_t sy = 0; sy < H; ++sy)
          for (std::int64_t sx = 0; sx < W; ++sx)
            if (is_boundary(sy, sx) && (sy - y) * (sy - y) + (sx - x) * (sx - x) <= width * width) near = true;
        const double expected = acc[0][y][x] == 255 ? 0.0 : (near ? 4.0 : 1.0);
        CHECK(m[0][y][x] == expected);
        weighted += expected == 4.0;
      }
    }
    CHECK(weighted > 0);
    CHECK(weighted < H * W - 1);
    const auto x = torch::randn({B, 2, H, W}, kDouble);
    const auto nll = -(torch::log_softmax(x, 1) * labels.unsqueeze(1).eq(torch::arange(2).view({1, 2, 1, 1}))).sum(1);
    CHECK(boundary_cross_entropy(x, labels, width, 4.0, Reduction::mean).item<double>() ==
          Approx(((nll * map).sum() / map.sum()).item<double>()).epsilon(1e-12));
  }
}

TEST_CASE("loss errors and class weights") {
  const auto x = three_logits();
  CHECK_THROWS_AS(cross_entropy(x, torch::tensor({0, 2, 255}, torch::kLong).view({1, 1, 3}), Reduction::mean),
                  DataError);
  CHECK_THROWS_AS(cross_entropy(x, torch::zeros({1, 2, 3}, torch::kLong), Reduction::mean), DataError);
  CHECK_THROWS_AS(make_loss(cfg_for(LossName::wce), 2), ConfigError);
  CHECK_THROWS_AS(make_loss(cfg_for(LossName::wce), 2, {1.0, 2.0, 3.0}), ConfigError);
  LossConfig given = cfg_for(LossName::wce);
  given.class_weighting = ClassWeighting::given;
  given.class_weights = {2.0, 0.5};
  CHECK((*make_loss(given, 2))(x, three_labels(1)).item<double>() == Approx(1.2 * std::log(2.0)).epsilon(1e-9));

  const auto w = median_frequency_weights({10, 30, 0, 5}, {100, 100, 0, 50});
  REQUIRE(w.size() == 4);
  CHECK(w[0] == Approx(1.0));
  CHECK(w[1] == Approx(1.0 / 3));
  CHECK(w[2] == 0.0);
  CHECK(w[3] == Approx(1.0));
  CHECK(median_frequency_weights({1, 3}, {4, 4})[0] == Approx(2.0));  // median of 0.25, 0.75 is 0.5
  CHECK_THROWS_AS(median_frequency_weights({0, 0}, {0, 0}), DataError);

  ClassPixelStats stats(3);
  const std::vector<std::uint8_t> img1{0, 0, 1, 255}, img2{2, 2, 2, 0};
  stats.add(img1.data(), img1.size());
  stats.add(img2.data(), img2.size());
  CHECK(stats.pixel_counts == std::vector<std::int64_t>{3, 1, 3});
  CHECK(stats.image_pixel_totals == std::vector<std::int64_t>{7, 3, 4});
  const std::vector<std::uint8_t> bad{3};
  CHECK_THROWS_AS(stats.add(bad.data(), 1), DataError);
}

TEST_CASE("the CPU radix argsort equals torch's stable descending sort, ties and negatives included") {
  torch::manual_seed(5);
  for (auto dtype : {torch::kFloat, torch::kDouble}) {
    // Values rounded to a coarse grid so that ties are common; some negative, one -0.0.
    auto t = (torch::randn({3, 2, 500}).mul(4).round() / 4).to(dtype);
    t[0][0][7] = -0.0;
    t[0][0][8] = 0.0;
    const auto [values, perm] = stable_sort_descending(t);
    const auto ref = torch::sort(t, /*stable=*/true, /*dim=*/-1, /*descending=*/true);
    CHECK(torch::equal(values, std::get<0>(ref)));
    // Ties (-0.0 and 0.0 included) keep their original order, as in a stable sort.
    CHECK(torch::equal(perm, std::get<1>(ref)));
  }
}
