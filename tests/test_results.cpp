// Tests of src/results: HDF5 run-file round trip of every schema field, .part/commit semantics,
// and clear errors for truncated, foreign and other-version files.
#include <H5Cpp.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>

#include "core/error.h"
#include "helpers.h"
#include "results/run_file.h"

using namespace fcnlab;
using Catch::Matchers::Contains;
using fcnlab::test::TempDir;

namespace {

RunInfo sample_info() {
  RunInfo i;
  i.fcnlab_version = "0.1.0";
  i.git_commit = "abcdef123456";
  i.git_dirty = true;
  i.created_utc = "2026-11-27T10:00:00Z";
  i.host = "testhost";
  i.torch_version = "1.13.0";
  i.cuda_version = "";
  i.cudnn_version = "";
  i.device = "cpu";
  i.cpu_model = "Intel(R) Xeon(R) Platinum 8481C CPU @ 2.70GHz";
  i.gpu_model = "NVIDIA H100 80GB HBM3";
  i.deterministic = true;
  i.config_toml = "[model]\nskip = 8\n";
  i.config_hash = "0123456789abcdef";
  i.overrides = "model.skip=8 loss.name=\"dice\"";
  i.experiment = "exp";
  i.run_id = "s8-sum-0123456789abcdef";
  i.seed = 42;
  i.status = RunStatus::diverged;
  i.wall_seconds = 12.5;
  i.train_img_per_s = 99.25;
  i.data_fingerprint = "feedbeef";
  i.message = "loss became nan at iteration 3";
  return i;
}

FinalRecord sample_final() {
  FinalRecord r;
  // In the order the reader returns: by name, a trailing number as a number.
  r.scalars = {{"bf_score", 0.5},     {"mean_iou", 0.25},     {"pixel_acc", 0.75},
               {"trimap_acc_2", 0.1}, {"trimap_acc_16", 0.2}, {"trimap_acc_32", 0.3}};
  r.class_names = {"background", "a", "b"};
  r.confusion = {5, 1, 0, 2, 7, 1, 0, 0, 9};
  r.per_class_iou = {0.5, std::nan(""), 0.75};
  r.images = 2;
  r.per_image_confusion.resize(2 * 9);
  for (std::size_t k = 0; k < r.per_image_confusion.size(); ++k) r.per_image_confusion[k] = static_cast<int>(k);
  r.image_ids = {"2008_000002", "2007_000033"};  // in the order scored, not sorted
  r.trimap_width = {1, 2, 4};
  r.trimap_pixel_acc = {0.1, 0.2, 0.3};
  r.trimap_mean_iou = {0.05, 0.15, 0.25};
  r.bf_per_class = {0.9, 0.8, std::nan("")};
  r.boundary_iou_per_class = {0.3, 0.2, 0.1};
  r.per_image_bf = {0.9, 0.7, std::nan(""), 0.9, 0.9, std::nan("")};   // [2 images, 3 classes]
  r.per_image_boundary_band = {3, 10, 1, 5, 0, 2, 6, 20, 0, 0, 1, 9};  // [2, 3, 2]
  r.per_image_trimap.resize(2 * 3 * 3 * 3);                            // [2, 3 widths, 3, 3]
  for (std::size_t k = 0; k < r.per_image_trimap.size(); ++k) r.per_image_trimap[k] = static_cast<int>(3 * k + 1);
  return r;
}

// A whole run file: root attributes and /final, committed.
void write_run_file(const std::filesystem::path& path, const RunInfo& info, const FinalRecord& final) {
  RunFileWriter w(path);
  w.write_info(info);
  w.write_final(final);
  w.commit();
}

}  // namespace

TEST_CASE("run file round trip of every schema field", "[results]") {
  TempDir dir;
  const auto path = dir / "exp/run.h5";
  {
    RunFileWriter w(path);
    CHECK(std::filesystem::exists(w.part_path()));
    CHECK_FALSE(std::filesystem::exists(path));
    w.write_info(sample_info());
    w.append_train({{1, 2.5, 0.1, 10.0}, {2, 2.0, 0.09, 11.0}});
    w.append_train({{3, 1.5, 0.08, 12.0}});
    w.append_val({{2, 0.8, 0.7, 0.6, 0.65, 0.4, 0.3}});
    w.write_final(sample_final());
    Examples e;
    e.count = 1;
    e.height = 2;
    e.width = 3;
    e.image = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18};
    e.label = {0, 1, 255, 2, 0, 1};
    e.pred = {0, 1, 1, 2, 2, 1};
    e.ids = {"2007_000032"};
    w.write_examples(e);
    w.commit();
  }
  REQUIRE(std::filesystem::exists(path));
  CHECK_FALSE(std::filesystem::exists(path.string() + ".part"));

  const RunFileReader r(path);
  const RunInfo i = r.info();
  const RunInfo want = sample_info();
  CHECK(i.schema_version == kSchemaVersion);
  CHECK(i.fcnlab_version == want.fcnlab_version);
  CHECK(i.git_commit == want.git_commit);
  CHECK(i.git_dirty == want.git_dirty);
  CHECK(i.created_utc == want.created_utc);
  CHECK(i.host == want.host);
  CHECK(i.torch_version == want.torch_version);
  CHECK(i.device == want.device);
  CHECK(i.cpu_model == want.cpu_model);
  CHECK(i.gpu_model == want.gpu_model);
  CHECK(i.deterministic == want.deterministic);
  CHECK(i.config_toml == want.config_toml);
  CHECK(i.config_hash == want.config_hash);
  CHECK(i.overrides == want.overrides);
  CHECK(i.experiment == want.experiment);
  CHECK(i.run_id == want.run_id);
  CHECK(i.seed == want.seed);
  CHECK(i.status == RunStatus::diverged);
  CHECK(i.wall_seconds == want.wall_seconds);
  CHECK(i.train_img_per_s == want.train_img_per_s);
  CHECK(i.data_fingerprint == want.data_fingerprint);
  CHECK(i.message == want.message);

  const auto train = r.train();
  REQUIRE(train.size() == 3);
  CHECK(train[2].step == 3);
  CHECK(train[0].loss == 2.5);
  CHECK(train[1].lr == 0.09);
  CHECK(train[2].img_per_s == 12.0);
  const auto val = r.val();
  REQUIRE(val.size() == 1);
  CHECK(val[0].step == 2);
  CHECK(val[0].pixel_acc == 0.8);
  CHECK(val[0].mean_acc == 0.7);
  CHECK(val[0].mean_iou == 0.6);
  CHECK(val[0].fw_iou == 0.65);
  CHECK(val[0].bf_score == 0.4);
  CHECK(val[0].boundary_iou == 0.3);

  const auto f = r.final();
  REQUIRE(f.has_value());
  const auto want_f = sample_final();
  CHECK(f->scalars == want_f.scalars);
  CHECK(f->scalar("mean_iou") == 0.25);
  CHECK(f->class_names == want_f.class_names);
  CHECK(f->confusion == want_f.confusion);
  CHECK(f->per_class_iou[0] == 0.5);
  CHECK(std::isnan(f->per_class_iou[1]));
  CHECK(f->images == 2);
  CHECK(f->per_image_confusion == want_f.per_image_confusion);
  CHECK(f->image_ids == want_f.image_ids);
  CHECK(f->trimap_width == want_f.trimap_width);
  CHECK(f->trimap_pixel_acc == want_f.trimap_pixel_acc);
  CHECK(f->trimap_mean_iou == want_f.trimap_mean_iou);
  CHECK(f->bf_per_class[1] == 0.8);
  CHECK(std::isnan(f->bf_per_class[2]));
  CHECK(f->boundary_iou_per_class == want_f.boundary_iou_per_class);
  REQUIRE(f->per_image_bf.size() == want_f.per_image_bf.size());
  for (std::size_t k = 0; k < f->per_image_bf.size(); ++k)
    CHECK((f->per_image_bf[k] == want_f.per_image_bf[k] ||
           (std::isnan(f->per_image_bf[k]) && std::isnan(want_f.per_image_bf[k]))));
  CHECK(f->per_image_boundary_band == want_f.per_image_boundary_band);
  CHECK(f->per_image_trimap == want_f.per_image_trimap);

  const auto e = r.examples();
  REQUIRE(e.has_value());
  CHECK(e->count == 1);
  CHECK(e->height == 2);
  CHECK(e->width == 3);
  CHECK(e->image[17] == 18);
  CHECK(e->label == std::vector<std::uint8_t>{0, 1, 255, 2, 0, 1});
  CHECK(e->pred == std::vector<std::uint8_t>{0, 1, 1, 2, 2, 1});
  CHECK(e->ids == std::vector<std::string>{"2007_000032"});
}

TEST_CASE("an uncommitted writer leaves neither a final file nor a .part", "[results]") {
  TempDir dir;
  const auto path = dir / "run.h5";
  {
    RunFileWriter w(path);
    w.write_info(sample_info());
    w.append_train({{1, 1.0, 0.1, 1.0}});
  }  // e.g. an exception unwound the stack
  CHECK_FALSE(std::filesystem::exists(path));
  CHECK_FALSE(std::filesystem::exists(path.string() + ".part"));
}

TEST_CASE("a run without /final reads back with final() empty", "[results]") {
  TempDir dir;
  const auto path = dir / "run.h5";
  RunFileWriter w(path);
  w.write_info(sample_info());
  w.commit();
  const RunFileReader r(path);
  CHECK_FALSE(r.final().has_value());
  CHECK_FALSE(r.examples().has_value());
  CHECK(r.train().empty());
}

TEST_CASE("mismatched /final arrays are rejected before writing", "[results]") {
  TempDir dir;
  RunFileWriter w(dir / "run.h5");
  auto f = sample_final();
  f.confusion.pop_back();
  CHECK_THROWS_WITH(w.write_final(f), Contains("/final/confusion") && Contains("expected 9"));
}

TEST_CASE("truncated, foreign and other-version files give errors naming the file", "[results]") {
  TempDir dir;
  const auto good = dir / "good.h5";
  write_run_file(good, sample_info(), sample_final());
  // Truncated: the first half of a valid file.
  const std::string bytes = fcnlab::test::read_file(good);
  fcnlab::test::write_file(dir / "trunc.h5", bytes.substr(0, bytes.size() / 2));
  CHECK_THROWS_AS(RunFileReader(dir / "trunc.h5").final(), IoError);
  try {
    RunFileReader r(dir / "trunc.h5");
    (void)r.info();
    (void)r.final();
    FAIL("a truncated file read without error");
  } catch (const IoError& e) {
    CHECK_THAT(e.what(), Contains("trunc.h5"));
  }
  // Random bytes.
  fcnlab::test::write_file(dir / "noise.h5", std::string(4096, '\x5a'));
  CHECK_THROWS_WITH(RunFileReader(dir / "noise.h5"), Contains("noise.h5") && Contains("not an HDF5 file"));
  // A foreign HDF5 file.
  { H5::H5File f((dir / "foreign.h5").string(), H5F_ACC_TRUNC); }
  CHECK_THROWS_WITH(RunFileReader(dir / "foreign.h5"), Contains("foreign.h5") && Contains("not an fcnlab run file"));
  // Another schema version.
  {
    RunFileWriter w(dir / "v99.h5");
    auto i = sample_info();
    i.schema_version = 99;
    w.write_info(i);
    w.commit();
  }
  // Schema 3 needs the per-image boundary data: a /final without it is refused, not written.
  {
    RunFileWriter w(dir / "v3.h5");
    w.write_info(sample_info());
    auto f = sample_final();
    f.per_image_trimap.pop_back();
    CHECK_THROWS_WITH(w.write_final(f),
                      Contains("v3.h5.part") && Contains("boundary/per_image_trimap has 53 values, expected 54"));
    f = sample_final();
    f.per_image_bf.clear();
    CHECK_THROWS_WITH(w.write_final(f), Contains("boundary/per_image_bf has 0 values, expected 6"));
  }
  CHECK_FALSE(std::filesystem::exists(dir / "v3.h5"));
  // Schema 2 files have none, and read back without it.
  {
    auto i = sample_info();
    i.schema_version = 2;
    auto f = sample_final();
    f.per_image_bf.clear();
    f.per_image_boundary_band.clear();
    f.per_image_trimap.clear();
    f.image_ids.clear();
    write_run_file(dir / "v2.h5", i, f);
  }
  const auto v2 = RunFileReader(dir / "v2.h5").final();
  REQUIRE(v2.has_value());
  CHECK(v2->images == 2);
  CHECK(v2->per_image_bf.empty());
  CHECK(v2->per_image_trimap.empty());
  CHECK(v2->trimap_pixel_acc == sample_final().trimap_pixel_acc);
  CHECK_THROWS_WITH(RunFileReader(dir / "v99.h5"), Contains("schema_version 99") && Contains("reads versions 1 to 4"));
  CHECK_THROWS_WITH(RunFileReader(dir / "missing.h5"), Contains("missing.h5") && Contains("no such file"));
}

TEST_CASE("schema 3 files read with no image ids and no processor models; schema 4 ones keep them", "[results]") {
  TempDir dir;
  {
    RunFileWriter w(dir / "v3.h5");
    auto i = sample_info();
    i.schema_version = 3;
    w.write_info(i);
    auto f = sample_final();
    // A schema-3 file has no place for ids: a record with them is refused, not silently cut.
    CHECK_THROWS_WITH(w.write_final(f),
                      Contains("v3.h5.part") && Contains("/final/image_ids has 2 values, expected 0"));
    f.image_ids.clear();
    w.write_final(f);
    w.commit();
  }
  const RunFileReader v3(dir / "v3.h5");
  CHECK(v3.info().schema_version == 3);
  CHECK(v3.info().cpu_model.empty());
  CHECK(v3.info().gpu_model.empty());
  const auto f3 = v3.final();
  REQUIRE(f3.has_value());
  CHECK(f3->images == 2);
  CHECK(f3->image_ids.empty());
  CHECK(f3->per_image_trimap == sample_final().per_image_trimap);
  {
    H5::H5File raw((dir / "v3.h5").string(), H5F_ACC_RDONLY);
    CHECK_FALSE(raw.attrExists("cpu_model"));
    CHECK_FALSE(raw.openGroup("final").nameExists("image_ids"));
  }
  // Schema 4 without ids (a writer that did not know them): no dataset, read back as unknown.
  {
    auto f = sample_final();
    f.image_ids.clear();
    write_run_file(dir / "noids.h5", sample_info(), f);
  }
  CHECK(RunFileReader(dir / "noids.h5").final()->image_ids.empty());
  // No images at all: an empty id list.
  {
    auto f = sample_final();
    f.images = 0;
    f.image_ids.clear();
    f.per_image_confusion.clear();
    f.per_image_bf.clear();
    f.per_image_boundary_band.clear();
    f.per_image_trimap.clear();
    write_run_file(dir / "empty.h5", sample_info(), f);
  }
  const auto empty = RunFileReader(dir / "empty.h5").final();
  REQUIRE(empty.has_value());
  CHECK(empty->images == 0);
  CHECK(empty->image_ids.empty());
  H5::H5File raw((dir / "empty.h5").string(), H5F_ACC_RDONLY);
  CHECK(raw.openGroup("final").nameExists("image_ids"));
}

TEST_CASE("an image id count that is not the image count is an error naming the file", "[results]") {
  TempDir dir;
  {
    RunFileWriter w(dir / "bad.h5");
    w.write_info(sample_info());
    auto f = sample_final();
    f.image_ids.pop_back();
    CHECK_THROWS_WITH(w.write_final(f),
                      Contains("bad.h5.part") && Contains("/final/image_ids has 1 values, expected 2"));
  }
  CHECK_FALSE(std::filesystem::exists(dir / "bad.h5"));
  // A file whose dataset holds 3 ids for 2 images (as a damaged or foreign writer could leave it).
  const auto path = dir / "three.h5";
  write_run_file(path, sample_info(), sample_final());
  {
    H5::H5File raw(path.string(), H5F_ACC_RDWR);
    auto g = raw.openGroup("final");
    g.unlink("image_ids");
    const H5::StrType type(H5::PredType::C_S1, H5T_VARIABLE);
    const hsize_t n = 3;
    const char* ids[] = {"a", "b", "c"};
    g.createDataSet("image_ids", type, H5::DataSpace(1, &n)).write(ids, type);
  }
  CHECK_THROWS_WITH(RunFileReader(path).final(),
                    Contains("three.h5") && Contains("/final/image_ids has 3 ids for 2 images"));
}
