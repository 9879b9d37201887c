// Tests of src/train/device and src/train/step: autocast scopes, channels-last layout, the shared
// forward/backward of a step, the fp16 loss-scaler state in checkpoints.
#include "catch_torch.h"

#include <map>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "config/loader.h"
#include "core/error.h"
#include "helpers.h"
#include "loss/loss.h"
#include "model/conv_relu.h"
#include "model/fcn.h"
#include "torch_helpers.h"
#include "train/checkpoint.h"
#include "train/device.h"
#include "train/sgd.h"
#include "train/step.h"

using namespace fcnlab;
using fcnlab::test::count_nodes;
using fcnlab::test::TempDir;
using fcnlab::test::toy_config;
using fcnlab::test::twin_models;

namespace {
const torch::Device kCpu{torch::kCPU};
}  // namespace

TEST_CASE("AutocastScope runs convolutions in bf16 inside and restores fp32 after", "[device]") {
  torch::manual_seed(0);
  torch::nn::Conv2d conv(torch::nn::Conv2dOptions(3, 4, 3).padding(1));
  const auto x = torch::randn({2, 3, 8, 8});
  const auto ref = conv->forward(x).detach();
  CHECK(ref.scalar_type() == torch::kFloat32);
  {
    AutocastScope scope(kCpu, Amp::bf16);
    const auto y = conv->forward(x);
    CHECK(y.scalar_type() == torch::kBFloat16);
    CHECK(conv->weight.scalar_type() == torch::kFloat32);  // parameters stay fp32
    {
      AutocastScope inner(kCpu, Amp::off);  // off: leaves the enclosing scope alone
      CHECK(conv->forward(x).scalar_type() == torch::kBFloat16);
    }
    // bf16 result close to fp32 (8 mantissa bits).
    CHECK(torch::allclose(y.to(torch::kFloat32), ref, 0.05, 0.05));
  }
  CHECK(conv->forward(x).scalar_type() == torch::kFloat32);
  {
    AutocastScope off(kCpu, Amp::off);
    CHECK(conv->forward(x).scalar_type() == torch::kFloat32);
  }
  CHECK_THROWS_AS(AutocastScope(kCpu, Amp::fp16), ConfigError);
  CHECK_THROWS_AS(LossScaler(kCpu, true), ConfigError);
}

TEST_CASE("channels-last FCN: 4-D weights in NHWC, same outputs and gradients as the NCHW model", "[device]") {
  for (const char* skip : {"model.skip=8", "model.skip=32"}) {
    for (const char* up : {"model.upsample=learned", "model.upsample=bilinear"}) {
      const Config cfg = toy_config({skip, up, "model.padding=caffe"});
      auto [a, b] = twin_models(cfg, cfg, 1);
      const auto before = b->parameters();
      to_channels_last(*b);
      const auto after = b->parameters();
      int four_d = 0;
      for (std::size_t i = 0; i < after.size(); ++i) {
        CHECK(after[i].is_same(before[i]));  // the same tensors: an optimiser holding them still works
        if (after[i].dim() == 4) {
          ++four_d;
          CHECK(after[i].is_contiguous(c10::MemoryFormat::ChannelsLast));
        }
      }
      CHECK(four_d > 10);
      for (const auto& buf : b->buffers())
        if (buf.dim() == 4) CHECK(buf.is_contiguous(c10::MemoryFormat::ChannelsLast));
      a->eval();
      b->eval();
      const auto x = torch::randn({2, 3, 37, 45});
      const auto ya = a->forward(x);
      const auto yb = b->forward(images_to_device(x, kCpu, true));
      REQUIRE(ya.sizes() == yb.sizes());
      CHECK(torch::allclose(ya, yb, 1e-4, 1e-4));
      ya.square().sum().backward();
      yb.square().sum().backward();
      const auto ga = a->parameters(), gb = b->parameters();
      for (std::size_t i = 0; i < ga.size(); ++i)
        if (ga[i].grad().defined()) CHECK(torch::allclose(ga[i].grad(), gb[i].grad(), 1e-3, 1e-4));
    }
  }
}

TEST_CASE("forward_backward: the loss of the model's logits, on the device, with gradients", "[device]") {
  const Config cfg = toy_config();
  torch::manual_seed(2);
  FCN model = make_fcn(cfg.model, cfg.data.num_classes);
  model->train();
  const auto loss = make_loss(cfg.loss, cfg.data.num_classes);
  const auto x = torch::randn({2, 3, 32, 32});
  auto y = torch::randint(0, cfg.data.num_classes, {2, 32, 32}, torch::kInt64);
  y.index_put_({0, 0}, 255);
  const LossScaler no_scaling(kCpu, false);
  // Dropout off so both passes see the same network.
  model->eval();
  torch::Tensor expected;
  {
    torch::NoGradGuard no_grad;
    expected = (*loss)(model->forward(x), y) / 4.0;
  }
  const auto l = forward_backward(model, *loss, x, y, StepSettings{kCpu, Amp::off, false}, no_scaling, 4.0);
  CHECK_FALSE(l.requires_grad());
  CHECK(l.dim() == 0);
  CHECK(l.item<double>() == Approx(expected.item<double>()).epsilon(1e-6));
  double grad_norm = 0;
  for (const auto& p : trainable_parameters(model))
    if (p.grad().defined()) grad_norm += p.grad().square().sum().item<double>();
  CHECK(grad_norm > 0);
  // Under bf16 autocast the loss is still computed (and returned) in fp32.
  const auto lb = forward_backward(model, *loss, x, y, StepSettings{kCpu, Amp::bf16, true}, no_scaling, 4.0);
  CHECK(lb.scalar_type() == torch::kFloat32);
  CHECK(lb.item<double>() == Approx(expected.item<double>()).epsilon(0.05));
}

TEST_CASE("checkpoints keep the fp16 loss-scaler state, and none when there is none", "[device]") {
  const Config cfg = toy_config();
  FCN model = make_fcn(cfg.model, cfg.data.num_classes);
  torch::optim::SGD opt(trainable_parameters(model), torch::optim::SGDOptions(0.1));
  TempDir dir;
  CheckpointState s;
  s.iteration = 3;
  s.config_hash = "abc";
  s.loss_scaler = {32768.0, 17.0};
  save_checkpoint(dir.path(), model, opt, s, 2);
  auto back = load_checkpoint(dir / "ckpt-000000003.pt", model, opt);
  CHECK(back.loss_scaler == std::vector<double>{32768.0, 17.0});
  s.iteration = 4;
  s.loss_scaler.clear();
  save_checkpoint(dir.path(), model, opt, s, 2);
  back = load_checkpoint(dir / "ckpt-000000004.pt", model, opt);
  CHECK(back.loss_scaler.empty());
}

TEST_CASE("peak device memory is unknown on the CPU; synchronize is a no-op there", "[device]") {
  reset_peak_memory(kCpu);
  synchronize(kCpu);
  const DeviceMemory m = peak_memory(kCpu);
  CHECK_FALSE(m.known);
  CHECK(m.peak_allocated_mib == 0);
}

TEST_CASE("fcnlab bench train times the trainer's step and reports it as JSON", "[device][cli]") {
  TempDir dir;
  REQUIRE(fcnlab::test::run_fcnlab("make-toy --out " + (dir / "toy").string() + " --train 16 --val 2").exit_code == 0);
  const std::string base = "bench train --config " + (fcnlab::test::source_dir() / "configs/toy.toml").string() +
                           " data.root=" + (dir / "toy").string() + " run.threads=1 --iters 2 --repeats 1 --warmup 1";
  auto r = fcnlab::test::run_fcnlab(base + " optim.amp=bf16 optim.channels_last=true --breakdown --json");
  INFO(r.out);
  REQUIRE(r.exit_code == 0);
  using Catch::Matchers::Contains;
  CHECK_THAT(r.out, Contains("\"amp\": \"bf16\"") && Contains("\"channels_last\": true") && Contains("\"size\": 96") &&
                        Contains("\"peak_device_mib\": null") && Contains("\"forward\": ") &&
                        Contains("\"backward\": ") && Contains("\"optimiser step\": "));
  const auto pos = r.out.find("\"img_per_s\": ");
  REQUIRE(pos != std::string::npos);
  CHECK(std::stod(r.out.substr(pos + 13)) > 0);
  r = fcnlab::test::run_fcnlab(base + " --real --batch 4");
  INFO(r.out);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.out, Contains("batch 4 x 96x96") && Contains("real loader") && Contains("ms/step"));
  r = fcnlab::test::run_fcnlab(base + " --repeats 0");
  CHECK(r.exit_code != 0);
  CHECK_THAT(r.out, Contains("--repeats"));
}

TEST_CASE("fcnlab bench eval prints images/s of each stage of evaluation and of the whole", "[device][cli]") {
  TempDir dir;
  REQUIRE(fcnlab::test::run_fcnlab("make-toy --out " + (dir / "toy").string() + " --train 2 --val 3 --size 64x48")
              .exit_code == 0);
  const auto r =
      fcnlab::test::run_fcnlab("bench eval --config " + (fcnlab::test::source_dir() / "configs/toy.toml").string() +
                               " data.root=" + (dir / "toy").string() + " run.threads=1 data.val_batch=2");
  INFO(r.out);
  REQUIRE(r.exit_code == 0);
  using Catch::Matchers::Contains;
  CHECK_THAT(r.out, Contains("3 val images, batches of 2"));
  for (const char* stage : {"decode", "forward", "metrics", "whole"}) {
    const auto pos = r.out.find(std::string("  ") + stage);
    REQUIRE(pos != std::string::npos);
    CHECK(std::stod(r.out.substr(pos + 2 + std::string(stage).size())) > 0);  // images/s
  }
}

TEST_CASE("conv2d_relu equals relu(conv2d) in value and in every gradient", "[device]") {
  torch::manual_seed(4);
  const auto f64 = torch::TensorOptions().dtype(torch::kDouble);
  for (const bool channels_last : {false, true}) {
    for (const bool input_grad : {true, false}) {
      for (const std::int64_t pad : {0, 1, 3}) {
        INFO("channels_last " << channels_last << ", input grad " << input_grad << ", padding " << pad);
        const auto fmt = input_format(channels_last);
        const auto x0 = torch::randn({2, 3, 9, 7}, f64).contiguous(fmt);
        const auto w0 = torch::randn({5, 3, 3, 3}, f64).contiguous(fmt);
        const auto b0 = torch::randn({5}, f64);
        auto x = x0.clone().requires_grad_(input_grad), w = w0.clone().requires_grad_(true),
             b = b0.clone().requires_grad_(true);
        auto xr = x0.clone().requires_grad_(input_grad), wr = w0.clone().requires_grad_(true),
             br = b0.clone().requires_grad_(true);
        const auto y = conv2d_relu(x, w, b, pad);
        const auto ref = torch::relu(torch::conv2d(xr, wr, br, 1, pad));
        REQUIRE(y.sizes() == ref.sizes());
        CHECK(torch::allclose(y, ref, 1e-12, 1e-12));
        CHECK((ref == 0).any().item<bool>());  // the ReLU mask is exercised
        const auto g = torch::randn_like(ref);
        (y * g).sum().backward();
        (ref * g).sum().backward();
        CHECK(torch::allclose(w.grad(), wr.grad(), 1e-10, 1e-12));
        CHECK(torch::allclose(b.grad(), br.grad(), 1e-10, 1e-12));
        if (input_grad)
          CHECK(torch::allclose(x.grad(), xr.grad(), 1e-10, 1e-12));
        else
          CHECK_FALSE(x.grad().defined());
        CHECK(count_nodes(y, "Conv2dRelu") == 1);
        CHECK_FALSE(conv2d_relu_fuses(x));  // no cuDNN on the CPU: conv2d + relu_ inside the node
      }
    }
  }
  SECTION("under autocast it computes in autocast's dtype and returns gradients in the arguments' dtypes") {
    const auto x = torch::randn({2, 3, 8, 8});
    auto w = torch::randn({4, 3, 3, 3}).requires_grad_(true), b = torch::randn({4}).requires_grad_(true);
    auto wr = w.detach().clone().requires_grad_(true), br = b.detach().clone().requires_grad_(true);
    torch::Tensor y, ref;
    {
      AutocastScope scope(kCpu, Amp::bf16);
      y = conv2d_relu(x, w, b, 1);
      ref = torch::relu(torch::conv2d(x, wr, br, 1, 1));
    }
    CHECK(y.scalar_type() == torch::kBFloat16);
    CHECK(ref.scalar_type() == torch::kBFloat16);
    CHECK(torch::allclose(y.to(torch::kFloat32), ref.to(torch::kFloat32), 1e-2, 1e-2));
    y.to(torch::kFloat32).sum().backward();
    ref.to(torch::kFloat32).sum().backward();
    CHECK(w.grad().scalar_type() == torch::kFloat32);
    CHECK(b.grad().scalar_type() == torch::kFloat32);
    CHECK(torch::allclose(w.grad(), wr.grad(), 2e-2, 1e-1));
    CHECK(torch::allclose(b.grad(), br.grad(), 2e-2, 1e-1));
  }
}

TEST_CASE("optim.fuse_conv_relu: the FCN computes the same, with every VGG conv but fc6 fused", "[device]") {
  for (const char* layout : {"optim.channels_last=false", "optim.channels_last=true"}) {
    INFO(layout);
    // The toy preset has BatchNorm, which leaves nothing to fuse.
    const Config plain = toy_config({"model.padding=caffe", "model.batchnorm=false", layout});
    const Config fused = toy_config({"model.padding=caffe", "model.batchnorm=false", layout, "run.deterministic=false",
                                     "optim.fuse_conv_relu=true"});
    auto [a, b] = twin_models(plain, fused, 2);
    prepare_model(a, plain, kCpu);
    prepare_model(b, fused, kCpu);
    a->eval();  // no dropout: the two forward passes must see the same function
    b->eval();
    const auto x = torch::randn({2, 3, 37, 45});
    const auto ya = a->forward(images_to_device(x, kCpu, plain.optim.channels_last));
    const auto yb = b->forward(images_to_device(x, kCpu, fused.optim.channels_last));
    CHECK(count_nodes(ya, "Conv2dRelu") == 0);
    CHECK(count_nodes(yb, "Conv2dRelu") == 14);  // conv1_1 ... conv5_3 and fc7
    CHECK(torch::allclose(ya, yb, 1e-5, 1e-6));
    ya.square().sum().backward();
    yb.square().sum().backward();
    const auto ga = a->parameters(), gb = b->parameters();
    int compared = 0;
    for (std::size_t i = 0; i < ga.size(); ++i) {
      if (!ga[i].grad().defined()) continue;
      CHECK(torch::allclose(ga[i].grad(), gb[i].grad(), 1e-4, 1e-6));
      ++compared;
    }
    CHECK(compared > 30);
  }
  SECTION("with run.deterministic or with BatchNorm it fuses nothing (the key is not hashed)") {
    for (const auto& overrides : std::vector<std::vector<std::string>>{
             {"model.batchnorm=false", "run.deterministic=true", "optim.fuse_conv_relu=true"},
             {"model.batchnorm=true", "run.deterministic=false", "optim.fuse_conv_relu=true"},
             {"model.batchnorm=false", "run.deterministic=false", "optim.fuse_conv_relu=true"}}) {
      const Config cfg = toy_config(overrides);
      INFO("run.deterministic " << cfg.run.deterministic << ", model.batchnorm " << cfg.model.batchnorm);
      FCN model = twin_models(cfg, cfg, 2).first;
      prepare_model(model, cfg, kCpu);
      const auto y = model->forward(torch::randn({1, 3, 37, 45}));
      // Only the last, neither deterministic nor with BatchNorm, fuses (13 convs and fc7).
      CHECK(count_nodes(y, "Conv2dRelu") == (cfg.run.deterministic || cfg.model.batchnorm ? 0 : 14));
    }
  }
}

TEST_CASE("make_optimizer: biases at bias_lr_mult x lr and bias_decay_mult x weight decay", "[device]") {
  const Config cfg = toy_config({"optim.name=sgd", "optim.momentum=0.9", "optim.weight_decay=0.1",
                                 "optim.bias_lr_mult=2", "optim.bias_decay_mult=0"});
  FCN model = twin_models(cfg, cfg, 3).first;
  std::vector<std::string> bias_names, other_names;
  for (const auto& p : model->named_parameters())
    if (p.value().requires_grad())
      (p.key().size() >= 5 && p.key().compare(p.key().size() - 5, 5, ".bias") == 0 ? bias_names : other_names)
          .push_back(p.key());
  REQUIRE(!bias_names.empty());

  SECTION("defaults: one group of every trainable parameter, in model order") {
    const Config plain = toy_config({"optim.name=sgd"});
    const auto opt = make_optimizer(plain.optim, model);
    REQUIRE(opt->param_groups().size() == 1);
    const auto expected = trainable_parameters(model);
    const auto& got = opt->param_groups()[0].params();
    REQUIRE(got.size() == expected.size());
    for (std::size_t i = 0; i < got.size(); ++i) CHECK(got[i].is_same(expected[i]));
    set_learning_rate(*opt, plain.optim, 0.25);
    CHECK(opt->param_groups()[0].options().get_lr() == 0.25);
  }
  SECTION("SGD: the first step moves biases by 2 lr g and the rest by lr (g + decay p)") {
    const auto opt = make_optimizer(cfg.optim, model);
    REQUIRE(opt->param_groups().size() == 2);
    CHECK(opt->param_groups()[0].params().size() == other_names.size());
    CHECK(opt->param_groups()[1].params().size() == bias_names.size());
    const double lr = 0.01;
    set_learning_rate(*opt, cfg.optim, lr);
    CHECK(opt->param_groups()[0].options().get_lr() == lr);
    CHECK(opt->param_groups()[1].options().get_lr() == 2 * lr);
    std::map<std::string, std::pair<torch::Tensor, torch::Tensor>> before;  // name -> (value, grad)
    torch::manual_seed(11);
    for (auto& p : model->named_parameters()) {
      if (!p.value().requires_grad()) continue;
      p.value().mutable_grad() = torch::randn_like(p.value());
      before[p.key()] = {p.value().detach().clone(), p.value().grad().clone()};
    }
    opt->step();
    const auto now = model->named_parameters();
    for (const auto& name : bias_names) {
      INFO(name);
      const auto& [p0, g] = before.at(name);
      CHECK(torch::allclose(now[name], p0 - 2 * lr * g, 1e-6, 1e-7));
    }
    for (const auto& name : other_names) {
      INFO(name);
      const auto& [p0, g] = before.at(name);
      CHECK(torch::allclose(now[name], p0 - lr * (g + 0.1 * p0), 1e-6, 1e-7));
    }
  }
  SECTION("Adam: the bias group carries its own learning rate and decay") {
    const Config adam = toy_config(
        {"optim.name=adam", "optim.weight_decay=0.1", "optim.bias_lr_mult=0.5", "optim.bias_decay_mult=0.25"});
    const auto opt = make_optimizer(adam.optim, model);
    REQUIRE(opt->param_groups().size() == 2);
    set_learning_rate(*opt, adam.optim, 0.004);
    const auto& rest = static_cast<const torch::optim::AdamOptions&>(opt->param_groups()[0].options());
    const auto& bias = static_cast<const torch::optim::AdamOptions&>(opt->param_groups()[1].options());
    CHECK(rest.lr() == 0.004);
    CHECK(bias.lr() == 0.002);
    CHECK(rest.weight_decay() == 0.1);
    CHECK(bias.weight_decay() == Approx(0.025));
  }
  SECTION("an optimiser of another grouping is refused") {
    const Config plain = toy_config({"optim.name=sgd"});
    const auto one_group = make_optimizer(plain.optim, model);
    CHECK_THROWS_AS(set_learning_rate(*one_group, cfg.optim, 0.1), ConfigError);
  }
}

TEST_CASE("ForeachSGD: bit-identical to torch::optim::SGD, and their checkpoints load into each other", "[device]") {
  using torch::optim::SGDOptions;
  struct Case {
    const char* name;
    SGDOptions options;
  };
  const std::vector<Case> cases{
      {"momentum + weight decay", SGDOptions(0.1).momentum(0.9).weight_decay(5e-4)},
      {"plain", SGDOptions(0.05)},
      {"nesterov", SGDOptions(0.1).momentum(0.9).nesterov(true).weight_decay(1e-3)},
      {"dampening", SGDOptions(0.1).momentum(0.8).dampening(0.25)},
  };
  // Parameters of the shapes an FCN has (a channels-last conv weight, a bias, a 1x1 weight), and one
  // that gets no gradient (skipped by both, as a frozen or unused parameter is).
  auto make_params = [] {
    torch::manual_seed(7);
    return std::vector<torch::Tensor>{
        torch::randn({8, 3, 3, 3}).contiguous(c10::MemoryFormat::ChannelsLast).requires_grad_(true),
        torch::randn({8}).requires_grad_(true), torch::randn({4, 8, 1, 1}).requires_grad_(true),
        torch::randn({5}).requires_grad_(true)};
  };
  auto set_grads = [](std::vector<torch::Tensor>& ps, int step) {
    torch::manual_seed(100 + step);
    for (std::size_t i = 0; i + 1 < ps.size(); ++i) ps[i].mutable_grad() = torch::randn_like(ps[i]);
  };
  auto all_equal = [](const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b) {
    for (std::size_t i = 0; i < a.size(); ++i)
      if (!torch::equal(a[i], b[i])) return false;
    return true;
  };
  for (const auto& c : cases) {
    INFO(c.name);
    auto pa = make_params(), pb = make_params();
    const auto frozen = pa.back().detach().clone();
    ForeachSGD a(pa, c.options);
    torch::optim::SGD b(pb, c.options);
    for (int step = 0; step < 4; ++step) {
      if (step == 2)  // a schedule changes the learning rate between steps
        for (auto* opt : std::vector<torch::optim::Optimizer*>{&a, &b})
          for (auto& g : opt->param_groups()) g.options().set_lr(0.02);
      set_grads(pa, step);
      set_grads(pb, step);
      a.step();
      b.step();
      CHECK(all_equal(pa, pb));
    }
    CHECK_FALSE(torch::equal(pa[0], make_params()[0]));  // the parameters did move
    CHECK(torch::equal(pa.back(), frozen));              // the one without a gradient did not
    CHECK(pa[0].is_contiguous(c10::MemoryFormat::ChannelsLast));

    // Checkpoints: each class continues from the other's saved state exactly as the other would.
    torch::serialize::OutputArchive sa, sb;
    a.save(sa);
    b.save(sb);
    std::stringstream fa, fb;
    sa.save_to(fa);
    sb.save_to(fb);
    auto qa = make_params(), qb = make_params();
    {
      torch::NoGradGuard no_grad;
      for (std::size_t i = 0; i < qa.size(); ++i) {
        qa[i].copy_(pa[i]);
        qb[i].copy_(pb[i]);
      }
    }
    torch::optim::SGD b_from_a(qa, c.options);
    ForeachSGD a_from_b(qb, c.options);
    torch::serialize::InputArchive la, lb;
    la.load_from(fa);
    lb.load_from(fb);
    b_from_a.load(la);
    a_from_b.load(lb);
    // The learning rate comes from the schedule, which the trainer sets before every step.
    for (auto* opt : std::vector<torch::optim::Optimizer*>{&b_from_a, &a_from_b})
      for (auto& g : opt->param_groups()) g.options().set_lr(0.02);
    for (auto* ps : {&pa, &pb, &qa, &qb}) set_grads(*ps, 9);
    a.step();
    b_from_a.step();
    a_from_b.step();
    CHECK(all_equal(qa, pa));
    CHECK(all_equal(qb, pa));
    if (c.options.momentum() != 0) {
      // Not vacuous: without its momentum buffers the continued run differs.
      auto fresh = make_params();
      {
        torch::NoGradGuard no_grad;
        for (std::size_t i = 0; i < fresh.size(); ++i) fresh[i].copy_(pb[i]);
      }
      ForeachSGD no_state(fresh, c.options);
      for (auto& g : no_state.param_groups()) g.options().set_lr(0.02);
      set_grads(fresh, 9);
      no_state.step();
      CHECK_FALSE(all_equal(fresh, pa));
    }
  }
}
