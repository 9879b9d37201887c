// Tests of src/config: layering, base chains, every error kind, canonical round trip, hashing.
#include <toml++/toml.h>
#include <catch2/catch.hpp>

#include "config/loader.h"
#include "core/error.h"
#include "core/text.h"
#include "helpers.h"

using namespace fcnlab;
using Catch::Matchers::Contains;
using fcnlab::test::TempDir;
using fcnlab::test::write_file;

namespace {
std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const ConfigError& e) {
    return e.what();
  }
  FAIL("expected a ConfigError");
  return {};
}
}  // namespace

TEST_CASE("struct defaults mirror configs/default.toml", "[config]") {
  const Config loaded = load_config({}, {});
  CHECK(to_canonical_toml(loaded) == to_canonical_toml(Config{}));
  CHECK(loaded == Config{});
}

TEST_CASE("layering: defaults <- files in order <- overrides", "[config]") {
  TempDir dir;
  write_file(dir / "a.toml", "[model]\nskip = 16\nfusion = \"concat\"\n[optim]\nlr = 0.5\n");
  write_file(dir / "b.toml", "[model]\nskip = 32\n");
  const Config c = load_config({dir / "a.toml", dir / "b.toml"}, {"optim.lr=0.25", "run.name=bare-word"});
  CHECK(c.model.skip == Skip::s32);              // b overrides a
  CHECK(c.model.fusion == Fusion::concat);       // a's value survives b
  CHECK(c.optim.lr == 0.25);                     // override beats files
  CHECK(c.run.name == "bare-word");              // bare words are strings
  CHECK(c.model.upsample == Upsample::learned);  // default untouched
}

TEST_CASE("override values use TOML syntax", "[config]") {
  const Config c =
      load_config({}, {"data.scale=[0.5,2.0]", "run.name=\"quoted\"", "loss.name=ce+dice", "model.batchnorm=true",
                       "optim.iterations=7", "run.device=cuda:1", "loss.class_weights=median_freq"});
  CHECK(c.data.scale == std::vector<double>{0.5, 2.0});
  CHECK(c.run.name == "quoted");
  CHECK(c.loss.name == LossName::ce_dice);
  CHECK(c.model.batchnorm);
  CHECK(c.optim.iterations == 7);
  CHECK(c.run.device == Device{DeviceKind::cuda, 1});
  CHECK(c.loss.class_weighting == ClassWeighting::median_freq);
  const Config w = load_config({}, {"data.num_classes=3", "loss.class_weights=[1, 2.5, 0.5]"});
  CHECK(w.loss.class_weighting == ClassWeighting::given);
  CHECK(w.loss.class_weights == std::vector<double>{1.0, 2.5, 0.5});
}

TEST_CASE("base chains resolve relative to the file and apply before it", "[config]") {
  TempDir dir;
  write_file(dir / "sub/root.toml", "[model]\nskip = 16\nfusion = \"max\"\n");
  write_file(dir / "sub/mid.toml", "base = \"root.toml\"\n[model]\nskip = 4\n");
  write_file(dir / "top.toml", "base = \"sub/mid.toml\"\n[model]\nupsample = \"bilinear\"\n");
  const Config c = load_config({dir / "top.toml"}, {});
  CHECK(c.model.skip == Skip::s4);
  CHECK(c.model.fusion == Fusion::max);
  CHECK(c.model.upsample == Upsample::bilinear);
}

TEST_CASE("a base cycle is an error naming the chain", "[config]") {
  TempDir dir;
  write_file(dir / "a.toml", "base = \"b.toml\"\n");
  write_file(dir / "b.toml", "base = \"a.toml\"\n");
  const auto msg = error_of([&] { load_config({dir / "a.toml"}, {}); });
  CHECK_THAT(msg, Contains("base cycle") && Contains("a.toml") && Contains("b.toml"));
  write_file(dir / "c.toml", "# comment\nbase = \"missing.toml\"\n");
  CHECK_THAT(error_of([&] { load_config({dir / "c.toml"}, {}); }),
             Contains("c.toml:2: base = \"missing.toml\": config file not found: " + (dir / "missing.toml").string()));
}

TEST_CASE("unknown keys and sections name file, line and the nearest key", "[config]") {
  TempDir dir;
  write_file(dir / "x.toml", "[model]\nskip = 8\nskp = 16\n");
  auto msg = error_of([&] { load_config({dir / "x.toml"}, {}); });
  CHECK_THAT(msg, Contains("x.toml:3") && Contains("unknown key 'model.skp'") && Contains("did you mean model.skip?"));

  write_file(dir / "y.toml", "[modle]\nskip = 8\n");
  msg = error_of([&] { load_config({dir / "y.toml"}, {}); });
  CHECK_THAT(msg, Contains("y.toml") && Contains("unknown section 'modle'") && Contains("did you mean model?"));

  msg = error_of([] { load_config({}, {"optim.lrr=0.1"}); });
  CHECK_THAT(msg, Contains("override 'optim.lrr=0.1'") && Contains("did you mean optim.lr?"));

  msg = error_of([] { load_config({}, {"seed=3"}); });
  CHECK_THAT(msg, Contains("unknown key 'seed'") && Contains("did you mean run.seed?"));
}

TEST_CASE("wrong types name key, origin and expectation", "[config]") {
  TempDir dir;
  write_file(dir / "t.toml", "[optim]\n\nbatch_size = \"eight\"\n");
  auto msg = error_of([&] { load_config({dir / "t.toml"}, {}); });
  CHECK_THAT(msg, Contains("t.toml:3") && Contains("optim.batch_size") && Contains("expected an integer"));

  msg = error_of([] { load_config({}, {"model.width=wide"}); });
  CHECK_THAT(msg, Contains("override 'model.width=wide'") && Contains("expected a number"));

  msg = error_of([] { load_config({}, {"model.batchnorm=1"}); });
  CHECK_THAT(msg, Contains("model.batchnorm") && Contains("expected true or false"));

  msg = error_of([] { load_config({}, {"data.scale=[0.5, \"x\"]"}); });
  CHECK_THAT(msg, Contains("data.scale") && Contains("array of numbers"));

  msg = error_of([] { load_config({}, {"model.skip=8.0"}); });
  CHECK_THAT(msg, Contains("model.skip") && Contains("32 | 16 | 8 | 4"));
}

TEST_CASE("enum values outside the allowed set list the allowed values", "[config]") {
  auto msg = error_of([] { load_config({}, {"model.fusion=avg"}); });
  CHECK_THAT(msg, Contains("model.fusion") && Contains("\"avg\"") && Contains("sum | concat | max"));
  msg = error_of([] { load_config({}, {"model.skip=12"}); });
  CHECK_THAT(msg, Contains("32 | 16 | 8 | 4"));
  msg = error_of([] { load_config({}, {"loss.name=hinge"}); });
  CHECK_THAT(msg, Contains("ce | wce | dice | lovasz | focal | boundary_ce | ce+dice | ce+lovasz"));
  msg = error_of([] { load_config({}, {"run.device=tpu"}); });
  CHECK_THAT(msg, Contains("auto | cpu | cuda | cuda:N"));
  msg = error_of([] { load_config({}, {"loss.class_weights=inverse"}); });
  CHECK_THAT(msg, Contains("median_freq"));
}

TEST_CASE("out-of-range values are rejected with the requirement", "[config]") {
  CHECK_THAT(error_of([] { load_config({}, {"optim.lr=0"}); }), Contains("optim.lr = 0.0") && Contains("must be > 0"));
  CHECK_THAT(error_of([] { load_config({}, {"optim.lr=-1e-3"}); }), Contains("optim.lr"));
  CHECK_THAT(error_of([] {
               load_config({}, {"optim.batch_size=0", "data.crop=64"});
             }),
             Contains("optim.batch_size") && Contains(">= 1"));
  CHECK_THAT(error_of([] { load_config({}, {"model.width=0"}); }), Contains("model.width"));
  CHECK_THAT(error_of([] { load_config({}, {"data.scale=[2.0, 1.0]"}); }), Contains("lo <= hi"));
  CHECK_THAT(error_of([] { load_config({}, {"optim.batch_size=4"}); }),
             Contains("data.crop") && Contains("batch_size = 1"));
  CHECK_THAT(error_of([] { load_config({}, {"loss.class_weights=[1.0, 2.0]"}); }),
             Contains("loss.class_weights") && Contains("21 entries"));
  CHECK_THAT(error_of([] { load_config({}, {"eval.trimap_widths=[4, 2]"}); }), Contains("ascending"));
  // A Dice or Lovasz term has no per-pixel sum: with reduction = "sum" it would vanish beside the CE.
  const auto src = fcnlab::test::source_dir();
  for (const char* name : {"dice", "lovasz", "ce+dice", "ce+lovasz"})
    CHECK_THAT(error_of([&] { load_config({src / "configs/fcn8s.toml"}, {std::string("loss.name=") + name}); }),
               Contains("fcn8s.toml:") && Contains("loss.reduction = \"sum\": needs a per-pixel loss") &&
                   Contains(std::string("loss.name = \"") + name + "\""));
  for (const char* name : {"ce", "wce", "focal", "boundary_ce"})
    CHECK_NOTHROW(load_config({src / "configs/fcn8s.toml"},
                              {std::string("loss.name=") + name, "loss.class_weights=median_freq"}));
  CHECK_NOTHROW(load_config({src / "configs/fcn8s.toml"}, {"loss.name=ce+dice", "loss.reduction=mean"}));
  // Checks that a run would otherwise make only when it starts (the model and the loss refuse these).
  CHECK_THAT(error_of([] { load_config({}, {"loss.name=wce"}); }),
             Contains("loss.class_weights = \"none\"") && Contains("wce") && Contains("median_freq"));
  CHECK_THAT(error_of([] {
               load_config({}, {"model.pretrained=vgg16.h5", "model.batchnorm=true"});
             }),
             Contains("model.pretrained") && Contains("model.batchnorm = false"));
  // Values that become file names: nothing that leaves the results dir.
  for (const char* bad :
       {"run.name=\"../../../x\"", "run.name=a/b", "run.name=..", "run.experiment=..", "run.experiment=\"../x\""}) {
    INFO(bad);
    const auto key = std::string(bad).substr(0, std::string(bad).find('='));
    CHECK_THAT(error_of([&] { load_config({}, {bad}); }), Contains(key) && Contains("without '/'"));
  }
  CHECK_NOTHROW(load_config({}, {"run.name=my-run_2", "run.experiment=exp.v2"}));
  CHECK_THAT(error_of([] { load_config({}, {"eval.trimap_widths=[1, 4294967298]"}); }),
             Contains("eval.trimap_widths") && Contains("integer 4294967298 out of range"));
  TempDir dir;
  write_file(dir / "r.toml", "[data]\nnum_classes = 300\n");
  CHECK_THAT(error_of([&] { load_config({dir / "r.toml"}, {}); }), Contains("r.toml:2") && Contains("[2, 255]"));
}

TEST_CASE("file-level errors: missing file, syntax error, malformed override", "[config]") {
  CHECK_THAT(error_of([] { load_config({"/nonexistent/cfg.toml"}, {}); }),
             Contains("config file not found: /nonexistent/cfg.toml"));
  TempDir dir;
  write_file(dir / "bad.toml", "[model]\nskip = = 8\n");
  CHECK_THAT(error_of([&] { load_config({dir / "bad.toml"}, {}); }), Contains("bad.toml:2") && Contains("syntax"));
  CHECK_THAT(error_of([] { load_config({}, {"justaword"}); }), Contains("expected key=value"));
  write_file(dir / "sec.toml", "model = 3\n");
  CHECK_THAT(error_of([&] { load_config({dir / "sec.toml"}, {}); }), Contains("must be a table"));
  CHECK(ConfigError("x").exit_code() == 2);
}

TEST_CASE("canonical TOML parses back to an equal config with the same hash", "[config]") {
  const Config c = load_config(
      {}, {"model.skip=16", "loss.name=ce+lovasz", "data.scale=[0.5,1.5]", "optim.lr=0.0123", "run.device=cuda:2",
           "data.num_classes=3", "loss.class_weights=[0.1, 1, 3.25]", "data.crop=321", "optim.batch_size=2"});
  const std::string text = to_canonical_toml(c);
  const Config back = ConfigBuilder().add_text(text, "canonical").build();
  CHECK(back == c);
  CHECK(to_canonical_toml(back) == text);
  CHECK(config_hash(back) == config_hash(c));
  // Sorted sections and keys.
  CHECK(text.find("[checkpoint]") < text.find("[data]"));
  CHECK(text.find("[data]") < text.find("[eval]"));
  CHECK(text.find("crop =") < text.find("hflip ="));
}

TEST_CASE("the hash of a fixed config is pinned", "[config]") {
  // If this changes, the canonical form changed and every existing run id with it: that needs a
  // deliberate decision (and a schema note), not a silent update of this number.
  CHECK(config_hash_hex(Config{}) == "e201f218d2d435ec");
  CHECK(config_hash_hex(load_config({}, {"model.skip=32", "loss.name=dice"})) == "a604a66bf98e973f");
}

TEST_CASE("the hash ignores outputs and workers, and follows every result-affecting key", "[config]") {
  const Config base{};
  const auto h = config_hash(base);
  for (const char* o :
       {"run.results_dir=elsewhere", "run.experiment=exp2", "data.workers=7", "run.threads=3", "run.log_level=debug",
        "run.name=label", "checkpoint.every=5", "checkpoint.keep=9", "optim.fuse_conv_relu=true"}) {
    INFO(o);
    CHECK(config_hash(load_config({}, {o})) == h);
  }
  for (const char* o :
       {"model.skip=16", "model.fusion=concat", "model.upsample=bilinear", "model.padding=same", "model.width=0.5",
        "model.batchnorm=true", "model.score_scaling=true", "loss.name=dice", "loss.aux_weight=0.5", "optim.lr=0.001",
        "optim.momentum=0.99", "optim.iterations=10", "optim.schedule=poly", "run.seed=1", "data.root=other",
        "eval.bf_tolerance=0.01", "optim.bias_lr_mult=2", "optim.bias_decay_mult=0"}) {
    INFO(o);
    CHECK(config_hash(load_config({}, {o})) != h);
  }
}

TEST_CASE("keys added after run ids existed are hashed only away from their defaults", "[config]") {
  // Spelling out a default keeps the id a config had before the key existed; any other value is a
  // different run, and each value its own id.
  const auto h = config_hash(Config{});
  CHECK(config_hash(load_config({}, {"optim.bias_lr_mult=1.0", "optim.bias_decay_mult=1.0"})) == h);
  const auto lr2 = config_hash(load_config({}, {"optim.bias_lr_mult=2"}));
  const auto lr3 = config_hash(load_config({}, {"optim.bias_lr_mult=3"}));
  const auto decay0 = config_hash(load_config({}, {"optim.bias_decay_mult=0"}));
  const auto both = config_hash(load_config({}, {"optim.bias_lr_mult=2", "optim.bias_decay_mult=0"}));
  CHECK(lr2 != lr3);
  CHECK(lr2 != decay0);
  CHECK(both != lr2);
  CHECK(both != decay0);
  // The resolved config saved beside a run lists them either way.
  CHECK_THAT(to_canonical_toml(Config{}), Contains("bias_lr_mult = 1.0") && Contains("bias_decay_mult = 1.0"));
  CHECK_THAT(error_of([] { load_config({}, {"optim.bias_lr_mult=-1"}); }),
             Contains("optim.bias_lr_mult") && Contains("must be >= 0"));
  CHECK_THAT(error_of([] { load_config({}, {"optim.bias_decay_mult=-0.5"}); }),
             Contains("optim.bias_decay_mult") && Contains("must be >= 0"));
}

TEST_CASE("diff_from_default lists only changed keys", "[config]") {
  CHECK(diff_from_default(Config{}).empty());
  const auto d = diff_from_default(load_config({}, {"model.skip=16", "optim.lr=0.5"}));
  CHECK_THAT(d, Contains("[model]") && Contains("skip = 16") && Contains("[optim]") && Contains("lr = 0.5"));
  CHECK(d.find("[loss]") == std::string::npos);
  CHECK(d.find("fusion") == std::string::npos);
}

TEST_CASE("every preset loads", "[config]") {
  for (const char* name : {"fcn32s.toml", "fcn16s.toml", "fcn8s.toml", "toy.toml"}) {
    INFO(name);
    const Config c = load_config({fcnlab::test::source_dir() / "configs" / name}, {});
    CHECK(config_hash(c) != config_hash(Config{}));
  }
  CHECK(load_config({fcnlab::test::source_dir() / "configs/fcn32s.toml"}, {}).model.skip == Skip::s32);
  CHECK(load_config({fcnlab::test::source_dir() / "configs/toy.toml"}, {}).model.padding == Padding::same);
  // The paper presets train biases as Caffe's FCN nets do (lr_mult 2, decay_mult 0).
  for (const char* name : {"fcn32s.toml", "fcn16s.toml", "fcn8s.toml"}) {
    INFO(name);
    const Config c = load_config({fcnlab::test::source_dir() / "configs" / name}, {});
    CHECK(c.optim.bias_lr_mult == 2.0);
    CHECK(c.optim.bias_decay_mult == 0.0);
  }
  // Iterations as the reference solvers' solve.py loops: voc-fcn32s 25 x 4000; voc-fcn8s-atonce
  // 75 x 4000, which the at-once FCN-16s follows too.
  const auto iterations = [](const char* name) {
    return load_config({fcnlab::test::source_dir() / "configs" / name}, {}).optim.iterations;
  };
  CHECK(iterations("fcn32s.toml") == 100000);
  CHECK(iterations("fcn16s.toml") == 300000);
  CHECK(iterations("fcn8s.toml") == 300000);
}

TEST_CASE("string values with quotes, backslashes and control characters survive the canonical TOML", "[config]") {
  CHECK(quoted_string("a\"b\\c\nd\te\rf") == "\"a\\\"b\\\\c\\nd\\te\\rf\"");
  CHECK(quoted_string(std::string("x\x01y\x7Fz")) == "\"x\\u0001y\\u007Fz\"");
  const std::string name = std::string("we\"ird\\ na\tme\x01\x7F");
  Config c = load_config({}, {});
  c.run.name = name;
  const std::string text = to_canonical_toml(c);
  const toml::table t = toml::parse(text);
  CHECK(t["run"]["name"].value<std::string>() == name);
}
