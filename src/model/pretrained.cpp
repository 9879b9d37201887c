#include "model/pretrained.h"

#include <H5Cpp.h>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/error.h"

namespace fcnlab {

namespace {

// torchvision's features.N index of each of the 13 convs: conv+ReLU per conv, a pool per block.
std::vector<int> conv_indices() {
  std::vector<int> idx;
  int n = 0;
  for (int convs : kVggBlockConvs) {
    for (int i = 0; i < convs; ++i, n += 2) idx.push_back(n);
    n += 1;
  }
  return idx;
}

class WeightFile {
 public:
  explicit WeightFile(const std::filesystem::path& path) : path_(path) {
    H5::Exception::dontPrint();
    if (!std::filesystem::exists(path))
      throw IoError(fmt::format("pretrained weights '{}' (model.pretrained): no such file", path.string()));
    try {
      file_.openFile(path.string(), H5F_ACC_RDONLY);
    } catch (const H5::Exception& e) {
      throw IoError(fmt::format("pretrained weights '{}': cannot open as HDF5 ({})", path.string(), e.getDetailMsg()));
    }
  }

  // The dataset `name` as a float tensor of shape `expected`.
  torch::Tensor read(const std::string& name, const std::vector<std::int64_t>& expected) {
    if (H5Lexists(file_.getId(), name.c_str(), H5P_DEFAULT) <= 0)
      throw DataError(
          fmt::format("pretrained weights '{}': missing tensor '{}' (expected torchvision VGG16 names, "
                      "written by analysis/export_vgg16_weights.py)",
                      path_.string(), name));
    try {
      H5::DataSet ds = file_.openDataSet(name);
      if (ds.getTypeClass() != H5T_FLOAT)
        throw DataError(
            fmt::format("pretrained weights '{}': tensor '{}' is not floating point", path_.string(), name));
      H5::DataSpace space = ds.getSpace();
      std::vector<hsize_t> dims(static_cast<std::size_t>(space.getSimpleExtentNdims()));
      space.getSimpleExtentDims(dims.data());
      std::vector<std::int64_t> shape(dims.begin(), dims.end());
      if (shape != expected)
        throw DataError(
            fmt::format("pretrained weights '{}': tensor '{}' has shape [{}], the model expects [{}] "
                        "(check model.width = 1 and model.fc_channels = 4096)",
                        path_.string(), name, fmt::join(shape, ","), fmt::join(expected, ",")));
      torch::Tensor t = torch::empty(shape, torch::kFloat32);
      ds.read(t.data_ptr<float>(), H5::PredType::NATIVE_FLOAT);
      return t;
    } catch (const H5::Exception& e) {
      throw IoError(
          fmt::format("pretrained weights '{}': cannot read '{}' ({})", path_.string(), name, e.getDetailMsg()));
    }
  }

 private:
  std::filesystem::path path_;
  H5::H5File file_;
};

std::vector<std::int64_t> shape_of(const torch::Tensor& t) {
  return t.sizes().vec();
}

}  // namespace

std::vector<std::string> vgg16_weight_names() {
  std::vector<std::string> names;
  for (int i : conv_indices())
    for (const char* what : {"weight", "bias"}) names.push_back(fmt::format("features.{}.{}", i, what));
  for (int i : {0, 3})
    for (const char* what : {"weight", "bias"}) names.push_back(fmt::format("classifier.{}.{}", i, what));
  return names;
}

void load_vgg16_weights(VGG16Impl& backbone, const std::filesystem::path& file) {
  WeightFile in(file);
  torch::NoGradGuard no_grad;
  const std::vector<int> idx = conv_indices();
  for (std::size_t i = 0; i < idx.size(); ++i) {
    auto& conv = backbone.convs[i];
    conv->weight.copy_(in.read(fmt::format("features.{}.weight", idx[i]), shape_of(conv->weight)));
    conv->bias.copy_(in.read(fmt::format("features.{}.bias", idx[i]), shape_of(conv->bias)));
  }
  int layer = 0;
  for (auto* fc : {&backbone.fc6, &backbone.fc7}) {
    const auto& w = (*fc)->weight;  // [out, in, kh, kw]
    const std::vector<std::int64_t> matrix{w.size(0), w.size(1) * w.size(2) * w.size(3)};
    const torch::Tensor m = in.read(fmt::format("classifier.{}.weight", layer), matrix);
    w.copy_(convolutionalise(m, w.size(1), w.size(2), w.size(3)));
    (*fc)->bias.copy_(in.read(fmt::format("classifier.{}.bias", layer), shape_of((*fc)->bias)));
    layer += 3;
  }
}

}  // namespace fcnlab
