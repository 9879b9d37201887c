// Tests of src/data: image io, VOC reader, toy generator, transforms, loader, data check.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "data/image_io.h"
#include "helpers.h"

using namespace fcnlab;
using fcnlab::test::TempDir;
namespace fs = std::filesystem;

namespace {

fs::path voc_sample() { return fs::path(FCNLAB_SHARED_DIR) / "voc-sample"; }

void truncate_file(const fs::path& file, std::size_t keep) {
  auto bytes = read_file_bytes(file);
  bytes.resize(keep);
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

}  // namespace

TEST_CASE("VOC palette matches VOCdevkit's colour map", "[data][io]") {
  CHECK(voc_palette_color(0) == std::array<std::uint8_t, 3>{0, 0, 0});
  CHECK(voc_palette_color(1) == std::array<std::uint8_t, 3>{128, 0, 0});
  CHECK(voc_palette_color(2) == std::array<std::uint8_t, 3>{0, 128, 0});
  CHECK(voc_palette_color(15) == std::array<std::uint8_t, 3>{192, 128, 128});
  CHECK(voc_palette_color(20) == std::array<std::uint8_t, 3>{0, 64, 128});
  CHECK(voc_palette_color(255) == std::array<std::uint8_t, 3>{224, 224, 192});
}

TEST_CASE("palette PNG round trip keeps the indices", "[data][io]") {
  TempDir dir;
  Image8 lab = make_image(37, 23, 1);
  for (int y = 0; y < lab.height; ++y)
    for (int x = 0; x < lab.width; ++x) lab.at(y, x) = static_cast<std::uint8_t>((x * 7 + y * 13) % 21);
  lab.at(5, 5) = 255;
  write_png_label(dir / "a.png", lab);
  const Image8 back = read_png_label(dir / "a.png");
  CHECK(back.width == 37);
  CHECK(back.height == 23);
  CHECK(back.channels == 1);
  CHECK(back.pixels == lab.pixels);
  const auto h = read_png_header(dir / "a.png");
  CHECK(h.color_type == 3);
  CHECK(h.width == 37);
  // 8-bit greyscale labels are accepted as their values
  write_png_label(dir / "g.png", lab, false);
  CHECK(read_png_header(dir / "g.png").color_type == 0);
  CHECK(read_png_label(dir / "g.png").pixels == lab.pixels);
}

TEST_CASE("truncated or non-label PNGs raise DataError naming the file", "[data][io]") {
  TempDir dir;
  Image8 lab = make_image(64, 64, 1, 3);
  for (std::size_t i = 0; i < lab.pixels.size(); ++i) lab.pixels[i] = static_cast<std::uint8_t>(i * 31 % 7);
  write_png_label(dir / "t.png", lab);
  const auto size = fs::file_size(dir / "t.png");
  truncate_file(dir / "t.png", size / 2);
  CHECK_THROWS_WITH(read_png_label(dir / "t.png"), Catch::Contains("t.png") && Catch::Contains("truncated"));
  CHECK_THROWS_AS(read_png_label(dir / "missing.png"), DataError);
  test::write_file(dir / "junk.png", "this is not a png");
  CHECK_THROWS_WITH(read_png_label(dir / "junk.png"), Catch::Contains("junk.png"));
}

TEST_CASE("JPEG decode gives known pixel values", "[data][io]") {
  TempDir dir;
  // Flat 16x16 blocks survive JPEG nearly exactly at quality 100 without chroma subsampling.
  Image8 rgb = make_image(32, 16, 3);
  for (int y = 0; y < 16; ++y)
    for (int x = 0; x < 32; ++x) {
      const bool left = x < 16;
      rgb.at(y, x, 0) = left ? 200 : 10;
      rgb.at(y, x, 1) = left ? 30 : 120;
      rgb.at(y, x, 2) = left ? 90 : 250;
    }
  const auto bytes = encode_jpeg(rgb, 100, false);
  {
    std::ofstream out(dir / "a.jpg", std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  }
  const Image8 back = read_jpeg_rgb(dir / "a.jpg");
  REQUIRE(back.width == 32);
  REQUIRE(back.height == 16);
  REQUIRE(back.channels == 3);
  for (int c = 0; c < 3; ++c) {
    CHECK(std::abs(back.at(8, 4, c) - rgb.at(8, 4, c)) <= 2);
    CHECK(std::abs(back.at(8, 27, c) - rgb.at(8, 27, c)) <= 2);
  }
  const auto h = read_jpeg_header(dir / "a.jpg");
  CHECK(h.width == 32);
  CHECK(h.height == 16);
}

TEST_CASE("truncated JPEGs raise DataError naming the file", "[data][io]") {
  TempDir dir;
  Image8 rgb = make_image(64, 64, 3);
  for (std::size_t i = 0; i < rgb.pixels.size(); ++i) rgb.pixels[i] = static_cast<std::uint8_t>(i * 2654435761u >> 13);
  write_jpeg(dir / "t.jpg", rgb, 90);
  REQUIRE_NOTHROW(read_jpeg_rgb(dir / "t.jpg"));
  truncate_file(dir / "t.jpg", fs::file_size(dir / "t.jpg") * 2 / 3);
  CHECK_THROWS_WITH(read_jpeg_rgb(dir / "t.jpg"), Catch::Contains("t.jpg") && Catch::Contains("truncated"));
  test::write_file(dir / "junk.jpg", "not a jpeg");
  CHECK_THROWS_AS(read_jpeg_rgb(dir / "junk.jpg"), DataError);
  CHECK_THROWS_AS(read_jpeg_header(dir / "junk.jpg"), DataError);
  CHECK_THROWS_WITH(read_jpeg_rgb(dir / "nope.jpg"), Catch::Contains("missing") && Catch::Contains("nope.jpg"));
}

TEST_CASE("real VOC files: palette masks with void bands, RGB JPEGs", "[data][io][voc-sample]") {
  const fs::path root = voc_sample();
  if (!fs::exists(root)) {
    WARN("skipped: " << root << " is absent");
    return;
  }
  const Image8 lab = read_png_label(root / "SegmentationClass/2007_000170.png");
  const Image8 img = read_jpeg_rgb(root / "JPEGImages/2007_000170.jpg");
  CHECK(lab.channels == 1);
  CHECK(img.channels == 3);
  CHECK(lab.width == img.width);
  CHECK(lab.height == img.height);
  const auto hdr = read_jpeg_header(root / "JPEGImages/2007_000170.jpg");
  CHECK(hdr.width == img.width);
  CHECK(hdr.height == img.height);
  std::size_t voids = 0, bad = 0;
  for (auto v : lab.pixels) {
    voids += v == 255;
    bad += v != 255 && v > 20;
  }
  CHECK(voids > 0);
  CHECK(bad == 0);
}
