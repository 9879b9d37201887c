#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <tuple>

#include "cli/options.h"
#include "core/error.h"
#include "data/toy.h"

namespace fcnlab::cli {

namespace {
// "S" (square) or "WxH".
std::pair<int, int> parse_toy_size(const std::string& s) {
  int w = 0, h = 0;
  char x = 0, extra = 0;
  const int n = std::sscanf(s.c_str(), "%d%c%d%c", &w, &x, &h, &extra);
  if (n == 1 && w > 0) return {w, w};
  if (n == 3 && (x == 'x' || x == 'X') && w > 0 && h > 0) return {w, h};
  throw UsageError(fmt::format("fcnlab make-toy: --size '{}': expected S or WxH with positive integers", s));
}
}  // namespace

int cmd_make_toy(const Args& args) {
  ToyOptions o;
  std::string out = o.out.string();
  std::string size = "96";
  std::uint64_t seed = 0;
  po::options_description opts("Options");
  opts.add_options()("out,o", po::value<std::string>(&out)->default_value(out), "output folder (VOCdevkit layout)")(
      "train", po::value<int>(&o.train)->default_value(o.train), "training images")(
      "val", po::value<int>(&o.val)->default_value(o.val), "validation images")(
      "size", po::value<std::string>(&size)->default_value(size), "image size: S (square) or WxH, e.g. 500x375")(
      "voc-sizes", "VOC 2012's segmentation splits: 1,464 train and 1,449 val images of 500x375")(
      "classes", po::value<int>(&o.classes)->default_value(o.classes), "classes including background (2..21)")(
      "seed", po::value<std::uint64_t>(&seed)->default_value(0), "generator seed");
  const auto p = parse_args("make-toy", args, opts, false);
  if (p.help) {
    print_help(
        "fcnlab make-toy [--out DIR] [--train N] [--val M] [--size S|WxH] [--voc-sizes] [--classes C] [--seed K]",
        "Writes the toy VOC-format set: textured objects of C-1 classes (ellipses, rectangles,\n"
        "triangles, rings, thin bars, small discs) on a textured background, with a 1-px void band\n"
        "(255) outside every object edge. JPEGImages/, SegmentationClass/ (VOC palette PNGs),\n"
        "ImageSets/Segmentation/{train,val,trainval}.txt and classes.txt; byte-identical for the same\n"
        "arguments. The defaults match configs/toy.toml.",
        opts);
    return 0;
  }
  o.out = out;
  o.seed = seed;
  std::tie(o.width, o.height) = parse_toy_size(size);
  if (p.vm.count("voc-sizes")) {
    for (const char* flag : {"train", "val", "size"})
      if (!p.vm[flag].defaulted())
        throw UsageError(fmt::format("fcnlab make-toy: --voc-sizes sets --{}; give one or the other", flag));
    o.train = 1464;
    o.val = 1449;
    o.width = 500;
    o.height = 375;
  }
  const auto t0 = std::chrono::steady_clock::now();
  const ToySummary s = make_toy(o);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::cout << fmt::format("wrote {} images ({} train, {} val, {}x{}, {} classes) to {} in {:.2f} s\n", s.images,
                           o.train, o.val, o.width, o.height, o.classes, o.out.string(), secs);
  const auto names = toy_class_names(o.classes);
  const double total = static_cast<double>(s.total_pixels);
  for (std::size_t k = 0; k < names.size(); ++k)
    std::cout << fmt::format("  {:>2} {:<12} {:6.2f}% of pixels\n", k, names[k], 100.0 * s.class_pixels[k] / total);
  std::cout << fmt::format("  void (255)      {:6.2f}% of pixels\n", 100.0 * s.void_pixels / total);
  std::cout << fmt::format("data.root = \"{}\"  data.num_classes = {}  data.crop = {}\n", o.out.string(), o.classes,
                           std::min(o.width, o.height));
  return 0;
}

}  // namespace fcnlab::cli
