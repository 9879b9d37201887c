#include "core/host.h"

#include <unistd.h>

#include <fstream>
#include <sstream>

#include "core/text.h"

namespace fcnlab {

std::string host_name() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0) return "unknown";
  return buf;
}

std::string cpu_model_from_cpuinfo(std::string_view cpuinfo) {
  for (const auto& line : split(cpuinfo, '\n')) {
    const auto colon = line.find(':');
    if (colon == std::string::npos || trim(line.substr(0, colon)) != "model name") continue;
    return trim(line.substr(colon + 1));
  }
  return "";
}

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  if (!in) return "";
  std::ostringstream text;
  text << in.rdbuf();
  return cpu_model_from_cpuinfo(text.str());
}

}  // namespace fcnlab
