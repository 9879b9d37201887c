#pragma once
// `fcnlab predict`: a trained run's model applied to images without labels (one's own, or a split
// such as VOC test whose labels are private). Each image is scored at its own size, in batches of
// data.val_batch as evaluation does (same normalisation, precision, layout and padding), and its
// prediction written as a VOC-palette index PNG named after the image.
#include <filesystem>
#include <string>
#include <vector>

#include "config/config.h"

namespace fcnlab {

struct PredictOptions {
  std::filesystem::path weights;              // model state (model-final.pt or a checkpoint)
  std::vector<std::filesystem::path> images;  // JPEG files, in order; their stems name the outputs
  std::filesystem::path out;                  // the output folder (created)
  bool overlay = false;                       // also <out>/overlay/<stem>.jpg: the image blended with the mask
  bool voc_submission = false;                // the VOC evaluation server's layout and a tarball of it
};

struct PredictResult {
  std::vector<std::filesystem::path> masks;  // one per image, in order
  std::vector<std::filesystem::path> overlays;
  std::filesystem::path tarball;  // with voc_submission
};

// The mask of image `stem`: <out>/<stem>.png, or with voc_submission
// <out>/results/VOC2012/Segmentation/comp6_test_cls/<stem>.png (the server's layout).
std::filesystem::path mask_path(const PredictOptions& options, const std::string& stem);
// <out>/results.tgz: `results/` packed as the VOC evaluation server takes it.
std::filesystem::path submission_tarball(const PredictOptions& options);

// The JPEG files named by `inputs`: a folder gives its *.jpg / *.jpeg files (sorted), a file itself.
// DataError for a path that does not exist, a folder without JPEGs, or two images with one stem
// (their masks would have one name).
std::vector<std::filesystem::path> jpeg_files(const std::vector<std::filesystem::path>& inputs);

// The images of split `split` of cfg.data (<root>/<image_dir>/<id>.jpg for each listed id).
std::vector<std::filesystem::path> split_images(const DataConfig& data, const std::string& split);

// Predicts every image and writes the outputs. They are written into a staging folder inside
// `out` and moved into place only when every image has been predicted (and the tarball made), so
// a bad image (DataError naming it) or a failure leaves no new output behind. Shows a progress line.
PredictResult predict_images(const Config& cfg, const PredictOptions& options);

}  // namespace fcnlab
