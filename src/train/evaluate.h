#pragma once
// Runtime set-up (device, threads, determinism) and model evaluation over a split, shared by
// training, `fcnlab eval` and benchmarks.
#include <torch/torch.h>

#include <filesystem>
#include <string>
#include <vector>

#include "config/config.h"
#include "data/loader.h"
#include "data/voc.h"
#include "metrics/evaluator.h"
#include "model/fcn.h"
#include "results/run_file.h"
#include "train/final_record.h"  // to_final_record

namespace fcnlab {

struct RuntimeInfo {
  torch::Device device{torch::kCPU};
  std::string device_name;  // "cpu (2 threads)", "cuda:0"
  std::string gpu_model;    // the CUDA device's name ("NVIDIA H100 80GB HBM3"); "" on the CPU
  std::string torch_version, cuda_version, cudnn_version;
};

// Resolves run.device (ConfigError when CUDA is asked for but absent, or optim.amp = "fp16" is
// set on the CPU), sets the intra-op thread count (run.threads, 0 = all cores), seeds the RNGs and
// applies run.deterministic.
RuntimeInfo configure_runtime(const Config& cfg);

// The thread count in a CPU run's recorded device name ("cpu (2 threads)"); 0 for any other name.
// Intra-op reductions split their work by thread, so a deterministic CPU run repeats bit for bit
// only with the same count: `rerun` pins it (run.threads = 0 means all cores, which differ by machine).
int recorded_cpu_threads(const std::string& device_name);
// The device name of a CPU run on `threads` intra-op threads: "cpu (2 threads)".
std::string cpu_device_name(int threads);

// A model of cfg.model with the state saved at `weights`, prepared for `device` (IoError naming the
// file when it is missing or does not load).
FCN load_trained_model(const Config& cfg, const std::filesystem::path& weights, const torch::Device& device);

// The model's predictions for a batch (argmax, under optim.amp and optim.channels_last), each
// cropped back to its image's size, beside the labels.
struct BatchPredictions {
  std::vector<torch::Tensor> pred, label;  // uint8 [h,w], contiguous, on the CPU
};
BatchPredictions predict_batch(FCN& model, const Batch& batch, const Config& cfg, const torch::Device& device);
// Every metric of one batch, in image order, on an evaluator of its own (evaluators merge in order).
SegmentationEvaluator score_batch(const BatchPredictions& p, int num_classes, const BoundaryOptions& options);

// The evaluator's options from a config's eval section.
BoundaryOptions boundary_options(const EvalConfig& eval);

// Evaluates `model` on every image of `ds` (eval mode, no grad) with every metric. With
// `examples`, the first eval.examples images, labels and predictions are stored in it. With
// `image_ids`, the ids of the images in the order they were scored (that of every per-image row of
// the result) replace its contents.
EvalResult evaluate_model(FCN& model, const VocSegmentation& ds, const Config& cfg, const torch::Device& device,
                          Examples* examples, std::vector<std::string>* image_ids = nullptr);

}  // namespace fcnlab
