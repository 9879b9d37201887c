#include "train/schedule.h"

#include <algorithm>
#include <cmath>

namespace fcnlab {

double learning_rate(const OptimConfig& cfg, std::int64_t it, std::int64_t total) {
  double lr = cfg.lr;
  switch (cfg.schedule) {
    case Schedule::fixed:
      break;
    case Schedule::poly: {
      const double progress =
          std::clamp(static_cast<double>(it) / static_cast<double>(std::max<std::int64_t>(total, 1)), 0.0, 1.0);
      lr = cfg.lr * std::pow(1.0 - progress, cfg.poly_power);
      break;
    }
    case Schedule::step:
      lr = cfg.lr * std::pow(cfg.step_gamma, static_cast<double>(it / cfg.step_every));
      break;
  }
  if (cfg.warmup > 0 && it < cfg.warmup) lr *= static_cast<double>(it + 1) / static_cast<double>(cfg.warmup);
  return lr;
}

}  // namespace fcnlab
