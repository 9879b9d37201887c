// Tests of src/data: image io, VOC reader, toy generator, transforms, loader, data check.
#include "catch_torch.h"

#include <filesystem>
#include <fstream>
#include <set>

#include <png.h>
#include "core/error.h"
#include "core/hash.h"
#include "data/check.h"
#include "data/image_io.h"
#include "data/loader.h"
#include "data/toy.h"
#include "data/transforms.h"
#include "data/voc.h"

#include "helpers.h"

using namespace fcnlab;
using fcnlab::test::TempDir;
namespace fs = std::filesystem;

namespace {

// ../shared/voc-sample: the [voc-sample] tests are registered only where it exists (tests/CMakeLists.txt).
fs::path voc_sample() {
  const fs::path root = fs::path(FCNLAB_SHARED_DIR) / "voc-sample";
  INFO("the [voc-sample] tests need " << root);
  REQUIRE(fs::exists(root));
  return root;
}

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

// ---------------------------------------------------------------- toy set

namespace {

// Hash of every file under `root` (relative path + contents), in sorted order.
std::string hash_tree(const fs::path& root) {
  std::vector<fs::path> files;
  for (const auto& e : fs::recursive_directory_iterator(root))
    if (e.is_regular_file()) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  Hasher h;
  for (const auto& f : files) {
    h.update(fs::relative(f, root).string());
    const auto bytes = read_file_bytes(f);
    h.update(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
  }
  return hex64(h.digest());
}

ToyOptions small_toy(const fs::path& out, std::uint64_t seed = 0) {
  ToyOptions o;
  o.out = out;
  o.train = 12;
  o.val = 4;
  o.seed = seed;
  return o;
}

DataConfig toy_config(const fs::path& root) {
  DataConfig c;
  c.root = root.string();
  c.num_classes = 7;
  c.crop = 96;
  return c;
}

}  // namespace

TEST_CASE("toy set: byte-identical for the same seed, different for another", "[data][toy]") {
  TempDir dir;
  make_toy(small_toy(dir / "a", 1));
  make_toy(small_toy(dir / "b", 1));
  make_toy(small_toy(dir / "c", 2));
  const auto ha = hash_tree(dir / "a");
  CHECK(ha == hash_tree(dir / "b"));
  CHECK(ha != hash_tree(dir / "c"));
  CHECK(read_split_list(dir / "a/ImageSets/Segmentation/train.txt").size() == 12);
  CHECK(read_split_list(dir / "a/ImageSets/Segmentation/val.txt").size() == 4);
  CHECK(test::read_file(dir / "a/classes.txt").rfind("background\n", 0) == 0);
  // regenerating into an existing toy folder replaces it; a foreign non-empty folder is refused
  make_toy(small_toy(dir / "a", 1));
  CHECK(hash_tree(dir / "a") == ha);
  test::write_file(dir / "foreign/keep.txt", "x");
  CHECK_THROWS_AS(make_toy(small_toy(dir / "foreign")), IoError);
}

TEST_CASE("toy set: labels have a void band on object borders, thin structures and all classes", "[data][toy]") {
  ToyOptions o;
  std::vector<std::uint64_t> counts(256, 0);
  std::uint64_t void_next_to_object = 0, void_px = 0;
  for (int i = 0; i < 40; ++i) {
    const ToyImage t = make_toy_image(o, 0, i);
    REQUIRE(t.image.width == 96);
    REQUIRE(t.label.height == 96);
    for (int y = 1; y < 95; ++y)
      for (int x = 1; x < 95; ++x) {
        const auto v = t.label.at(y, x);
        ++counts[v];
        if (v != 255) continue;
        ++void_px;
        // a void pixel lies on the outer side of an object edge: some 4-neighbour is an object
        const int nb[4][2] = {{-1, 0}, {1, 0}, {0, -1}, {0, 1}};
        bool obj = false;
        for (const auto& d : nb) {
          const auto u = t.label.at(y + d[0], x + d[1]);
          obj = obj || (u != 255 && u != 0);
        }
        void_next_to_object += obj;
      }
  }
  const double total = 40.0 * 94 * 94;
  CHECK(counts[255] / total > 0.01);
  CHECK(counts[255] / total < 0.08);
  CHECK(void_next_to_object > void_px * 9 / 10);
  for (int k = 1; k < 7; ++k) CHECK(counts[static_cast<std::size_t>(k)] > 0);
  for (int v = 7; v < 255; ++v) CHECK(counts[static_cast<std::size_t>(v)] == 0);
  const double fg = 1.0 - (counts[0] + counts[255]) / total;
  CHECK(fg > 0.12);
  CHECK(fg < 0.45);
}

// ---------------------------------------------------------------- dataset

TEST_CASE("VocSegmentation reads the configured layout (SBD-style keys)", "[data][voc]") {
  TempDir dir;
  make_toy(small_toy(dir / "toy"));
  // rename to an SBD-like layout: SegmentationClassAug + train_aug.txt
  fs::rename(dir / "toy/SegmentationClass", dir / "toy/SegmentationClassAug");
  fs::copy_file(dir / "toy/ImageSets/Segmentation/train.txt", dir / "toy/ImageSets/Segmentation/train_aug.txt");
  DataConfig c = toy_config(dir / "toy");
  c.label_dir = "SegmentationClassAug";
  c.train_split = "train_aug";
  auto ds = VocSegmentation::from_config(c, Split::train);
  REQUIRE(ds->size() == 12);
  const Sample s = ds->get(3);
  CHECK(s.id == "train_000003");
  CHECK(s.image.channels == 3);
  CHECK(s.label.channels == 1);
  CHECK(s.label.width == s.image.width);
  const ToyImage t = make_toy_image(small_toy(dir / "toy"), 0, 3);
  CHECK(s.label.pixels == t.label.pixels);
  c.train_split = "nonexistent";
  CHECK_THROWS_WITH(VocSegmentation::from_config(c, Split::train), Catch::Contains("nonexistent.txt"));
}

TEST_CASE("real VOC sample: dataset reads every listed pair", "[data][voc][voc-sample]") {
  const fs::path root = voc_sample();
  DataConfig c;
  c.root = root.string();
  auto tr = VocSegmentation::from_config(c, Split::train);
  auto va = VocSegmentation::from_config(c, Split::val);
  CHECK(tr->size() == 16);
  CHECK(va->size() == 22);
  for (std::size_t i = 0; i < tr->size(); ++i) {
    const Sample s = tr->get(i);
    CHECK(s.image.width == s.label.width);
    CHECK(s.image.height == s.label.height);
  }
  std::vector<Sample> decoded;
  const auto b = load_val_batch(*va, {0, 1, 2}, c, &decoded);
  CHECK(b.images.size(0) == 3);
  CHECK(b.labels.max().item<std::int64_t>() == 255);
  // The decoded samples come along, in order, at the sizes the batch records.
  REQUIRE(decoded.size() == 3);
  for (std::size_t k = 0; k < 3; ++k) {
    CHECK(decoded[k].id == va->id(k));
    CHECK(b.sizes[k] == std::pair<std::int64_t, std::int64_t>{decoded[k].image.height, decoded[k].image.width});
  }
}

// ---------------------------------------------------------------- transforms

namespace {

// An image whose pixels encode their own label: blocks of 8x8 px with label (bx + 3 by) % 21,
// image channel 0 = 10 * label, channel 1 = 255 - 10 * label, channel 2 = 128.
Sample encoded_sample(int w, int h) {
  Sample s;
  s.id = "enc";
  s.image = make_image(w, h, 3);
  s.label = make_image(w, h, 1);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const int l = ((x / 8) + 3 * (y / 8)) % 21;
      s.label.at(y, x) = static_cast<std::uint8_t>(l);
      s.image.at(y, x, 0) = static_cast<std::uint8_t>(10 * l);
      s.image.at(y, x, 1) = static_cast<std::uint8_t>(255 - 10 * l);
      s.image.at(y, x, 2) = 128;
    }
  return s;
}

}  // namespace

TEST_CASE("transforms keep image/label alignment through scale, crop and flips", "[data][transforms]") {
  DataConfig c;
  c.crop = 64;
  c.scale = {0.5, 2.0};
  c.hflip = true;
  c.vflip = true;
  const Sample raw = encoded_sample(90, 70);
  int flips = 0, padded = 0, scaled = 0;
  for (std::uint64_t trial = 0; trial < 40; ++trial) {
    Rng rng(7, trial);
    AugmentDraw d;
    const TensorSample t = augment_sample(raw, c, rng, &d);
    REQUIRE(t.image.sizes() == torch::IntArrayRef({3, 64, 64}));
    REQUIRE(t.label.sizes() == torch::IntArrayRef({64, 64}));
    REQUIRE(t.label.scalar_type() == torch::kInt64);
    flips += d.hflip + d.vflip;
    scaled += std::abs(d.scale - 1.0) > 0.1;
    const Image8 img = denormalise_image(t.image, c);
    auto lab = t.label.accessor<std::int64_t, 2>();
    int checked = 0;
    for (int y = 1; y < 63; ++y)
      for (int x = 1; x < 63; ++x) {
        const auto l = lab[y][x];
        if (l == 255) {
          // padding: the mean colour, i.e. 0 after normalisation
          if (lab[y - 1][x] == 255 && lab[y][x - 1] == 255 && lab[y + 1][x] == 255 && lab[y][x + 1] == 255) {
            ++padded;
            CHECK(std::abs(img.at(y, x, 0) - 124) <= 1);  // 0.485 * 255
          }
          continue;
        }
        // interior of a block (3x3 neighbourhood with one label): the colour encodes the label
        bool uniform = true;
        for (int dy = -1; dy <= 1; ++dy)
          for (int dx = -1; dx <= 1; ++dx) uniform = uniform && lab[y + dy][x + dx] == l;
        if (!uniform) continue;
        ++checked;
        if (std::abs(img.at(y, x, 0) - 10 * l) > 2 || std::abs(img.at(y, x, 1) - (255 - 10 * l)) > 2) {
          FAIL_CHECK("misaligned at trial " << trial << " (" << y << "," << x << "): label " << l << " colour "
                                            << int(img.at(y, x, 0)));
        }
      }
    CHECK(checked > 200);
  }
  CHECK(flips > 10);  // the draws did exercise flips, padding and rescaling
  CHECK(padded > 0);
  CHECK(scaled > 10);
}

TEST_CASE("nearest label resize samples pixel centres; bilinear image resize keeps flat colours",
          "[data][transforms]") {
  auto lab = torch::arange(4, torch::kInt64).reshape({2, 2});
  auto up = resize_label(lab, 4, 4);
  CHECK(up[0][0].item<std::int64_t>() == 0);
  CHECK(up[0][1].item<std::int64_t>() == 0);
  CHECK(up[0][2].item<std::int64_t>() == 1);
  CHECK(up[3][3].item<std::int64_t>() == 3);
  auto down = resize_label(torch::arange(16, torch::kInt64).reshape({4, 4}), 2, 2);
  CHECK(down[0][0].item<std::int64_t>() == 5);  // centre of the top-left 2x2 block rounds to (1,1)
  auto flat = torch::full({3, 5, 7}, 0.25f);
  CHECK(torch::allclose(resize_image(flat, 11, 3), torch::full({3, 11, 3}, 0.25f)));
}

// ---------------------------------------------------------------- loader

TEST_CASE("the loader gives identical batches for 0, 1 and 3 workers, and resumes exactly", "[data][loader]") {
  TempDir dir;
  make_toy(small_toy(dir / "toy"));
  DataConfig c = toy_config(dir / "toy");
  c.crop = 64;
  c.scale = {0.75, 1.5};
  c.hflip = true;
  auto ds = VocSegmentation::from_config(c, Split::train);
  std::vector<std::vector<Batch>> runs;
  for (int workers : {0, 1, 3}) {
    TrainLoader loader(ds, c, 5, 42, workers);
    CHECK(loader.batches_per_epoch() == 2);  // 12 images, batch 5: the incomplete batch is dropped
    std::vector<Batch> bs;
    for (int i = 0; i < 5; ++i) bs.push_back(loader.next());
    CHECK(loader.epoch() == 2);
    CHECK(loader.index_in_epoch() == 1);
    runs.push_back(std::move(bs));
  }
  for (std::size_t r = 1; r < runs.size(); ++r)
    for (std::size_t i = 0; i < runs[0].size(); ++i) {
      CHECK(torch::equal(runs[0][i].images, runs[r][i].images));
      CHECK(torch::equal(runs[0][i].labels, runs[r][i].labels));
      CHECK(runs[0][i].ids == runs[r][i].ids);
    }
  const Batch& b = runs[0][0];
  CHECK(b.images.sizes() == torch::IntArrayRef({5, 3, 64, 64}));
  CHECK(b.labels.scalar_type() == torch::kUInt8);
  // epochs are shuffled differently; the same sample is augmented differently in another epoch
  CHECK(runs[0][0].ids != runs[0][2].ids);
  // an epoch visits distinct images
  std::set<std::string> seen(runs[0][0].ids.begin(), runs[0][0].ids.end());
  seen.insert(runs[0][1].ids.begin(), runs[0][1].ids.end());
  CHECK(seen.size() == 10);
  // another seed, another stream
  TrainLoader other(ds, c, 5, 43, 0);
  CHECK(!torch::equal(other.next().images, runs[0][0].images));
  // seek: resume at (1, 1) equals the uninterrupted batch 3; after consuming ahead, too
  TrainLoader resumed(ds, c, 5, 42, 2);
  resumed.next();
  resumed.next();
  resumed.seek(1, 1);
  const Batch r = resumed.next();
  CHECK(torch::equal(r.images, runs[0][3].images));
  CHECK(r.ids == runs[0][3].ids);
  CHECK_THROWS_AS(resumed.seek(0, 2), DataError);
  CHECK_THROWS_AS(TrainLoader(ds, c, 13, 0, 0), DataError);
}

TEST_CASE("val batches pad to the largest image with 0 / 255, in order", "[data][loader]") {
  CHECK(val_batches(5, 2) == std::vector<std::vector<std::size_t>>{{0, 1}, {2, 3}, {4}});
  std::vector<TensorSample> s;
  DataConfig c;
  s.push_back(plain_sample(encoded_sample(16, 8), c));
  s.push_back(plain_sample(encoded_sample(8, 24), c));
  const Batch b = collate(std::move(s), {"a", "b"});
  CHECK(b.images.sizes() == torch::IntArrayRef({2, 3, 24, 16}));
  CHECK(b.labels[0][20][3].item<std::int64_t>() == 255);
  CHECK(b.images[0][0][20][3].item<float>() == 0.0f);
  CHECK(b.labels[1][20][3].item<std::int64_t>() == ((0 + 3 * 2) % 21));
  CHECK(b.labels[1][3][12].item<std::int64_t>() == 255);
  // Each image's own size, for cropping the padding away again.
  CHECK(b.sizes == std::vector<std::pair<std::int64_t, std::int64_t>>{{8, 16}, {24, 8}});
}

// ---------------------------------------------------------------- data check

namespace {
bool has_problem(const DataCheckReport& r, const std::string& file_part, const std::string& what) {
  for (const auto& p : r.problems)
    if (p.message.find(file_part) != std::string::npos && p.message.find(what) != std::string::npos) return true;
  return false;
}
}  // namespace

TEST_CASE("check-data finds every problem of a purpose-built broken dataset", "[data][check]") {
  TempDir dir;
  const fs::path root = dir / "toy";
  make_toy(small_toy(root));
  DataConfig c = toy_config(root);
  REQUIRE(check_dataset(c, CheckDepth::full).ok());
  const DataCheckReport clean = check_dataset_quick(c);
  const std::string fp_clean = dataset_fingerprint(c);
  CHECK(fp_clean == dataset_fingerprint(c));
  // The check hands over the lists it read, and they fingerprint the same.
  REQUIRE(clean.splits.size() == 2);
  CHECK(clean.splits[0].ids == read_split_list(clean.splits[0].list_file));
  CHECK(dataset_fingerprint(c, clean.splits) == fp_clean);

  fs::remove(root / "JPEGImages/train_000000.jpg");                   // missing image
  fs::remove(root / "SegmentationClass/train_000001.png");            // missing label
  truncate_file(root / "JPEGImages/train_000002.jpg", 2000);          // truncated JPEG
  truncate_file(root / "SegmentationClass/train_000003.png", 300);    // truncated PNG
  test::write_file(root / "JPEGImages/train_000004.jpg", "garbage");  // undecodable JPEG
  {                                                                   // RGB label PNG
    // an RGB PNG: write through libpng's simplified API
    png_image img{};
    img.version = PNG_IMAGE_VERSION;
    img.width = 96;
    img.height = 96;
    img.format = PNG_FORMAT_RGB;
    std::vector<std::uint8_t> px(96 * 96 * 3, 7);
    REQUIRE(
        png_image_write_to_file(&img, (root / "SegmentationClass/train_000005.png").c_str(), 0, px.data(), 0, nullptr));
  }
  write_png_label(root / "SegmentationClass/train_000006.png", make_image(50, 40, 1, 0));  // size mismatch
  {
    Image8 lab = read_png_label(root / "SegmentationClass/train_000007.png");  // values out of range
    lab.at(0, 0) = 9;
    lab.at(0, 1) = 200;
    write_png_label(root / "SegmentationClass/train_000007.png", lab);
  }
  test::write_file(root / "ImageSets/Segmentation/train.txt",
                   test::read_file(root / "ImageSets/Segmentation/train.txt") + "train_000008\n");  // duplicate id
  test::write_file(root / "ImageSets/Segmentation/val.txt", "\n");                                  // empty list

  const DataCheckReport r = check_dataset(c, CheckDepth::full, 2);
  CHECK_FALSE(r.ok());
  CHECK(has_problem(r, "train_000000.jpg", "missing image"));
  CHECK(has_problem(r, "train_000001.png", "missing label"));
  CHECK(has_problem(r, "train_000002.jpg", "truncated"));
  CHECK(has_problem(r, "train_000003.png", "truncated"));
  CHECK(has_problem(r, "train_000004.jpg", "not a JPEG"));
  CHECK(has_problem(r, "train_000005.png", "expected a palette PNG"));
  CHECK(has_problem(r, "train_000006.png", "label is 50x40"));
  CHECK(has_problem(r, "train_000007.png", "outside [0, 7) and 255: 9 (1 px), 200 (1 px)"));
  CHECK(has_problem(r, "train.txt", "duplicate id 'train_000008'"));
  CHECK(has_problem(r, "val.txt", "is empty"));
  CHECK(r.problems.size() == 10);
  // the quick check reads JPEG headers only: it misses the truncated JPEG but not the rest
  const DataCheckReport q = check_dataset(c, CheckDepth::quick, 1);
  CHECK(q.problems.size() == 9);
  CHECK_THROWS_WITH(check_dataset_quick(c), Catch::Contains("train_000006.png") && Catch::Contains("9 problem"));
  CHECK(dataset_fingerprint(c) != fp_clean);
  CHECK(dataset_fingerprint(c, q.splits) == dataset_fingerprint(c));
  c.val_split = "missing_split";
  const DataCheckReport no_val = check_dataset(c, CheckDepth::quick);
  CHECK(has_problem(no_val, "missing_split.txt", "missing split list"));
  CHECK(dataset_fingerprint(c, no_val.splits) == dataset_fingerprint(c));
}

TEST_CASE("real VOC sample passes the check with 21 classes and void", "[data][check][voc-sample]") {
  const fs::path root = voc_sample();
  DataConfig c;
  c.root = root.string();
  const DataCheckReport r = check_dataset(c, CheckDepth::full);
  for (const auto& p : r.problems) UNSCOPED_INFO(p.message);
  CHECK(r.ok());
  CHECK(r.images_checked == 38);
  CHECK(r.void_pixels > 0);
  CHECK(r.class_pixels[0] > 0);
  int present = 0;
  for (auto v : r.class_pixels) present += v > 0;
  CHECK(present >= 5);
}

// ---------------------------------------------------------------- CLI

TEST_CASE("fcnlab make-toy, check-data and bench data from the command line", "[data][cli]") {
  TempDir dir;
  auto r = test::run_fcnlab("make-toy --out toy --train 10 --val 3 --seed 5", dir.path());
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains("wrote 13 images"));
  r = test::run_fcnlab("check-data data.root=toy data.num_classes=7", dir.path());
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains("clean") && Catch::Contains("background"));
  r = test::run_fcnlab("check-data data.root=toy data.num_classes=3", dir.path());
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.out, Catch::Contains("problem: ") && Catch::Contains("outside [0, 3)"));
  r = test::run_fcnlab("check-data data.root=nowhere", dir.path());
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.out, Catch::Contains("nowhere"));
  r = test::run_fcnlab("bench data --iters 3 data.root=toy data.num_classes=7 data.crop=64 optim.batch_size=2",
                       dir.path());
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains("images/s") && Catch::Contains("ms per batch"));
  CHECK(test::run_fcnlab("bench nosuch", dir.path()).exit_code == 2);
  CHECK(test::run_fcnlab("make-toy --classes 40 --out x", dir.path()).exit_code == 2);
  // Non-square sets, as VOC's 500x375: every image and label at that size, and clean.
  r = test::run_fcnlab("make-toy --out wide --train 3 --val 2 --size 120x80", dir.path());
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains("120x80") && Catch::Contains("data.crop = 80"));
  auto wide = VocSegmentation::from_config(toy_config(dir / "wide"), Split::val);
  for (std::size_t i = 0; i < wide->size(); ++i) {
    const Sample s = wide->get(i);
    CHECK(s.image.width == 120);
    CHECK(s.image.height == 80);
  }
  CHECK(test::run_fcnlab("check-data data.root=wide data.num_classes=7", dir.path()).exit_code == 0);
  CHECK(test::run_fcnlab("make-toy --out x --size 120x", dir.path()).exit_code == 2);
  const auto both = test::run_fcnlab("make-toy --out x --voc-sizes --val 10", dir.path());
  CHECK(both.exit_code == 2);
  CHECK_THAT(both.out, Catch::Contains("--voc-sizes sets --val"));
}

TEST_CASE("the windowed rescale+crop equals a full bilinear resize followed by the crop", "[data][transforms]") {
  DataConfig c;
  c.crop = 48;
  c.scale = {0.6, 1.8};
  Sample raw = encoded_sample(70, 50);
  for (std::size_t i = 0; i < raw.image.pixels.size(); ++i)
    raw.image.pixels[i] = static_cast<std::uint8_t>(raw.image.pixels[i] ^ ((i * 2654435761u) >> 27));  // texture
  int compared = 0;
  for (std::uint64_t trial = 0; trial < 12; ++trial) {
    Rng rng(3, trial);
    AugmentDraw d;
    const TensorSample t = augment_sample(raw, c, rng, &d);
    const auto full = resize_image(normalise_image(raw.image, c), d.scaled_h, d.scaled_w);
    const auto full_lab = resize_label(label_tensor(raw.label), d.scaled_h, d.scaled_w);
    const int ch = std::min(48, d.scaled_h), cw = std::min(48, d.scaled_w);
    const auto want = full.slice(1, d.crop_y, d.crop_y + ch).slice(2, d.crop_x, d.crop_x + cw);
    const auto got = t.image.slice(1, 0, ch).slice(2, 0, cw);
    CHECK(torch::allclose(got, want, 1e-4, 1e-4));
    CHECK(torch::equal(t.label.slice(0, 0, ch).slice(1, 0, cw),
                       full_lab.slice(0, d.crop_y, d.crop_y + ch).slice(1, d.crop_x, d.crop_x + cw)));
    ++compared;
  }
  CHECK(compared == 12);
}
