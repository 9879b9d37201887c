#pragma once
// What a run file records about the machine it ran on: the host name and the processor model.
// Results in rounding depend on the processor (its vector units and the kernels LibTorch picks for
// them), so `fcnlab rerun` compares the recorded model with its own.
#include <string>
#include <string_view>

namespace fcnlab {

// gethostname(), or "unknown".
std::string host_name();

// The first "model name" of /proc/cpuinfo, trimmed (e.g. "Intel(R) Xeon(R) Platinum 8481C CPU @
// 2.70GHz"); "" where there is none (no /proc, or a CPU that names no model, as many ARM ones).
std::string cpu_model();
// The same from the text of a /proc/cpuinfo.
std::string cpu_model_from_cpuinfo(std::string_view cpuinfo);

}  // namespace fcnlab
