// Tests of src/model: geometry (crop offsets, sizes, parameter counts), every ablation combination's
// output shape, convolutionalisation, bilinear kernels, fusion definitions, gradient flow, the
// HDF5 weight import and its errors, and a cross-check of the import against torchvision.
#include <H5Cpp.h>

#include "catch_torch.h"

#include <cmath>
#include <cstdlib>
#include <map>

#include "core/error.h"
#include "data/loader.h"
#include "data/toy.h"
#include "data/voc.h"
#include "helpers.h"
#include "model/fcn.h"
#include "model/geometry.h"
#include "model/pretrained.h"
#include "train/evaluate.h"

using namespace fcnlab;
using Catch::Matchers::Contains;
using fcnlab::test::TempDir;

namespace {

constexpr Skip kSkips[] = {Skip::s32, Skip::s16, Skip::s8, Skip::s4};
constexpr Fusion kFusions[] = {Fusion::sum, Fusion::concat, Fusion::max};
constexpr Upsample kUpsamples[] = {Upsample::learned, Upsample::bilinear, Upsample::learned_random};
constexpr Padding kPaddings[] = {Padding::caffe, Padding::same};

// Width 1/16 and fc 64 -> channels 4/8/16/32/32, fc6/fc7 4: every layer present, cheap to run.
ModelConfig tiny(Skip skip, Fusion fusion = Fusion::sum, Upsample up = Upsample::learned, Padding pad = Padding::same) {
  ModelConfig c;
  c.width = 0.0625;
  c.fc_channels = 64;
  c.skip = skip;
  c.fusion = fusion;
  c.upsample = up;
  c.padding = pad;
  return c;
}

std::int64_t numel(const std::vector<torch::Tensor>& ts) {
  std::int64_t n = 0;
  for (const auto& t : ts) n += t.numel();
  return n;
}

double max_diff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a - b).abs().max().item<double>();
}

// Fills every score layer (and concat fusion conv) with random values, so the head is not all zero.
void randomise_head(FCN& m) {
  torch::NoGradGuard g;
  std::vector<torch::nn::Conv2d> layers = m->score_pool;
  layers.push_back(m->score_fr);
  for (auto& f : m->fuse) layers.push_back(f);
  for (auto& l : layers) {
    l->weight.normal_(0, 0.5);
    l->bias.normal_(0, 0.5);
  }
}

void write_h5(const std::filesystem::path& file, const std::map<std::string, torch::Tensor>& tensors) {
  H5::H5File f(file.string(), H5F_ACC_TRUNC);
  for (const auto& [name, t] : tensors) {
    const auto c = t.contiguous();
    std::vector<hsize_t> dims(c.sizes().begin(), c.sizes().end());
    H5::DataSpace space(static_cast<int>(dims.size()), dims.data());
    f.createDataSet(name, H5::PredType::NATIVE_FLOAT, space).write(c.data_ptr<float>(), H5::PredType::NATIVE_FLOAT);
  }
}

torch::Tensor read_h5(const std::filesystem::path& file, const std::string& name) {
  H5::H5File f(file.string(), H5F_ACC_RDONLY);
  H5::DataSet ds = f.openDataSet(name);
  H5::DataSpace space = ds.getSpace();
  std::vector<hsize_t> dims(static_cast<std::size_t>(space.getSimpleExtentNdims()));
  space.getSimpleExtentDims(dims.data());
  torch::Tensor t = torch::empty(std::vector<std::int64_t>(dims.begin(), dims.end()), torch::kFloat32);
  ds.read(t.data_ptr<float>(), H5::PredType::NATIVE_FLOAT);
  return t;
}

// torchvision-named tensors with the shapes of `net` (fc6/fc7 as matrices), random values.
std::map<std::string, torch::Tensor> torchvision_tensors(VGG16Impl& net) {
  std::map<std::string, torch::Tensor> out;
  const auto names = vgg16_weight_names();
  std::vector<torch::Tensor> params;
  for (auto& c : net.convs) {
    params.push_back(c->weight);
    params.push_back(c->bias);
  }
  params.push_back(net.fc6->weight.flatten(1));
  params.push_back(net.fc6->bias);
  params.push_back(net.fc7->weight.flatten(1));
  params.push_back(net.fc7->bias);
  REQUIRE(names.size() == params.size());
  for (std::size_t i = 0; i < names.size(); ++i) out[names[i]] = torch::randn(params[i].sizes());
  return out;
}

}  // namespace

TEST_CASE("crop offsets follow from the layer geometry and match the reference nets", "[model]") {
  // voc-fcn{32,16,8}s/net.py hard-code these crops: 19 | 5, 27 | 5, 9, 31.
  FcnSpec s;
  s.padding = Padding::caffe;
  s.skip = Skip::s32;
  CHECK(fcn_head_plan(s).final_crop_offset == 19);
  CHECK(fcn_head_plan(s).skips.empty());
  s.skip = Skip::s16;
  auto p = fcn_head_plan(s);
  REQUIRE(p.skips.size() == 1);
  CHECK(p.skips[0].crop_offset == 5);
  CHECK(p.final_crop_offset == 27);
  CHECK(p.final_factor == 16);
  s.skip = Skip::s8;
  p = fcn_head_plan(s);
  REQUIRE(p.skips.size() == 2);
  CHECK(p.skips[0].crop_offset == 5);
  CHECK(p.skips[1].crop_offset == 9);
  CHECK(p.final_crop_offset == 31);
  CHECK(p.conv1_padding == 100);
  CHECK(p.fc6_padding == 0);
  s.skip = Skip::s4;  // one level beyond the paper, same rule
  p = fcn_head_plan(s);
  REQUIRE(p.skips.size() == 3);
  CHECK(p.skips[2].pool == "pool2");
  CHECK(p.skips[2].crop_offset == 17);
  CHECK(p.final_crop_offset == 33);
  // same-padding: everything aligned, nothing to crop
  s.padding = Padding::same;
  p = fcn_head_plan(s);
  for (const auto& l : p.skips) CHECK(l.crop_offset == 0);
  CHECK(p.final_crop_offset == 0);
  CHECK(p.fc6_padding == 3);
  // score scaling of the at-once net
  s.score_scaling = true;
  p = fcn_head_plan(s);
  CHECK(p.skips[0].input_scale == Approx(0.01));
  CHECK(p.skips[1].input_scale == Approx(1e-4));
  CHECK(p.skips[2].input_scale == Approx(1e-6));
}

TEST_CASE("the layer table reaches the input size for every input size and skip", "[model]") {
  for (Padding pad : kPaddings)
    for (Skip skip : kSkips) {
      const FcnSpec s = fcn_spec(tiny(skip, Fusion::sum, Upsample::learned, pad), 21);
      for (std::int64_t h = 1; h <= 260; h += 1) {
        const auto layers = fcn_layers(s, h, h + 7);  // throws when a crop does not fit
        CHECK(layers.back().height == h);
        CHECK(layers.back().width == h + 7);
        CHECK(layers.back().stride == 1);
      }
    }
}

TEST_CASE("every skip x fusion x upsample x padding maps HxW to HxW and starts at zero", "[model]") {
  const std::vector<std::pair<int, int>> sizes{{1, 1}, {2, 3}, {32, 32}, {33, 17}, {67, 93}};
  torch::NoGradGuard no_grad;
  int checked = 0;
  for (Skip skip : kSkips)
    for (Fusion fusion : kFusions)
      for (Upsample up : kUpsamples)
        for (Padding pad : kPaddings) {
          INFO(fcn_name(skip) << " fusion " << to_string(fusion) << " upsample " << to_string(up) << " padding "
                              << to_string(pad));
          const ModelConfig cfg = tiny(skip, fusion, up, pad);
          torch::manual_seed(0);
          FCN m = make_fcn(cfg, 3);
          m->eval();
          // the layer table's counts are the module's
          const LayerTotals t = totals(fcn_layers(fcn_spec(cfg, 3), 32, 32));
          CHECK(numel(trainable_parameters(m)) == t.params);
          CHECK(numel(m->parameters()) == t.params);
          std::int64_t frozen = 0;
          for (const auto& b : m->named_buffers())
            if (b.key().find("kernel") != std::string::npos) frozen += b.value().numel();
          CHECK(frozen == t.frozen);
          CHECK((up == Upsample::bilinear) == (frozen > 0));
          for (const auto& [h, w] : sizes) {
            const auto out = m->forward(torch::randn({2, 3, h, w}));
            CHECK(out.sizes() == torch::IntArrayRef{2, 3, h, w});
            CHECK(out.abs().max().item<float>() == 0.0f);  // zero-initialised score layers
            ++checked;
          }
        }
  CHECK(checked == 4 * 3 * 3 * 2 * 5);
}

TEST_CASE("a fully connected layer equals its convolutionalised 7x7 kernel", "[model]") {
  torch::manual_seed(1);
  torch::NoGradGuard no_grad;
  torch::nn::Linear fc(512 * 7 * 7, 16);
  const auto x = torch::randn({1, 512, 7, 7});
  const auto y_fc = fc->forward(x.flatten(1));  // torchvision's flatten: C-order [512,7,7]
  const auto w = convolutionalise(fc->weight, 512, 7, 7);
  const auto y_conv = torch::conv2d(x, w, fc->bias);
  REQUIRE(y_conv.sizes() == torch::IntArrayRef{1, 16, 1, 1});
  CHECK(max_diff(y_conv.flatten(1), y_fc) < 1e-5);
  CHECK(y_fc.abs().max().item<double>() > 0.1);  // a non-trivial comparison

  // On a larger map the conv slides the FC layer: cell (i,j) = FC on the 7x7 window at (i,j).
  const auto big = torch::randn({1, 512, 10, 12});
  const auto map = torch::conv2d(big, w, fc->bias);
  REQUIRE(map.sizes() == torch::IntArrayRef{1, 16, 4, 6});
  for (auto [i, j] : std::vector<std::pair<int, int>>{{0, 0}, {3, 5}, {2, 1}}) {
    const auto window = big.narrow(2, i, 7).narrow(3, j, 7).contiguous().flatten(1);
    CHECK(max_diff(map.select(2, i).select(2, j), fc->forward(window)) < 1e-5);
  }
}

TEST_CASE("bilinear kernels match the closed form", "[model]") {
  const auto k4 = bilinear_kernel(4);
  const auto w4 = torch::tensor({0.25f, 0.75f, 0.75f, 0.25f});
  CHECK(max_diff(k4, torch::outer(w4, w4)) < 1e-7);
  const auto k3 = bilinear_kernel(3);
  const auto w3 = torch::tensor({0.5f, 1.0f, 0.5f});
  CHECK(max_diff(k3, torch::outer(w3, w3)) < 1e-7);
  for (int k : {5, 8, 16, 64}) {
    const auto kk = bilinear_kernel(k);
    const double f = (k + 1) / 2, c = k % 2 ? f - 1 : f - 0.5;
    for (int i = 0; i < k; ++i)
      for (int j = 0; j < k; ++j)
        REQUIRE(kk[i][j].item<double>() == Approx((1 - std::abs(i - c) / f) * (1 - std::abs(j - c) / f)).margin(1e-7));
  }
}

TEST_CASE("fixed bilinear upsampling: no parameters, equals interpolate inside; learned starts equal", "[model]") {
  torch::manual_seed(2);
  torch::NoGradGuard no_grad;
  const auto x = torch::randn({2, 3, 5, 6});
  for (int f : {2, 4, 8, 32}) {
    INFO("factor " << f);
    Upsampler fixed(3, f, Padding::same, Upsample::bilinear);
    CHECK(fixed->parameters().empty());
    CHECK(fixed->buffers().size() == 1);
    const auto y = fixed->forward(x);
    REQUIRE(y.sizes() == torch::IntArrayRef{2, 3, 5 * f, 6 * f});
    namespace F = torch::nn::functional;
    const auto ref = F::interpolate(x, F::InterpolateFuncOptions()
                                           .size(std::vector<std::int64_t>{5 * f, 6 * f})
                                           .mode(torch::kBilinear)
                                           .align_corners(false));
    // Away from the border (where interpolate clamps and the deconv sees zeros) they agree.
    CHECK(max_diff(y.narrow(2, f, 3 * f).narrow(3, f, 4 * f), ref.narrow(2, f, 3 * f).narrow(3, f, 4 * f)) < 1e-5);
    CHECK(max_diff(y, ref) > 1e-3);  // ... and differ at the border: the comparison is not vacuous

    // caffe geometry: the same kernel without padding, shifted by f/2 (what its crops undo)
    Upsampler caffe(3, f, Padding::caffe, Upsample::bilinear);
    CHECK(max_diff(caffe->forward(x).narrow(2, f / 2, 5 * f).narrow(3, f / 2, 6 * f), y) < 1e-6);

    Upsampler learned(3, f, Padding::same, Upsample::learned);
    CHECK(learned->parameters().size() == 1);
    CHECK(max_diff(learned->forward(x), y) < 1e-6);
    Upsampler random(3, f, Padding::same, Upsample::learned_random);
    CHECK(random->parameters().size() == 1);
    CHECK(max_diff(random->forward(x), y) > 1e-2);
  }
}

TEST_CASE("fusion: sum, max and concat compute what they are defined as", "[model]") {
  torch::NoGradGuard no_grad;
  torch::manual_seed(3);
  const auto x = torch::randn({1, 3, 64, 64});
  std::map<Fusion, torch::Tensor> outputs;
  for (Fusion fusion : kFusions) {
    INFO(to_string(fusion));
    torch::manual_seed(4);
    FCN m = make_fcn(tiny(Skip::s16, fusion), 3);
    m->eval();
    if (fusion == Fusion::concat) {  // starts as sum: the 1x1 conv is [I I]
      torch::manual_seed(5);
      randomise_head(m);
      for (auto& f : m->fuse) {
        f->weight.copy_(torch::cat({torch::eye(3), torch::eye(3)}, 1).view({3, 6, 1, 1}));
        f->bias.zero_();
      }
      CHECK(max_diff(m->forward(x), outputs.at(Fusion::sum)) < 1e-5);
    }
    torch::manual_seed(5);
    randomise_head(m);
    const auto feats = m->backbone->forward(x);
    const auto up = m->upscore[0]->forward(m->score_fr->forward(feats.fc7));
    const auto s = m->score_pool[0]->forward(feats.pool4);  // same-padding: aligned, no crop
    REQUIRE(up.sizes() == s.sizes());
    torch::Tensor fused;
    if (fusion == Fusion::sum) fused = up + s;
    if (fusion == Fusion::max) fused = torch::where(up > s, up, s);
    if (fusion == Fusion::concat) fused = torch::conv2d(torch::cat({up, s}, 1), m->fuse[0]->weight, m->fuse[0]->bias);
    const auto expected = m->final_up->forward(fused);
    outputs[fusion] = m->forward(x);
    CHECK(max_diff(outputs[fusion], expected) < 1e-5);
    CHECK(outputs[fusion].abs().max().item<double>() > 0.1);
  }
  CHECK(max_diff(outputs[Fusion::sum], outputs[Fusion::max]) > 0.1);
  CHECK(max_diff(outputs[Fusion::sum], outputs[Fusion::concat]) > 0.1);
  CHECK(max_diff(outputs[Fusion::max], outputs[Fusion::concat]) > 0.1);
}

TEST_CASE("score scaling multiplies pool4 by 0.01 and pool3 by 1e-4 before their score layers", "[model]") {
  torch::NoGradGuard no_grad;
  torch::manual_seed(3);
  const auto x = torch::randn({1, 3, 64, 64});
  ModelConfig cfg = tiny(Skip::s8);
  cfg.score_scaling = true;
  FCN m = make_fcn(cfg, 3);
  m->eval();
  randomise_head(m);
  const auto feats = m->backbone->forward(x);
  const auto head = [&](double s4, double s3) {  // same-padding: aligned, no crop
    auto score = m->upscore[0]->forward(m->score_fr->forward(feats.fc7)) + m->score_pool[0]->forward(feats.pool4 * s4);
    score = m->upscore[1]->forward(score) + m->score_pool[1]->forward(feats.pool3 * s3);
    return m->final_up->forward(score);
  };
  const auto out = m->forward(x);
  CHECK(max_diff(out, head(0.01, 1e-4)) < 1e-5);
  CHECK(max_diff(out, head(1.0, 1.0)) > 0.1);
}

TEST_CASE("gradients reach every skip branch", "[model]") {
  for (Fusion fusion : kFusions) {
    INFO(to_string(fusion));
    torch::manual_seed(6);
    FCN m = make_fcn(tiny(Skip::s4, fusion, Upsample::learned, Padding::caffe), 3);
    m->train();
    const auto x = torch::randn({2, 3, 40, 36});
    auto loss = (m->forward(x) * torch::randn({2, 3, 40, 36})).sum();
    loss.backward();
    // At init (zero score layers) every score layer learns, FCN-4s has three skip branches.
    REQUIRE(m->score_pool.size() == 3);
    CHECK(m->score_fr->weight.grad().abs().sum().item<double>() > 0);
    for (auto& s : m->score_pool) CHECK(s->weight.grad().abs().sum().item<double>() > 0);
    // With a non-zero head, gradient flows down every upsampler and into the backbone.
    m->zero_grad();
    randomise_head(m);
    loss = (m->forward(x) * torch::randn({2, 3, 40, 36})).sum();
    loss.backward();
    for (auto& u : m->upscore) CHECK(u->deconv->weight.grad().abs().sum().item<double>() > 0);
    for (auto& f : m->fuse) CHECK(f->weight.grad().abs().sum().item<double>() > 0);  // its inputs are now non-zero
    CHECK(m->final_up->deconv->weight.grad().abs().sum().item<double>() > 0);
    CHECK(m->backbone->convs[0]->weight.grad().abs().sum().item<double>() > 0);
  }
}

TEST_CASE("parameter counts at width 1.0 (21 classes) match VGG16 plus the reference heads", "[model]") {
  // torchvision's vgg16 has 138,357,544 parameters; without classifier.6 (4096*1000 + 1000):
  const std::int64_t backbone = 138357544 - 4097000;
  const std::int64_t C = 21, score_fr = 4096 * C + C, score_pool4 = 512 * C + C, score_pool3 = 256 * C + C;
  auto count = [](Skip skip, Upsample up) {
    ModelConfig c;
    c.skip = skip;
    c.upsample = up;
    return totals(fcn_layers(fcn_spec(c, 21), 500, 500));
  };
  const auto k = [&](std::int64_t f) { return C * C * (2 * f) * (2 * f); };  // learned C x C deconv, kernel 2f
  CHECK(count(Skip::s32, Upsample::learned).params == backbone + score_fr + k(32));
  CHECK(count(Skip::s16, Upsample::learned).params == backbone + score_fr + score_pool4 + k(2) + k(16));
  CHECK(count(Skip::s8, Upsample::learned).params == backbone + score_fr + score_pool4 + score_pool3 + 2 * k(2) + k(8));
  CHECK(count(Skip::s8, Upsample::learned).params == 134489759);  // ~134M, the FCN-8s count (sum worked by hand)
  const auto fixed = count(Skip::s8, Upsample::bilinear);
  CHECK(fixed.params == backbone + score_fr + score_pool4 + score_pool3);
  CHECK(fixed.frozen == C * (16 + 16 + 256));
}

TEST_CASE("HDF5 weight import: values land in the right layers, errors name tensor and file", "[model]") {
  TempDir dir;
  torch::manual_seed(7);
  ModelConfig cfg = tiny(Skip::s8);
  FCN m = make_fcn(cfg, 3);
  auto tensors = torchvision_tensors(*m->backbone);
  write_h5(dir / "w.h5", tensors);

  cfg.pretrained = (dir / "w.h5").string();
  FCN loaded = make_fcn(cfg, 3);
  const auto& net = *loaded->backbone;
  CHECK(max_diff(net.convs[0]->weight, tensors.at("features.0.weight")) == 0);
  CHECK(max_diff(net.convs[2]->bias, tensors.at("features.5.bias")) == 0);
  CHECK(max_diff(net.convs[12]->weight, tensors.at("features.28.weight")) == 0);
  CHECK(max_diff(net.fc6->weight.flatten(1), tensors.at("classifier.0.weight")) == 0);
  CHECK(max_diff(net.fc7->weight.flatten(1), tensors.at("classifier.3.weight")) == 0);
  CHECK(max_diff(net.fc7->bias, tensors.at("classifier.3.bias")) == 0);

  // a missing tensor
  auto partial = tensors;
  partial.erase("classifier.3.bias");
  write_h5(dir / "partial.h5", partial);
  cfg.pretrained = (dir / "partial.h5").string();
  CHECK_THROWS_MATCHES(make_fcn(cfg, 3), DataError, Catch::Matchers::Predicate<DataError>([&](const DataError& e) {
                         const std::string w = e.what();
                         return w.find("'classifier.3.bias'") != std::string::npos &&
                                w.find("partial.h5") != std::string::npos && w.find("missing") != std::string::npos;
                       }));
  // a mis-shaped tensor: the file is for width 1/16, the model is width 1/8
  cfg.pretrained = (dir / "w.h5").string();
  cfg.width = 0.125;
  try {
    make_fcn(cfg, 3);
    FAIL("expected a DataError");
  } catch (const DataError& e) {
    CHECK_THAT(e.what(),
               Contains("'features.0.weight'") && Contains("[4,3,3,3]") && Contains("[8,3,3,3]") && Contains("w.h5"));
  }
  // no file, and BN (not importable)
  cfg.width = 0.0625;
  cfg.pretrained = (dir / "nope.h5").string();
  CHECK_THROWS_AS(make_fcn(cfg, 3), IoError);
  cfg.pretrained = (dir / "w.h5").string();
  cfg.batchnorm = true;
  CHECK_THROWS_AS(make_fcn(cfg, 3), ConfigError);
}

TEST_CASE("cross-implementation: fc7 of the imported VGG16 equals torchvision's at 224x224", "[model][python]") {
  TempDir dir;
  const auto script = fcnlab::test::source_dir() / "analysis" / "export_vgg16_weights.py";
  const std::string cmd = "/usr/bin/python3 '" + script.string() + "' '" + (dir / "vgg16.h5").string() +
                          "' --random --seed 3 --reference '" + (dir / "ref.h5").string() + "' --size 224";
  INFO("needs python3-torchvision and python3-h5py (scripts/install-deps.sh): " << cmd);
  REQUIRE(std::system(cmd.c_str()) == 0);
  const auto input = read_h5(dir / "ref.h5", "input");
  const auto ref = read_h5(dir / "ref.h5", "fc7");
  REQUIRE(ref.sizes() == torch::IntArrayRef{1, 4096});
  REQUIRE((ref > 0).sum().item<int>() > 1000);  // half the ReLU outputs are active: a real test
  std::int64_t file_params = 0;
  {
    H5::H5File f((dir / "vgg16.h5").string(), H5F_ACC_RDONLY);
    f.openAttribute("parameters").read(H5::PredType::NATIVE_INT64, &file_params);
  }
  torch::NoGradGuard no_grad;
  {
    // The plain backbone: conv1 padding 1 and fc6 without padding, as torchvision, so fc7 is 1x1.
    torch::manual_seed(0);
    VGG16 net(kVggBaseChannels, 4096, false, 0.5, 1, 0);
    net->eval();
    CHECK(numel(net->parameters()) == file_params - (4096 * 1000 + 1000));  // all but classifier.6
    load_vgg16_weights(*net, dir / "vgg16.h5");
    const auto fc7 = net->forward(input).fc7;
    REQUIRE(fc7.sizes() == torch::IntArrayRef{1, 4096, 1, 1});
    CHECK(max_diff(fc7.flatten(1), ref) < 1e-4);
  }
  {
    // The FCN through make_fcn (same-padding): at 224 = 7 x 32 the centre cell of fc7 sees
    // exactly the 7x7 pool5 map, the others see zero padding.
    ModelConfig cfg;
    cfg.padding = Padding::same;
    cfg.skip = Skip::s32;
    cfg.pretrained = (dir / "vgg16.h5").string();
    torch::manual_seed(0);
    FCN m = make_fcn(cfg, 21);
    m->eval();
    const auto fc7 = m->backbone->forward(input).fc7;
    REQUIRE(fc7.sizes() == torch::IntArrayRef{1, 4096, 7, 7});
    CHECK(max_diff(fc7.select(2, 3).select(2, 3), ref) < 1e-4);
    CHECK(m->forward(input).sizes() == torch::IntArrayRef{1, 21, 224, 224});
  }
}

TEST_CASE("FLOPs: 2 x multiply-adds of the convs and transposed convs", "[model]") {
  ModelConfig c = tiny(Skip::s32, Fusion::sum, Upsample::learned, Padding::same);
  const FcnSpec s = fcn_spec(c, 5);
  const auto layers = fcn_layers(s, 64, 96);
  const auto find = [&](const std::string& name) {
    for (const auto& l : layers)
      if (l.name == name) return l;
    FAIL("no layer " << name);
    return LayerInfo{};
  };
  CHECK(find("conv1_1").macs == 64 * 96 * 4 * 3 * 9);        // out pixels x out ch x in ch x 3x3
  CHECK(find("conv5_3").macs == 4 * 6 * 32 * 32 * 9);        // stride 16 map 4x6
  CHECK(find("fc6").macs == 2 * 3 * 4 * 32 * 49);            // 7x7 over a 2x3 map (same padding)
  CHECK(find("upscore32").macs == 2 * 3 * 5 * 5 * 64 * 64);  // input pixels x C x C x 64x64
  CHECK(find("upscore32").height == 64);
  CHECK(find("pool5").stride == 32);
  std::int64_t macs = 0;
  for (const auto& l : layers) macs += l.macs;
  CHECK(fcn_flops(c, 5, 64, 96) == 2 * macs);
  c.upsample = Upsample::bilinear;  // the fixed kernel is per class (depthwise)
  CHECK(fcn_flops(c, 5, 64, 96) == 2 * (macs - 2 * 3 * 5 * 5 * 64 * 64 + 2 * 3 * 5 * 64 * 64));
}

TEST_CASE("fcnlab model prints the layer table with parameters and FLOPs", "[model][cli]") {
  const auto cfg = (fcnlab::test::source_dir() / "configs" / "fcn8s.toml").string();
  auto r = fcnlab::test::run_fcnlab("model --config '" + cfg +
                                    "' --size 500x500 data.num_classes=21 model.upsample=learned");
  INFO(r.out);
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.out, Contains("FCN-8s") && Contains("crop offset 5") && Contains("crop offset 9") &&
                        Contains("crop offset 31") && Contains("134,489,759 trainable") && Contains("500x500"));
  r = fcnlab::test::run_fcnlab("model --config '" + cfg + "' model.skip=32 model.upsample=bilinear --size 64x48");
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.out, Contains("FCN-32s") && Contains("crop offset 19") && Contains("frozen"));
  r = fcnlab::test::run_fcnlab("model --size 12");
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.out, Contains("HxW"));
  r = fcnlab::test::run_fcnlab("model model.fusion=avg");
  CHECK(r.exit_code == 2);
  // --bench is the trainer's step as `bench train` times it, at the table's size.
  const auto toy = (fcnlab::test::source_dir() / "configs" / "toy.toml").string();
  r = fcnlab::test::run_fcnlab("model --config '" + toy + "' --size 64x64 --bench 2 --batch 2 run.threads=1");
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.out, Contains("FCN-8s") && Contains("bench train:") && Contains("batch 2 x 64x64") &&
                        Contains("1 x 2 steps after 3 warm-up"));
  r = fcnlab::test::run_fcnlab("model --config '" + toy + "' --size 64x48 --bench 2");
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.out, Contains("square"));
}

namespace {
// A toy set of `val` val images of width x height in `dir`, and configs/toy.toml on it with `overrides`.
Config toy_eval_config(const TempDir& dir, int val, int width, int height, std::vector<std::string> overrides) {
  fcnlab::ToyOptions toy;
  toy.out = dir.path() / "toy";
  toy.train = 2;
  toy.val = val;
  toy.width = width;
  toy.height = height;
  fcnlab::make_toy(toy);
  overrides.push_back("data.root=" + toy.out.string());
  return fcnlab::test::toy_config(overrides);
}
}  // namespace

TEST_CASE("evaluate_model scores in eval mode, gives the model back its mode, and keeps the examples",
          "[model][eval]") {
  TempDir dir;
  const Config cfg = toy_eval_config(dir, 3, 32, 32, {"eval.examples=2", "data.val_batch=2"});
  const auto val = fcnlab::VocSegmentation::from_config(cfg.data, fcnlab::Split::val);
  FCN model = make_fcn(cfg.model, cfg.data.num_classes);
  model->train();
  fcnlab::Examples examples;
  std::vector<std::string> ids;
  const auto r = fcnlab::evaluate_model(model, *val, cfg, torch::Device(torch::kCPU), &examples, &ids);
  CHECK(model->is_training());
  CHECK(r.images == 3);
  CHECK(ids == std::vector<std::string>{val->id(0), val->id(1), val->id(2)});
  CHECK(examples.count == 2);
  CHECK(examples.ids == std::vector<std::string>{val->id(0), val->id(1)});
  CHECK(examples.height == 32);
  // The example label is the dataset's own, decoded once with the batch.
  const auto first = val->get(0);
  CHECK(std::equal(first.label.pixels.begin(), first.label.pixels.end(), examples.label.begin()));
  model->eval();
  fcnlab::evaluate_model(model, *val, cfg, torch::Device(torch::kCPU), nullptr, nullptr);
  CHECK_FALSE(model->is_training());
}

TEST_CASE("evaluate_model, decoding and scoring beside the model, equals the serial evaluation", "[model][eval]") {
  TempDir dir;
  // Batches of 2 (the last one of 1) with up to 3 batches scored at once.
  const Config cfg = toy_eval_config(dir, 7, 40, 32, {"data.val_batch=2", "data.workers=3"});
  const auto val = fcnlab::VocSegmentation::from_config(cfg.data, fcnlab::Split::val);
  torch::manual_seed(3);
  FCN model = make_fcn(cfg.model, cfg.data.num_classes);
  const auto overlapped = fcnlab::evaluate_model(model, *val, cfg, torch::Device(torch::kCPU), nullptr, nullptr);

  // The serial reference: one image after the other, in order, on one evaluator.
  torch::NoGradGuard no_grad;
  model->eval();
  fcnlab::SegmentationEvaluator serial(cfg.data.num_classes, fcnlab::boundary_options(cfg.eval));
  for (std::size_t i = 0; i < val->size(); ++i) {
    const fcnlab::Batch b = fcnlab::load_val_batch(*val, {i}, cfg.data);
    const auto pred = model->forward(b.images).argmax(1).to(torch::kUInt8).contiguous();
    const auto label = b.labels.to(torch::kUInt8).contiguous();
    serial.process(pred.data_ptr<std::uint8_t>(), label.data_ptr<std::uint8_t>(), 32, 40);
  }
  const auto r = serial.evaluate();
  CHECK(overlapped.images == 7);
  CHECK(overlapped.confusion == r.confusion);
  CHECK(overlapped.per_image_confusion == r.per_image_confusion);
  CHECK(overlapped.per_image_boundary_band == r.per_image_boundary_band);
  CHECK(overlapped.per_image_trimap == r.per_image_trimap);
  REQUIRE(overlapped.per_image_bf.size() == r.per_image_bf.size());
  for (std::size_t k = 0; k < r.per_image_bf.size(); ++k)
    CHECK((overlapped.per_image_bf[k] == r.per_image_bf[k] ||
           (std::isnan(overlapped.per_image_bf[k]) && std::isnan(r.per_image_bf[k]))));
  CHECK(overlapped.scores.mean_iou == r.scores.mean_iou);
  CHECK((overlapped.bf_score == r.bf_score || (std::isnan(overlapped.bf_score) && std::isnan(r.bf_score))));
}
