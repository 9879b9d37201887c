// End-to-end tests of `fcnlab eval-masks`: scores of two PNG folders, the run file it writes,
// and errors naming the file for missing/extra files, size mismatches and out-of-range values.
#include <fmt/format.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <string>

#include "core/host.h"
#include "data/image_io.h"
#include "helpers.h"
#include "results/run_file.h"

using namespace fcnlab;
using Catch::Matchers::Contains;
using fcnlab::test::run_fcnlab;
using fcnlab::test::TempDir;

namespace {

// 8x8 maps: ground truth left half 0, right half 1 with its last column void; the prediction is
// right but for column 2 (predicted 1), and predicts 1 on the void column.
Image8 gt_map() {
  Image8 g = make_image(8, 8, 1, 0);
  for (int y = 0; y < 8; ++y)
    for (int x = 4; x < 8; ++x) g.at(y, x) = 1;
  for (int y = 0; y < 8; ++y) g.at(y, 7) = 255;
  return g;
}
Image8 pred_map() {
  Image8 p = gt_map();
  for (int y = 0; y < 8; ++y) {
    p.at(y, 7) = 1;
    p.at(y, 2) = 1;
  }
  return p;
}

void make_dirs(const TempDir& t, int n) {
  std::filesystem::create_directories(t / "gt");
  std::filesystem::create_directories(t / "pred");
  for (int i = 0; i < n; ++i) {
    write_png_label(t / "gt" / ("img" + std::to_string(i) + ".png"), gt_map());
    write_png_label(t / "pred" / ("img" + std::to_string(i) + ".png"), pred_map(), false);
  }
}

}  // namespace

TEST_CASE("eval-masks scores two folders of PNGs and writes /final") {
  TempDir t;
  make_dirs(t, 3);
  // Non-void pixels per image: 56; class 0: 32 gt, 24 right, 8 predicted 1; class 1: 24 gt, all right.
  // IoU0 = 24 / 32, IoU1 = 24 / (24 + 8) -> mean 0.75; pixel acc 48 / 56.
  const std::string args =
      fmt::format("eval-masks --gt {} --pred {} --num-classes 2", (t / "gt").string(), (t / "pred").string());
  auto r = run_fcnlab(args + " --format json --out " + (t / "em.h5").string());
  INFO(r.out);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.out, Contains("\"images\": 3"));
  CHECK_THAT(r.out, Contains("\"mean_iou\": 0.750000"));
  CHECK_THAT(r.out, Contains(fmt::format("\"pixel_acc\": {:.6f}", 48.0 / 56)));
  RunFileReader reader(t / "em.h5");
  const auto f = reader.final();
  REQUIRE(f.has_value());
  CHECK(f->images == 3);
  CHECK(f->num_classes() == 2);
  CHECK(f->confusion == std::vector<std::int64_t>{72, 24, 0, 72});
  CHECK(f->scalar("mean_iou").value() == Approx(0.75));
  CHECK(f->per_image_confusion.size() == 12);
  CHECK(f->trimap_width.size() == 6);
  CHECK(f->bf_per_class.size() == 2);
  CHECK(f->image_ids == std::vector<std::string>{"img0", "img1", "img2"});
  CHECK(reader.info().cpu_model == cpu_model());
  CHECK(reader.info().gpu_model.empty());
  // One thread gives the same table as several.
  CHECK(run_fcnlab(args + " --format csv --threads 1").out == run_fcnlab(args + " --format csv --threads 2").out);
  auto md = run_fcnlab(args);
  CHECK_THAT(md.out, Contains("| trimap width (px) |"));

  SECTION("an --ids list selects images; a missing one is an error naming the file") {
    fcnlab::test::write_file(t / "ids.txt", "img2\nimg1\n");
    auto ok =
        run_fcnlab(args + " --format json --ids " + (t / "ids.txt").string() + " --out " + (t / "ids.h5").string());
    CHECK(ok.exit_code == 0);
    CHECK_THAT(ok.out, Contains("\"images\": 2"));
    // The run file's ids are the images in the order scored: the list's.
    CHECK(RunFileReader(t / "ids.h5").final()->image_ids == std::vector<std::string>{"img2", "img1"});
    fcnlab::test::write_file(t / "ids.txt", "img1\nimg9\n");
    auto bad = run_fcnlab(args + " --ids " + (t / "ids.txt").string());
    CHECK(bad.exit_code == 1);
    CHECK_THAT(bad.out, Contains("img9.png"));
  }
}

TEST_CASE("eval-masks errors name the file") {
  TempDir t;
  make_dirs(t, 2);
  const std::string args =
      fmt::format("eval-masks --gt {} --pred {} --num-classes 2", (t / "gt").string(), (t / "pred").string());
  SECTION("missing prediction") {
    std::filesystem::remove(t / "pred" / "img1.png");
    auto r = run_fcnlab(args);
    CHECK(r.exit_code == 1);
    CHECK_THAT(r.out, Contains("img1.png") && Contains("missing prediction"));
  }
  SECTION("extra prediction") {
    write_png_label(t / "pred" / "other.png", pred_map());
    auto r = run_fcnlab(args);
    CHECK(r.exit_code == 1);
    CHECK_THAT(r.out, Contains("other.png"));
  }
  SECTION("size mismatch") {
    write_png_label(t / "pred" / "img0.png", make_image(9, 8, 1, 0));
    auto r = run_fcnlab(args);
    CHECK(r.exit_code == 1);
    CHECK_THAT(r.out, Contains("img0.png") && Contains("9x8"));
  }
  SECTION("out-of-range prediction and label values") {
    Image8 p = pred_map();
    p.at(3, 3) = 2;
    write_png_label(t / "pred" / "img1.png", p);
    auto r = run_fcnlab(args);
    CHECK(r.exit_code == 1);
    CHECK_THAT(r.out, Contains("pred/img1.png") && Contains("value 2"));
    auto ok3 = run_fcnlab(
        fmt::format("eval-masks --gt {} --pred {} --num-classes 3", (t / "gt").string(), (t / "pred").string()));
    CHECK(ok3.exit_code == 0);  // with 3 classes, 2 is a valid prediction
    Image8 g = gt_map();
    g.at(0, 0) = 7;
    write_png_label(t / "gt" / "img0.png", g);
    auto bad = run_fcnlab(args);
    CHECK(bad.exit_code == 1);
    CHECK_THAT(bad.out, Contains("gt/img0.png") && Contains("label value 7"));
  }
  SECTION("usage errors") {
    CHECK(run_fcnlab("eval-masks --gt " + (t / "gt").string()).exit_code == 2);
    CHECK(run_fcnlab(args + " --format xml").exit_code == 2);
  }
}
