// Fuzzes the config layer: the first byte picks TOML text (ConfigBuilder::add_text) or key=value
// overrides (one per line, ConfigBuilder::add_override); then build() type-checks and validates.
// Expected outcome for bad input: fcnlab::ConfigError. Anything else escaping is a bug.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "config/loader.h"
#include "core/error.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  try {
    fcnlab::ConfigBuilder b;
    if (data[0] % 2 == 0) {
      b.add_text(text, "fuzz.toml");
    } else {
      std::size_t start = 0;
      while (start <= text.size()) {
        const auto end = text.find('\n', start);
        const auto line = text.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
        if (!line.empty()) b.add_override(line);
        if (end == std::string_view::npos) break;
        start = end + 1;
      }
    }
    const fcnlab::Config cfg = b.build();
    (void)fcnlab::to_canonical_toml(cfg);
    (void)fcnlab::config_hash(cfg);
  } catch (const fcnlab::ConfigError&) {
  } catch (const std::exception& e) {
    std::fprintf(stderr, "unexpected exception type escaped the config layer: %s\n", e.what());
    std::abort();
  }
  return 0;
}
