#include "simulated_runs.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "config/loader.h"
#include "metrics/confusion.h"
#include "metrics/evaluator.h"

namespace fcnlab::testing {

namespace {
constexpr int kClasses = 3;
}

std::vector<SimImage> simulated_images(const Truth& truth, int arms, std::mt19937& rng) {
  std::normal_distribution<double> z;
  std::uniform_int_distribution<int> size(80, 300);
  std::vector<SimImage> images(static_cast<std::size_t>(truth.images));
  for (auto& im : images) {
    im.difficulty = z(rng);
    for (int a = 0; a < arms; ++a) im.arm_effect.push_back(z(rng));
    for (int c = 0; c < kClasses; ++c) im.pixels.push_back(size(rng));
  }
  return images;
}

std::map<std::string, std::string> default_config_values() {
  const Config cfg = ConfigBuilder().build();
  std::map<std::string, std::string> out;
  for (const auto& key : config_keys()) out[key] = report::display_value(config_value(cfg, key));
  return out;
}

report::Run simulated_run(const Truth& truth, const std::vector<SimImage>& images, int arm, double effect,
                          const std::map<std::string, std::string>& config, int seed, std::mt19937& rng) {
  static const auto defaults = default_config_values();
  std::normal_distribution<double> z;
  report::Run run;
  run.file = fmt::format("sim/arm{}-seed{}.h5", arm, seed);
  run.config = defaults;
  for (const auto& [k, v] : config) run.config[k] = v;
  run.config["run.seed"] = std::to_string(seed);
  run.info.run_id = run.file.stem().string();
  run.info.seed = seed;
  run.info.data_fingerprint = "simulated";
  FinalRecord& f = run.final;
  f.class_names = {"background", "a", "b"};
  f.images = static_cast<std::int64_t>(images.size());
  const double run_effect = truth.base + effect + truth.seed_sd * z(rng);
  for (const SimImage& im : images) {
    std::int32_t m[kClasses * kClasses] = {};
    for (int c = 0; c < kClasses; ++c) {
      const double p =
          std::clamp(run_effect + truth.image_sd * im.difficulty +
                         truth.arm_image_sd * im.arm_effect[static_cast<std::size_t>(arm)] + truth.noise_sd * z(rng),
                     0.0, 1.0);
      const int pixels = im.pixels[static_cast<std::size_t>(c)];
      const auto right = static_cast<std::int32_t>(std::lround(p * pixels));
      m[c * kClasses + c] = right;
      m[c * kClasses + (c + 1) % kClasses] = pixels - right;
      // BF follows the same shares, lower (boundaries are harder).
      f.per_image_bf.push_back(std::clamp(p - 0.2, 0.0, 1.0));
    }
    f.per_image_confusion.insert(f.per_image_confusion.end(), m, m + kClasses * kClasses);
  }
  f.confusion.assign(kClasses * kClasses, 0);
  for (std::size_t k = 0; k < f.per_image_confusion.size(); ++k)
    f.confusion[k % (kClasses * kClasses)] += f.per_image_confusion[k];
  const Scores s = scores_from_confusion(f.confusion.data(), kClasses);
  f.scalars = {{"mean_iou", s.mean_iou}, {"bf_score", bf_from_images(f.per_image_bf, kClasses, {}).score}};
  return run;
}

}  // namespace fcnlab::testing
