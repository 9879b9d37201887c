#pragma once
// HDF5 run files (DESIGN.md "Results"): one file per run, written as `<file>.part` and renamed
// when complete, so a file under its final name is always whole. Plain data in and out; no
// HDF5 or torch types in this header.
#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/enum_names.h"

namespace fcnlab {

// Bumped on any change of names, layout or meaning of a stored value. Readers accept versions
// kOldestSchemaVersion..kSchemaVersion and nothing else.
//   1: the first layout.
//   2: the same layout; bf_score, boundary_iou and their per-class values ignore the prediction on
//      void pixels (in 1 it shifted the predicted boundaries, so those values are not comparable).
//   3: 2 plus the per-image boundary data /final/boundary/per_image_{bf,band,trimap}, so that
//      bootstrap intervals cover BF, Boundary IoU and trimap scores (FinalRecord::per_image_*).
//   4: 3 plus /final/image_ids (the val images in the order of every per-image dataset), so that
//      reports pair runs image by image, and the root attributes cpu_model and gpu_model, so that
//      a rerun knows whether bit-identity can be expected.
inline constexpr int kSchemaVersion = 4;
inline constexpr int kOldestSchemaVersion = 1;

enum class RunStatus { finished, diverged, failed };
template <>
struct EnumNames<RunStatus> {
  static constexpr std::array<std::pair<RunStatus, std::string_view>, 3> table{
      {{RunStatus::finished, "finished"}, {RunStatus::diverged, "diverged"}, {RunStatus::failed, "failed"}}};
};

// Root attributes.
struct RunInfo {
  int schema_version = kSchemaVersion;
  std::string fcnlab_version, git_commit;
  bool git_dirty = false;
  std::string created_utc, host, torch_version, cuda_version, cudnn_version, device;
  std::string cpu_model, gpu_model;  // schema 4: e.g. /proc/cpuinfo's "model name"; "" when none / unknown
  bool deterministic = false;
  std::string config_toml, config_hash, overrides, experiment, run_id;
  std::int64_t seed = 0;
  RunStatus status = RunStatus::failed;
  double wall_seconds = 0, train_img_per_s = 0;
  std::string data_fingerprint;  // hash of split lists + file sizes
  std::string message;           // why a run diverged or failed ("" when finished)
};

struct TrainPoint {
  std::int64_t step = 0;
  double loss = 0, lr = 0, img_per_s = 0;
};

struct ValPoint {
  std::int64_t step = 0;
  double pixel_acc = 0, mean_acc = 0, mean_iou = 0, fw_iou = 0, bf_score = 0, boundary_iou = 0;
};

// /final: the scores of the final evaluation on the whole val split.
struct FinalRecord {
  // Scalar scores, stored as attributes of /final (pixel_acc, mean_acc, mean_iou, fw_iou,
  // bf_score, boundary_iou, classes_counted, ...); read back sorted by name, a trailing number as a
  // number (trimap_acc_2 before trimap_acc_16).
  std::vector<std::pair<std::string, double>> scalars;
  std::vector<std::string> class_names;                      // [C]
  std::vector<std::int64_t> confusion;                       // [C,C], rows ground truth
  std::vector<double> per_class_iou;                         // [C], NaN for classes left out
  std::int64_t images = 0;                                   // N
  std::vector<std::int32_t> per_image_confusion;             // [N,C,C]
  std::vector<std::string> image_ids;                        // [N] schema 4; empty in older files
  std::vector<std::int32_t> trimap_width;                    // [K]
  std::vector<double> trimap_pixel_acc, trimap_mean_iou;     // [K]
  std::vector<double> bf_per_class, boundary_iou_per_class;  // [C]
  // Per-image boundary data (EvalResult's; schema 3, empty in files of schema 1 and 2):
  std::vector<double> per_image_bf;                   // [N,C] per_image_bf, NaN where the class is absent
  std::vector<std::int32_t> per_image_boundary_band;  // [N,C,2] per_image_band: band intersection, union
  std::vector<std::int32_t> per_image_trimap;         // [N,K,C,3] per_image_trimap: correct, truth, predicted

  int num_classes() const { return static_cast<int>(class_names.size()); }
  std::optional<double> scalar(const std::string& name) const;
};

// /examples: E images padded to a common HxW (label and pred padded with 255).
struct Examples {
  std::int64_t count = 0, height = 0, width = 0;
  std::vector<std::uint8_t> image;  // [E,H,W,3]
  std::vector<std::uint8_t> label;  // [E,H,W]
  std::vector<std::uint8_t> pred;   // [E,H,W]
  std::vector<std::string> ids;     // [E]
};

class RunFileWriter {
 public:
  // Creates `<final_path>.part` (replacing a stale one). Nothing appears under `final_path`
  // until commit(); a writer destroyed without commit() removes its .part file.
  explicit RunFileWriter(std::filesystem::path final_path);
  ~RunFileWriter();
  RunFileWriter(const RunFileWriter&) = delete;
  RunFileWriter& operator=(const RunFileWriter&) = delete;

  void write_info(const RunInfo& info);
  void append_train(const std::vector<TrainPoint>& points);  // chunked, extendible datasets
  void append_val(const std::vector<ValPoint>& points);
  void write_final(const FinalRecord& final);
  void write_examples(const Examples& examples);
  // Flushes, closes and renames the .part file to its final name (atomic on one file system).
  void commit();

  const std::filesystem::path& part_path() const { return part_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::filesystem::path final_, part_;
  bool committed_ = false;
};

class RunFileReader {
 public:
  // Opens a run file; IoError naming the file when it is not HDF5, not an fcnlab run file, or
  // of a schema version this build does not read.
  explicit RunFileReader(const std::filesystem::path& file);
  ~RunFileReader();
  RunFileReader(const RunFileReader&) = delete;
  RunFileReader& operator=(const RunFileReader&) = delete;

  RunInfo info() const;
  std::vector<TrainPoint> train() const;
  std::vector<ValPoint> val() const;
  std::optional<FinalRecord> final() const;  // nullopt when the run has no /final (diverged, failed)
  std::optional<Examples> examples() const;
  const std::filesystem::path& path() const { return path_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::filesystem::path path_;
};

}  // namespace fcnlab
