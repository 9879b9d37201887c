#include <fmt/format.h>

#include <chrono>
#include <iostream>

#include "cli/options.h"
#include "data/toy.h"

namespace fcnlab::cli {

int cmd_make_toy(const Args& args) {
  ToyOptions o;
  std::string out = o.out.string();
  std::uint64_t seed = 0;
  po::options_description opts("Options");
  opts.add_options()("out,o", po::value<std::string>(&out)->default_value(out), "output folder (VOCdevkit layout)")(
      "train", po::value<int>(&o.train)->default_value(o.train), "training images")(
      "val", po::value<int>(&o.val)->default_value(o.val), "validation images")(
      "size", po::value<int>(&o.size)->default_value(o.size), "image side in pixels")(
      "classes", po::value<int>(&o.classes)->default_value(o.classes), "classes including background (2..21)")(
      "seed", po::value<std::uint64_t>(&seed)->default_value(0), "generator seed");
  const auto p = parse_args("make-toy", args, opts, false);
  if (p.help) {
    print_help("fcnlab make-toy [--out DIR] [--train N] [--val M] [--size S] [--classes C] [--seed K]",
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
  const auto t0 = std::chrono::steady_clock::now();
  const ToySummary s = make_toy(o);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::cout << fmt::format("wrote {} images ({} train, {} val, {}x{}, {} classes) to {} in {:.2f} s\n", s.images,
                           o.train, o.val, o.size, o.size, o.classes, o.out.string(), secs);
  const auto names = toy_class_names(o.classes);
  const double total = static_cast<double>(s.total_pixels);
  for (std::size_t k = 0; k < names.size(); ++k)
    std::cout << fmt::format("  {:>2} {:<12} {:6.2f}% of pixels\n", k, names[k], 100.0 * s.class_pixels[k] / total);
  std::cout << fmt::format("  void (255)      {:6.2f}% of pixels\n", 100.0 * s.void_pixels / total);
  std::cout << fmt::format("data.root = \"{}\"  data.num_classes = {}  data.crop = {}\n", o.out.string(), o.classes,
                           o.size);
  return 0;
}

}  // namespace fcnlab::cli
