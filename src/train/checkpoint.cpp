#include "train/checkpoint.h"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>

#include "core/error.h"
#include "core/file.h"
#include "train/run_paths.h"

namespace fcnlab {

namespace {

torch::Tensor train_tensor(const std::vector<TrainPoint>& pts) {
  auto t = torch::empty({static_cast<std::int64_t>(pts.size()), 4}, torch::kFloat64);
  auto a = t.accessor<double, 2>();
  for (std::size_t i = 0; i < pts.size(); ++i) {
    const auto r = static_cast<std::int64_t>(i);
    a[r][0] = static_cast<double>(pts[i].step);
    a[r][1] = pts[i].loss;
    a[r][2] = pts[i].lr;
    a[r][3] = pts[i].img_per_s;
  }
  return t;
}

torch::Tensor val_tensor(const std::vector<ValPoint>& pts) {
  auto t = torch::empty({static_cast<std::int64_t>(pts.size()), 7}, torch::kFloat64);
  auto a = t.accessor<double, 2>();
  for (std::size_t i = 0; i < pts.size(); ++i) {
    const auto r = static_cast<std::int64_t>(i);
    const auto& p = pts[i];
    const double row[7] = {
        static_cast<double>(p.step), p.pixel_acc, p.mean_acc, p.mean_iou, p.fw_iou, p.bf_score, p.boundary_iou};
    for (std::int64_t k = 0; k < 7; ++k) a[r][k] = row[k];
  }
  return t;
}

torch::Tensor scalar_i64(std::int64_t v) {
  return torch::tensor({v}, torch::kInt64);
}
torch::Tensor scalar_f64(double v) {
  return torch::tensor({v}, torch::kFloat64);
}

torch::Tensor string_tensor(const std::string& s) {
  auto t = torch::empty({static_cast<std::int64_t>(s.size())}, torch::kUInt8);
  std::copy(s.begin(), s.end(), t.data_ptr<std::uint8_t>());
  return t;
}
std::string tensor_string(const torch::Tensor& t) {
  const auto* p = t.data_ptr<std::uint8_t>();
  return std::string(p, p + t.numel());
}

torch::Tensor generator_state(at::Generator gen) {
  std::lock_guard<std::mutex> lock(gen.mutex());
  return gen.get_state();
}
void set_generator_state(at::Generator gen, const torch::Tensor& state) {
  std::lock_guard<std::mutex> lock(gen.mutex());
  gen.set_state(state);
}

c10::Device model_device(FCN& model) {
  const auto params = model->parameters();
  return params.empty() ? c10::Device(c10::kCPU) : params.front().device();
}

}  // namespace

void save_archive(torch::serialize::OutputArchive& archive, const std::filesystem::path& file) {
  const std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(file.c_str(), "wb"), &std::fclose);
  if (!f) throw IoError(fmt::format("{}: cannot create: {}", file.string(), std::strerror(errno)));
  int err = 0;
  archive.save_to([&](const void* data, std::size_t n) -> std::size_t {
    if (err == 0 && n > 0 && std::fwrite(data, 1, n, f.get()) != n) err = errno != 0 ? errno : EIO;
    return n;  // never short: torch reports a short write from a destructor (std::terminate)
  });
  if (std::fflush(f.get()) != 0 && err == 0) err = errno;
  if (err != 0) {
    remove_temp_file(file);
    throw IoError(fmt::format("{}: cannot write: {}", file.string(), std::strerror(err)));
  }
}

void save_model_file(FCN& model, const std::filesystem::path& file) {
  const auto tmp = temp_file_for(file);
  try {
    torch::serialize::OutputArchive archive;
    model->save(archive);
    save_archive(archive, tmp);
  } catch (const c10::Error& e) {
    remove_temp_file(tmp);
    throw IoError(fmt::format("{}: cannot write model weights: {}", tmp.string(), e.what_without_backtrace()));
  }
  move_into_place(tmp, file);
}

void save_checkpoint(const std::filesystem::path& dir, FCN& model, torch::optim::Optimizer& optimizer,
                     const CheckpointState& s, int keep) {
  std::filesystem::create_directories(dir);
  const auto file = checkpoint_file(dir, s.iteration);
  const auto tmp = temp_file_for(file);
  try {
    torch::serialize::OutputArchive archive;
    torch::serialize::OutputArchive model_archive, optim_archive;
    model->save(model_archive);
    optimizer.save(optim_archive);
    archive.write("model", model_archive);
    archive.write("optimizer", optim_archive);
    archive.write("iteration", scalar_i64(s.iteration));
    archive.write("loader_epoch", scalar_i64(s.loader_epoch));
    archive.write("loader_index", scalar_i64(s.loader_index));
    archive.write("config_hash", string_tensor(s.config_hash));
    archive.write("wall_seconds", scalar_f64(s.wall_seconds));
    archive.write("train_seconds", scalar_f64(s.train_seconds));
    archive.write("images_seen", scalar_i64(s.images_seen));
    archive.write("train_curve", train_tensor(s.train));
    archive.write("val_curve", val_tensor(s.val));
    if (s.cpu_threads > 0) archive.write("cpu_threads", scalar_i64(s.cpu_threads));
    if (!s.loss_scaler.empty())
      archive.write("loss_scaler", torch::tensor(s.loss_scaler, torch::TensorOptions().dtype(torch::kFloat64)));
    archive.write("rng_cpu", generator_state(at::detail::getDefaultCPUGenerator()));
    // The generator of the model's own GPU: dropout there draws from it (the dispatcher makes that
    // device current for the kernel), while a plain kCUDA device here would mean device 0.
    if (const auto device = model_device(model); device.is_cuda())
      archive.write("rng_cuda", generator_state(at::globalContext().defaultGenerator(device)));
    save_archive(archive, tmp);
  } catch (const c10::Error& e) {
    remove_temp_file(tmp);
    throw IoError(fmt::format("{}: cannot write checkpoint: {}", tmp.string(), e.what_without_backtrace()));
  }
  move_into_place(tmp, file);
  auto all = list_checkpoints(dir);
  std::error_code ec;
  for (std::size_t i = 0; i + static_cast<std::size_t>(keep) < all.size(); ++i)
    std::filesystem::remove(all[i].second, ec);
}

CheckpointState load_checkpoint(const std::filesystem::path& file, FCN& model, torch::optim::Optimizer& optimizer) {
  CheckpointState s;
  try {
    torch::serialize::InputArchive archive;
    archive.load_from(file.string());
    torch::serialize::InputArchive model_archive, optim_archive;
    archive.read("model", model_archive);
    archive.read("optimizer", optim_archive);
    model->load(model_archive);
    optimizer.load(optim_archive);
    // A fresh tensor for each key: InputArchive::read set_()s into the one it is given.
    auto read = [&](const char* key) {
      torch::Tensor t;
      archive.read(key, t);
      return t;
    };
    s.iteration = read("iteration").item<std::int64_t>();
    s.loader_epoch = read("loader_epoch").item<std::int64_t>();
    s.loader_index = read("loader_index").item<std::int64_t>();
    s.config_hash = tensor_string(read("config_hash"));
    s.wall_seconds = read("wall_seconds").item<double>();
    s.train_seconds = read("train_seconds").item<double>();
    s.images_seen = read("images_seen").item<std::int64_t>();
    const auto train = read("train_curve");
    auto a = train.accessor<double, 2>();
    for (std::int64_t r = 0; r < train.size(0); ++r)
      s.train.push_back({static_cast<std::int64_t>(a[r][0]), a[r][1], a[r][2], a[r][3]});
    const auto val = read("val_curve");
    auto v = val.accessor<double, 2>();
    for (std::int64_t r = 0; r < val.size(0); ++r)
      s.val.push_back({static_cast<std::int64_t>(v[r][0]), v[r][1], v[r][2], v[r][3], v[r][4], v[r][5], v[r][6]});
    set_generator_state(at::detail::getDefaultCPUGenerator(), read("rng_cpu"));
    torch::Tensor scaler, t;
    if (archive.try_read("cpu_threads", t)) s.cpu_threads = static_cast<int>(t.item<std::int64_t>());
    if (archive.try_read("loss_scaler", scaler)) {
      const auto c = scaler.to(torch::kFloat64).contiguous();
      s.loss_scaler.assign(c.data_ptr<double>(), c.data_ptr<double>() + c.numel());
    }
    if (const auto device = model_device(model); device.is_cuda() && archive.try_read("rng_cuda", t))
      set_generator_state(at::globalContext().defaultGenerator(device), t);
  } catch (const c10::Error& e) {
    throw IoError(fmt::format("{}: cannot read checkpoint (damaged or from another model): {}", file.string(),
                              e.what_without_backtrace()));
  }
  return s;
}

void remove_checkpoints(const std::filesystem::path& dir) {
  std::error_code ec;
  for (const auto& [it, path] : list_checkpoints(dir)) std::filesystem::remove(path, ec);
}

}  // namespace fcnlab
