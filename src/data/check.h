#pragma once
// Data checks before GPU hours are spent: every problem of the configured splits, each naming the
// file (missing file, undecodable or truncated JPEG/PNG, label not palette/greyscale 8-bit,
// image/label size mismatch, label values outside [0, num_classes) and 255, empty or missing
// split list, duplicate ids). Torch-free.
#include <cstdint>
#include <string>
#include <vector>

#include "config/config.h"

namespace fcnlab {

// Per-class pixel statistics over a set of label maps (255 = void, not counted): the input of
// median-frequency class weights (loss/class_weights.h).
struct ClassPixelStats {
  explicit ClassPixelStats(int num_classes = 0);
  // One label map of n pixels; a value >= num_classes other than 255 throws DataError.
  void add(const std::uint8_t* labels, std::size_t n);
  // One label map given as the counts of its 256 label values; DataError as add.
  void add_histogram(const std::vector<std::uint64_t>& value_counts);
  std::vector<std::int64_t> pixel_counts;        // [C] pixels of class c
  std::vector<std::int64_t> image_pixel_totals;  // [C] non-void pixels of the images holding class c
};

struct DataProblem {
  std::string file;     // the file concerned
  std::string message;  // full sentence, naming the file
};

struct SplitSummary {
  std::string name;
  std::string list_file;
  bool list_found = false;
  std::vector<std::string> ids;  // the list as read (duplicates included): nobody reads it again
};

struct DataCheckReport {
  std::vector<DataProblem> problems;
  std::vector<SplitSummary> splits;
  std::size_t images_checked = 0;
  std::vector<std::uint64_t> class_pixels;  // [num_classes], labels that decoded
  std::uint64_t void_pixels = 0;
  std::uint64_t invalid_pixels = 0;  // outside [0, num_classes) and not 255
  // Of data.train_split's labels that decoded with no value out of range: what the training's
  // class weights need, gathered here so that training decodes no label twice.
  ClassPixelStats train_classes;
  bool ok() const { return problems.empty(); }
};

enum class CheckDepth {
  quick,  // JPEG headers (size), full label decode (values, size): the training start-up check
  full    // decode every JPEG too (catches truncated/corrupt image data)
};

// Checks data.train_split and data.val_split (once if they are the same list). `threads` <= 0: all cores.
DataCheckReport check_dataset(const DataConfig& cfg, CheckDepth depth, int threads = 0);

// The start-up check: throws DataError listing every problem (one per line) when there is any;
// otherwise returns the (clean) report.
DataCheckReport check_dataset_quick(const DataConfig& cfg);

// Hex hash of the split lists (names and contents) and the sizes of every listed image and label
// file: identifies the data a run saw. Missing files enter as "missing"; never throws for them.
std::string dataset_fingerprint(const DataConfig& cfg);
// The same from the lists a data check read.
std::string dataset_fingerprint(const DataConfig& cfg, const std::vector<SplitSummary>& splits);

}  // namespace fcnlab
