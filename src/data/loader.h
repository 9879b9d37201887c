#pragma once
// Batches for training and validation. Training is an infinite stream of augmented batches,
// epoch after epoch; the shuffle order of epoch e is drawn from (seed, e) and the augmentation of a
// sample from (seed, epoch, sample index), so the stream is identical for any number of workers.
#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "config/config.h"
#include "data/transforms.h"
#include "data/voc.h"

namespace fcnlab {

struct Batch {
  torch::Tensor images;  // [B,3,H,W] float32, normalised with data.mean/std
  // [B,H,W] uint8, 255 = void: an eighth of int64's bytes to copy to the GPU (the loss widens them there)
  torch::Tensor labels;
  std::vector<std::string> ids;
  // Each image's own height and width: the batch pads them to the largest, and whoever scores or
  // shows a prediction crops it back to these.
  std::vector<std::pair<std::int64_t, std::int64_t>> sizes;
};

// Stacks samples, padding each to the largest height and width in the batch (image 0 after
// normalisation, label 255), at the bottom/right. With `pinned`, the batch is in page-locked host
// memory (CUDA builds only), so copies to the GPU can be asynchronous.
Batch collate(std::vector<TensorSample> samples, std::vector<std::string> ids, bool pinned = false);

// The dataset indices of epoch `epoch`, in training order.
std::vector<std::size_t> epoch_order(std::size_t n, std::uint64_t seed, std::int64_t epoch);

class TrainLoader {
 public:
  // DataError when the split holds fewer images than one batch.
  TrainLoader(std::shared_ptr<const VocSegmentation> ds, const DataConfig& cfg, int batch_size, std::uint64_t seed,
              int workers);
  ~TrainLoader();
  TrainLoader(const TrainLoader&) = delete;
  TrainLoader& operator=(const TrainLoader&) = delete;

  Batch next();  // prefetching with `workers` threads (0 = in the calling thread)
  std::int64_t epoch() const;
  std::int64_t index_in_epoch() const;
  void seek(std::int64_t epoch, std::int64_t index_in_epoch);  // resume exactly where a checkpoint was
  std::int64_t batches_per_epoch() const;                      // drops the last incomplete batch
  // Batches built from now on are in pinned host memory (set when training on CUDA).
  void set_pin_memory(bool pinned);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Validation: consecutive batches of `batch` indices over [0, n) (the last may be smaller).
std::vector<std::vector<std::size_t>> val_batches(std::size_t n, int batch);
// No augmentation; images padded to the largest in the batch; deterministic. With `decoded`, the
// decoded samples are handed over too (in the order of `indices`), so nobody decodes them again.
Batch load_val_batch(const VocSegmentation& ds, const std::vector<std::size_t>& indices, const DataConfig& cfg,
                     std::vector<Sample>* decoded = nullptr);

}  // namespace fcnlab
