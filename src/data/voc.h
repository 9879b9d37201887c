#pragma once
// VOC-format segmentation dataset over a VOCdevkit-style root:
//   <root>/<image_dir>/<id>.jpg, <root>/<label_dir>/<id>.png, <root>/<split_dir>/<split>.txt
// (data.image_dir, data.label_dir, data.split_dir, data.train_split, data.val_split; the
// SBD-augmented layout is SegmentationClassAug + train_aug). Torch-free: samples are raw uint8.
#include <cstddef>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "config/config.h"
#include "data/image_io.h"

namespace fcnlab {

enum class Split { train, val };

// One raw sample: RGB image (HxWx3), label indices (HxW, 255 = void), id.
struct Sample {
  std::string id;
  Image8 image;
  Image8 label;
};

// <root>/<split_dir>/<name>.txt
std::filesystem::path split_list_path(const DataConfig& cfg, const std::string& split_name);
const std::string& split_name(const DataConfig& cfg, Split split);
// Non-empty, whitespace-trimmed lines (the first word of each, as VOC lists may carry a second column).
// DataError naming the file when it is missing.
std::vector<std::string> read_split_list(const std::filesystem::path& file);

// The 21 PASCAL VOC class names when num_classes is 21, otherwise "class0", "class1", ...
std::vector<std::string> default_class_names(int num_classes);
// <data.root>/classes.txt (one name per line) when present (DataError when its count differs from
// data.num_classes), otherwise default_class_names(data.num_classes).
std::vector<std::string> class_names(const DataConfig& cfg);

class VocSegmentation {
 public:
  VocSegmentation(std::filesystem::path root, std::string image_dir, std::string label_dir,
                  std::vector<std::string> ids);
  // Reads the split list; DataError when it is missing or empty.
  static std::shared_ptr<VocSegmentation> from_config(const DataConfig& cfg, Split split);
  // The split from its list as already read (a data check's SplitSummary::ids); DataError when empty.
  static std::shared_ptr<VocSegmentation> from_ids(const DataConfig& cfg, std::vector<std::string> ids,
                                                   const std::string& list_file);

  std::size_t size() const { return ids_.size(); }
  const std::vector<std::string>& ids() const { return ids_; }
  const std::string& id(std::size_t i) const { return ids_.at(i); }
  std::filesystem::path image_path(std::size_t i) const;
  std::filesystem::path label_path(std::size_t i) const;

  // Decodes image and label; DataError (naming the file) when either is undecodable or their
  // sizes differ.
  Sample get(std::size_t i) const;

 private:
  std::filesystem::path root_;
  std::string image_dir_, label_dir_;
  std::vector<std::string> ids_;
};

}  // namespace fcnlab
