#include "data/check.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>
#include <unordered_map>

#include "core/error.h"
#include "core/hash.h"
#include "data/image_io.h"
#include "data/voc.h"

namespace fcnlab {
namespace fs = std::filesystem;

namespace {

struct ItemResult {
  std::vector<DataProblem> problems;
  std::vector<std::uint64_t> counts;  // 256 bins of label values
  bool decoded = false;
};

// Checks one image/label pair. Decoding errors are turned into report entries here: the point of
// the check is to collect every problem rather than stop at the first.
ItemResult check_item(const fs::path& image, const fs::path& label, CheckDepth depth, int num_classes) {
  ItemResult r;
  std::error_code ec;
  const bool has_image = fs::is_regular_file(image, ec), has_label = fs::is_regular_file(label, ec);
  if (!has_image) r.problems.push_back({image.string(), fmt::format("{}: missing image file", image.string())});
  if (!has_label) r.problems.push_back({label.string(), fmt::format("{}: missing label file", label.string())});
  int iw = -1, ih = -1;
  if (has_image) {
    try {
      if (depth == CheckDepth::full) {
        const Image8 im = read_jpeg_rgb(image);
        iw = im.width;
        ih = im.height;
      } else {
        const ImageHeader h = read_jpeg_header(image);
        iw = h.width;
        ih = h.height;
      }
    } catch (const DataError& e) {
      r.problems.push_back({image.string(), e.what()});
    }
  }
  if (has_label) {
    try {
      const Image8 lab = read_png_label(label);
      r.decoded = true;
      r.counts.assign(256, 0);
      for (auto v : lab.pixels) ++r.counts[v];
      if (iw >= 0 && (lab.width != iw || lab.height != ih))
        r.problems.push_back(
            {label.string(), fmt::format("{}: label is {}x{} but the image {} is {}x{}", label.string(), lab.width,
                                         lab.height, image.string(), iw, ih)});
      std::string bad;
      int nbad = 0;
      for (int v = num_classes; v < 255; ++v)
        if (r.counts[static_cast<std::size_t>(v)]) {
          if (nbad++ < 8)
            bad += fmt::format("{}{} ({} px)", bad.empty() ? "" : ", ", v, r.counts[static_cast<std::size_t>(v)]);
        }
      if (nbad)
        r.problems.push_back({label.string(), fmt::format("{}: label values outside [0, {}) and 255: {}{}",
                                                          label.string(), num_classes, bad, nbad > 8 ? ", ..." : "")});
    } catch (const DataError& e) {
      r.problems.push_back({label.string(), e.what()});
    }
  }
  return r;
}

std::vector<std::string> split_names(const DataConfig& cfg) {
  std::vector<std::string> names{cfg.train_split};
  if (cfg.val_split != cfg.train_split) names.push_back(cfg.val_split);
  return names;
}

// Adds one checked image/label pair to the report.
void add_item(DataCheckReport& rep, ItemResult& r, int num_classes, bool train_split) {
  ++rep.images_checked;
  for (auto& p : r.problems) rep.problems.push_back(std::move(p));
  if (!r.decoded) return;
  std::uint64_t invalid = 0;
  for (int v = 0; v < 256; ++v) {
    const auto c = r.counts[static_cast<std::size_t>(v)];
    if (v < num_classes)
      rep.class_pixels[static_cast<std::size_t>(v)] += c;
    else if (v == 255)
      rep.void_pixels += c;
    else
      invalid += c;
  }
  rep.invalid_pixels += invalid;
  // A label with values out of range is a problem already; it would only skew the statistics.
  if (train_split && invalid == 0) rep.train_classes.add_histogram(r.counts);
}

}  // namespace

ClassPixelStats::ClassPixelStats(int num_classes)
    : pixel_counts(static_cast<std::size_t>(num_classes), 0),
      image_pixel_totals(static_cast<std::size_t>(num_classes), 0) {}

void ClassPixelStats::add(const std::uint8_t* labels, std::size_t n) {
  std::vector<std::uint64_t> value_counts(256, 0);
  for (std::size_t i = 0; i < n; ++i) ++value_counts[labels[i]];
  add_histogram(value_counts);
}

void ClassPixelStats::add_histogram(const std::vector<std::uint64_t>& value_counts) {
  const std::size_t C = std::min<std::size_t>(pixel_counts.size(), 255);
  for (std::size_t v = C; v < 255; ++v)
    if (value_counts[v]) throw DataError(fmt::format("label value {} is outside [0, {}) and is not 255 (void)", v, C));
  std::int64_t valid = 0;
  for (std::size_t c = 0; c < C; ++c) valid += static_cast<std::int64_t>(value_counts[c]);
  for (std::size_t c = 0; c < C; ++c) {
    if (value_counts[c] == 0) continue;
    pixel_counts[c] += static_cast<std::int64_t>(value_counts[c]);
    image_pixel_totals[c] += valid;
  }
}

DataCheckReport check_dataset(const DataConfig& cfg, CheckDepth depth, int threads) {
  DataCheckReport rep;
  rep.class_pixels.assign(static_cast<std::size_t>(std::max(cfg.num_classes, 0)), 0);
  rep.train_classes = ClassPixelStats(std::max(cfg.num_classes, 0));
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const fs::path root(cfg.root);
  std::error_code ec;
  if (!fs::is_directory(root, ec))
    rep.problems.push_back({root.string(), fmt::format("{}: data.root is not a folder", root.string())});
  for (const auto& name : split_names(cfg)) {
    const fs::path list = split_list_path(cfg, name);
    SplitSummary sum;
    sum.name = name;
    sum.list_file = list.string();
    if (!fs::is_regular_file(list, ec)) {
      rep.problems.push_back({list.string(), fmt::format("{}: missing split list '{}'", list.string(), name)});
      rep.splits.push_back(sum);
      continue;
    }
    sum.list_found = true;
    sum.ids = read_split_list(list);
    rep.splits.push_back(std::move(sum));
    const auto& ids = rep.splits.back().ids;
    if (ids.empty()) {
      rep.problems.push_back({list.string(), fmt::format("{}: split list '{}' is empty", list.string(), name)});
      continue;
    }
    std::unordered_map<std::string, std::size_t> first;
    std::vector<std::string> unique;
    for (std::size_t i = 0; i < ids.size(); ++i) {
      const auto [it, inserted] = first.emplace(ids[i], i);
      if (!inserted)
        rep.problems.push_back({list.string(), fmt::format("{}: duplicate id '{}' (entries {} and {})", list.string(),
                                                           ids[i], it->second + 1, i + 1)});
      else
        unique.push_back(ids[i]);
    }
    std::vector<ItemResult> results(unique.size());
    auto work = [&](std::size_t t) {
      for (std::size_t i = t; i < unique.size(); i += static_cast<std::size_t>(threads))
        results[i] = check_item(root / cfg.image_dir / (unique[i] + ".jpg"),
                                root / cfg.label_dir / (unique[i] + ".png"), depth, cfg.num_classes);
    };
    std::vector<std::thread> pool;
    for (int t = 1; t < threads; ++t) pool.emplace_back(work, static_cast<std::size_t>(t));
    work(0);
    for (auto& th : pool) th.join();
    for (auto& r : results) {
      add_item(rep, r, cfg.num_classes, name == cfg.train_split);
    }
  }
  return rep;
}

DataCheckReport check_dataset_quick(const DataConfig& cfg) {
  DataCheckReport rep = check_dataset(cfg, CheckDepth::quick);
  if (rep.ok()) return rep;
  std::ostringstream msg;
  msg << fmt::format("the data under {} has {} problem(s) (run `fcnlab check-data` for a full check):", cfg.root,
                     rep.problems.size());
  for (const auto& p : rep.problems) msg << "\n  " << p.message;
  throw DataError(msg.str());
}

std::string dataset_fingerprint(const DataConfig& cfg, const std::vector<SplitSummary>& splits) {
  Hasher h;
  h.update("fcnlab-data-v1\n");
  h.update(cfg.image_dir + "\n" + cfg.label_dir + "\n");
  for (const auto& split : splits) {
    h.update("split " + split.name + "\n");
    if (!split.list_found) {
      h.update("missing\n");
      continue;
    }
    std::error_code ec;
    for (const auto& id : split.ids) {
      h.update(id);
      for (const fs::path& f :
           {fs::path(cfg.root) / cfg.image_dir / (id + ".jpg"), fs::path(cfg.root) / cfg.label_dir / (id + ".png")}) {
        const auto size = fs::file_size(f, ec);
        h.update(ec ? std::string(" missing") : fmt::format(" {}", size));
      }
      h.update("\n");
    }
  }
  return hex64(h.digest());
}

std::string dataset_fingerprint(const DataConfig& cfg) {
  std::vector<SplitSummary> splits;
  for (const auto& name : split_names(cfg)) {
    SplitSummary s;
    s.name = name;
    s.list_file = split_list_path(cfg, name).string();
    std::error_code ec;
    s.list_found = fs::is_regular_file(s.list_file, ec);
    if (s.list_found) s.ids = read_split_list(s.list_file);
    splits.push_back(std::move(s));
  }
  return dataset_fingerprint(cfg, splits);
}

}  // namespace fcnlab
