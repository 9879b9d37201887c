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

struct DataProblem {
  std::string file;     // the file concerned
  std::string message;  // full sentence, naming the file
};

struct SplitSummary {
  std::string name;
  std::string list_file;
  std::size_t images = 0;
};

struct DataCheckReport {
  std::vector<DataProblem> problems;
  std::vector<SplitSummary> splits;
  std::size_t images_checked = 0;
  std::vector<std::uint64_t> class_pixels;  // [num_classes], labels that decoded
  std::uint64_t void_pixels = 0;
  std::uint64_t invalid_pixels = 0;  // outside [0, num_classes) and not 255
  bool ok() const { return problems.empty(); }
};

enum class CheckDepth {
  quick,  // JPEG headers (size), full label decode (values, size): the training start-up check
  full    // decode every JPEG too (catches truncated/corrupt image data)
};

// Checks data.train_split and data.val_split (once if they are the same list). `threads` <= 0: all cores.
DataCheckReport check_dataset(const DataConfig& cfg, CheckDepth depth, int threads = 0);

// The start-up check: throws DataError listing every problem (one per line) when there is any.
void check_dataset_quick(const DataConfig& cfg);

// Hex hash of the split lists (names and contents) and the sizes of every listed image and label
// file: identifies the data a run saw. Missing files enter as "missing"; never throws for them.
std::string dataset_fingerprint(const DataConfig& cfg);

}  // namespace fcnlab
