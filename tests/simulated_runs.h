#pragma once
// Simulated finished runs of an ablation with a known truth, for the tests of the statistics
// behind verdicts (tests/test_verdicts.cpp) and of adaptive seeds (tests/test_decide.cpp).
//
// Per image i and run r of arm a, the share of each class's pixels predicted right is
//   base + effect_a + seed_sd u_r + image_sd d_i + arm_image_sd g_ai + noise_sd e_ric
// with standard normal draws: a seed effect (training randomness), an image effect shared by every
// run (some images are hard), an arm-by-image effect (on a given image the arms differ by chance,
// though not on average over images) and run-by-image noise. Every experiment draws new images.
#include <map>
#include <random>
#include <string>
#include <vector>

#include "report/runs.h"

namespace fcnlab::testing {

struct Truth {
  double base = 0.7;
  double seed_sd = 0.02, image_sd = 0.08, arm_image_sd = 0.02, noise_sd = 0.03;
  int images = 30;
};

struct SimImage {
  double difficulty = 0;
  std::vector<double> arm_effect;  // one per arm
  std::vector<int> pixels;         // one per class
};

// `images` val images for `arms` arms (3 classes).
std::vector<SimImage> simulated_images(const Truth& truth, int arms, std::mt19937& rng);

// The config of a run as load_run() reads it (every key, display values).
std::map<std::string, std::string> default_config_values();

// A finished run of `arm` whose scores are `effect` above the baseline's, with `config` values set
// on top of the defaults (e.g. {"model.skip", "8"}). Its /final has mean_iou and bf_score and the
// per-image data the bootstrap needs.
report::Run simulated_run(const Truth& truth, const std::vector<SimImage>& images, int arm, double effect,
                          const std::map<std::string, std::string>& config, int seed, std::mt19937& rng);

}  // namespace fcnlab::testing
