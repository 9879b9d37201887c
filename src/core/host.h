#pragma once
// The system a process runs on: the host name and processor model a run file records (results in
// rounding depend on the processor, so `fcnlab rerun` compares the recorded model with its own),
// UTC time stamps and the process's own executable.
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace fcnlab {

// gethostname(), or "unknown".
std::string host_name();

// The first "model name" of /proc/cpuinfo, trimmed (e.g. "Intel(R) Xeon(R) Platinum 8481C CPU @
// 2.70GHz"); "" where there is none (no /proc, or a CPU that names no model, as many ARM ones).
std::string cpu_model();
// The same from the text of a /proc/cpuinfo.
std::string cpu_model_from_cpuinfo(std::string_view cpuinfo);

// The current UTC time in strftime's `format` (default ISO 8601, e.g. 2026-12-07T04:30:00Z).
std::string utc_now(const char* format = "%Y-%m-%dT%H:%M:%SZ");

// This process's executable (/proc/self/exe), so that it can start itself; Error where unknown.
std::filesystem::path self_exe();

// Runs argv[0] (looked up in PATH) with `argv`, no shell, and waits for it: its exit status, or
// -1 when it could not be started or was killed by a signal.
int run_program(const std::vector<std::string>& argv);

}  // namespace fcnlab
