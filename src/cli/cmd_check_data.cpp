#include <fmt/format.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "cli/options.h"
#include "config/loader.h"
#include "data/check.h"
#include "data/voc.h"

namespace fcnlab::cli {

int cmd_check_data(const Args& args) {
  po::options_description opts("Options");
  opts.add_options()("quick", "headers and label values only (the check `train` runs on start-up)")(
      "threads", po::value<int>()->default_value(0), "decoding threads (0 = all cores)");
  const auto p = parse_args("check-data", args, opts, true);
  if (p.help) {
    print_help("fcnlab check-data [--config FILE]... [--quick] [key=value]...",
               "Opens every image and label of data.train_split and data.val_split and reports every\n"
               "problem, each naming the file: missing files, undecodable or truncated JPEG/PNG, labels that\n"
               "are not palette or 8-bit greyscale PNGs, image/label size mismatches, label values outside\n"
               "[0, data.num_classes) and 255, empty or missing split lists, duplicate ids. Prints a summary\n"
               "(images, pixels per class). Exit 0 only when the data is clean, 1 otherwise.",
               opts);
    return 0;
  }
  const Config config = load_config(p);
  const auto& d = config.data;
  const auto t0 = std::chrono::steady_clock::now();
  const DataCheckReport rep =
      check_dataset(d, p.vm.count("quick") ? CheckDepth::quick : CheckDepth::full, p.vm["threads"].as<int>());
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  for (const auto& pr : rep.problems) std::cout << "problem: " << pr.message << '\n';
  std::cout << fmt::format("data.root = {}\n", d.root);
  for (const auto& s : rep.splits)
    std::cout << fmt::format("  split {:<12} {:>6} images  ({})\n", s.name, s.ids.size(), s.list_file);
  // class names from <root>/classes.txt when present (the toy set writes one)
  std::vector<std::string> names;
  {
    std::ifstream in(std::filesystem::path(d.root) / "classes.txt");
    for (std::string line; std::getline(in, line);)
      if (!line.empty()) names.push_back(line);
  }
  std::uint64_t total = rep.void_pixels + rep.invalid_pixels;
  for (auto c : rep.class_pixels) total += c;
  const double tot = total ? static_cast<double>(total) : 1.0;
  std::cout << fmt::format("  classes present (of {}):\n", d.num_classes);
  for (std::size_t k = 0; k < rep.class_pixels.size(); ++k)
    if (rep.class_pixels[k])
      std::cout << fmt::format("    {:>3} {:<14} {:>12} px  {:6.2f}%\n", k, k < names.size() ? names[k] : "",
                               rep.class_pixels[k], 100.0 * static_cast<double>(rep.class_pixels[k]) / tot);
  std::cout << fmt::format("    255 {:<14} {:>12} px  {:6.2f}%\n", "void", rep.void_pixels,
                           100.0 * static_cast<double>(rep.void_pixels) / tot);
  if (rep.invalid_pixels) std::cout << fmt::format("    invalid label values: {} px\n", rep.invalid_pixels);
  std::cout << fmt::format("checked {} image/label pairs in {:.2f} s: {}\n", rep.images_checked, secs,
                           rep.ok() ? "clean" : fmt::format("{} problem(s)", rep.problems.size()));
  std::cout << std::flush;
  return rep.ok() ? 0 : 1;
}

}  // namespace fcnlab::cli
