#include "results/run_file.h"

#include <H5Cpp.h>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <string_view>
#include <system_error>
#include <tuple>

#include "core/error.h"
#include "core/file.h"

namespace fcnlab {

namespace {

// HDF5's C++ API prints its error stack on every exception unless told not to; we report
// errors ourselves, naming the file.
void quiet_hdf5() {
  static const bool once = [] {
    H5::Exception::dontPrint();
    return true;
  }();
  (void)once;
}

template <class T>
const H5::PredType& h5type();
template <>
const H5::PredType& h5type<std::int64_t>() {
  return H5::PredType::NATIVE_INT64;
}
template <>
const H5::PredType& h5type<std::int32_t>() {
  return H5::PredType::NATIVE_INT32;
}
template <>
const H5::PredType& h5type<double>() {
  return H5::PredType::NATIVE_DOUBLE;
}
template <>
const H5::PredType& h5type<std::uint8_t>() {
  return H5::PredType::NATIVE_UINT8;
}

H5::StrType vlen_string() {
  return H5::StrType(H5::PredType::C_S1, H5T_VARIABLE);
}

void set_attr(H5::H5Object& obj, const std::string& name, const std::string& value) {
  const auto type = vlen_string();
  auto attr = obj.createAttribute(name, type, H5::DataSpace(H5S_SCALAR));
  attr.write(type, value);
}
template <class T>
void set_attr(H5::H5Object& obj, const std::string& name, T value) {
  auto attr = obj.createAttribute(name, h5type<T>(), H5::DataSpace(H5S_SCALAR));
  attr.write(h5type<T>(), &value);
}

template <class T>
void write_array(H5::Group& group, const std::string& name, const std::vector<hsize_t>& dims,
                 const std::vector<T>& data, bool compress = false) {
  H5::DataSpace space(static_cast<int>(dims.size()), dims.data());
  H5::DSetCreatPropList props;
  hsize_t total = 1;
  for (auto d : dims) total *= d;
  if (compress && total > 0) {
    // Whole rows (images), about 64 KiB a chunk: per-image rows of a few hundred bytes would
    // otherwise cost more in chunk index and deflate headers than they hold.
    std::vector<hsize_t> chunk(dims);
    const hsize_t row_bytes = std::max<hsize_t>(1, total / dims[0] * sizeof(T));
    chunk[0] = std::clamp<hsize_t>(hsize_t{65536} / row_bytes, 1, dims[0]);
    props.setChunk(static_cast<int>(chunk.size()), chunk.data());
    props.setDeflate(4);
  }
  auto ds = group.createDataSet(name, h5type<T>(), space, props);
  if (total > 0) ds.write(data.data(), h5type<T>());
}

void write_strings(H5::Group& group, const std::string& name, const std::vector<std::string>& values) {
  std::vector<const char*> ptrs;
  for (const auto& v : values) ptrs.push_back(v.c_str());
  const hsize_t n = values.size();
  H5::DataSpace space(1, &n);
  auto ds = group.createDataSet(name, vlen_string(), space);
  if (n > 0) ds.write(ptrs.data(), vlen_string());
}

// 1-D dataset of unlimited length, chunked, so curves can be appended to.
template <class T>
void append_1d(H5::Group& group, const std::string& name, const std::vector<T>& values) {
  auto open_or_create_ds = [&] {
    if (group.nameExists(name)) return group.openDataSet(name);
    const hsize_t zero = 0, unlimited = H5S_UNLIMITED, chunk = 256;
    H5::DataSpace space(1, &zero, &unlimited);
    H5::DSetCreatPropList props;
    props.setChunk(1, &chunk);
    return group.createDataSet(name, h5type<T>(), space, props);
  };
  H5::DataSet ds = open_or_create_ds();
  hsize_t old = 0;
  ds.getSpace().getSimpleExtentDims(&old);
  const hsize_t n = values.size();
  if (n == 0) return;
  const hsize_t total = old + n;
  ds.extend(&total);
  auto file_space = ds.getSpace();
  file_space.selectHyperslab(H5S_SELECT_SET, &n, &old);
  H5::DataSpace mem(1, &n);
  ds.write(values.data(), h5type<T>(), mem, file_space);
}

H5::Group open_or_create(H5::H5File& file, const std::string& name) {
  return file.nameExists(name) ? file.openGroup(name) : file.createGroup(name);
}

// Runs f, turning HDF5 exceptions into IoError naming the file and the step.
template <class F>
void h5_write_guard(const std::filesystem::path& file, const char* what, F&& f) {
  try {
    f();
  } catch (const H5::Exception& e) {
    throw IoError(
        fmt::format("{}: HDF5 error while {}: {} ({})", file.string(), what, e.getDetailMsg(), e.getFuncName()));
  }
}
template <class F>
void h5_read_guard(const std::filesystem::path& file, const char* what, F&& f) {
  try {
    f();
  } catch (const H5::Exception& e) {
    throw IoError(fmt::format("{}: cannot read {} ({}: {}); the file is incomplete or damaged", file.string(), what,
                              e.getFuncName(), e.getDetailMsg()));
  }
}

// H5File::nameExists reads the file too, so it is guarded like every other read.
bool name_exists(H5::H5File& file, const std::filesystem::path& path, const char* name) {
  bool exists = false;
  h5_read_guard(path, name, [&] { exists = file.nameExists(name); });
  return exists;
}

}  // namespace

std::optional<double> FinalRecord::scalar(const std::string& name) const {
  for (const auto& [k, v] : scalars)
    if (k == name) return v;
  return std::nullopt;
}

// ---------------------------------------------------------------------------------------------
// Writer

struct RunFileWriter::Impl {
  explicit Impl(const std::filesystem::path& p) : file(p.string(), H5F_ACC_TRUNC) {}
  H5::H5File file;
  std::int64_t schema_version = kSchemaVersion;  // write_info's (tests write older versions)
};

RunFileWriter::RunFileWriter(std::filesystem::path final_path)
    : final_(std::move(final_path)), part_(part_file_for(final_)) {
  quiet_hdf5();
  std::error_code ec;
  if (final_.has_parent_path()) std::filesystem::create_directories(final_.parent_path(), ec);
  if (ec) throw IoError(fmt::format("{}: cannot create directory: {}", final_.parent_path().string(), ec.message()));
  h5_write_guard(part_, "creating the file", [&] { impl_ = std::make_unique<Impl>(part_); });
}

RunFileWriter::~RunFileWriter() {
  if (committed_ || !impl_) return;
  try {
    impl_->file.close();
  } catch (...) {
  }
  remove_temp_file(part_);
}

void RunFileWriter::write_info(const RunInfo& i) {
  h5_write_guard(part_, "writing root attributes", [&] {
    auto& f = impl_->file;
    set_attr(f, "schema_version", static_cast<std::int64_t>(i.schema_version));
    impl_->schema_version = i.schema_version;
    set_attr(f, "fcnlab_version", i.fcnlab_version);
    set_attr(f, "git_commit", i.git_commit);
    set_attr(f, "git_dirty", static_cast<std::uint8_t>(i.git_dirty));
    set_attr(f, "created_utc", i.created_utc);
    set_attr(f, "host", i.host);
    set_attr(f, "torch_version", i.torch_version);
    set_attr(f, "cuda_version", i.cuda_version);
    set_attr(f, "cudnn_version", i.cudnn_version);
    set_attr(f, "device", i.device);
    if (i.schema_version >= 4) {
      set_attr(f, "cpu_model", i.cpu_model);
      set_attr(f, "gpu_model", i.gpu_model);
    }
    set_attr(f, "deterministic", static_cast<std::uint8_t>(i.deterministic));
    set_attr(f, "config_toml", i.config_toml);
    set_attr(f, "config_hash", i.config_hash);
    set_attr(f, "overrides", i.overrides);
    set_attr(f, "experiment", i.experiment);
    set_attr(f, "run_id", i.run_id);
    set_attr(f, "seed", i.seed);
    set_attr(f, "status", std::string(to_string(i.status)));
    set_attr(f, "wall_seconds", i.wall_seconds);
    set_attr(f, "train_img_per_s", i.train_img_per_s);
    set_attr(f, "data_fingerprint", i.data_fingerprint);
    set_attr(f, "message", i.message);
  });
}

void RunFileWriter::append_train(const std::vector<TrainPoint>& points) {
  h5_write_guard(part_, "writing /train", [&] {
    auto g = open_or_create(impl_->file, "train");
    std::vector<std::int64_t> step;
    std::vector<double> loss, lr, ips;
    for (const auto& p : points) {
      step.push_back(p.step);
      loss.push_back(p.loss);
      lr.push_back(p.lr);
      ips.push_back(p.img_per_s);
    }
    append_1d(g, "step", step);
    append_1d(g, "loss", loss);
    append_1d(g, "lr", lr);
    append_1d(g, "img_per_s", ips);
  });
}

void RunFileWriter::append_val(const std::vector<ValPoint>& points) {
  h5_write_guard(part_, "writing /val", [&] {
    auto g = open_or_create(impl_->file, "val");
    std::vector<std::int64_t> step;
    std::vector<double> pa, ma, mi, fw, bf, bi;
    for (const auto& p : points) {
      step.push_back(p.step);
      pa.push_back(p.pixel_acc);
      ma.push_back(p.mean_acc);
      mi.push_back(p.mean_iou);
      fw.push_back(p.fw_iou);
      bf.push_back(p.bf_score);
      bi.push_back(p.boundary_iou);
    }
    append_1d(g, "step", step);
    append_1d(g, "pixel_acc", pa);
    append_1d(g, "mean_acc", ma);
    append_1d(g, "mean_iou", mi);
    append_1d(g, "fw_iou", fw);
    append_1d(g, "bf_score", bf);
    append_1d(g, "boundary_iou", bi);
  });
}

void RunFileWriter::write_final(const FinalRecord& r) {
  const auto c = static_cast<hsize_t>(r.num_classes());
  const auto k = static_cast<hsize_t>(r.trimap_width.size());
  auto check = [&](std::size_t got, std::size_t want, const char* name) {
    if (got != want)
      throw IoError(fmt::format("{}: /final/{} has {} values, expected {}", part_.string(), name, got, want));
  };
  check(r.confusion.size(), c * c, "confusion");
  check(r.per_class_iou.size(), c, "per_class_iou");
  check(r.per_image_confusion.size(), static_cast<std::size_t>(r.images) * c * c, "per_image_confusion");
  check(r.trimap_pixel_acc.size(), k, "boundary/trimap_pixel_acc");
  check(r.trimap_mean_iou.size(), k, "boundary/trimap_mean_iou");
  check(r.bf_per_class.size(), c, "boundary/bf_per_class");
  check(r.boundary_iou_per_class.size(), c, "boundary/boundary_iou_per_class");
  // Schema 3 on: the per-image boundary data, which files of older versions do not have.
  const bool per_image_boundary = impl_->schema_version >= 3;
  const auto n = static_cast<hsize_t>(r.images);
  check(r.per_image_bf.size(), per_image_boundary ? n * c : 0, "boundary/per_image_bf");
  check(r.per_image_boundary_band.size(), per_image_boundary ? n * c * 2 : 0, "boundary/per_image_band");
  check(r.per_image_trimap.size(), per_image_boundary ? n * k * c * 3 : 0, "boundary/per_image_trimap");
  // Schema 4 on: one id per image. A record without ids (the writer did not know them) leaves the
  // dataset out, so that readers take the ids as unknown rather than as a count mismatch.
  if (!r.image_ids.empty()) check(r.image_ids.size(), impl_->schema_version >= 4 ? n : 0, "image_ids");
  const bool image_ids = impl_->schema_version >= 4 && (!r.image_ids.empty() || n == 0);
  h5_write_guard(part_, "writing /final", [&] {
    auto g = impl_->file.createGroup("final");
    for (const auto& [name, value] : r.scalars) set_attr(g, name, value);
    write_strings(g, "class_names", r.class_names);
    write_array(g, "confusion", {c, c}, r.confusion);
    write_array(g, "per_class_iou", {c}, r.per_class_iou);
    write_array(g, "per_image_confusion", {static_cast<hsize_t>(r.images), c, c}, r.per_image_confusion, true);
    // Variable-length strings like class_names: deflate would compress only their heap references,
    // and VOC val's 1449 ids are about 16 KB.
    if (image_ids) write_strings(g, "image_ids", r.image_ids);
    auto b = g.createGroup("boundary");
    write_array(b, "trimap_width", {k}, r.trimap_width);
    write_array(b, "trimap_pixel_acc", {k}, r.trimap_pixel_acc);
    write_array(b, "trimap_mean_iou", {k}, r.trimap_mean_iou);
    write_array(b, "bf_per_class", {c}, r.bf_per_class);
    write_array(b, "boundary_iou_per_class", {c}, r.boundary_iou_per_class);
    if (per_image_boundary) {
      write_array(b, "per_image_bf", {n, c}, r.per_image_bf, true);
      write_array(b, "per_image_band", {n, c, 2}, r.per_image_boundary_band, true);
      write_array(b, "per_image_trimap", {n, k, c, 3}, r.per_image_trimap, true);
    }
  });
}

void RunFileWriter::write_examples(const Examples& e) {
  const auto n = static_cast<hsize_t>(e.count), h = static_cast<hsize_t>(e.height), w = static_cast<hsize_t>(e.width);
  if (e.image.size() != n * h * w * 3 || e.label.size() != n * h * w || e.pred.size() != n * h * w || e.ids.size() != n)
    throw IoError(fmt::format("{}: /examples arrays do not match {} examples of {}x{}", part_.string(), n, h, w));
  h5_write_guard(part_, "writing /examples", [&] {
    auto g = impl_->file.createGroup("examples");
    write_array(g, "image", {n, h, w, 3}, e.image, true);
    write_array(g, "label", {n, h, w}, e.label, true);
    write_array(g, "pred", {n, h, w}, e.pred, true);
    write_strings(g, "ids", e.ids);
  });
}

void RunFileWriter::commit() {
  h5_write_guard(part_, "flushing", [&] {
    impl_->file.flush(H5F_SCOPE_GLOBAL);
    impl_->file.close();
  });
  move_into_place(part_, final_);
  committed_ = true;
}

// ---------------------------------------------------------------------------------------------
// Reader

struct RunFileReader::Impl {
  explicit Impl(const std::filesystem::path& p) : file(p.string(), H5F_ACC_RDONLY) {}
  H5::H5File file;
  std::int64_t schema_version = 0;
};

namespace {

bool has_attr(const H5::H5Object& obj, const std::string& name) {
  return obj.attrExists(name);
}

// Name order with a trailing number compared as a number: trimap_acc_2 before trimap_acc_16.
bool scalar_name_less(const std::string& a, const std::string& b) {
  const auto key = [](const std::string& s) {
    const std::size_t p = s.find_last_not_of("0123456789") + 1;  // 0 when all digits (npos + 1)
    return std::tuple(std::string_view(s).substr(0, p), s.size() - p, std::string_view(s).substr(p));
  };
  return key(a) < key(b);
}

std::string read_str_attr(const H5::H5Object& obj, const std::string& name) {
  auto attr = obj.openAttribute(name);
  std::string value;
  attr.read(attr.getStrType(), value);
  return value;
}
template <class T>
T read_num_attr(const H5::H5Object& obj, const std::string& name) {
  auto attr = obj.openAttribute(name);
  T value{};
  attr.read(h5type<T>(), &value);
  return value;
}

// The element count of a dataset's space, refusing shapes no run file has (over 256 MiB) (a damaged file can
// claim any dimensions; allocating them would exhaust memory before HDF5 notices).
hsize_t checked_elements(const H5::Group& g, const std::string& name, const H5::DataSpace& space,
                         std::vector<hsize_t>* dims, std::size_t element_size) {
  // 256 MiB per dataset: a VOC run's largest, per_image_confusion, is about 2.5 MB.
  const hsize_t kMaxElements = (hsize_t{1} << 28) / element_size;
  const int rank = space.getSimpleExtentNdims();
  if (rank < 0 || rank > 8)
    throw IoError(fmt::format("{}: {}/{} has rank {}; damaged file", g.getFileName(), g.getObjName(), name, rank));
  dims->assign(static_cast<std::size_t>(rank), 0);
  space.getSimpleExtentDims(dims->data());
  hsize_t total = 1;
  for (const auto d : *dims) {
    if (d != 0 && total > kMaxElements / d)
      throw IoError(fmt::format("{}: {}/{} claims more than {} elements; damaged file", g.getFileName(), g.getObjName(),
                                name, kMaxElements));
    total *= d;
  }
  return total;
}

template <class T>
std::vector<T> read_array(const H5::Group& g, const std::string& name, std::vector<hsize_t>* dims_out = nullptr) {
  auto ds = g.openDataSet(name);
  auto space = ds.getSpace();
  std::vector<hsize_t> dims;
  const hsize_t total = checked_elements(g, name, space, &dims, sizeof(T));
  std::vector<T> out(total);
  if (total > 0) ds.read(out.data(), h5type<T>());
  if (dims_out) *dims_out = dims;
  return out;
}

std::vector<std::string> read_strings(const H5::Group& g, const std::string& name) {
  auto ds = g.openDataSet(name);
  auto space = ds.getSpace();
  std::vector<hsize_t> dims;
  const hsize_t n = checked_elements(g, name, space, &dims, sizeof(char*));
  if (dims.size() != 1)
    throw IoError(fmt::format("{}: {}/{} is not a 1-D list of strings", g.getFileName(), g.getObjName(), name));
  std::vector<char*> ptrs(n, nullptr);
  const auto type = vlen_string();
  if (n > 0) ds.read(ptrs.data(), type);
  std::vector<std::string> out;
  for (auto* p : ptrs) out.emplace_back(p ? p : "");
  if (n > 0) H5::DataSet::vlenReclaim(ptrs.data(), type, space);
  return out;
}

}  // namespace

RunFileReader::RunFileReader(const std::filesystem::path& file) : path_(file) {
  quiet_hdf5();
  if (!std::filesystem::is_regular_file(file)) throw IoError(fmt::format("{}: no such file", file.string()));
  bool is_hdf5 = false;
  try {
    is_hdf5 = H5::H5File::isHdf5(file.string());
  } catch (const H5::Exception&) {
    is_hdf5 = false;
  }
  if (!is_hdf5) throw IoError(fmt::format("{}: not an HDF5 file (truncated or foreign)", file.string()));
  h5_read_guard(path_, "the file", [&] { impl_ = std::make_unique<Impl>(file); });
  bool has_version = false;
  h5_read_guard(path_, "the root attributes", [&] { has_version = has_attr(impl_->file, "schema_version"); });
  if (!has_version)
    throw IoError(fmt::format("{}: not an fcnlab run file (no schema_version attribute)", file.string()));
  std::int64_t version = 0;
  h5_read_guard(path_, "schema_version", [&] { version = read_num_attr<std::int64_t>(impl_->file, "schema_version"); });
  if (version < kOldestSchemaVersion || version > kSchemaVersion)
    throw IoError(fmt::format("{}: schema_version {} is not readable by this fcnlab (reads versions {} to {})",
                              file.string(), version, kOldestSchemaVersion, kSchemaVersion));
  impl_->schema_version = version;
}

RunFileReader::~RunFileReader() = default;

RunInfo RunFileReader::info() const {
  const auto& f = impl_->file;
  for (const char* name : {"fcnlab_version", "git_commit", "git_dirty", "created_utc", "host", "torch_version",
                           "cuda_version", "cudnn_version", "device", "deterministic", "config_toml", "config_hash",
                           "overrides", "experiment", "run_id", "seed", "status", "wall_seconds", "train_img_per_s"}) {
    bool present = false;
    h5_read_guard(path_, name, [&] { present = has_attr(f, name); });
    if (!present)
      throw IoError(fmt::format("{}: missing root attribute '{}' (incomplete run file)", path_.string(), name));
  }
  RunInfo i;
  h5_read_guard(path_, "root attributes", [&] {
    i.schema_version = static_cast<int>(read_num_attr<std::int64_t>(f, "schema_version"));
    i.fcnlab_version = read_str_attr(f, "fcnlab_version");
    i.git_commit = read_str_attr(f, "git_commit");
    i.git_dirty = read_num_attr<std::uint8_t>(f, "git_dirty") != 0;
    i.created_utc = read_str_attr(f, "created_utc");
    i.host = read_str_attr(f, "host");
    i.torch_version = read_str_attr(f, "torch_version");
    i.cuda_version = read_str_attr(f, "cuda_version");
    i.cudnn_version = read_str_attr(f, "cudnn_version");
    i.device = read_str_attr(f, "device");
    i.deterministic = read_num_attr<std::uint8_t>(f, "deterministic") != 0;
    i.config_toml = read_str_attr(f, "config_toml");
    i.config_hash = read_str_attr(f, "config_hash");
    i.overrides = read_str_attr(f, "overrides");
    i.experiment = read_str_attr(f, "experiment");
    i.run_id = read_str_attr(f, "run_id");
    i.seed = read_num_attr<std::int64_t>(f, "seed");
    const auto status = read_str_attr(f, "status");
    const auto parsed = parse_enum<RunStatus>(status);
    if (!parsed) throw IoError(fmt::format("{}: unknown status '{}'", path_.string(), status));
    i.status = *parsed;
    i.wall_seconds = read_num_attr<double>(f, "wall_seconds");
    i.train_img_per_s = read_num_attr<double>(f, "train_img_per_s");
    if (has_attr(f, "data_fingerprint")) i.data_fingerprint = read_str_attr(f, "data_fingerprint");
    if (has_attr(f, "message")) i.message = read_str_attr(f, "message");
    if (has_attr(f, "cpu_model")) i.cpu_model = read_str_attr(f, "cpu_model");
    if (has_attr(f, "gpu_model")) i.gpu_model = read_str_attr(f, "gpu_model");
  });
  return i;
}

namespace {
// A curve group (/train, /val): its steps and the named double columns, all of one length.
struct Curve {
  std::vector<std::int64_t> step;
  std::vector<std::vector<double>> columns;
};
Curve read_curve(const H5::Group& g, const std::filesystem::path& file, const std::string& group,
                 const std::vector<std::string>& names) {
  Curve c;
  c.step = read_array<std::int64_t>(g, "step");
  for (const auto& name : names) {
    c.columns.push_back(read_array<double>(g, name));
    if (c.columns.back().size() != c.step.size())
      throw IoError(fmt::format("{}: {} datasets differ in length", file.string(), group));
  }
  return c;
}
}  // namespace

std::vector<TrainPoint> RunFileReader::train() const {
  std::vector<TrainPoint> out;
  if (!name_exists(impl_->file, path_, "train")) return out;
  h5_read_guard(path_, "/train", [&] {
    const Curve c = read_curve(impl_->file.openGroup("train"), path_, "/train", {"loss", "lr", "img_per_s"});
    const auto& v = c.columns;
    for (std::size_t i = 0; i < c.step.size(); ++i) out.push_back({c.step[i], v[0][i], v[1][i], v[2][i]});
  });
  return out;
}

std::vector<ValPoint> RunFileReader::val() const {
  std::vector<ValPoint> out;
  if (!name_exists(impl_->file, path_, "val")) return out;
  h5_read_guard(path_, "/val", [&] {
    const Curve c = read_curve(impl_->file.openGroup("val"), path_, "/val",
                               {"pixel_acc", "mean_acc", "mean_iou", "fw_iou", "bf_score", "boundary_iou"});
    const auto& v = c.columns;
    for (std::size_t i = 0; i < c.step.size(); ++i)
      out.push_back({c.step[i], v[0][i], v[1][i], v[2][i], v[3][i], v[4][i], v[5][i]});
  });
  return out;
}

std::optional<FinalRecord> RunFileReader::final() const {
  if (!name_exists(impl_->file, path_, "final")) return std::nullopt;
  FinalRecord r;
  bool ids_present = false;  // schema 4: /final/image_ids, [N]
  h5_read_guard(path_, "/final", [&] {
    const auto g = impl_->file.openGroup("final");
    const int n_attrs = g.getNumAttrs();
    for (int a = 0; a < n_attrs; ++a) {
      const auto attr = g.openAttribute(static_cast<unsigned>(a));
      double v = 0;
      attr.read(H5::PredType::NATIVE_DOUBLE, &v);
      r.scalars.emplace_back(attr.getName(), v);
    }
    std::sort(r.scalars.begin(), r.scalars.end(),
              [](const auto& x, const auto& y) { return scalar_name_less(x.first, y.first); });
    r.class_names = read_strings(g, "class_names");
    r.confusion = read_array<std::int64_t>(g, "confusion");
    r.per_class_iou = read_array<double>(g, "per_class_iou");
    std::vector<hsize_t> dims;
    r.per_image_confusion = read_array<std::int32_t>(g, "per_image_confusion", &dims);
    r.images = dims.empty() ? 0 : static_cast<std::int64_t>(dims[0]);
    const auto b = g.openGroup("boundary");
    r.trimap_width = read_array<std::int32_t>(b, "trimap_width");
    r.trimap_pixel_acc = read_array<double>(b, "trimap_pixel_acc");
    r.trimap_mean_iou = read_array<double>(b, "trimap_mean_iou");
    r.bf_per_class = read_array<double>(b, "bf_per_class");
    r.boundary_iou_per_class = read_array<double>(b, "boundary_iou_per_class");
    if (impl_->schema_version >= 3) {
      r.per_image_bf = read_array<double>(b, "per_image_bf");
      r.per_image_boundary_band = read_array<std::int32_t>(b, "per_image_band");
      r.per_image_trimap = read_array<std::int32_t>(b, "per_image_trimap");
    }
    ids_present = impl_->schema_version >= 4 && g.nameExists("image_ids");
    if (ids_present) r.image_ids = read_strings(g, "image_ids");
  });
  const auto c = static_cast<std::size_t>(r.num_classes());
  if (r.confusion.size() != c * c || r.per_class_iou.size() != c)
    throw IoError(fmt::format("{}: /final arrays do not match {} class names", path_.string(), c));
  const auto n = static_cast<std::size_t>(r.images), k = r.trimap_width.size();
  if (impl_->schema_version >= 3 && (r.per_image_bf.size() != n * c || r.per_image_boundary_band.size() != n * c * 2 ||
                                     r.per_image_trimap.size() != n * k * c * 3))
    throw IoError(fmt::format("{}: /final/boundary/per_image_* do not match {} images, {} trimap widths and {} classes",
                              path_.string(), n, k, c));
  if (ids_present && r.image_ids.size() != n)
    throw IoError(fmt::format("{}: /final/image_ids has {} ids for {} images", path_.string(), r.image_ids.size(), n));
  return r;
}

std::optional<Examples> RunFileReader::examples() const {
  if (!name_exists(impl_->file, path_, "examples")) return std::nullopt;
  Examples e;
  h5_read_guard(path_, "/examples", [&] {
    const auto g = impl_->file.openGroup("examples");
    std::vector<hsize_t> dims;
    e.image = read_array<std::uint8_t>(g, "image", &dims);
    if (dims.size() != 4) throw IoError(fmt::format("{}: /examples/image is not [E,H,W,3]", path_.string()));
    e.count = static_cast<std::int64_t>(dims[0]);
    e.height = static_cast<std::int64_t>(dims[1]);
    e.width = static_cast<std::int64_t>(dims[2]);
    e.label = read_array<std::uint8_t>(g, "label");
    e.pred = read_array<std::uint8_t>(g, "pred");
    e.ids = read_strings(g, "ids");
  });
  return e;
}

}  // namespace fcnlab
