#pragma once
// The toy VOC-format set: textured objects (ellipses, rectangles, triangles, rings, thin bars,
// small discs) of classes that differ by texture and colour pattern, on a textured background,
// with a 1-px void band (255) on the outer side of every object edge. Written in the VOCdevkit
// layout (JPEGImages, SegmentationClass palette PNGs, ImageSets/Segmentation/{train,val,trainval}.txt,
// classes.txt). Byte-identical output for the same options. Torch-free.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "data/image_io.h"

namespace fcnlab {

struct ToyOptions {
  std::filesystem::path out = "datasets/toy-voc";
  int train = 300;
  int val = 60;
  int width = 96;  // every image's size in pixels
  int height = 96;
  int classes = 7;  // including background (2..21)
  std::uint64_t seed = 0;
};

struct ToyImage {
  Image8 image;  // RGB
  Image8 label;  // indices, 255 = void
};

// One image of the set: a pure function of (options.seed, options.classes, options.width,
// options.height, split, index). Square sets are the same as when only squares could be made.
ToyImage make_toy_image(const ToyOptions& options, int split /*0 train, 1 val*/, int index);
std::vector<std::string> toy_class_names(int classes);

struct ToySummary {
  int images = 0;
  std::vector<std::uint64_t> class_pixels;  // per class, over all images
  std::uint64_t void_pixels = 0, total_pixels = 0;
};
// Writes the set under options.out. An existing folder is replaced only when it holds a previous toy
// set (classes.txt present) or is empty; otherwise IoError. ConfigError for options out of range.
ToySummary make_toy(const ToyOptions& options);

}  // namespace fcnlab
