#pragma once
// Learning-rate schedules (optim.schedule), with optional linear warm-up. Torch-free.
#include <cstdint>

#include "config/config.h"

namespace fcnlab {

// Learning rate for iteration `it` (0-based) of `total`.
double learning_rate(const OptimConfig& cfg, std::int64_t it, std::int64_t total);

}  // namespace fcnlab
