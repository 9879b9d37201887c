#pragma once
// The resolved configuration of one run: plain value structs, one per TOML section.
// configs/default.toml is the single documented source of the defaults; the member initialisers
// below mirror it (a test checks that they agree). No TOML or torch types in this header.
#include <cstdint>
#include <string>
#include <vector>

#include "config/enums.h"

namespace fcnlab {

struct Device {
  DeviceKind kind = DeviceKind::auto_;
  int index = -1;  // cuda:N; -1 = the current device
  bool operator==(const Device& o) const { return kind == o.kind && index == o.index; }
};
std::string to_string(const Device& d);  // "auto", "cpu", "cuda", "cuda:1"

struct RunConfig {
  std::int64_t seed = 0;
  Device device{};
  bool deterministic = false;
  std::string name;                     // optional label prepended to the run id
  std::string experiment = "adhoc";     // results/<experiment>/
  std::string results_dir = "results";  // root of all result files
  int threads = 0;                      // intra-op threads; 0 = all cores
  LogLevel log_level = LogLevel::info;
  int log_every = 20;  // training loss read back from the device (and logged) every N iterations
};

struct DataConfig {
  std::string root = "datasets/VOCdevkit/VOC2012";
  std::string image_dir = "JPEGImages";
  std::string label_dir = "SegmentationClass";
  std::string split_dir = "ImageSets/Segmentation";
  std::string train_split = "train";
  std::string val_split = "val";
  int num_classes = 21;
  int crop = 0;                         // square train crop; 0 = whole images (batch 1)
  std::vector<double> scale{1.0, 1.0};  // random scale range [lo, hi]
  bool hflip = false;
  bool vflip = false;
  std::vector<double> mean{0.485, 0.456, 0.406};  // RGB, on [0,1] pixel values
  std::vector<double> std{0.229, 0.224, 0.225};
  int workers = 2;    // loader threads (does not change results)
  int val_batch = 1;  // val images are padded to the batch's largest size
};

struct ModelConfig {
  Backbone backbone = Backbone::vgg16;
  double width = 1.0;
  int fc_channels = 4096;
  double dropout = 0.5;
  bool batchnorm = false;
  Skip skip = Skip::s8;
  Fusion fusion = Fusion::sum;
  Upsample upsample = Upsample::learned;
  Padding padding = Padding::caffe;
  std::string pretrained;  // HDF5 file with torchvision VGG16 weights; "" = random init
  bool score_scaling = false;
};

struct LossConfig {
  LossName name = LossName::ce;
  Reduction reduction = Reduction::mean;
  ClassWeighting class_weighting = ClassWeighting::none;  // TOML: loss.class_weights
  std::vector<double> class_weights;                      // when class_weighting == given
  double aux_weight = 1.0;                                // weight of the second term of ce+dice / ce+lovasz
  bool per_image = false;                                 // Lovasz per image instead of per batch
  double focal_gamma = 2.0;
  int boundary_width = 3;
  double boundary_weight = 5.0;
};

struct OptimConfig {
  Optimizer name = Optimizer::sgd;
  double lr = 1e-4;
  double momentum = 0.9;
  double weight_decay = 5e-4;
  // Every parameter named `bias` (BatchNorm's shift included) trains at bias_lr_mult x the learning
  // rate and bias_decay_mult x the weight decay: Caffe's lr_mult / decay_mult, 2 and 0 in the FCN
  // reference nets. 1 and 1 put all parameters in one group, as before these keys existed.
  double bias_lr_mult = 1.0;
  double bias_decay_mult = 1.0;
  double adam_beta1 = 0.9;
  double adam_beta2 = 0.999;
  Schedule schedule = Schedule::fixed;
  double poly_power = 0.9;
  int step_every = 10000;
  double step_gamma = 0.1;
  int warmup = 0;  // linear warm-up iterations
  int iterations = 100000;
  int epochs = 0;  // > 0: train this many epochs instead of `iterations`
  int batch_size = 1;
  int iter_size = 1;  // gradient accumulation
  Amp amp = Amp::off;
  bool channels_last = false;
  // conv + bias + ReLU as one node, cuDNN's fused forward on CUDA; only where it can: not with
  // run.deterministic (prepare_model) nor BatchNorm (VGG16Impl), where it is a no-op
  bool fuse_conv_relu = false;
};

struct EvalConfig {
  int every = 4000;  // 0 = only at the end
  std::vector<int> trimap_widths{1, 2, 4, 8, 16, 32};
  double bf_tolerance = 0.0075;
  double boundary_iou_dilation = 0.02;
  int examples = 4;
};

struct CheckpointConfig {
  int every = 1000;  // 0 = never
  int keep = 2;
};

struct Config {
  RunConfig run;
  DataConfig data;
  ModelConfig model;
  LossConfig loss;
  OptimConfig optim;
  EvalConfig eval;
  CheckpointConfig checkpoint;
};

}  // namespace fcnlab
