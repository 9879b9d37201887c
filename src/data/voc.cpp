#include "data/voc.h"

#include <fmt/format.h>

#include <fstream>

#include "core/error.h"
#include "core/text.h"

namespace fcnlab {

std::filesystem::path split_list_path(const DataConfig& cfg, const std::string& name) {
  return std::filesystem::path(cfg.root) / cfg.split_dir / (name + ".txt");
}

const std::string& split_name(const DataConfig& cfg, Split split) {
  return split == Split::train ? cfg.train_split : cfg.val_split;
}

std::vector<std::string> read_split_list(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) throw DataError(fmt::format("missing split list {}", file.string()));
  std::vector<std::string> ids;
  std::string line;
  while (std::getline(in, line)) {
    const auto b = line.find_first_not_of(" \t\r");
    if (b == std::string::npos) continue;
    const auto e = line.find_first_of(" \t\r", b);
    ids.push_back(line.substr(b, e == std::string::npos ? std::string::npos : e - b));
  }
  return ids;
}

VocSegmentation::VocSegmentation(std::filesystem::path root, std::string image_dir, std::string label_dir,
                                 std::vector<std::string> ids)
    : root_(std::move(root)),
      image_dir_(std::move(image_dir)),
      label_dir_(std::move(label_dir)),
      ids_(std::move(ids)) {}

std::shared_ptr<VocSegmentation> VocSegmentation::from_config(const DataConfig& cfg, Split split) {
  const auto list = split_list_path(cfg, split_name(cfg, split));
  return from_ids(cfg, read_split_list(list), list.string());
}

std::shared_ptr<VocSegmentation> VocSegmentation::from_ids(const DataConfig& cfg, std::vector<std::string> ids,
                                                           const std::string& list_file) {
  if (ids.empty()) throw DataError(fmt::format("split list {} is empty", list_file));
  return std::make_shared<VocSegmentation>(cfg.root, cfg.image_dir, cfg.label_dir, std::move(ids));
}

std::filesystem::path VocSegmentation::image_path(std::size_t i) const {
  return root_ / image_dir_ / (id(i) + ".jpg");
}
std::filesystem::path VocSegmentation::label_path(std::size_t i) const {
  return root_ / label_dir_ / (id(i) + ".png");
}

Sample VocSegmentation::get(std::size_t i) const {
  Sample s;
  s.id = id(i);
  s.image = read_jpeg_rgb(image_path(i));
  s.label = read_png_label(label_path(i));
  if (s.image.width != s.label.width || s.image.height != s.label.height)
    throw DataError(fmt::format("{}: label is {}x{} but image {} is {}x{}", label_path(i).string(), s.label.width,
                                s.label.height, image_path(i).string(), s.image.width, s.image.height));
  return s;
}

std::vector<std::string> default_class_names(int num_classes) {
  static const std::vector<std::string> voc{
      "background", "aeroplane", "bicycle",     "bird",  "boat",        "bottle", "bus",
      "car",        "cat",       "chair",       "cow",   "diningtable", "dog",    "horse",
      "motorbike",  "person",    "pottedplant", "sheep", "sofa",        "train",  "tvmonitor"};
  if (num_classes == 21) return voc;
  std::vector<std::string> names;
  for (int c = 0; c < num_classes; ++c) names.push_back(fmt::format("class{}", c));
  return names;
}

std::vector<std::string> class_names(const DataConfig& cfg) {
  std::vector<std::string> names;
  const auto file = std::filesystem::path(cfg.root) / "classes.txt";
  if (std::filesystem::is_regular_file(file)) {
    std::ifstream in(file);
    std::string line;
    while (std::getline(in, line))
      if (!trim(line).empty()) names.push_back(trim(line));
    if (static_cast<int>(names.size()) != cfg.num_classes)
      throw DataError(
          fmt::format("{}: {} class names, but data.num_classes = {}", file.string(), names.size(), cfg.num_classes));
    return names;
  }
  return default_class_names(cfg.num_classes);
}

}  // namespace fcnlab
