// `fcnlab predict`: masks of a trained toy run that eval-masks scores exactly as the run's own
// evaluation did; images of mixed sizes, greyscale and CMYK; overlays; the VOC submission layout;
// a truncated JPEG is an error naming it and leaves no output.
#include <catch2/catch.hpp>
#include <filesystem>

#include "data/image_io.h"
#include "helpers.h"
#include "results/run_file.h"
#include "train/predict.h"

using namespace fcnlab;
using Catch::Matchers::Contains;
using fcnlab::test::run_fcnlab;
using fcnlab::test::TempDir;
namespace fs = std::filesystem;

namespace {

// A toy set and one short run on it (val batches of 4 over 10 images: the last batch is smaller),
// trained once per process.
struct ToyRun {
  TempDir dir;
  fs::path toy, run_file;
  ToyRun() {
    toy = dir / "toy";
    REQUIRE(run_fcnlab("make-toy --out " + toy.string() + " --train 16 --val 10").exit_code == 0);
    const auto r = run_fcnlab("train --config " + (fcnlab::test::source_dir() / "configs/toy.toml").string() +
                              " data.root=" + toy.string() + " run.results_dir=" + (dir / "res").string() +
                              " run.threads=1 optim.iterations=20 optim.batch_size=4 optim.warmup=2 eval.every=0"
                              " checkpoint.every=0 data.val_batch=4 eval.trimap_widths=[1,2] eval.examples=2");
    INFO(r.out);
    REQUIRE(r.exit_code == 0);
    for (const auto& e : fs::recursive_directory_iterator(dir / "res"))
      if (e.path().extension() == ".h5") run_file = e.path();
    REQUIRE(!run_file.empty());
  }
};

const ToyRun& toy_run() {
  static const ToyRun run;
  return run;
}

std::size_t count_files(const fs::path& dir, const std::string& ext) {
  std::size_t n = 0;
  if (!fs::exists(dir)) return 0;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.path().extension() == ext) ++n;
  return n;
}

Image8 gradient(int w, int h, int channels) {
  Image8 im = make_image(w, h, channels);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < channels; ++c) im.at(y, x, c) = static_cast<std::uint8_t>((x * 7 + y * 3 + c * 50) % 256);
  return im;
}

}  // namespace

// One test case: its sections share one trained toy run (a test case is a process of its own under ctest).
TEST_CASE("predict: masks, overlays, the VOC submission and bad images, on one toy run", "[predict][e2e]") {
  const ToyRun& t = toy_run();
  SECTION("the toy val split's masks score exactly the run's /final in eval-masks") {
    TempDir out;
    const auto p =
        run_fcnlab("predict --run " + t.run_file.string() + " --split val --out " + (out / "masks").string());
    INFO(p.out);
    REQUIRE(p.exit_code == 0);
    CHECK(count_files(out / "masks", ".png") == 10);
    CHECK(read_png_header(out / "masks" / "val_000000.png").color_type == 3);  // VOC palette
    const auto e =
        run_fcnlab("eval-masks --gt " + (t.toy / "SegmentationClass").string() + " --pred " + (out / "masks").string() +
                   " --ids " + (t.toy / "ImageSets/Segmentation/val.txt").string() +
                   " --num-classes 7 eval.trimap_widths=[1,2] --out " + (out / "scored.h5").string());
    INFO(e.out);
    REQUIRE(e.exit_code == 0);
    const auto run = RunFileReader(t.run_file).final();
    const auto scored = RunFileReader(out / "scored.h5").final();
    REQUIRE(run.has_value());
    REQUIRE(scored.has_value());
    CHECK(scored->confusion == run->confusion);
    CHECK(scored->per_image_confusion == run->per_image_confusion);
    REQUIRE(scored->scalars.size() == run->scalars.size());
    for (std::size_t i = 0; i < run->scalars.size(); ++i) {
      INFO(run->scalars[i].first);
      CHECK(scored->scalars[i].first == run->scalars[i].first);
      CHECK(scored->scalars[i].second == Approx(run->scalars[i].second).epsilon(1e-12));
    }
  }
  SECTION("images of mixed sizes, greyscale and CMYK, with overlays") {
    TempDir in;
    fs::copy_file(t.toy / "JPEGImages/val_000001.jpg", in / "rgb.jpg");
    write_jpeg(in / "wide.jpeg", gradient(130, 70, 3));
    write_jpeg(in / "grey.jpg", gradient(50, 90, 1));
    write_jpeg(in / "cmyk.JPG", gradient(64, 64, 4));
    fcnlab::test::write_file(in / "notes.txt", "not an image");  // folders give their JPEGs only
    const auto p = run_fcnlab("predict --run " + t.run_file.string() + " --images " + in.path().string() + " --out " +
                              (in / "out").string() + " --overlay");
    INFO(p.out);
    REQUIRE(p.exit_code == 0);
    const std::pair<const char*, std::pair<int, int>> expected[] = {
        {"rgb", {96, 96}}, {"wide", {130, 70}}, {"grey", {50, 90}}, {"cmyk", {64, 64}}};
    for (const auto& [stem, size] : expected) {
      INFO(stem);
      const Image8 mask = read_png_label(in / "out" / (std::string(stem) + ".png"));
      CHECK(mask.width == size.first);
      CHECK(mask.height == size.second);
      for (const auto v : mask.pixels) REQUIRE(v < 7);
      const Image8 overlay = read_jpeg_rgb(in / "out/overlay" / (std::string(stem) + ".jpg"));
      CHECK(overlay.width == size.first);
      CHECK(overlay.height == size.second);
    }
    CHECK(count_files(in / "out", ".png") == 4);
    // Two images with one stem would write one mask: refused before anything runs.
    const auto dup = run_fcnlab("predict --run " + t.run_file.string() + " --images " + (in / "rgb.jpg").string() +
                                " " + (t.toy / "JPEGImages/val_000002.jpg").string() + " " + (in / "rgb.jpg").string() +
                                " --out " + (in / "dup").string());
    CHECK(dup.exit_code != 0);
    CHECK_THAT(dup.out, Contains("two images named rgb"));
  }
  SECTION("a truncated JPEG is an error naming it, and no output is left") {
    TempDir in;
    for (const char* id : {"val_000000", "val_000001", "val_000002", "val_000003", "val_000004"})
      fs::copy_file(t.toy / "JPEGImages" / (std::string(id) + ".jpg"), in / (std::string(id) + ".jpg"));
    const std::string bytes = fcnlab::test::read_file(t.toy / "JPEGImages/val_000005.jpg");
    fcnlab::test::write_file(in / "zz_cut.jpg", bytes.substr(0, bytes.size() / 2));  // the last batch's
    const auto p = run_fcnlab("predict --run " + t.run_file.string() + " --images " + in.path().string() + " --out " +
                              (in / "out").string());
    CHECK(p.exit_code == 1);
    CHECK_THAT(p.out, Contains("zz_cut.jpg"));
    CHECK(count_files(in / "out", ".png") == 0);  // the first batch's masks were not published
    CHECK(std::distance(fs::directory_iterator(in / "out"), fs::directory_iterator{}) == 0);  // no staging left
    const auto missing = run_fcnlab("predict --run " + t.run_file.string() + " --images " + (in / "nope.jpg").string() +
                                    " --out " + (in / "out").string());
    CHECK(missing.exit_code != 0);
    CHECK_THAT(missing.out, Contains("nope.jpg") && Contains("no such file"));
  }
  SECTION("--voc-submission writes the evaluation server's layout and a tarball of it") {
    TempDir out;
    const auto p = run_fcnlab("predict --run " + t.run_file.string() + " --split val --voc-submission --out " +
                              out.path().string());
    INFO(p.out);
    REQUIRE(p.exit_code == 0);
    const fs::path dir = out / "results/VOC2012/Segmentation/comp6_test_cls";
    CHECK(count_files(dir, ".png") == 10);
    CHECK(fs::exists(dir / "val_000009.png"));
    REQUIRE(fs::exists(out / "results.tgz"));
    const std::string list = (out / "list.txt").string();
    REQUIRE(std::system(("tar -tzf '" + (out / "results.tgz").string() + "' > '" + list + "'").c_str()) == 0);
    CHECK_THAT(fcnlab::test::read_file(list), Contains("results/VOC2012/Segmentation/comp6_test_cls/val_000009.png"));
  }
}
