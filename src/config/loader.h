#pragma once
// Layered configuration: compiled-in configs/default.toml <- each --config file (following its
// `base = "..."` chain, relative to the file) <- dotted `key=value` overrides (TOML value syntax,
// bare words as strings). Unknown keys, wrong types, bad enum values and out-of-range numbers
// raise ConfigError naming the key, its origin (file:line or the override) and what was expected.
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"

namespace fcnlab {

class ConfigBuilder {
 public:
  ConfigBuilder();  // starts from the compiled-in defaults
  ~ConfigBuilder();
  ConfigBuilder(ConfigBuilder&&) noexcept;
  ConfigBuilder& operator=(ConfigBuilder&&) noexcept;

  // Layers a TOML file (its base chain first). Throws ConfigError on a missing file,
  // a parse error, an unknown key or a base cycle.
  ConfigBuilder& add_file(const std::filesystem::path& file);
  // Layers TOML text; `origin` names it in errors (e.g. the HDF5 file it came from).
  ConfigBuilder& add_text(std::string_view toml, const std::string& origin);
  // Layers one `key=value` override.
  ConfigBuilder& add_override(std::string_view key_equals_value);
  ConfigBuilder& add_overrides(const std::vector<std::string>& overrides);

  // Extracts, type-checks and validates the layered tables.
  Config build() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Convenience: defaults <- files <- overrides.
Config load_config(const std::vector<std::filesystem::path>& files, const std::vector<std::string>& overrides);

// Range and cross-field checks (also run by ConfigBuilder::build). Throws ConfigError.
void validate(const Config& config);

// Every dotted key of the schema, sorted.
const std::vector<std::string>& config_keys();
// ConfigError "<where>: unknown key 'k' (did you mean ...?)" unless `key` is one of config_keys().
void check_config_key(const std::string& key, const std::string& where);
// Keys that do not change results and are left out of the hash.
const std::vector<std::string>& unhashed_keys();
bool is_unhashed_key(std::string_view key);
// Keys that change results but are hashed only away from their defaults (added after run ids were
// in use; their defaults compute what was computed before, so earlier ids stay valid).
const std::vector<std::string>& keys_hashed_when_set();

// Canonical TOML: sorted sections and keys, every key present.
std::string to_canonical_toml(const Config& config);
// Canonical TOML of only the keys whose values differ from the defaults.
std::string diff_from_default(const Config& config);
// Stable 64-bit hash of the canonical TOML without the unhashed keys (and keys_hashed_when_set()
// at their defaults).
std::uint64_t config_hash(const Config& config);
std::string config_hash_hex(const Config& config);

// The value of one key in canonical TOML syntax (e.g. "8", "\"sum\"", "[0.5, 2.0]").
std::string config_value(const Config& config, std::string_view key);

bool operator==(const Config& a, const Config& b);
inline bool operator!=(const Config& a, const Config& b) {
  return !(a == b);
}

}  // namespace fcnlab
