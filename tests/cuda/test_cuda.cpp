// Tests of the code paths that only run on CUDA: cuDNN's fused convolution + bias + ReLU
// (optim.fuse_conv_relu), the fused CE kernels, ForeachSGD's foreach kernels, fp16 loss scaling,
// autocast, pinned host batches and non-blocking copies, peak device memory, and a training step on
// the GPU against the same step on the CPU.
//
// Built only against a CUDA LibTorch (tests/CMakeLists.txt: fcnlab_test_cuda when c10_cuda is
// found) and run by bench/gpu.sh on the GPU machine. They are not part of the CPU suite: the CPU
// build has no CUDA code to test. Each test requires a GPU and fails, not skips, without one.
// References are computed on the CPU in double precision, so a wrong GPU kernel cannot agree with
// itself; tolerances are those of fp32 without TF32 (turned off where fp32 is compared) or of bf16.
#include "catch_torch.h"

#include <ATen/Context.h>

#include <cstdint>
#include <limits>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "data/loader.h"
#include "helpers.h"
#include "loss/loss.h"
#include "model/autocast_compat.h"
#include "model/conv_relu.h"
#include "model/fcn.h"
#include "torch_helpers.h"
#include "train/device.h"
#include "train/sgd.h"
#include "train/step.h"

using namespace fcnlab;
using fcnlab::test::count_nodes;
using fcnlab::test::toy_config;
using fcnlab::test::twin_models;

namespace {

const torch::Device kCpu{torch::kCPU};
const torch::Device kCuda{torch::kCUDA, 0};

void require_gpu() {
  REQUIRE(torch::cuda::is_available());
  REQUIRE(torch::cuda::cudnn_is_available());
}

// cuDNN's global switches for one test, restored after it: TF32 off where fp32 results are compared
// with a double-precision reference; deterministic mode as the test asks.
class CudnnSettings {
 public:
  CudnnSettings(bool allow_tf32, bool deterministic)
      : tf32_(at::globalContext().allowTF32CuDNN()), deterministic_(at::globalContext().deterministicCuDNN()) {
    at::globalContext().setAllowTF32CuDNN(allow_tf32);
    at::globalContext().setDeterministicCuDNN(deterministic);
  }
  ~CudnnSettings() {
    at::globalContext().setAllowTF32CuDNN(tf32_);
    at::globalContext().setDeterministicCuDNN(deterministic_);
  }
  CudnnSettings(const CudnnSettings&) = delete;
  CudnnSettings& operator=(const CudnnSettings&) = delete;

 private:
  bool tf32_, deterministic_;
};

// Scale-aware comparison, for tensors whose entries vary widely in magnitude (weight gradients):
// CHECK(max_abs_diff(a, b) <= tolerance(b, rtol, atol)), on the CPU in double. Catch prints both
// numbers when it fails.
double max_abs(const torch::Tensor& t) {
  return t.detach().to(kCpu, torch::kDouble).abs().max().item<double>();
}
double max_abs_diff(const torch::Tensor& a, const torch::Tensor& b) {
  REQUIRE(a.sizes() == b.sizes());
  return max_abs(a.detach().to(kCpu, torch::kDouble) - b.detach().to(kCpu, torch::kDouble));
}
double tolerance(const torch::Tensor& reference, double rtol, double atol) {
  return atol + rtol * max_abs(reference);
}

}  // namespace

TEST_CASE("cuda: conv2d_relu runs cuDNN's fused kernel and matches relu(conv2d) in double on the CPU", "[cuda]") {
  require_gpu();
  const CudnnSettings fp32(/*allow_tf32=*/false, /*deterministic=*/false);
  torch::manual_seed(4);
  const auto f64 = torch::TensorOptions().dtype(torch::kDouble);
  for (const bool channels_last : {false, true}) {
    for (const std::int64_t pad : {0, 1, 3}) {
      INFO("channels_last " << channels_last << ", padding " << pad);
      const auto fmt = input_format(channels_last);
      const auto x0 = torch::randn({2, 8, 13, 11}, f64), w0 = torch::randn({16, 8, 3, 3}, f64),
                 b0 = torch::randn({16}, f64);
      auto xr = x0.clone().requires_grad_(true), wr = w0.clone().requires_grad_(true),
           br = b0.clone().requires_grad_(true);
      const auto ref = torch::relu(torch::conv2d(xr, wr, br, 1, pad));
      const auto to_gpu = [&](const torch::Tensor& t) {
        return t.to(kCuda, torch::kFloat32).contiguous(t.dim() == 4 ? fmt : c10::MemoryFormat::Contiguous);
      };
      auto x = to_gpu(x0).requires_grad_(true), w = to_gpu(w0).requires_grad_(true),
           b = to_gpu(b0).requires_grad_(true);
      CHECK(conv2d_relu_fuses(x));
      const auto y = conv2d_relu(x, w, b, pad);
      CHECK(y.is_cuda());
      CHECK(y.scalar_type() == torch::kFloat32);
      if (channels_last) CHECK(y.is_contiguous(c10::MemoryFormat::ChannelsLast));
      CHECK(count_nodes(y, "Conv2dRelu") == 1);
      CHECK(max_abs_diff(y, ref) <= tolerance(ref, 1e-5, 1e-5));
      CHECK((ref == 0).any().item<bool>());  // the ReLU is exercised
      const auto g = torch::randn(ref.sizes(), f64);
      (ref * g).sum().backward();
      (y * g.to(kCuda, torch::kFloat32)).sum().backward();
      CHECK(max_abs_diff(x.grad(), xr.grad()) <= tolerance(xr.grad(), 1e-5, 1e-5));
      CHECK(max_abs_diff(w.grad(), wr.grad()) <= tolerance(wr.grad(), 1e-5, 1e-5));
      CHECK(max_abs_diff(b.grad(), br.grad()) <= tolerance(br.grad(), 1e-5, 1e-5));
    }
  }
  SECTION("bf16 autocast: bf16 output and fp32 gradients, as autocast's unfused conv2d + relu gives them") {
    // bf16 rounding flips the ReLU mask of pre-activations within a rounding of 0, and the fused
    // kernel (bias added in fp32 in the epilogue) rounds differently from the unfused path (bias
    // added to the bf16 convolution output): on an H100 the two paths' weight gradients differed by
    // up to 3.9 (one flipped output position's g * x) and their bias gradients by 1.7 (one g). So
    // each path's gradients are compared with double-precision gradients computed with that path's
    // own mask: what is left is bf16 rounding of x, w and g, about 2^-8 relative. A wrong mask, a
    // missing bias gradient or a layout mix-up is far outside that.
    const auto x0 = torch::randn({2, 8, 16, 16}, f64), w0 = torch::randn({16, 8, 3, 3}, f64) * 0.2,
               b0 = torch::randn({16}, f64);
    const auto ref = torch::relu(torch::conv2d(x0, w0, b0, 1, 1));
    const auto cl = c10::MemoryFormat::ChannelsLast;
    const auto x = x0.to(kCuda, torch::kFloat32).contiguous(cl);
    auto w = w0.to(kCuda, torch::kFloat32).contiguous(cl).requires_grad_(true);
    auto b = b0.to(kCuda, torch::kFloat32).requires_grad_(true);
    auto wu = w.detach().clone().requires_grad_(true), bu = b.detach().clone().requires_grad_(true);
    torch::Tensor y, yu;
    {
      AutocastScope scope(kCuda, Amp::bf16);
      y = conv2d_relu(x, w, b, 1);
      yu = torch::relu(torch::conv2d(x, wu, bu, 1, 1));
    }
    CHECK(y.scalar_type() == torch::kBFloat16);
    REQUIRE(yu.scalar_type() == torch::kBFloat16);
    CHECK(max_abs_diff(y, ref) <= tolerance(ref, 2e-2, 2e-2));
    CHECK(max_abs_diff(y, yu) <= tolerance(yu, 1e-2, 1e-2));
    // The masks differ only where rounding decides the sign: a few positions in a thousand.
    const auto flipped = ((y > 0) != (yu > 0)).sum().item<std::int64_t>();
    INFO("ReLU mask positions that differ between the fused and the unfused path: " << flipped);
    CHECK(flipped <= y.numel() / 100);
    const auto g = torch::randn(ref.sizes()).to(kCuda);
    (y.to(torch::kFloat32) * g).sum().backward();
    (yu.to(torch::kFloat32) * g).sum().backward();
    CHECK(w.grad().scalar_type() == torch::kFloat32);
    CHECK(b.grad().scalar_type() == torch::kFloat32);
    // d/dw and d/db of sum(g * mask * (conv2d(x0, w0) + b0)) in double on the CPU, for a given mask.
    const auto grads_for_mask = [&](const torch::Tensor& out) {
      auto wd = w0.clone().requires_grad_(true), bd = b0.clone().requires_grad_(true);
      const auto mask = (out.detach() > 0).to(kCpu, torch::kDouble);
      (torch::conv2d(x0, wd, bd, 1, 1) * mask * g.to(kCpu, torch::kDouble)).sum().backward();
      return std::make_pair(wd.grad(), bd.grad());
    };
    const auto [wf_ref, bf_ref] = grads_for_mask(y);
    const auto [wu_ref, bu_ref] = grads_for_mask(yu);
    CHECK(max_abs_diff(w.grad(), wf_ref) <= tolerance(wf_ref, 1e-2, 1e-2));
    CHECK(max_abs_diff(b.grad(), bf_ref) <= tolerance(bf_ref, 1e-2, 1e-2));
    CHECK(max_abs_diff(wu.grad(), wu_ref) <= tolerance(wu_ref, 1e-2, 1e-2));
    CHECK(max_abs_diff(bu.grad(), bu_ref) <= tolerance(bu_ref, 1e-2, 1e-2));
  }
  SECTION("in cuDNN's deterministic mode it does not fuse, and still computes the same") {
    const CudnnSettings det(/*allow_tf32=*/false, /*deterministic=*/true);
    const auto x0 = torch::randn({1, 4, 9, 9}, f64), w0 = torch::randn({6, 4, 3, 3}, f64), b0 = torch::randn({6}, f64);
    const auto x = x0.to(kCuda, torch::kFloat32);
    CHECK_FALSE(conv2d_relu_fuses(x));
    const auto y = conv2d_relu(x, w0.to(kCuda, torch::kFloat32), b0.to(kCuda, torch::kFloat32), 1);
    const auto ref = torch::relu(torch::conv2d(x0, w0, b0, 1, 1));
    CHECK(max_abs_diff(y, ref) <= tolerance(ref, 1e-5, 1e-5));
  }
}

TEST_CASE("cuda: optim.fuse_conv_relu FCN equals the unfused FCN on the GPU, both layouts", "[cuda]") {
  require_gpu();
  const CudnnSettings fp32(/*allow_tf32=*/false, /*deterministic=*/false);
  for (const char* layout : {"optim.channels_last=false", "optim.channels_last=true"}) {
    INFO(layout);
    const std::vector<std::string> common{"model.padding=caffe", "model.batchnorm=false", "run.deterministic=false",
                                          "run.device=cuda", layout};
    std::vector<std::string> with_fusion = common;
    with_fusion.emplace_back("optim.fuse_conv_relu=true");
    const Config plain = toy_config(common), fused = toy_config(with_fusion);
    auto [a, b] = twin_models(plain, fused, 2);
    prepare_model(a, plain, kCuda);
    prepare_model(b, fused, kCuda);
    a->eval();
    b->eval();
    const auto x = torch::randn({2, 3, 37, 45});
    const auto ya = a->forward(images_to_device(x, kCuda, plain.optim.channels_last));
    const auto yb = b->forward(images_to_device(x, kCuda, fused.optim.channels_last));
    CHECK(count_nodes(ya, "Conv2dRelu") == 0);
    CHECK(count_nodes(yb, "Conv2dRelu") == 14);
    CHECK(max_abs_diff(yb, ya) <= tolerance(ya, 1e-4, 1e-6));
    ya.square().sum().backward();
    yb.square().sum().backward();
    const auto pa = a->parameters(), pb = b->parameters();
    int compared = 0;
    for (std::size_t i = 0; i < pa.size(); ++i) {
      if (!pa[i].grad().defined()) continue;
      INFO("parameter " << i);
      CHECK(max_abs_diff(pb[i].grad(), pa[i].grad()) <= tolerance(pa[i].grad(), 1e-3, 1e-6));
      ++compared;
    }
    CHECK(compared > 30);
  }
}

TEST_CASE("cuda: fused and one-hot CE agree with the CPU, labels as the loader sends them (uint8)", "[cuda]") {
  require_gpu();
  torch::manual_seed(5);
  const std::int64_t B = 2, C = 5, H = 17, W = 19;
  auto labels = torch::randint(0, C, {B, H, W}, torch::kLong);
  labels = torch::where(torch::rand({B, H, W}) < 0.2, torch::full({}, std::int64_t{255}, torch::kLong), labels);
  const auto labels_gpu = labels.to(torch::kUInt8).to(kCuda);
  for (const LossName name : {LossName::ce, LossName::ce_dice, LossName::ce_lovasz}) {
    for (const Reduction red : {Reduction::mean, Reduction::sum}) {
      INFO("loss " << to_string(name) << ", reduction " << to_string(red));
      LossConfig cfg;
      cfg.name = name;
      cfg.reduction = red;
      const auto logits = torch::randn({B, C, H, W}, torch::kDouble);
      auto ref_x = logits.clone().requires_grad_(true);
      const auto ref = (*make_loss(cfg, static_cast<int>(C), {}, LossKernels::deterministic))(ref_x, labels);
      ref.backward();
      for (const LossKernels k : {LossKernels::deterministic, LossKernels::fused}) {
        INFO((k == LossKernels::fused ? "fused" : "one-hot") << " kernels on the GPU");
        auto x = logits.to(kCuda).requires_grad_(true);
        const auto l = (*make_loss(cfg, static_cast<int>(C), {}, k))(x, labels_gpu);
        CHECK(l.is_cuda());
        l.backward();
        CHECK(l.item<double>() == Approx(ref.item<double>()).epsilon(1e-10));
        CHECK(max_abs_diff(x.grad(), ref_x.grad()) <= tolerance(ref_x.grad(), 1e-9, 1e-12));
      }
    }
  }
}

TEST_CASE("cuda: ForeachSGD's foreach kernels step as torch::optim::SGD does, and save/load on the GPU", "[cuda]") {
  require_gpu();
  const auto opts = torch::optim::SGDOptions(0.1).momentum(0.9).weight_decay(5e-4);
  auto make_params = [] {
    torch::manual_seed(7);
    return std::vector<torch::Tensor>{
        torch::randn({32, 16, 3, 3}).to(kCuda).contiguous(c10::MemoryFormat::ChannelsLast).requires_grad_(true),
        torch::randn({32}).to(kCuda).requires_grad_(true), torch::randn({5, 32, 1, 1}).to(kCuda).requires_grad_(true)};
  };
  auto set_grads = [](std::vector<torch::Tensor>& ps, int step) {
    torch::manual_seed(100 + step);
    for (auto& p : ps) p.mutable_grad() = torch::randn(p.sizes()).to(kCuda);
  };
  auto pa = make_params(), pb = make_params();
  const auto start = pa[0].detach().clone();
  ForeachSGD a(pa, opts);
  torch::optim::SGD b(pb, opts);
  for (int step = 0; step < 5; ++step) {
    set_grads(pa, step);
    set_grads(pb, step);
    a.step();
    b.step();
    for (std::size_t i = 0; i < pa.size(); ++i) {
      INFO("step " << step << ", parameter " << i);
      CHECK(pa[i].is_cuda());
      // Same arithmetic; the foreach and per-tensor kernels may differ in the last bit (FMA).
      CHECK(max_abs_diff(pa[i], pb[i]) <= tolerance(pb[i], 1e-6, 1e-7));
    }
  }
  CHECK(pa[0].is_contiguous(c10::MemoryFormat::ChannelsLast));
  CHECK(max_abs_diff(pa[0], start) > 1e-3 * max_abs(start));  // the parameters did move
  // The momentum buffers survive a checkpoint: torch::optim::SGD continues from ForeachSGD's state.
  torch::serialize::OutputArchive out;
  a.save(out);
  std::stringstream buf;
  out.save_to(buf);
  auto pc = make_params();
  {
    torch::NoGradGuard no_grad;
    for (std::size_t i = 0; i < pc.size(); ++i) pc[i].copy_(pa[i]);
  }
  torch::optim::SGD c(pc, opts);
  torch::serialize::InputArchive in;
  in.load_from(buf, kCuda);
  c.load(in);
  set_grads(pa, 9);
  set_grads(pc, 9);
  a.step();
  c.step();
  for (std::size_t i = 0; i < pa.size(); ++i) {
    INFO("parameter " << i);
    CHECK(max_abs_diff(pc[i], pa[i]) <= tolerance(pa[i], 1e-6, 1e-7));
  }
}

TEST_CASE("cuda: fp16 loss scaling unscales before the step, skips a step with inf and backs off", "[cuda]") {
  require_gpu();
  auto p = torch::tensor({1.0f, -2.0f, 3.0f}, torch::TensorOptions().device(kCuda)).requires_grad_(true);
  const auto c = torch::tensor({0.5f, 0.25f, -1.0f}, torch::TensorOptions().device(kCuda));
  torch::optim::SGD opt({p}, torch::optim::SGDOptions(0.1));
  LossScaler scaler(kCuda, true);
  const auto loss = (p * c).sum();
  const auto scaled = scaler.scale(loss);
  CHECK(scaled.dim() == 0);
  CHECK(scaled.item<double>() == Approx(loss.item<double>() * 65536.0));
  scaled.backward();
  CHECK(p.grad()[0].item<double>() == Approx(0.5 * 65536.0));
  CHECK(scaler.step(opt, {p}));
  // p - lr * c: the gradient was unscaled before the optimiser saw it.
  const auto expected = torch::tensor({1.0 - 0.05, -2.0 - 0.025, 3.0 + 0.1}, torch::kDouble);
  CHECK(max_abs_diff(p, expected) <= tolerance(expected, 1e-6, 1e-6));
  CHECK(scaler.state() == std::vector<double>{65536.0, 1.0});
  const auto before = p.detach().clone();
  p.mutable_grad() =
      torch::tensor({1.0f, std::numeric_limits<float>::infinity(), 0.0f}, torch::TensorOptions().device(kCuda));
  CHECK_FALSE(scaler.step(opt, {p}));
  CHECK(torch::equal(p.detach(), before));                     // skipped
  CHECK(scaler.state() == std::vector<double>{32768.0, 0.0});  // backed off, count reset
  LossScaler restored(kCuda, true);
  restored.load_state(scaler.state());
  CHECK(restored.state() == scaler.state());
}

TEST_CASE("cuda: AutocastScope on CUDA, fp16 and bf16, restores the previous state", "[cuda]") {
  require_gpu();
  torch::manual_seed(0);
  torch::nn::Conv2d conv(torch::nn::Conv2dOptions(3, 4, 3).padding(1));
  conv->to(kCuda);
  const auto x = torch::randn({2, 3, 8, 8}).to(kCuda);
  CHECK_FALSE(autocast::enabled(c10::DeviceType::CUDA));
  for (const auto& [amp, dtype] : {std::pair{Amp::fp16, torch::kHalf}, std::pair{Amp::bf16, torch::kBFloat16}}) {
    {
      AutocastScope scope(kCuda, amp);
      CHECK(autocast::enabled(c10::DeviceType::CUDA));
      CHECK(conv->forward(x).scalar_type() == dtype);
      CHECK(conv->weight.scalar_type() == torch::kFloat32);
    }
    CHECK_FALSE(autocast::enabled(c10::DeviceType::CUDA));
    CHECK(conv->forward(x).scalar_type() == torch::kFloat32);
  }
}

TEST_CASE("cuda: pinned batches copy to the GPU without blocking and arrive intact, in the model's layout", "[cuda]") {
  require_gpu();
  torch::manual_seed(3);
  std::vector<TensorSample> samples;
  samples.push_back({torch::randn({3, 20, 24}), torch::randint(0, 21, {20, 24}, torch::kLong)});
  samples.push_back({torch::randn({3, 16, 30}), torch::randint(0, 21, {16, 30}, torch::kLong)});
  const Batch batch = collate(samples, {"a", "b"}, /*pinned=*/true);
  CHECK(batch.images.is_pinned());
  CHECK(batch.labels.is_pinned());
  CHECK(batch.labels.scalar_type() == torch::kUInt8);
  const auto x = images_to_device(batch.images, kCuda, /*channels_last=*/true);
  const auto y = batch.labels.to(kCuda, /*non_blocking=*/true);
  synchronize(kCuda);
  CHECK(x.is_cuda());
  CHECK(x.is_contiguous(c10::MemoryFormat::ChannelsLast));
  CHECK(torch::equal(x.cpu(), batch.images));
  CHECK(torch::equal(y.cpu(), batch.labels));
  CHECK(torch::equal(x.cpu()[1].slice(1, 0, 16).slice(2, 0, 30), samples[1].image));
  CHECK(y.cpu()[1][17][0].item<int>() == 255);  // padding is void
}

TEST_CASE("cuda: a training step on the GPU computes the CPU's loss and gradients; bf16 stays close", "[cuda]") {
  require_gpu();
  const CudnnSettings fp32(/*allow_tf32=*/false, /*deterministic=*/true);
  const Config cfg = toy_config({"run.deterministic=true"});
  auto [cpu_model, gpu_model] = twin_models(cfg, cfg, 11);
  prepare_model(gpu_model, cfg, kCuda);
  cpu_model->eval();  // no dropout; BatchNorm from its running statistics: the same function on both
  gpu_model->eval();
  const auto loss = make_step_loss(cfg, {});
  torch::manual_seed(12);
  const auto x = torch::randn({2, 3, 48, 40});
  auto labels = torch::randint(0, cfg.data.num_classes, {2, 48, 40}, torch::kLong).to(torch::kUInt8);
  labels.slice(1, 0, 5).fill_(255);
  const LossScaler cpu_none(kCpu, false), gpu_none(kCuda, false);
  const auto lc = forward_backward(cpu_model, *loss, x, labels, StepSettings{kCpu, Amp::off, false}, cpu_none);
  const auto lg = forward_backward(gpu_model, *loss, x, labels, StepSettings{kCuda, Amp::off, false}, gpu_none);
  CHECK(lg.is_cuda());
  CHECK(lg.item<double>() == Approx(lc.item<double>()).epsilon(1e-5));
  const auto pc = trainable_parameters(cpu_model), pg = trainable_parameters(gpu_model);
  REQUIRE(pc.size() == pg.size());
  int compared = 0;
  for (std::size_t i = 0; i < pc.size(); ++i) {
    if (!pc[i].grad().defined()) continue;
    INFO("parameter " << i);
    CHECK(pg[i].grad().is_cuda());
    CHECK(max_abs_diff(pg[i].grad(), pc[i].grad()) <= tolerance(pc[i].grad(), 1e-3, 1e-6));
    ++compared;
  }
  CHECK(compared > 10);
  SECTION("bf16 autocast, channels-last: the loss in fp32, within bf16's precision of the CPU's") {
    FCN bf = twin_models(cfg, cfg, 11).second;  // the same parameters as the two above
    to_channels_last(*bf);
    bf->to(kCuda);
    bf->eval();
    const auto lb = forward_backward(bf, *loss, x, labels, StepSettings{kCuda, Amp::bf16, true}, gpu_none);
    CHECK(lb.scalar_type() == torch::kFloat32);
    CHECK(lb.item<double>() == Approx(lc.item<double>()).epsilon(0.05));
  }
}

TEST_CASE("cuda: peak device memory counts what was allocated since the reset", "[cuda]") {
  require_gpu();
  synchronize(kCuda);
  reset_peak_memory(kCuda);
  const DeviceMemory before = peak_memory(kCuda);
  REQUIRE(before.known);
  {
    const auto big = torch::empty({64 * 1024 * 1024 / 4}, torch::TensorOptions().dtype(torch::kFloat32).device(kCuda));
    synchronize(kCuda);
    const DeviceMemory during = peak_memory(kCuda);
    CHECK(during.peak_allocated_mib >= before.peak_allocated_mib + 64.0 - 1e-9);
    CHECK(during.peak_reserved_mib >= during.peak_allocated_mib);
  }
  const DeviceMemory after = peak_memory(kCuda);
  CHECK(after.peak_allocated_mib >= before.peak_allocated_mib + 64.0 - 1e-9);  // a peak, not the current use
}
