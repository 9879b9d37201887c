#pragma once
// Plain-text tables of run files shared by `show`, `eval` and `rerun`.
#include <string>

#include "results/run_file.h"

namespace fcnlab::cli {

// The scalar scores, per-class IoU and the trimap curve of a /final record.
std::string format_final(const FinalRecord& f);

}  // namespace fcnlab::cli
