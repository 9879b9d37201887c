#include "data/loader.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <numeric>
#include <thread>

#include "core/error.h"
#include "core/rng.h"

namespace fcnlab {

Batch collate(std::vector<TensorSample> samples, std::vector<std::string> ids, bool pinned) {
  if (samples.empty()) throw DataError("collate: empty batch");
  std::int64_t h = 0, w = 0;
  for (const auto& s : samples) {
    h = std::max(h, s.image.size(1));
    w = std::max(w, s.image.size(2));
  }
  const auto b = static_cast<std::int64_t>(samples.size());
  Batch out;
  out.images = torch::zeros({b, 3, h, w}, torch::TensorOptions().dtype(torch::kFloat32).pinned_memory(pinned));
  out.labels = torch::full({b, h, w}, 255, torch::TensorOptions().dtype(torch::kUInt8).pinned_memory(pinned));
  for (std::int64_t i = 0; i < b; ++i) {
    const auto& s = samples[static_cast<std::size_t>(i)];
    out.images[i].slice(1, 0, s.image.size(1)).slice(2, 0, s.image.size(2)).copy_(s.image);
    out.labels[i].slice(0, 0, s.label.size(0)).slice(1, 0, s.label.size(1)).copy_(s.label);
    out.sizes.emplace_back(s.image.size(1), s.image.size(2));
  }
  out.ids = std::move(ids);
  return out;
}

std::vector<std::size_t> epoch_order(std::size_t n, std::uint64_t seed, std::int64_t epoch) {
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), std::size_t{0});
  Rng rng(seed, 0x5348554646ull /* "SHUFF" */, static_cast<std::uint64_t>(epoch));
  for (std::size_t i = n; i > 1; --i) std::swap(order[i - 1], order[static_cast<std::size_t>(rng.below(i))]);
  return order;
}

struct TrainLoader::Impl {
  std::shared_ptr<const VocSegmentation> ds;
  DataConfig cfg;
  int batch = 1;
  std::uint64_t seed = 0;
  int workers = 0;
  std::atomic<bool> pinned{false};
  std::int64_t bpe = 0;
  std::int64_t epoch = 0, index = 0;

  // prefetch: futures of batches (by global batch number) in order
  std::deque<std::pair<std::int64_t, std::future<Batch>>> inflight;
  std::int64_t next_submit = 0;  // global number of the next batch to submit
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::packaged_task<Batch()>> tasks;
  bool stop = false;
  std::vector<std::thread> threads;

  Batch compute(std::int64_t global) const {
    const std::int64_t e = global / bpe, k = global % bpe;
    const auto order = epoch_order(ds->size(), seed, e);
    std::vector<TensorSample> samples;
    std::vector<std::string> ids;
    samples.reserve(static_cast<std::size_t>(batch));
    for (int j = 0; j < batch; ++j) {
      const std::size_t idx = order[static_cast<std::size_t>(k * batch + j)];
      const Sample raw = ds->get(idx);
      Rng rng(seed, 0x4155474Dull /* "AUGM" */ + static_cast<std::uint64_t>(e), static_cast<std::uint64_t>(idx));
      samples.push_back(augment_sample(raw, cfg, rng));
      ids.push_back(raw.id);
    }
    return collate(std::move(samples), std::move(ids), pinned.load());
  }

  void worker_loop() {
    for (;;) {
      std::packaged_task<Batch()> task;
      {
        std::unique_lock<std::mutex> lock(mu);
        cv.wait(lock, [&] { return stop || !tasks.empty(); });
        if (stop) return;
        task = std::move(tasks.front());
        tasks.pop_front();
      }
      task();  // exceptions (DataError) travel to next() through the future
    }
  }

  void fill(std::int64_t current) {
    const std::int64_t ahead = 2 * static_cast<std::int64_t>(workers);
    if (next_submit < current) next_submit = current;
    while (next_submit < current + ahead) {
      const std::int64_t g = next_submit++;
      std::packaged_task<Batch()> task([this, g] { return compute(g); });
      inflight.emplace_back(g, task.get_future());
      {
        std::lock_guard<std::mutex> lock(mu);
        tasks.push_back(std::move(task));
      }
      cv.notify_one();
    }
  }

  void drop_prefetch() {
    {
      std::lock_guard<std::mutex> lock(mu);
      tasks.clear();
    }
    // Futures of tasks already running are simply abandoned (a packaged_task's future does not block).
    inflight.clear();
    next_submit = 0;
  }
};

TrainLoader::TrainLoader(std::shared_ptr<const VocSegmentation> ds, const DataConfig& cfg, int batch_size,
                         std::uint64_t seed, int workers)
    : impl_(std::make_unique<Impl>()) {
  if (!ds) throw DataError("TrainLoader: no dataset");
  if (batch_size < 1) throw DataError(fmt::format("TrainLoader: batch size must be >= 1, got {}", batch_size));
  impl_->ds = std::move(ds);
  impl_->cfg = cfg;
  impl_->batch = batch_size;
  impl_->seed = seed;
  impl_->workers = std::max(0, workers);
  impl_->bpe = static_cast<std::int64_t>(impl_->ds->size()) / batch_size;
  if (impl_->bpe == 0)
    throw DataError(
        fmt::format("the training split has {} images, fewer than one batch of {}", impl_->ds->size(), batch_size));
  for (int i = 0; i < impl_->workers; ++i) impl_->threads.emplace_back([p = impl_.get()] { p->worker_loop(); });
}

TrainLoader::~TrainLoader() {
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->stop = true;
    impl_->tasks.clear();
  }
  impl_->cv.notify_all();
  for (auto& t : impl_->threads) t.join();
}

Batch TrainLoader::next() {
  Impl& m = *impl_;
  const std::int64_t g = m.epoch * m.bpe + m.index;
  Batch b;
  if (m.workers == 0) {
    b = m.compute(g);
  } else {
    m.fill(g);
    auto fut = std::move(m.inflight.front().second);
    m.inflight.pop_front();
    b = fut.get();
  }
  if (++m.index == m.bpe) {
    m.index = 0;
    ++m.epoch;
  }
  return b;
}

std::int64_t TrainLoader::epoch() const {
  return impl_->epoch;
}
std::int64_t TrainLoader::index_in_epoch() const {
  return impl_->index;
}
std::int64_t TrainLoader::batches_per_epoch() const {
  return impl_->bpe;
}
void TrainLoader::set_pin_memory(bool pinned) {
  impl_->pinned.store(pinned);
}

void TrainLoader::seek(std::int64_t epoch, std::int64_t index_in_epoch) {
  if (epoch < 0 || index_in_epoch < 0 || index_in_epoch >= impl_->bpe)
    throw DataError(fmt::format("TrainLoader::seek: position ({}, {}) outside an epoch of {} batches", epoch,
                                index_in_epoch, impl_->bpe));
  impl_->drop_prefetch();
  impl_->epoch = epoch;
  impl_->index = index_in_epoch;
}

std::vector<std::vector<std::size_t>> val_batches(std::size_t n, int batch) {
  const std::size_t b = static_cast<std::size_t>(std::max(1, batch));
  std::vector<std::vector<std::size_t>> out;
  for (std::size_t i = 0; i < n; i += b) {
    std::vector<std::size_t> v;
    for (std::size_t j = i; j < std::min(n, i + b); ++j) v.push_back(j);
    out.push_back(std::move(v));
  }
  return out;
}

Batch load_val_batch(const VocSegmentation& ds, const std::vector<std::size_t>& indices, const DataConfig& cfg,
                     std::vector<Sample>* decoded) {
  std::vector<TensorSample> samples;
  std::vector<std::string> ids;
  if (decoded) decoded->clear();
  for (auto i : indices) {
    Sample raw = ds.get(i);
    samples.push_back(plain_sample(raw, cfg));
    ids.push_back(raw.id);
    if (decoded) decoded->push_back(std::move(raw));
  }
  return collate(std::move(samples), std::move(ids));
}

}  // namespace fcnlab
