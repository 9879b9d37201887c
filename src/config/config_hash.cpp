// The config hash in every run id: the canonical text less the keys that do not change results.

#include "config/detail.h"
#include "config/loader.h"
#include "core/hash.h"

namespace fcnlab {

std::uint64_t config_hash(const Config& config) {
  auto t = detail::to_table(config);
  const auto erase = [&t](std::string_view key) {
    const auto dot = key.find('.');
    if (auto* section = t.get_as<toml::table>(key.substr(0, dot))) section->erase(key.substr(dot + 1));
  };
  for (const auto& key : unhashed_keys()) erase(key);
  static const toml::table defaults = detail::to_table(Config{});
  for (const auto& key : keys_hashed_when_set()) {
    const auto value = t.at_path(key);
    const auto fallback = defaults.at_path(key);
    if (value && fallback && detail::format_value(*value.node()) == detail::format_value(*fallback.node())) erase(key);
  }
  return hash64(detail::format_table(t));
}

std::string config_hash_hex(const Config& config) {
  return hex64(config_hash(config));
}

bool operator==(const Config& a, const Config& b) {
  return to_canonical_toml(a) == to_canonical_toml(b);
}

}  // namespace fcnlab
