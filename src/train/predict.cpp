#include "train/predict.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <set>

#include "core/error.h"
#include "core/file.h"
#include "core/host.h"
#include "core/progress.h"
#include "data/image_io.h"
#include "data/loader.h"
#include "data/transforms.h"
#include "data/voc.h"
#include "train/evaluate.h"
#include "train/trainer.h"

namespace fcnlab {

namespace fs = std::filesystem;

namespace {

bool is_jpeg(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return ext == ".jpg" || ext == ".jpeg";
}

// A folder inside `out` that the outputs are written into first; removed (with whatever is left
// in it) when the prediction ends, so a failure leaves nothing behind.
class Staging {
 public:
  explicit Staging(const fs::path& out) : dir_(out / fmt::format(".predict-{}.tmp", ::getpid())) {
    std::error_code ec;
    fs::remove_all(dir_, ec);
    fs::create_directories(dir_, ec);
    if (ec) throw IoError(fmt::format("{}: cannot create: {}", dir_.string(), ec.message()));
  }
  ~Staging() {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  Staging(const Staging&) = delete;
  Staging& operator=(const Staging&) = delete;

  // Where `final_file` (inside `out`) is written first.
  fs::path at(const fs::path& out, const fs::path& final_file) const {
    return dir_ / final_file.lexically_relative(out);
  }

 private:
  fs::path dir_;
};

// The folder of a staged file. Staged files are written plainly: publish() syncs each one as it
// moves it into place (move_into_place), so syncing here as well would flush every file twice.
fs::path staged_in_place(const fs::path& file) {
  std::error_code ec;
  fs::create_directories(file.parent_path(), ec);
  if (ec) throw IoError(fmt::format("{}: cannot create: {}", file.parent_path().string(), ec.message()));
  return file;
}

// The image with each pixel of a class other than background (0) or void (255) blended half and
// half with its VOC palette colour.
Image8 overlay_of(const Image8& rgb, const std::uint8_t* pred) {
  Image8 out = rgb;
  for (int y = 0; y < rgb.height; ++y)
    for (int x = 0; x < rgb.width; ++x) {
      const int k =
          pred[static_cast<std::size_t>(y) * static_cast<std::size_t>(rgb.width) + static_cast<std::size_t>(x)];
      if (k == 0 || k == 255) continue;
      const auto colour = voc_palette_color(k);
      for (int c = 0; c < 3; ++c)
        out.at(y, x, c) = static_cast<std::uint8_t>((rgb.at(y, x, c) + colour[static_cast<std::size_t>(c)] + 1) / 2);
    }
  return out;
}

// One batch: decoded images (DataError naming a bad file) and their tensors, labels all void.
Batch load_images(const std::vector<fs::path>& files, const DataConfig& data, std::vector<Image8>& decoded) {
  std::vector<TensorSample> samples;
  std::vector<std::string> ids;
  decoded.clear();
  for (const auto& f : files) {
    Sample s;
    s.id = f.stem().string();
    s.image = read_jpeg_rgb(f);
    s.label = make_image(s.image.width, s.image.height, 1, 255);
    samples.push_back(plain_sample(s, data));
    ids.push_back(s.id);
    decoded.push_back(std::move(s.image));
  }
  return collate(std::move(samples), std::move(ids));
}

// Moves every staged output into `out`, the tarball last (its presence means the rest is there).
void publish(const Staging& staging, const PredictOptions& o, const PredictResult& r) {
  std::vector<fs::path> files = r.masks;
  files.insert(files.end(), r.overlays.begin(), r.overlays.end());
  if (!r.tarball.empty()) files.push_back(r.tarball);
  for (const auto& f : files) {
    std::error_code ec;
    fs::create_directories(f.parent_path(), ec);
    if (ec) throw IoError(fmt::format("{}: cannot create: {}", f.parent_path().string(), ec.message()));
    move_into_place(staging.at(o.out, f), f);
  }
}

void make_tarball(const Staging& staging, const PredictOptions& o, const fs::path& tarball) {
  const fs::path staged = staging.at(o.out, tarball);
  const fs::path root = staged.parent_path();
  if (run_program({"tar", "--sort=name", "-czf", staged.string(), "-C", root.string(), "results"}) != 0)
    throw IoError(fmt::format("{}: tar -czf failed (is tar installed?)", tarball.string()));
}

}  // namespace

fs::path mask_path(const PredictOptions& o, const std::string& stem) {
  if (o.voc_submission) return o.out / "results/VOC2012/Segmentation/comp6_test_cls" / (stem + ".png");
  return o.out / (stem + ".png");
}

fs::path submission_tarball(const PredictOptions& o) {
  return o.out / "results.tgz";
}

std::vector<fs::path> jpeg_files(const std::vector<fs::path>& inputs) {
  std::vector<fs::path> files;
  for (const auto& in : inputs) {
    std::error_code ec;
    if (fs::is_directory(in, ec)) {
      std::vector<fs::path> found;
      for (const auto& e : fs::directory_iterator(in, ec))
        if (e.is_regular_file() && is_jpeg(e.path())) found.push_back(e.path());
      if (found.empty()) throw DataError(fmt::format("{}: no .jpg or .jpeg files in this folder", in.string()));
      std::sort(found.begin(), found.end());
      files.insert(files.end(), found.begin(), found.end());
    } else if (fs::exists(in, ec)) {
      files.push_back(in);
    } else {
      throw DataError(fmt::format("{}: no such file or folder", in.string()));
    }
  }
  std::map<std::string, fs::path> by_stem;
  for (const auto& f : files)
    if (const auto [it, fresh] = by_stem.emplace(f.stem().string(), f); !fresh)
      throw DataError(fmt::format("{} and {}: two images named {}: their masks would be one file", it->second.string(),
                                  f.string(), f.stem().string()));
  return files;
}

std::vector<fs::path> split_images(const DataConfig& data, const std::string& split) {
  const auto ids = read_split_list(split_list_path(data, split));
  const VocSegmentation ds(data.root, data.image_dir, data.label_dir, ids);
  std::vector<fs::path> files;
  for (std::size_t i = 0; i < ds.size(); ++i) files.push_back(ds.image_path(i));
  return files;
}

PredictResult predict_images(const Config& cfg, const PredictOptions& o) {
  if (o.images.empty()) throw DataError("predict: no images");
  const RuntimeInfo rt = configure_runtime(cfg);
  FCN model = load_trained_model(cfg, o.weights, rt.device);
  torch::NoGradGuard no_grad;
  model->eval();
  std::error_code ec;
  fs::create_directories(o.out, ec);
  if (ec) throw IoError(fmt::format("{}: cannot create: {}", o.out.string(), ec.message()));
  const Staging staging(o.out);
  PredictResult r;
  Progress progress("predict", static_cast<std::int64_t>(o.images.size()));
  for (const auto& indices : val_batches(o.images.size(), cfg.data.val_batch)) {
    std::vector<fs::path> files;
    for (const auto i : indices) files.push_back(o.images[i]);
    std::vector<Image8> decoded;
    const Batch batch = load_images(files, cfg.data, decoded);
    const BatchPredictions p = predict_batch(model, batch, cfg, rt.device);
    for (std::size_t k = 0; k < files.size(); ++k) {
      const std::string stem = files[k].stem().string();
      Image8 mask = make_image(decoded[k].width, decoded[k].height, 1);
      std::copy_n(p.pred[k].data_ptr<std::uint8_t>(), mask.pixels.size(), mask.pixels.begin());
      r.masks.push_back(mask_path(o, stem));
      write_png_label(staged_in_place(staging.at(o.out, r.masks.back())), mask);
      if (o.overlay) {
        r.overlays.push_back(o.out / "overlay" / (stem + ".jpg"));
        write_jpeg(staged_in_place(staging.at(o.out, r.overlays.back())), overlay_of(decoded[k], mask.pixels.data()),
                   90);
      }
    }
    progress.update(static_cast<std::int64_t>(r.masks.size()), files.back().filename().string());
  }
  if (o.voc_submission) {
    r.tarball = submission_tarball(o);
    make_tarball(staging, o, r.tarball);
  }
  publish(staging, o, r);
  progress.finish(fmt::format("{} masks in {}", r.masks.size(), o.out.string()));
  return r;
}

}  // namespace fcnlab
