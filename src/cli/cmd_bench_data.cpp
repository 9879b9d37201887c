#include <fmt/format.h>

#include <chrono>
#include <iostream>

#include "cli/options.h"
#include "config/loader.h"
#include "data/loader.h"
#include "data/voc.h"

namespace fcnlab::cli {

int bench_data(const Args& args) {
  int iters = 50;
  po::options_description opts("Options");
  opts.add_options()("iters", po::value<int>(&iters)->default_value(iters),
                     "batches to time (after 2 warm-up batches)");
  const auto p = parse_args("bench data", args, opts, true);
  if (p.help) {
    print_help("fcnlab bench data [--config FILE]... [--iters N] [key=value]...",
               "Times the training loader on data.train_split: JPEG/PNG decoding, random scale, crop and\n"
               "flips, normalisation and batching of optim.batch_size images with data.workers threads.\n"
               "Prints decoded+augmented images/s and ms per batch. Compare with bench/data_torchvision.py.",
               opts);
    return 0;
  }
  const Config c = load_config(p);
  auto ds = VocSegmentation::from_config(c.data, Split::train);
  const int batch = c.optim.batch_size;
  TrainLoader loader(ds, c.data, batch, static_cast<std::uint64_t>(c.run.seed), c.data.workers);
  for (int i = 0; i < 2; ++i) loader.next();
  const auto t0 = std::chrono::steady_clock::now();
  std::int64_t checksum = 0;
  for (int i = 0; i < iters; ++i) checksum += loader.next().labels.size(1);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double images = static_cast<double>(iters) * batch;
  std::cout << fmt::format(
      "bench data: {} ({} images), batch {}, crop {}, scale [{}, {}], workers {}, torch threads {}\n", c.data.root,
      ds->size(), batch, c.data.crop, c.data.scale[0], c.data.scale[1], c.data.workers, torch::get_num_threads());
  std::cout << fmt::format("  {:.1f} images/s, {:.2f} ms per batch ({} batches, {:.2f} s)\n", images / secs,
                           1000.0 * secs / iters, iters, secs);
  (void)checksum;
  return 0;
}

}  // namespace fcnlab::cli
