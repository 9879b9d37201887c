// Tests of src/report: loading a results dir (skipping bad files), grouping, mean/std over seeds,
// bootstrap intervals over images, paired differences, marginal means, and the four output
// formats, on synthetic run files written with RunFileWriter; plus `fcnlab report` end to end.
#include <fmt/format.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <random>

#include "config/loader.h"
#include "core/error.h"
#include "core/text.h"
#include "helpers.h"
#include "metrics/confusion.h"
#include "metrics/evaluator.h"
#include "report/report.h"
#include "results/run_file.h"

using namespace fcnlab;
using namespace fcnlab::report;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;
using fcnlab::test::TempDir;

namespace {

constexpr int kC = 3;

// N images of kC classes; each image has random class sizes; class c's pixels are predicted
// correctly with probability `skill` (plus per-image noise), otherwise as the next class.
std::vector<std::int32_t> synthetic_confusions(int images, double skill, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> size(50, 400);
  std::uniform_real_distribution<double> noise(-0.15, 0.15);
  std::vector<std::int32_t> out(static_cast<std::size_t>(images) * kC * kC, 0);
  for (int i = 0; i < images; ++i) {
    auto* m = out.data() + static_cast<std::size_t>(i) * kC * kC;
    for (int c = 0; c < kC; ++c) {
      const int n = size(rng);
      const double p = std::clamp(skill + noise(rng), 0.0, 1.0);
      const int right = static_cast<int>(std::lround(p * n));
      m[c * kC + c] += right;
      m[c * kC + (c + 1) % kC] += n - right;
    }
  }
  return out;
}

// Per-image boundary data (schema 3) for a run of `f.images` images whose bf_score is `bf`: image
// i's BF is bf + e or bf - e for images 2j and 2j+1 (e drawn per pair), so the mean over an even
// number of images is bf; Boundary IoU bands likewise around bf / 2; trimap counts with pixel
// accuracy 0.5 + 0.01 seed within 2 px and 0.7 within 4 px. The /final boundary arrays are
// computed from them; the noise depends on `noise_seed` alone, so runs of one seed pair up.
void add_per_image_boundary(FinalRecord& f, double bf, std::int64_t seed, std::uint32_t noise_seed) {
  const auto n = static_cast<std::size_t>(f.images);
  std::mt19937 rng(noise_seed);
  std::uniform_real_distribution<double> noise(0.0, 0.1);
  f.trimap_width = {2, 4};
  f.per_image_bf.assign(n * kC, 0);
  f.per_image_boundary_band.assign(n * kC * 2, 0);
  f.per_image_trimap.assign(n * 2 * kC * 3, 0);
  double e = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (i % 2 == 0) e = i + 1 < n ? noise(rng) : 0.0;
    const double sign = i % 2 == 0 ? 1.0 : -1.0;
    const auto band_step = static_cast<std::int32_t>(std::lround(500 * e)),
               tri_step = static_cast<std::int32_t>(std::lround(20 * e));
    for (std::size_t c = 0; c < kC; ++c) {
      f.per_image_bf[i * kC + c] = bf + sign * e;
      f.per_image_boundary_band[(i * kC + c) * 2] =
          static_cast<std::int32_t>(std::lround(500 * bf)) + static_cast<std::int32_t>(sign) * band_step;
      f.per_image_boundary_band[(i * kC + c) * 2 + 1] = 1000;
    }
    // Band 0 (within 2 px): class 0's 100 pixels, `right` of them right, the rest taken for class 1;
    // band 1 (2 to 4 px): 140 - right right, so that 70% are right within 4 px.
    const std::int32_t right = 50 + static_cast<std::int32_t>(seed) + static_cast<std::int32_t>(sign) * tri_step;
    for (std::size_t k = 0; k < 2; ++k) {
      const std::int32_t r = k == 0 ? right : 140 - right;
      std::int32_t* band = f.per_image_trimap.data() + (i * 2 + k) * kC * 3;
      band[0] = r;        // class 0: right
      band[1] = 100;      // class 0: ground truth
      band[2] = r;        // class 0: predicted
      band[5] = 100 - r;  // class 1: predicted
    }
  }
  f.trimap_pixel_acc.clear();
  f.trimap_mean_iou.clear();
  for (int k = 0; k < 2; ++k) {
    const Scores t = trimap_from_images(f.per_image_trimap, 2, kC, k, {});
    f.trimap_pixel_acc.push_back(t.pixel_acc);
    f.trimap_mean_iou.push_back(t.mean_iou);
  }
  f.bf_per_class = bf_from_images(f.per_image_bf, kC, {}).per_class;
  f.boundary_iou_per_class = boundary_iou_from_images(f.per_image_boundary_band, kC, {}).per_class;
}

struct RunSpec {
  std::vector<std::string> overrides;  // config overrides, e.g. "model.skip=8"
  std::int64_t seed = 0;
  std::vector<std::pair<std::string, double>> extra;  // scalars besides the four scores
  std::vector<std::int32_t> per_image;                // [N, kC, kC]
  RunStatus status = RunStatus::finished;
  bool with_final = true;
  int schema_version = kSchemaVersion;
  std::uint32_t noise_seed = 0;  // of the per-image boundary data
  std::string fingerprint = "toy-data";
  std::vector<std::string> image_ids;  // empty: img0, img1, ... (schema 4)
};

// Writes a run file whose /final scalars are the scores of its summed per-image confusions.
std::filesystem::path write_run(const std::filesystem::path& dir, const std::string& name, RunSpec spec) {
  auto overrides = spec.overrides;
  overrides.push_back("run.seed=" + std::to_string(spec.seed));
  const Config cfg = load_config({}, overrides);
  RunInfo info;
  info.config_toml = to_canonical_toml(cfg);
  info.config_hash = config_hash_hex(cfg);
  info.run_id = name;
  info.experiment = "test";
  info.seed = spec.seed;
  info.status = spec.status;
  info.schema_version = spec.schema_version;
  info.data_fingerprint = spec.fingerprint;
  const auto path = dir / (name + ".h5");
  RunFileWriter w(path);
  w.write_info(info);
  if (spec.with_final) {
    FinalRecord f;
    f.class_names = {"background", "a", "b"};
    f.images = static_cast<std::int64_t>(spec.per_image.size() / (kC * kC));
    f.per_image_confusion = spec.per_image;
    f.image_ids = spec.image_ids;
    if (f.image_ids.empty() && spec.schema_version >= 4)
      for (std::int64_t i = 0; i < f.images; ++i) f.image_ids.push_back(fmt::format("img{}", i));
    f.confusion.assign(kC * kC, 0);
    for (std::size_t k = 0; k < spec.per_image.size(); ++k) f.confusion[k % (kC * kC)] += spec.per_image[k];
    const Scores s = scores_from_confusion(f.confusion.data(), kC);
    f.per_class_iou = s.per_class_iou;
    f.scalars = {{"pixel_acc", s.pixel_acc}, {"mean_acc", s.mean_acc}, {"mean_iou", s.mean_iou}, {"fw_iou", s.fw_iou}};
    for (const auto& e : spec.extra) f.scalars.push_back(e);
    f.trimap_width = {2, 4};
    f.trimap_pixel_acc = {0.5 + 0.01 * static_cast<double>(spec.seed), 0.7};
    f.trimap_mean_iou = {0.3, 0.4};
    f.bf_per_class = {0.1, 0.2, 0.3};
    f.boundary_iou_per_class = {0.1, 0.2, 0.3};
    if (spec.schema_version >= 3) {
      const auto bf =
          std::find_if(f.scalars.begin(), f.scalars.end(), [](const auto& x) { return x.first == "bf_score"; });
      add_per_image_boundary(f, bf == f.scalars.end() ? 0.5 : bf->second, spec.seed, spec.noise_seed);
    }
    w.write_final(f);
  }
  if (spec.with_final) {  // curves and examples, for plots.py
    std::vector<TrainPoint> train;
    for (int s = 1; s <= 20; ++s) train.push_back({s, 2.0 / s, 0.01, 100});
    w.append_train(train);
    w.append_val({{10, 0.5, 0.5, 0.3, 0.4, 0.2, 0.1}, {20, 0.7, 0.6, 0.5, 0.6, 0.3, 0.2}});
    Examples e;
    e.count = 2;
    e.height = 8;
    e.width = 8;
    e.image.assign(2 * 8 * 8 * 3, 128);
    e.label.assign(2 * 8 * 8, 1);
    e.pred.assign(2 * 8 * 8, static_cast<std::uint8_t>(spec.seed % kC));
    e.ids = {"img0", "img1"};
    w.write_examples(e);
  }
  w.commit();
  return path;
}

RunSpec spec(std::vector<std::string> overrides, std::int64_t seed, double bf, int images = 20, double skill = 0.7) {
  RunSpec s;
  s.overrides = std::move(overrides);
  s.seed = seed;
  s.extra = {{"bf_score", bf}, {"boundary_iou", bf / 2}};
  s.per_image = synthetic_confusions(images, skill, static_cast<std::uint32_t>(1000 + seed));
  s.noise_seed = static_cast<std::uint32_t>(2000 + seed);
  return s;
}

const Row& row_with(const Report& r, const std::vector<std::string>& values) {
  for (const auto& row : r.rows)
    if (row.values == values) return row;
  FAIL("no row with the requested values");
  return r.rows.front();
}

std::size_t metric_index(const Report& r, const std::string& m) {
  const auto it = std::find(r.metrics.begin(), r.metrics.end(), m);
  REQUIRE(it != r.metrics.end());
  return static_cast<std::size_t>(it - r.metrics.begin());
}

// Three skips x two seeds, bf_score chosen so that mean and std are known.
void write_skip_study(const std::filesystem::path& dir) {
  const std::vector<std::pair<int, std::array<double, 2>>> bf{
      {32, {0.40, 0.44}}, {16, {0.50, 0.52}}, {8, {0.60, 0.66}}};
  for (const auto& [skip, v] : bf)
    for (int seed = 0; seed < 2; ++seed)
      write_run(dir, fmt::format("s{}-seed{}", skip, seed),
                spec({fmt::format("model.skip={}", skip), fmt::format("run.name=r{}{}", skip, seed)}, seed,
                     v[static_cast<std::size_t>(seed)]));
}

}  // namespace

TEST_CASE("report: runs group by the keys that vary; rows hold mean and std over seeds", "[report]") {
  TempDir dir;
  write_skip_study(dir.path());
  const auto loaded = load_runs(dir.path());
  REQUIRE(loaded.warnings.empty());
  REQUIRE(loaded.runs.size() == 6);
  // run.seed and run.name vary too, but are not axes.
  CHECK(varying_keys(loaded.runs) == std::vector<std::string>{"model.skip"});

  const Report r = build_report(loaded.runs, {});
  CHECK(r.by == std::vector<std::string>{"model.skip"});
  CHECK(r.metrics == std::vector<std::string>{"mean_iou", "pixel_acc", "bf_score", "boundary_iou", "trimap_acc_2"});
  REQUIRE(r.rows.size() == 3);
  // Numeric order of the values, not text order ("16" < "32" < "8").
  CHECK(r.rows[0].values == std::vector<std::string>{"8"});
  CHECK(r.rows[1].values == std::vector<std::string>{"16"});
  CHECK(r.rows[2].values == std::vector<std::string>{"32"});
  const auto bf = metric_index(r, "bf_score");
  const auto& s8 = r.rows[0].metrics[bf].stat;
  CHECK(s8.n == 2);
  CHECK(s8.mean == Approx(0.63));
  CHECK(s8.std == Approx(std::sqrt(2 * 0.03 * 0.03)));  // sample std of {0.60, 0.66}
  CHECK(r.rows[2].metrics[bf].stat.mean == Approx(0.42));
  CHECK(r.rows[0].seeds == std::vector<std::int64_t>{0, 1});
  // trimap_acc_2 comes from the /final/boundary arrays: 0.5 + 0.01 * seed.
  CHECK(r.rows[0].metrics[metric_index(r, "trimap_acc_2")].stat.mean == Approx(0.505));
  // Without --ci there are no intervals.
  CHECK_FALSE(r.rows[0].metrics[0].ci.has_value());
}

TEST_CASE("report: an explicit --by groups runs across the other keys", "[report]") {
  TempDir dir;
  for (int seed = 0; seed < 2; ++seed)
    for (const char* fusion : {"sum", "concat"})
      for (int skip : {16, 8})
        write_run(dir.path(), fmt::format("{}-{}-{}", skip, fusion, seed),
                  spec({fmt::format("model.skip={}", skip), fmt::format("model.fusion={}", fusion)}, seed,
                       skip == 8 ? 0.6 : 0.4));
  const auto runs = load_runs(dir.path()).runs;
  CHECK(varying_keys(runs) == std::vector<std::string>{"model.fusion", "model.skip"});
  ReportOptions o;
  o.by = {"model.skip"};
  // A row of skip 8 would mix both fusions: refused, naming the key, its values and the ways out.
  try {
    build_report(runs, o);
    FAIL("a mixed row was not refused");
  } catch (const MixedRowError& e) {
    CHECK_THAT(std::string(e.what()), Contains("model.skip=8") && Contains("model.fusion (concat, sum)"));
    CHECK(e.by() == std::vector<std::string>{"model.skip", "model.fusion"});
    CHECK_THAT(e.where(), StartsWith("model.fusion="));
    CHECK(e.exit_code() == 2);
  }
  o.pool = true;
  const Report r = build_report(runs, o);
  REQUIRE(r.rows.size() == 2);
  CHECK(r.rows[0].seeds.size() == 4);  // both fusions, both seeds
  CHECK(r.rows[0].pooled_keys == std::vector<std::string>{"model.fusion"});
  CHECK(r.rows[0].metrics[metric_index(r, "bf_score")].stat.mean == Approx(0.6));
  CHECK_THAT(render(r, Format::md), Contains("| 8 | 4 pooled |") && Contains("pooled: the row averages runs"));
  CHECK_THAT(render(r, Format::json), Contains("\"pooled\": true, \"pooled_keys\": [\"model.fusion\"]"));
  CHECK_THAT(render(r, Format::csv), Contains("model.skip,n,pooled,") && Contains("8,4,model.fusion,"));
  // --where selects runs before grouping: one fusion, so nothing is pooled.
  o.pool = false;
  o.where = {"model.fusion=sum"};
  const Report w = build_report(runs, o);
  REQUIRE(w.rows.size() == 2);
  CHECK(w.rows[0].seeds.size() == 2);
  CHECK(w.rows[0].pooled_keys.empty());
  CHECK_THAT(render(w, Format::md), Contains("Runs selected by: model.fusion=sum."));
  o.where = {"model.fusion=sum,concat", "model.skip=8"};
  CHECK(build_report(runs, (o.pool = true, o)).rows.size() == 1);
  o.where = {"model.fusion=sun"};
  CHECK_THROWS_WITH(build_report(runs, o), Contains("model.fusion = sun") && Contains("concat, sum"));
  o.where = {"model.fuson=sum"};
  CHECK_THROWS_WITH(build_report(runs, o), Contains("model.fuson") && Contains("model.fusion"));
  o.where = {};
  o.pool = false;
  o.by = {"model.skp"};
  CHECK_THROWS_WITH(build_report(runs, o), Contains("model.skp") && Contains("model.skip"));
}

TEST_CASE("report: unreadable, unfinished and incomplete files are skipped with a warning naming them", "[report]") {
  TempDir dir;
  write_run(dir.path(), "good", spec({"model.skip=8"}, 0, 0.5));
  test::write_file(dir / "garbage.h5", "this is not HDF5");
  auto diverged = spec({"model.skip=16"}, 0, 0.5);
  diverged.status = RunStatus::diverged;
  diverged.with_final = false;
  write_run(dir.path(), "diverged", diverged);
  auto nofinal = spec({"model.skip=32"}, 0, 0.5);
  nofinal.with_final = false;
  write_run(dir.path(), "nofinal", nofinal);
  test::write_file(dir / "inflight.h5.part", "partial");  // not *.h5: not even looked at

  const auto loaded = load_runs(dir.path());
  REQUIRE(loaded.runs.size() == 1);
  CHECK(loaded.runs[0].info.run_id == "good");
  REQUIRE(loaded.warnings.size() == 3);
  const std::string all = loaded.warnings[0] + loaded.warnings[1] + loaded.warnings[2];
  CHECK_THAT(all, Contains("garbage.h5") && Contains("diverged.h5") && Contains("diverged") && Contains("nofinal.h5") &&
                      Contains("/final"));
  CHECK_THAT(all, !Contains("inflight"));

  std::vector<std::string> warnings;
  const auto text = report_dir(dir.path(), {}, Format::json, &warnings);
  CHECK(warnings.size() == 3);
  CHECK_THAT(text, Contains("garbage.h5"));  // JSON carries the warnings

  TempDir empty;
  test::write_file(empty / "bad.h5", "x");
  CHECK_THROWS_AS(report_dir(empty.path(), {}, Format::md), IoError);
}

TEST_CASE("report: schema-1 files are read, with one warning that their boundary scores differ", "[report]") {
  TempDir dir;
  write_run(dir.path(), "new", spec({"model.skip=8"}, 0, 0.5));
  auto loaded = load_runs(dir.path());
  REQUIRE(loaded.runs.size() == 1);
  CHECK(loaded.warnings.empty());
  for (const char* name : {"old-a", "old-b"}) {
    auto old = spec({"model.skip=16"}, 0, 0.5);
    old.schema_version = 1;
    write_run(dir.path(), name, old);
  }
  loaded = load_runs(dir.path());
  REQUIRE(loaded.runs.size() == 3);
  CHECK(loaded.runs[1].info.schema_version == 1);  // sorted by name: new, old-a, old-b
  REQUIRE(loaded.warnings.size() == 1);
  CHECK_THAT(loaded.warnings[0], Contains("2 run file(s) of schema_version 1 (old-a.h5, ...)") &&
                                     Contains("bf_score and boundary_iou") && Contains("void"));
}

TEST_CASE("report: CSV and JSON carry the groups, means and stds", "[report]") {
  TempDir dir;
  write_skip_study(dir.path());
  ReportOptions o;
  o.metrics = {"bf_score", "mean_iou"};
  const auto runs = load_runs(dir.path()).runs;
  const Report r = build_report(runs, o);
  const std::string csv = render(r, Format::csv);
  const auto lines = split(csv, '\n');
  REQUIRE(lines.size() >= 4);
  CHECK(lines[0] == "model.skip,n,bf_score_mean,bf_score_std,mean_iou_mean,mean_iou_std");
  const auto cells = split(lines[1], ',');
  REQUIRE(cells.size() == 6);
  CHECK(cells[0] == "8");
  CHECK(cells[1] == "2");
  CHECK(std::stod(cells[2]) == Approx(0.63));
  CHECK(std::stod(cells[3]) == Approx(std::sqrt(2 * 0.03 * 0.03)));
  CHECK(std::stod(cells[4]) == Approx(r.rows[0].metrics[1].stat.mean));
  CHECK(split(lines[3], ',')[0] == "32");

  const std::string json = render(r, Format::json);
  CHECK_THAT(json, Contains("\"by\": [\"model.skip\"]"));
  CHECK_THAT(json, Contains("\"values\": {\"model.skip\": \"8\"}, \"n\": 2, \"seeds\": [0, 1]"));
  CHECK_THAT(json, Contains("\"bf_score\": {\"mean\": 0.63"));
  CHECK_THAT(json, Contains("\"ci\": null"));
  // Balanced brackets (a cheap well-formedness check; no JSON parser in the dependencies).
  CHECK(std::count(json.begin(), json.end(), '{') == std::count(json.begin(), json.end(), '}'));
  CHECK(std::count(json.begin(), json.end(), '[') == std::count(json.begin(), json.end(), ']'));

  const std::string md = render(r, Format::md);
  CHECK_THAT(md, Contains("| model.skip | n | bf_score | mean_iou |"));
  CHECK_THAT(md, Contains("| 8 | 2 | 0.6300 ± 0.0424 |"));
  const std::string tex = render(r, Format::latex);
  CHECK_THAT(tex, Contains("\\toprule") && Contains("bf\\_score") && Contains("0.6300 $\\pm$ 0.0424"));

  ReportOptions paper;
  paper.paper = true;
  const std::string p = render(build_report(runs, paper), Format::md);
  CHECK_THAT(p, Contains("| net | n | pixel acc. | mean acc. | mean IU | f.w. IU |"));
  CHECK_THAT(p, Contains("| FCN-8s | 2 |"));
}

TEST_CASE("report: intervals contain the point estimate and narrow with more images", "[report]") {
  // Two seeds with the same per-image scores: no seed variance in the confusion and BF scores, so
  // their interval is image sampling alone.
  TempDir small_dir, big_dir;
  for (int seed = 0; seed < 2; ++seed)
    for (const auto& [dir, images] : {std::pair{&small_dir, 10}, std::pair{&big_dir, 160}}) {
      auto s = spec({"model.skip=8"}, seed, 0.5, images);
      s.per_image = synthetic_confusions(images, 0.7, 1000);
      s.noise_seed = 2000;
      write_run(dir->path(), fmt::format("a{}", seed), s);
    }
  ReportOptions o;
  o.ci = true;
  o.metrics = {"mean_iou", "pixel_acc", "bf_score", "boundary_iou", "trimap_acc_2", "trimap_miou_2"};
  const Report small = build_report(load_runs(small_dir.path()).runs, o);
  const Report big = build_report(load_runs(big_dir.path()).runs, o);
  for (const Report* r : {&small, &big}) {
    // The confusion scores from per-image confusions, the boundary ones from per-image boundary data.
    CHECK(r->resampled == o.metrics);
    for (std::size_t k = 0; k < o.metrics.size(); ++k) {
      INFO(o.metrics[k]);
      const auto& c = r->rows[0].metrics[k];
      REQUIRE(c.ci.has_value());
      CHECK(c.ci->lo < c.stat.mean);
      CHECK(c.stat.mean < c.ci->hi);
    }
  }
  CHECK(small.rows[0].metrics[0].stat.std == 0);
  // 16x the images: about 4x narrower; demand at least 2x.
  for (const std::size_t k : {0, 2}) {
    INFO(o.metrics[k]);
    const double w_small = small.rows[0].metrics[k].ci->hi - small.rows[0].metrics[k].ci->lo;
    const double w_big = big.rows[0].metrics[k].ci->hi - big.rows[0].metrics[k].ci->lo;
    CHECK(w_big < w_small / 2);
  }
  // Fixed seed: the same table twice.
  const Report again = build_report(load_runs(small_dir.path()).runs, o);
  CHECK(again.rows[0].metrics[0].ci->lo == small.rows[0].metrics[0].ci->lo);
  CHECK_THAT(render(small, Format::md), Contains("95% t interval of the group mean over seeds and images"));
  // One run: no seed variance, so no interval.
  TempDir one;
  write_run(one.path(), "a", spec({"model.skip=8"}, 0, 0.5, 10));
  CHECK_FALSE(build_report(load_runs(one.path()).runs, o).rows[0].metrics[0].ci.has_value());
}

TEST_CASE("report: bootstrap resampling weights draw N images with replacement", "[report]") {
  const auto w = bootstrap_weights(50, 200, 7);
  REQUIRE(w.size() == 200);
  double zeros = 0;
  for (const auto& r : w) {
    REQUIRE(r.size() == 50);
    std::uint32_t total = 0;
    for (auto x : r) {
      total += x;
      zeros += x == 0;
    }
    CHECK(total == 50);
  }
  // About (1 - 1/N)^N ~ 36% of images are left out of a resample.
  CHECK(zeros / (200 * 50) == Approx(0.364).margin(0.03));
  CHECK(bootstrap_weights(50, 200, 7) == w);
  CHECK(bootstrap_weights(50, 200, 8) != w);
}

TEST_CASE("report: a boundary metric that some run file cannot resample gets no interval, and a warning", "[report]") {
  TempDir dir;
  write_run(dir.path(), "new", spec({"model.skip=8"}, 0, 0.5));
  auto old = spec({"model.skip=8"}, 1, 0.5);
  old.schema_version = 2;  // no per-image boundary data
  write_run(dir.path(), "old", old);
  ReportOptions o;
  o.ci = true;
  o.metrics = {"mean_iou", "bf_score", "trimap_acc_2"};
  const auto loaded = load_runs(dir.path());
  REQUIRE(loaded.runs.size() == 2);
  CHECK(loaded.runs[1].final.per_image_bf.empty());
  const Report r = build_report(loaded.runs, o);
  CHECK(r.resampled == std::vector<std::string>{"mean_iou"});
  REQUIRE(r.rows.size() == 1);
  CHECK(r.rows[0].metrics[0].ci.has_value());
  CHECK_FALSE(r.rows[0].metrics[1].ci.has_value());
  CHECK_FALSE(r.rows[0].metrics[2].ci.has_value());
  const auto warned = [&](const std::string& m) {
    return std::any_of(r.warnings.begin(), r.warnings.end(), [&](const std::string& w) {
      return w.rfind(m + ": no interval: 1 of 2 run files", 0) == 0 && w.find("old.h5") != std::string::npos;
    });
  };
  CHECK(warned("bf_score"));
  CHECK(warned("trimap_acc_2"));
  CHECK_THAT(render(r, Format::md), Contains("for mean_iou;"));
  // A width the files do not have cannot be resampled either.
  CHECK_FALSE(can_bootstrap(loaded.runs[0].final, "trimap_acc_3"));
  CHECK(can_bootstrap(loaded.runs[0].final, "trimap_miou_4"));
  CHECK_FALSE(can_bootstrap(loaded.runs[1].final, "boundary_iou"));
  CHECK(can_bootstrap(loaded.runs[1].final, "fw_iou"));
}

TEST_CASE("report: --vs gives paired differences whose interval excludes 0 for a real gain", "[report]") {
  TempDir dir;
  for (int seed = 0; seed < 2; ++seed) {
    // Same images (same confusion seed) for both skips; 8s has a clearly better skill.
    auto a = spec({"model.skip=32"}, seed, 0.4, 40, 0.6);
    auto b = spec({"model.skip=8"}, seed, 0.6, 40, 0.75);
    write_run(dir.path(), fmt::format("s32-{}", seed), a);
    write_run(dir.path(), fmt::format("s8-{}", seed), b);
  }
  const auto runs = load_runs(dir.path()).runs;
  ReportOptions o;
  o.vs = "model.skip=32";
  o.metrics = {"mean_iou", "bf_score"};
  const Report r = build_report(runs, o);
  const auto& r8 = row_with(r, {"8"});
  const auto& r32 = row_with(r, {"32"});
  CHECK(r32.is_reference);
  REQUIRE(r8.has_reference);
  CHECK_FALSE(r8.is_reference);
  const auto& d = r8.diffs[0];
  CHECK(d.diff == Approx(r8.metrics[0].stat.mean - r32.metrics[0].stat.mean));
  REQUIRE(d.ci.has_value());
  CHECK(d.ci->lo > 0);  // a real gain: the interval excludes 0
  CHECK(d.ci->lo < d.diff);
  CHECK(d.diff < d.ci->hi);
  // bf_score: the per-image BF of both skips moves together (same images), so the paired interval
  // is tight around the gain of 0.2.
  CHECK(r8.diffs[1].diff == Approx(0.2));
  REQUIRE(r8.diffs[1].ci.has_value());
  CHECK(r8.diffs[1].ci->lo > 0.19);
  CHECK(r8.diffs[1].ci->hi < 0.21);
  const auto md = render(r, Format::md);
  CHECK_THAT(md, Contains("Δ mean_iou vs model.skip=32") && Contains("| ref |") &&
                     Contains("Holm-adjusted over the table's 2 tested Δ cells") &&
                     Contains("Verdicts: 2 significant, 0 equivalent, 0 undecided, 0 without a test"));
  CHECK_THAT(md, Contains(fmt::format(" p={:.2g}* |", d.p_adjusted)) || Contains(" p<0.001* |"));

  CHECK(d.significant);
  CHECK(d.p_adjusted < 0.05);
  CHECK(r.family == 2);

  // A difference between two groups with the same skill has an interval around 0, and no *.
  TempDir same;
  for (int seed = 0; seed < 2; ++seed) {
    write_run(same.path(), fmt::format("x{}", seed), spec({"model.skip=32"}, seed, 0.4, 40, 0.7));
    auto y = spec({"model.skip=8"}, seed, 0.4, 40, 0.7);
    y.per_image = synthetic_confusions(40, 0.7, static_cast<std::uint32_t>(999 + seed));
    write_run(same.path(), fmt::format("y{}", seed), y);
  }
  const Report z = build_report(load_runs(same.path()).runs, o);
  const auto& dz = row_with(z, {"8"}).diffs[0];
  REQUIRE(dz.ci.has_value());
  CHECK(dz.ci->lo < 0);
  CHECK(dz.ci->hi > 0);
  CHECK_FALSE(dz.significant);
  CHECK(dz.undecided());

  o.vs = "model.fusion=sum";
  CHECK_THROWS_AS(build_report(runs, o), OptionError);  // not a grouping key
  o.vs = "model.skip=4";
  CHECK_THROWS_WITH(build_report(runs, o), Contains("model.skip = 4") && Contains("32, 8"));
  o.vs = "model.skip";
  CHECK_THROWS_AS(build_report(runs, o), OptionError);
}

TEST_CASE("report: --vs pairs each group with the reference that agrees on the other keys", "[report]") {
  TempDir dir;
  const std::map<std::pair<int, std::string>, double> bf{
      {{32, "sum"}, 0.40}, {{8, "sum"}, 0.60}, {{32, "concat"}, 0.30}, {{8, "concat"}, 0.70}};
  for (const auto& [k, v] : bf)
    write_run(dir.path(), fmt::format("{}-{}", k.first, k.second),
              spec({fmt::format("model.skip={}", k.first), "model.fusion=" + k.second}, 0, v));
  ReportOptions o;
  o.by = {"model.skip", "model.fusion"};
  o.vs = "model.skip=32";
  o.metrics = {"bf_score"};
  o.marginal = true;
  const Report r = build_report(load_runs(dir.path()).runs, o);
  CHECK(row_with(r, {"8", "concat"}).diffs[0].diff == Approx(0.40));
  CHECK(row_with(r, {"8", "sum"}).diffs[0].diff == Approx(0.20));
  CHECK(row_with(r, {"8", "sum"}).reference == std::vector<std::string>{"32", "sum"});

  // Marginal means: skip 8 -> (0.6 + 0.7) / 2; grand mean 0.5.
  REQUIRE(r.marginals.size() == 2);
  CHECK(r.marginals[0].key == "model.skip");
  REQUIRE(r.marginals[0].rows.size() == 2);
  CHECK(r.marginals[0].rows[0].value == "8");
  CHECK(r.marginals[0].rows[0].groups == 2);
  CHECK(r.marginals[0].rows[0].mean[0] == Approx(0.65));
  CHECK(r.marginals[0].rows[0].effect[0] == Approx(0.15));
  CHECK(r.marginals[1].key == "model.fusion");
  CHECK(r.marginals[1].rows[0].value == "concat");
  CHECK(r.marginals[1].rows[0].mean[0] == Approx(0.50));
  CHECK_THAT(render(r, Format::md), Contains("Marginal means by model.skip") && Contains("0.6500 (+0.1500)"));
  CHECK_THAT(render(r, Format::csv), Contains("marginal:model.fusion,groups,bf_score_mean,bf_score_effect"));

  // Unbalanced: a lone (16, sum) group. Marginals use only the combinations of the other keys
  // run with every value, so skip is compared within fusion=sum and fusion within skip 8 and 32.
  write_run(dir.path(), "16-sum", spec({"model.skip=16", "model.fusion=sum"}, 0, 0.9));
  const Report u = build_report(load_runs(dir.path()).runs, o);
  REQUIRE(u.marginals[0].rows.size() == 3);
  CHECK(u.marginals[0].contexts == 1);
  CHECK(u.marginals[0].all_contexts == 2);
  CHECK(u.marginals[0].rows[0].value == "8");
  CHECK(u.marginals[0].rows[0].mean[0] == Approx(0.60));  // fusion=sum only
  CHECK(u.marginals[0].rows[1].mean[0] == Approx(0.90));
  CHECK(u.marginals[0].rows[0].effect[0] == Approx(0.60 - (0.6 + 0.9 + 0.4) / 3));
  CHECK(u.marginals[1].contexts == 2);
  CHECK(u.marginals[1].rows[1].value == "sum");
  CHECK(u.marginals[1].rows[1].mean[0] == Approx(0.50));  // the 16s run is left out
  CHECK(row_with(u, {"16", "sum"}).diffs[0].diff == Approx(0.50));
}

TEST_CASE("report: runs compared or resampled together must be scored on the same images", "[report]") {
  TempDir dir;
  for (int seed = 0; seed < 2; ++seed) {
    write_run(dir.path(), fmt::format("a{}", seed), spec({"model.skip=32"}, seed, 0.4));
    write_run(dir.path(), fmt::format("b{}", seed), spec({"model.skip=8"}, seed, 0.6));
  }
  ReportOptions o;
  o.vs = "model.skip=32";
  o.metrics = {"mean_iou"};
  REQUIRE_NOTHROW(build_report(load_runs(dir.path()).runs, o));

  // Other data: the fingerprints differ.
  auto other = spec({"model.skip=8"}, 2, 0.6);
  other.fingerprint = "other-data";
  write_run(dir.path(), "b2", other);
  CHECK_THROWS_AS(build_report(load_runs(dir.path()).runs, o), DataError);
  CHECK_THROWS_WITH(build_report(load_runs(dir.path()).runs, o),
                    Contains("b0.h5") && Contains("b2.h5") && Contains("data_fingerprint"));
  std::filesystem::remove(dir / "b2.h5");

  // The same count and fingerprint, but the images in another order (schema 4 records the ids).
  auto shuffled = spec({"model.skip=8"}, 2, 0.6);
  for (int i = 0; i < 20; ++i) shuffled.image_ids.push_back(fmt::format("img{}", (i + 1) % 20));
  write_run(dir.path(), "b2", shuffled);
  const auto loaded = load_runs(dir.path());
  REQUIRE(loaded.runs.back().final.image_ids.size() == 20);  // the ids round-trip through the file
  CHECK_THROWS_WITH(build_report(loaded.runs, o),
                    Contains("b0.h5") && Contains("b2.h5") && Contains("image 0: 'img0' vs 'img1'"));
  // Not compared, not resampled: a table of means needs no pairing.
  CHECK_NOTHROW(build_report(loaded.runs, ReportOptions{}));
  std::filesystem::remove(dir / "b2.h5");

  // Against the reference: another image count.
  TempDir small;
  for (int seed = 0; seed < 2; ++seed) {
    write_run(small.path(), fmt::format("a{}", seed), spec({"model.skip=32"}, seed, 0.4, 20));
    write_run(small.path(), fmt::format("b{}", seed), spec({"model.skip=8"}, seed, 0.6, 24));
  }
  CHECK_THROWS_WITH(build_report(load_runs(small.path()).runs, o),
                    Contains("b0.h5") && Contains("a0.h5") && Contains("24 and 20 val images"));
}

TEST_CASE("report: JSON, CSV and Markdown carry every Δ verdict field", "[report]") {
  TempDir dir;
  for (int seed = 0; seed < 3; ++seed) {
    write_run(dir.path(), fmt::format("s32-{}", seed), spec({"model.skip=32"}, seed, 0.4, 40, 0.6));
    write_run(dir.path(), fmt::format("s8-{}", seed), spec({"model.skip=8"}, seed, 0.6, 40, 0.75));
    // FCN-16s: the same skill as FCN-32s (other images' noise): undecided or equivalent.
    auto s16 = spec({"model.skip=16"}, seed, 0.4, 40, 0.6);
    s16.per_image = synthetic_confusions(40, 0.6, static_cast<std::uint32_t>(5000 + seed));
    write_run(dir.path(), fmt::format("s16-{}", seed), s16);
  }
  write_run(dir.path(), "s4-0", spec({"model.skip=4"}, 0, 0.6, 40, 0.75));  // one run: no test
  ReportOptions o;
  o.vs = "model.skip=32";
  o.metrics = {"mean_iou", "bf_score"};
  o.margins = parse_margins("mean_iou=0.05");
  const Report r = build_report(load_runs(dir.path()).runs, o);
  CHECK(r.family == 4);  // 16s and 8s, two metrics each; the lone 4s run has no test
  CHECK(r.equivalence_family == 2);
  const auto& d8 = row_with(r, {"8"}).diffs;
  const auto& d16 = row_with(r, {"16"}).diffs;
  const auto& d4 = row_with(r, {"4"}).diffs;
  CHECK(d8[0].significant);
  CHECK(d8[0].equivalent == std::optional<bool>(false));  // a gain of ~0.2 is not within 0.05
  CHECK_FALSE(d8[1].equivalent.has_value());              // no margin for bf_score
  CHECK_FALSE(d16[0].significant);
  CHECK(d4[0].no_test == "1 run");
  CHECK_FALSE(d4[0].ci.has_value());
  // Holm: the adjusted p is at least the raw one, and the family's smallest is multiplied by 4.
  std::vector<double> raw;
  for (const auto* d : {&d8[0], &d8[1], &d16[0], &d16[1]}) {
    CHECK(d->p_adjusted >= d->p);
    raw.push_back(d->p);
  }
  const auto holm = holm_adjust(raw);
  CHECK(d16[1].p_adjusted == Approx(holm[3]));
  CHECK(*std::min_element(holm.begin(), holm.end()) ==
        Approx(std::min(1.0, 4 * *std::min_element(raw.begin(), raw.end()))));
  // The undecided bf_score cell of 16s has its seeds needed (or none suffice).
  CHECK(d16[1].undecided());

  const std::string json = render(r, Format::json);
  for (const char* field :
       {"\"diff\": ", "\"ci\": [", "\"p\": ", "\"p_adjusted\": ", "\"significant\": true", "\"equivalent\": false",
        "\"equivalent\": null", "\"seeds_needed\": ", "\"no_test\": \"1 run\"", "\"alpha\": 0.05", "\"family\": 4",
        "\"margins\": {\"mean_iou\": 0.05}"}) {
    INFO(field);
    CHECK_THAT(json, Contains(field));
  }
  CHECK(std::count(json.begin(), json.end(), '{') == std::count(json.begin(), json.end(), '}'));
  CHECK(std::count(json.begin(), json.end(), '[') == std::count(json.begin(), json.end(), ']'));

  const auto lines = split(render(r, Format::csv), '\n');
  const auto header = split(lines[0], ',');
  for (const char* column :
       {"mean_iou_diff", "mean_iou_diff_lo", "mean_iou_diff_hi", "mean_iou_p", "mean_iou_p_adjusted",
        "mean_iou_significant", "mean_iou_equivalent", "mean_iou_seeds_needed"}) {
    INFO(column);
    CHECK(std::find(header.begin(), header.end(), column) != header.end());
  }
  const auto col = [&](const std::string& name) {
    return static_cast<std::size_t>(std::find(header.begin(), header.end(), name) - header.begin());
  };
  const auto row8 = split(lines[2], ',');  // rows: 4, 8, 16, 32
  REQUIRE(row8[0] == "8");
  CHECK(row8[col("mean_iou_significant")] == "true");
  CHECK(std::stod(row8[col("mean_iou_p_adjusted")]) == Approx(d8[0].p_adjusted));

  const std::string md = render(r, Format::md);
  CHECK_THAT(md, Contains("(no test: 1 run)") &&
                     Contains("≈: two one-sided tests show |Δ| < the margin (mean_iou "
                              "0.05)") &&
                     Contains("Undecided (neither * nor ≈)"));
  const std::string tex = render(r, Format::latex);
  CHECK_THAT(tex, Contains("(no test: 1 run)") && !Contains("≈ "));

  // --pooled-seed-variance gives the lone run a test, with the pooled df (3 groups x 2).
  o.pooled_seed_variance = true;
  const Report pooled = build_report(load_runs(dir.path()).runs, o);
  CHECK(pooled.family == 6);
  REQUIRE(pooled.pooled.size() == 2);
  CHECK(pooled.pooled[0].df == Approx(6));
  CHECK(row_with(pooled, {"4"}).diffs[0].tested());
  CHECK_THAT(render(pooled, Format::json), Contains("\"pooled_seed_variance\": {\"mean_iou\": {\"variance\": "));
  CHECK_THAT(render(r, Format::json), Contains("\"pooled_seed_variance\": null"));
}

TEST_CASE("report: equivalence margins parse as one value or per metric", "[report]") {
  CHECK(parse_margins("0.01").of("bf_score") == std::optional<double>(0.01));
  const auto m = parse_margins("mean_iou=0.01, bf_score=0.02");
  CHECK(m.of("mean_iou") == std::optional<double>(0.01));
  CHECK(m.of("bf_score") == std::optional<double>(0.02));
  CHECK_FALSE(m.of("pixel_acc").has_value());
  CHECK_THROWS_WITH(parse_margins("mean_iou=x"), Contains("'mean_iou=x'") && Contains("positive number"));
  CHECK_THROWS_AS(parse_margins("-0.1"), OptionError);
  CHECK_THROWS_AS(parse_margins(""), OptionError);
  TempDir dir;
  write_run(dir.path(), "a", spec({"model.skip=8"}, 0, 0.5));
  ReportOptions o;
  o.margins = parse_margins("mean_iuo=0.01");
  CHECK_THROWS_WITH(build_report(load_runs(dir.path()).runs, o), Contains("mean_iuo") && Contains("mean_iou"));
}

TEST_CASE("report: mean_std and percentile intervals", "[report]") {
  const auto s = mean_std({1.0, 2.0, 3.0, std::nan("")});
  CHECK(s.n == 3);
  CHECK(s.mean == Approx(2.0));
  CHECK(s.std == Approx(1.0));
  CHECK(std::isnan(mean_std({5.0}).std));
  CHECK(std::isnan(mean_std({}).mean));
  std::vector<double> v;
  for (int i = 0; i <= 100; ++i) v.push_back(i);
  const auto ci = percentile_interval(v, 0.9);
  REQUIRE(ci.has_value());
  CHECK(ci->lo == Approx(5.0));
  CHECK(ci->hi == Approx(95.0));
  CHECK_FALSE(percentile_interval({std::nan("")}, 0.95).has_value());
}

TEST_CASE("report: fcnlab report refuses to pool configurations silently (exit 2, the keys named)", "[report][cli]") {
  TempDir dir;
  for (int seed = 0; seed < 2; ++seed)
    for (const char* fusion : {"sum", "concat"})
      write_run(dir.path(), fmt::format("{}-{}", fusion, seed),
                spec({"model.fusion=" + std::string(fusion), "loss.name=ce"}, seed, 0.5));
  write_run(dir.path(), "dice-0", spec({"model.fusion=sum", "loss.name=dice"}, 0, 0.5));
  const std::string d = "'" + dir.path().string() + "'";
  const auto refused = test::run_fcnlab("report " + d + " --by model.fusion --vs model.fusion=sum --format json");
  CHECK(refused.exit_code == 2);
  CHECK_THAT(refused.out, Contains("model.fusion=sum") && Contains("loss.name (ce, dice)") &&
                              Contains("--by model.fusion,loss.name") && Contains("--pool"));
  CHECK_THAT(refused.out, !Contains("\"groups\""));  // no table
  const auto pooled = test::run_fcnlab("report " + d + " --by model.fusion --pool --format json");
  CHECK(pooled.exit_code == 0);
  CHECK_THAT(pooled.out, Contains("\"n\": 3") && Contains("\"pooled_keys\": [\"loss.name\"]"));
  CHECK(test::run_fcnlab("report " + d + " --by model.fusion --where loss.name=ce").exit_code == 0);
  CHECK(test::run_fcnlab("report " + d).exit_code == 0);  // by default every varying key is a grouping key
}

TEST_CASE("report: fcnlab report prints the table and exits 2 on bad options", "[report][cli]") {
  TempDir dir;
  write_skip_study(dir.path());
  test::write_file(dir / "broken.h5", "nope");
  const auto csv = test::run_fcnlab("report '" + dir.path().string() + "' --format csv --metrics bf_score --ci");
  CHECK(csv.exit_code == 0);
  CHECK_THAT(csv.out, Contains("model.skip,n,bf_score_mean,bf_score_std,bf_score_ci_lo,bf_score_ci_hi"));
  CHECK_THAT(csv.out, Contains("warning") && Contains("broken.h5"));
  const auto out_file = dir / "table.tex";
  const auto tex =
      test::run_fcnlab("report '" + dir.path().string() + "' --format latex -o '" + out_file.string() + "'");
  CHECK(tex.exit_code == 0);
  CHECK_THAT(test::read_file(out_file), Contains("\\begin{tabular}"));
  CHECK(test::run_fcnlab("report '" + dir.path().string() + "' --format xml").exit_code == 2);
  CHECK(test::run_fcnlab("report '" + dir.path().string() + "' --by nope").exit_code == 2);
  const auto typo = test::run_fcnlab("report '" + dir.path().string() + "' --metrics mean_iou,mean_iuo");
  CHECK(typo.exit_code == 2);
  CHECK_THAT(typo.out, Contains("--metrics 'mean_iuo': no run file has this metric (did you mean mean_iou?)") &&
                           Contains("trimap_acc_2"));
  CHECK(test::run_fcnlab("report '" + dir.path().string() + "' --metrics trimap_miou_4,boundary_iou").exit_code == 0);
  CHECK(test::run_fcnlab("report").exit_code == 2);
  const auto bad_alpha = test::run_fcnlab("report '" + dir.path().string() + "' --vs model.skip=32 --alpha 0.7");
  CHECK(bad_alpha.exit_code == 2);
  CHECK_THAT(bad_alpha.out, Contains("--alpha must be in (0, 0.5), got 0.7"));
  const auto verdicts =
      test::run_fcnlab("report '" + dir.path().string() +
                       "' --vs model.skip=32 --metrics bf_score --margin 0.5 --where model.skip=32,8");
  CHECK(verdicts.exit_code == 0);
  CHECK_THAT(verdicts.out, Contains("Holm-adjusted") && Contains("Runs selected by: model.skip=32,8."));
  CHECK(test::run_fcnlab("report '" + (dir / "missing").string() + "'").exit_code == 1);
}

TEST_CASE("report: make plots writes the four PNG files and index.html", "[report][plots]") {
  if (std::system("/usr/bin/python3 -c 'import h5py, matplotlib, numpy' >/dev/null 2>&1") != 0) {
    WARN("skipped: /usr/bin/python3 lacks h5py/matplotlib/numpy (python3-h5py, python3-matplotlib)");
    return;
  }
  TempDir dir;
  write_skip_study(dir.path());
  test::write_file(dir / "broken.h5", "nope");
  const std::string cmd = "/usr/bin/python3 '" + (test::source_dir() / "analysis/plots.py").string() + "' '" +
                          dir.path().string() + "' --metric bf_score > '" + (dir / "log.txt").string() + "' 2>&1";
  REQUIRE(std::system(cmd.c_str()) == 0);
  const auto log = test::read_file(dir / "log.txt");
  CHECK_THAT(log, Contains("6 runs in 3 groups (by model.skip)") && Contains("skipping") && Contains("broken.h5"));
  for (const char* png : {"trimap.png", "learning_curves.png", "bar_bf_score.png", "examples.png"}) {
    INFO(png);
    const auto file = dir / "plots" / png;
    REQUIRE(std::filesystem::exists(file));
    CHECK(test::read_file(file).substr(0, 8) == "\x89PNG\r\n\x1a\n");
  }
  // The page: tests/html/test_index.py runs plots.py again (without and with the fcnlab binary)
  // and checks the report table, the legend, the images and one row per run file.
  const std::string page = "/usr/bin/python3 '" + (test::source_dir() / "tests/html/test_index.py").string() + "' '" +
                           dir.path().string() +
                           "' --fcnlab '" FCNLAB_EXE "' --metric bf_score --vs model.skip=32 --margin 0.5 > '" +
                           (dir / "page.txt").string() + "' 2>&1";
  const int rc = std::system(page.c_str());
  INFO(test::read_file(dir / "page.txt"));
  CHECK(rc == 0);
}
