// Tests of src/train and the train/show/rerun/eval commands: schedules, run ids, the toy
// end-to-end learning test, bitwise resume, divergence, reruns.
#include <H5Cpp.h>
#include "catch_torch.h"

#include <cmath>

#include "config/loader.h"
#include "core/host.h"
#include "data/check.h"
#include "data/voc.h"
#include "helpers.h"
#include "model/fcn.h"
#include "results/run_file.h"
#include "train/evaluate.h"
#include "train/run_paths.h"
#include "train/schedule.h"
#include "train/trainer.h"

using namespace fcnlab;
using Catch::Matchers::Contains;
using fcnlab::test::run_fcnlab;
using fcnlab::test::TempDir;

TEST_CASE("learning-rate schedules", "[train]") {
  OptimConfig o;
  o.lr = 0.1;
  o.schedule = Schedule::fixed;
  CHECK(learning_rate(o, 0, 100) == 0.1);
  CHECK(learning_rate(o, 99, 100) == 0.1);
  o.schedule = Schedule::poly;
  o.poly_power = 1.0;
  CHECK(learning_rate(o, 0, 100) == Approx(0.1));
  CHECK(learning_rate(o, 50, 100) == Approx(0.05));
  o.poly_power = 0.9;
  CHECK(learning_rate(o, 50, 100) == Approx(0.1 * std::pow(0.5, 0.9)));
  o.schedule = Schedule::step;
  o.step_every = 10;
  o.step_gamma = 0.5;
  CHECK(learning_rate(o, 9, 100) == Approx(0.1));
  CHECK(learning_rate(o, 10, 100) == Approx(0.05));
  CHECK(learning_rate(o, 25, 100) == Approx(0.025));
  o.schedule = Schedule::fixed;
  o.warmup = 4;
  CHECK(learning_rate(o, 0, 100) == Approx(0.025));
  CHECK(learning_rate(o, 3, 100) == Approx(0.1));
  CHECK(learning_rate(o, 4, 100) == Approx(0.1));
}

TEST_CASE("run ids name the axes and end with the config hash", "[train]") {
  const Config c = load_config({}, {"model.skip=16", "model.fusion=concat", "loss.name=ce+dice", "run.seed=3"});
  const std::string id = make_run_id(c);
  CHECK(id == "fcn16s-concat-learned-caffe-ce_dice-seed3-" + config_hash_hex(c));
  const Config named =
      load_config({}, {"model.skip=16", "model.fusion=concat", "loss.name=ce+dice", "run.seed=3", "run.name=mine"});
  CHECK(make_run_id(named) == "mine-" + id);
  const auto p = run_paths(load_config({}, {"run.results_dir=/r", "run.experiment=e"}), "reruns");
  CHECK(p.result_file.parent_path() == std::filesystem::path("/r/e/reruns"));
  CHECK(p.work_dir == std::filesystem::path("/r/e/reruns/.work") / p.run_id);
  // The paths carry the hash their run id ends with, so nobody computes it again.
  const auto q = run_paths(c);
  CHECK(q.run_id == id);
  CHECK(q.config_hash == config_hash_hex(c));
}

namespace {

// A small toy set shared by the tests of this file (generated once per process).
const std::filesystem::path& toy_root() {
  static TempDir dir;
  static const std::filesystem::path root = [] {
    const auto r = run_fcnlab("make-toy --out " + (dir / "toy").string() + " --train 48 --val 12");
    REQUIRE(r.exit_code == 0);
    return dir / "toy";
  }();
  return root;
}

// One intra-op thread: ctest runs two tests at a time on the 2-core CI machine, and two 2-thread
// trainings side by side spin in OpenMP's busy-wait (several times slower than 1 thread each).
std::string toy_args(const TempDir& results, const std::string& extra) {
  return "--config " + (fcnlab::test::source_dir() / "configs/toy.toml").string() +
         " data.root=" + toy_root().string() + " run.results_dir=" + results.path().string() + " run.threads=1 " +
         extra;
}

std::filesystem::path only_h5(const std::filesystem::path& dir) {
  std::filesystem::path found;
  int n = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    if (e.path().extension() == ".h5") {
      found = e.path();
      ++n;
    }
  REQUIRE(n == 1);
  return found;
}

// Two runs that must be equal bit for bit: the same loss at every step and the same final confusion.
void check_same_losses_and_confusion(const RunFileReader& a, const RunFileReader& b) {
  CHECK(a.final()->confusion == b.final()->confusion);
  const auto ta = a.train(), tb = b.train();
  REQUIRE(ta.size() == tb.size());
  for (std::size_t i = 0; i < ta.size(); ++i) CHECK(ta[i].loss == tb[i].loss);
}

// Run-file surgery for the rerun tests: a root string attribute, a /final scalar.
void set_root_string(const std::filesystem::path& file, const std::string& name, const std::string& value) {
  H5::H5File f(file.string(), H5F_ACC_RDWR);
  const H5::StrType type(H5::PredType::C_S1, H5T_VARIABLE);
  if (f.attrExists(name)) f.removeAttr(name);
  f.createAttribute(name, type, H5::DataSpace(H5S_SCALAR)).write(type, value);
}
std::string root_string(const std::filesystem::path& file, const std::string& name) {
  H5::H5File f(file.string(), H5F_ACC_RDONLY);
  std::string value;
  const auto attr = f.openAttribute(name);
  attr.read(attr.getStrType(), value);
  return value;
}
void set_final_scalar(const std::filesystem::path& file, const std::string& name, double value) {
  H5::H5File f(file.string(), H5F_ACC_RDWR);
  f.openGroup("final").openAttribute(name).write(H5::PredType::NATIVE_DOUBLE, &value);
}
// A copy of `file` whose recorded config has `from` replaced by `to` (and whose seed attribute is
// `seed`), with mean_iou `mean_iou`: another seed of its configuration, or another configuration.
void write_variant(const std::filesystem::path& file, const std::filesystem::path& copy, const std::string& from,
                   const std::string& to, std::int64_t seed, double mean_iou) {
  std::filesystem::copy_file(file, copy, std::filesystem::copy_options::overwrite_existing);
  std::string toml = root_string(copy, "config_toml");
  const auto pos = toml.find(from);
  REQUIRE(pos != std::string::npos);
  toml.replace(pos, from.size(), to);
  set_root_string(copy, "config_toml", toml);
  {
    H5::H5File f(copy.string(), H5F_ACC_RDWR);
    f.openAttribute("seed").write(H5::PredType::NATIVE_INT64, &seed);
  }
  set_final_scalar(copy, "mean_iou", mean_iou);
}

}  // namespace

TEST_CASE("the start-up data check gathers the class statistics of the training labels", "[train]") {
  const Config cfg = fcnlab::test::toy_config({"data.root=" + toy_root().string()});
  const DataCheckReport rep = check_dataset_quick(cfg.data);
  // The same statistics from every decoded training label (the computation alone is tested in test_loss).
  ClassPixelStats expected(cfg.data.num_classes);
  const auto train = VocSegmentation::from_config(cfg.data, Split::train);
  for (std::size_t i = 0; i < train->size(); ++i) {
    const Sample sample = train->get(i);
    expected.add(sample.label.pixels.data(), sample.label.pixels.size());
  }
  CHECK(rep.train_classes.pixel_counts == expected.pixel_counts);
  CHECK(rep.train_classes.image_pixel_totals == expected.image_pixel_totals);
  // The val labels are checked too but are not training labels.
  std::uint64_t all = 0;
  for (const auto n : rep.class_pixels) all += n;
  std::int64_t train_only = 0;
  for (const auto n : expected.pixel_counts) train_only += n;
  CHECK(static_cast<std::uint64_t>(train_only) < all);
}

TEST_CASE("the toy preset learns: val mean IoU clearly beats the majority class", "[train][e2e]") {
  TempDir results;
  const auto r = run_fcnlab("train " + toy_args(results, "optim.iterations=150 eval.every=75"));
  INFO(r.out);
  REQUIRE(r.exit_code == 0);
  const auto file = only_h5(results / "adhoc");
  const RunFileReader reader(file);
  CHECK(reader.info().status == RunStatus::finished);
  const auto final = reader.final();
  REQUIRE(final.has_value());
  // Predicting background everywhere gives IoU ~0.76 for background and 0 for the 6 present
  // object classes: a mean IoU of about 0.11. Learning must clearly beat that.
  CHECK(final->scalar("mean_iou").value() > 0.35);
  CHECK(reader.val().size() == 2);  // at 75 and at the end
  CHECK(reader.train().size() == 150);
  REQUIRE(reader.examples().has_value());
  CHECK(reader.examples()->count == 4);
  // Schema 4: the val images in the order scored (the split list's), and this machine's CPU.
  const auto val_ids = read_split_list(toy_root() / "ImageSets/Segmentation/val.txt");
  CHECK(final->image_ids == val_ids);
  CHECK(std::vector<std::string>(val_ids.begin(), val_ids.begin() + 4) == reader.examples()->ids);
  CHECK(reader.info().cpu_model == cpu_model());
  CHECK(reader.info().gpu_model.empty());
  // show reads it.
  const auto show = run_fcnlab("show " + file.string());
  CHECK(show.exit_code == 0);
  CHECK_THAT(show.out, Contains("status     finished") && Contains("mean_iou"));
  CHECK_THAT(show.out,
             Contains("processor  cpu " + (cpu_model().empty() ? "(unknown)" : cpu_model()) + "; gpu (none)") &&
                 Contains("image ids  12 (" + val_ids.front() + " ... " + val_ids.back() + ")"));
  // A second identical command does not train again.
  const auto again = run_fcnlab("train " + toy_args(results, "optim.iterations=150 eval.every=75"));
  CHECK(again.exit_code == 0);
  CHECK_THAT(again.out, Contains("already ended"));
  // As `fcnlab sweep` starts it: a distinct status for "someone else ended it".
  const auto told =
      run_fcnlab("train " + toy_args(results, "optim.iterations=150 eval.every=75") + " --already-ended-code 3");
  CHECK(told.exit_code == 3);
  CHECK_THAT(told.out, Contains("already ended"));
  CHECK(run_fcnlab("train " + toy_args(results, "") + " --already-ended-code 300").exit_code == 2);
}

TEST_CASE("a fuse_conv_relu that fuses nothing says so once in the log", "[train][e2e]") {
  TempDir deterministic, bn;
  const std::string common = "optim.iterations=2 eval.every=0 optim.fuse_conv_relu=true";
  const auto d = run_fcnlab("train " + toy_args(deterministic, common));  // toy.toml: deterministic, BatchNorm
  CHECK(d.exit_code == 0);
  CHECK_THAT(d.out, Contains("optim.fuse_conv_relu is off for this run: run.deterministic = true"));
  const auto b = run_fcnlab("train " + toy_args(bn, common + " run.deterministic=false"));
  CHECK(b.exit_code == 0);
  CHECK_THAT(b.out, Contains("optim.fuse_conv_relu fuses nothing here: model.batchnorm"));
}

TEST_CASE("resume after a stop equals an uninterrupted run, bit for bit", "[train][e2e]") {
  TempDir straight, resumed;
  const std::string common = "optim.iterations=16 eval.every=8 checkpoint.every=0 model.dropout=0.5";
  REQUIRE(run_fcnlab("train " + toy_args(straight, common)).exit_code == 0);
  const auto stopped = run_fcnlab("train " + toy_args(resumed, common) + " --stop-after 6");
  CHECK(stopped.exit_code == 1);
  CHECK_THAT(stopped.out, Contains("stopped at iteration 6/16"));
  CHECK_FALSE(std::filesystem::exists(resumed / "adhoc" / "x.h5"));
  const auto second = run_fcnlab("train " + toy_args(resumed, common));
  INFO(second.out);
  REQUIRE(second.exit_code == 0);
  CHECK_THAT(second.out, Contains("resuming from checkpoint"));

  const RunFileReader a(only_h5(straight / "adhoc")), b(only_h5(resumed / "adhoc"));
  check_same_losses_and_confusion(a, b);
  CHECK(a.final()->scalars == b.final()->scalars);
  // Final weights identical.
  const Config cfg = fcnlab::test::toy_config();
  FCN ma = make_fcn(cfg.model, cfg.data.num_classes), mb = make_fcn(cfg.model, cfg.data.num_classes);
  torch::load(ma, (straight / "adhoc/.work" / a.info().run_id / "model-final.pt").string());
  torch::load(mb, (resumed / "adhoc/.work" / b.info().run_id / "model-final.pt").string());
  const auto pa = ma->named_parameters(), pb = mb->named_parameters();
  REQUIRE(pa.size() == pb.size());
  for (const auto& item : pa) CHECK(torch::equal(item.value(), pb[item.key()]));
  const auto ba = ma->named_buffers(), bb = mb->named_buffers();
  for (const auto& item : ba) CHECK(torch::equal(item.value(), bb[item.key()]));
}

TEST_CASE("a resume with run.threads = 0 runs on the checkpoint's thread count, bit for bit", "[train][e2e]") {
  // As after a requeue onto a machine with more cores: stopped on 1 thread, resumed on "all cores" (2 here).
  TempDir straight, resumed;
  const std::string common = "optim.iterations=12 eval.every=0 checkpoint.every=0";
  REQUIRE(run_fcnlab("train " + toy_args(straight, common)).exit_code == 0);
  REQUIRE(run_fcnlab("train " + toy_args(resumed, common) + " --stop-after 6").exit_code == 1);
  const auto second = run_fcnlab("train " + toy_args(resumed, common + " run.threads=0"));
  INFO(second.out);
  REQUIRE(second.exit_code == 0);
  CHECK_THAT(second.out, Contains("resuming on the checkpoint's 1 threads"));
  const RunFileReader a(only_h5(straight / "adhoc")), b(only_h5(resumed / "adhoc"));
  CHECK(b.info().device == "cpu (1 threads)");
  check_same_losses_and_confusion(a, b);
}

TEST_CASE("with Caffe's bias multipliers a resumed run still equals a straight one, and both differ from the default",
          "[train][e2e]") {
  // Two parameter groups (the rest, the biases), momentum buffers in both, through a checkpoint.
  TempDir straight, resumed, plain;
  const std::string common = "optim.iterations=12 eval.every=0 checkpoint.every=0";
  const std::string biases = " optim.bias_lr_mult=2 optim.bias_decay_mult=0";
  REQUIRE(run_fcnlab("train " + toy_args(straight, common + biases)).exit_code == 0);
  REQUIRE(run_fcnlab("train " + toy_args(resumed, common + biases) + " --stop-after 6").exit_code == 1);
  const auto second = run_fcnlab("train " + toy_args(resumed, common + biases));
  INFO(second.out);
  REQUIRE(second.exit_code == 0);
  CHECK_THAT(second.out, Contains("resuming from checkpoint"));
  REQUIRE(run_fcnlab("train " + toy_args(plain, common)).exit_code == 0);
  const RunFileReader a(only_h5(straight / "adhoc")), b(only_h5(resumed / "adhoc")), c(only_h5(plain / "adhoc"));
  check_same_losses_and_confusion(a, b);
  CHECK(a.info().run_id != c.info().run_id);
  // The multipliers reach the update: the loss curves part after the first step.
  const auto ta = a.train(), tc = c.train();
  REQUIRE(ta.size() == tc.size());
  CHECK(ta.front().loss == tc.front().loss);
  CHECK(ta.back().loss != tc.back().loss);
}

TEST_CASE("a newest checkpoint that does not load falls back to the one before it", "[train][e2e]") {
  TempDir straight, resumed;
  const std::string common = "optim.iterations=12 eval.every=0 checkpoint.every=3 checkpoint.keep=2";
  REQUIRE(run_fcnlab("train " + toy_args(straight, common)).exit_code == 0);
  REQUIRE(run_fcnlab("train " + toy_args(resumed, common) + " --stop-after 7").exit_code == 1);
  std::filesystem::path work;  // the run's work dir, the only one
  for (const auto& e : std::filesystem::directory_iterator(resumed / "adhoc/.work"))
    if (e.is_directory()) work = e.path();
  const auto ckpts = list_checkpoints(work);
  REQUIRE(ckpts.size() == 2);
  REQUIRE(ckpts[0].first == 6);
  REQUIRE(ckpts[1].first == 7);
  const std::string bytes = fcnlab::test::read_file(ckpts[1].second);
  fcnlab::test::write_file(ckpts[1].second, bytes.substr(0, bytes.size() / 3));  // renamed, but short
  const auto second = run_fcnlab("train " + toy_args(resumed, common));
  INFO(second.out);
  REQUIRE(second.exit_code == 0);
  CHECK_THAT(second.out, Contains("ckpt-000000007.pt") && Contains("trying the checkpoint before it") &&
                             Contains("resuming from checkpoint") && Contains("ckpt-000000006.pt (iteration 6/12)"));
  const RunFileReader a(only_h5(straight / "adhoc")), b(only_h5(resumed / "adhoc"));
  check_same_losses_and_confusion(a, b);
}

TEST_CASE("a huge learning rate ends the run as diverged, with a file that says so", "[train][e2e]") {
  TempDir results;
  const auto r = run_fcnlab("train " + toy_args(results, "optim.iterations=40 optim.lr=1e12 optim.warmup=0"));
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.out, Contains("diverged"));
  const auto file = only_h5(results / "adhoc");
  const RunFileReader reader(file);
  CHECK(reader.info().status == RunStatus::diverged);
  CHECK_THAT(reader.info().message, Contains("loss became"));
  CHECK_FALSE(reader.final().has_value());
  // Losses are read back every run.log_every (20) steps: the curve stops at the last finite step
  // and the message names the first step that was not.
  const auto train = reader.train();
  CHECK(train.size() < 40);
  for (std::size_t i = 0; i < train.size(); ++i) {
    CHECK(train[i].step == static_cast<std::int64_t>(i + 1));
    CHECK(std::isfinite(train[i].loss));
  }
  CHECK_THAT(reader.info().message, Contains("at iteration " + std::to_string(train.size() + 1) + " "));
  for (const auto& e : std::filesystem::recursive_directory_iterator(results.path()))
    CHECK(e.path().extension() != ".part");
}

TEST_CASE("rerun reproduces bit for bit, and fails when a recorded metric was altered", "[train][e2e]") {
  TempDir results;
  REQUIRE(run_fcnlab("train " + toy_args(results, "optim.iterations=10 eval.every=0")).exit_code == 0);
  const auto file = only_h5(results / "adhoc");
  auto r = run_fcnlab("rerun " + file.string());
  INFO(r.out);
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.out, Contains("0 metric(s) differ by more than 0"));
  CHECK(std::filesystem::exists(results / "adhoc/reruns" / file.filename()));
  {
    H5::H5File f(file.string(), H5F_ACC_RDWR);
    auto g = f.openGroup("final");
    auto attr = g.openAttribute("mean_iou");
    double v = 0;
    attr.read(H5::PredType::NATIVE_DOUBLE, &v);
    v += 0.01;
    attr.write(H5::PredType::NATIVE_DOUBLE, &v);
  }
  r = run_fcnlab("rerun " + file.string());
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.out, Contains("mean_iou") && Contains("beyond tolerance"));
  // eval re-evaluates the saved model with the recorded config.
  const auto e = run_fcnlab("eval --run " + file.string());
  CHECK(e.exit_code == 0);
  CHECK_THAT(e.out, Contains("mean_iou"));
}

TEST_CASE("rerun uses the thread count a CPU run recorded: the count changes results in rounding", "[train][e2e]") {
  CHECK(recorded_cpu_threads("cpu (3 threads)") == 3);
  CHECK(recorded_cpu_threads("cpu (0 threads)") == 0);
  CHECK(recorded_cpu_threads("cpu (3 threads) x") == 0);
  CHECK(recorded_cpu_threads("cuda:0") == 0);
  TempDir results;
  // 30 iterations: enough for the final scores to move with rounding (at 10 they are all 0 but one).
  REQUIRE(run_fcnlab("train " + toy_args(results, "optim.iterations=30 eval.every=0")).exit_code == 0);
  const auto file = only_h5(results / "adhoc");
  REQUIRE(RunFileReader(file).info().device == "cpu (1 threads)");
  // As if recorded with run.threads = 0 (all cores) on a 1-core machine.
  {
    H5::H5File f(file.string(), H5F_ACC_RDWR);
    std::string toml;
    const H5::StrType type = f.openAttribute("config_toml").getStrType();
    f.openAttribute("config_toml").read(type, toml);
    const auto pos = toml.find("threads = 1\n");
    REQUIRE(pos != std::string::npos);
    toml.replace(pos, 11, "threads = 0");
    f.removeAttr("config_toml");
    f.createAttribute("config_toml", type, H5::DataSpace(H5S_SCALAR)).write(type, toml);
  }
  auto r = run_fcnlab("rerun " + file.string());
  INFO(r.out);
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.out, Contains("0 metric(s) differ by more than 0"));
  CHECK(RunFileReader(results / "adhoc/reruns" / file.filename()).info().device == "cpu (1 threads)");
  // An explicit run.threads wins, and on 2 threads the same run ends elsewhere.
  r = run_fcnlab("rerun " + file.string() + " run.threads=2");
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.out, Contains("beyond tolerance"));
}

TEST_CASE("rerun on another processor model judges each metric against its configuration's seed spread",
          "[train][e2e]") {
  TempDir results;
  REQUIRE(run_fcnlab("train " + toy_args(results, "optim.iterations=10 eval.every=0 eval.examples=0")).exit_code == 0);
  const auto file = only_h5(results / "adhoc");
  const double miou = RunFileReader(file).final()->scalar("mean_iou").value();
  // As if trained on another CPU, where it ended 0.01 above what this machine gives (the rerun
  // here reproduces this machine's numbers bit for bit, so every other difference is 0).
  set_root_string(file, "cpu_model", "Imaginary CPU 9000");
  set_final_scalar(file, "mean_iou", miou + 0.01);
  // Another configuration in the same dir is no sibling.
  write_variant(file, results / "adhoc/other-config.h5", "iterations = 10\n", "iterations = 11\n", 1, miou + 0.5);

  auto r = run_fcnlab("rerun " + file.string());
  INFO(r.out);
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.out, Contains("bit-identity is not expected") && Contains("Imaginary CPU 9000") &&
                        Contains(cpu_model().empty() ? "an unrecorded processor model" : cpu_model()));
  CHECK_THAT(r.out, Contains("no other finished seed") && Contains("0 metric(s) differ by more than 0.02"));

  // Two sibling seeds that agree to 1e-4: 0.01 is far beyond that spread.
  write_variant(file, results / "adhoc/seed1.h5", "seed = 0\n", "seed = 1\n", 1, miou + 0.0101);
  write_variant(file, results / "adhoc/seed2.h5", "seed = 0\n", "seed = 2\n", 2, miou + 0.0099);
  r = run_fcnlab("rerun " + file.string());
  INFO(r.out);
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.out, Contains("3 runs in") && Contains("(seeds 0, 1, 2)") && Contains("seed std") && Contains("bound") &&
                        Contains("1 metric(s) differ by more than their bound"));
  const auto start = r.out.find("\nmean_iou ") + 1;
  const std::string line = r.out.substr(start, r.out.find('\n', start) - start);
  CHECK_THAT(line, Contains("1.00e-04") && Contains("<-- beyond bound"));

  // Siblings spread by 0.02: the same 0.01 is within it.
  write_variant(file, results / "adhoc/seed1.h5", "seed = 0\n", "seed = 1\n", 1, miou + 0.03);
  write_variant(file, results / "adhoc/seed2.h5", "seed = 0\n", "seed = 2\n", 2, miou - 0.01);
  r = run_fcnlab("rerun " + file.string());
  INFO(r.out);
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.out, Contains("0 metric(s) differ by more than their bound"));

  // --tolerance wins over the spread.
  r = run_fcnlab("rerun " + file.string() + " --tolerance 0.001");
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.out, Contains("1 metric(s) differ by more than 0.001"));
}

TEST_CASE("reading losses back every run.log_every steps records the same curve as every step", "[train][e2e]") {
  TempDir every, sparse;
  const std::string common = "optim.iterations=12 eval.every=0 eval.examples=0";
  REQUIRE(run_fcnlab("train " + toy_args(every, common + " run.log_every=1")).exit_code == 0);
  REQUIRE(run_fcnlab("train " + toy_args(sparse, common + " run.log_every=5")).exit_code == 0);
  const RunFileReader a(only_h5(every / "adhoc")), b(only_h5(sparse / "adhoc"));
  const auto ta = a.train(), tb = b.train();
  REQUIRE(ta.size() == 12);
  REQUIRE(tb.size() == 12);
  for (std::size_t i = 0; i < ta.size(); ++i) {
    CHECK(tb[i].step == static_cast<std::int64_t>(i + 1));
    CHECK(ta[i].loss == tb[i].loss);
    CHECK(ta[i].lr == tb[i].lr);
    CHECK(tb[i].img_per_s > 0);
  }
  CHECK(a.final()->confusion == b.final()->confusion);
}

TEST_CASE("bf16 autocast with channels-last layout trains the toy preset on the CPU", "[train][e2e]") {
  TempDir results;
  const auto r = run_fcnlab(
      "train " + toy_args(results, "optim.iterations=150 eval.every=0 optim.amp=bf16 optim.channels_last=true"));
  INFO(r.out);
  REQUIRE(r.exit_code == 0);
  const RunFileReader reader(only_h5(results / "adhoc"));
  CHECK_THAT(reader.info().config_toml, Contains("amp = \"bf16\"") && Contains("channels_last = true"));
  // The same bar as the fp32 learning test (majority class: ~0.11).
  CHECK(reader.final()->scalar("mean_iou").value() > 0.35);
  // fp16 needs CUDA: refused on the CPU with the key named, and nothing written.
  TempDir none;
  const auto fp16 = run_fcnlab("train " + toy_args(none, "optim.iterations=5 run.device=cpu optim.amp=fp16"));
  CHECK(fp16.exit_code != 0);
  CHECK_THAT(fp16.out, Contains("optim.amp") && Contains("fp16") && Contains("CUDA"));
  if (std::filesystem::exists(none.path()))
    for (const auto& e : std::filesystem::recursive_directory_iterator(none.path()))
      CHECK(e.path().extension() != ".h5");
}
