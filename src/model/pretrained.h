#pragma once
// Import of ImageNet VGG16 weights saved by analysis/export_vgg16_weights.py: an HDF5 file with
// one float dataset per tensor at the root, named as torchvision's vgg16 state dict
// (features.{0,2,5,7,10,12,14,17,19,21,24,26,28}.{weight,bias}, classifier.{0,3}.{weight,bias}).
// fc6/fc7 are convolutionalised: classifier.0.weight [fc, 512*7*7] -> [fc, 512, 7, 7],
// classifier.3.weight [fc, fc] -> [fc, fc, 1, 1]. classifier.6 (the 1000-way layer) is not used.
#include <filesystem>
#include <string>
#include <vector>

#include "model/fcn.h"

namespace fcnlab {

// The torchvision names the importer reads, in order (weight then bias, 13 convs then fc6, fc7).
std::vector<std::string> vgg16_weight_names();

// Copies the file's tensors into `backbone`. Throws IoError when the file cannot be opened,
// DataError naming the tensor and the file when a tensor is missing, not floating point, or of
// a shape other than the backbone's (e.g. a width or fc_channels other than the file's).
void load_vgg16_weights(VGG16Impl& backbone, const std::filesystem::path& file);

}  // namespace fcnlab
