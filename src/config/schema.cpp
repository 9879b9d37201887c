// The schema's key lists: every key, the keys left out of the run id, and the unknown-key check.

#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "config/detail.h"
#include "config/loader.h"
#include "config/schema_fields.h"
#include "core/error.h"
#include "core/text.h"

namespace fcnlab {

std::string to_string(const Device& d) {
  if (d.kind == DeviceKind::cuda && d.index >= 0) return fmt::format("cuda:{}", d.index);
  return std::string(to_string(d.kind));
}

namespace detail {

std::vector<std::string> sections_of(const std::vector<std::string>& keys) {
  std::set<std::string> s;
  for (const auto& k : keys) s.insert(k.substr(0, k.find('.')));
  return {s.begin(), s.end()};
}

}  // namespace detail

const std::vector<std::string>& config_keys() {
  static const std::vector<std::string> keys = [] {
    detail::KeyLister l;
    Config c;
    detail::visit_fields(c, l);
    std::sort(l.keys.begin(), l.keys.end());
    return l.keys;
  }();
  return keys;
}

void check_config_key(const std::string& key, const std::string& where) {
  const auto& keys = config_keys();
  if (!std::binary_search(keys.begin(), keys.end(), key))
    throw ConfigError(fmt::format("{}: unknown key '{}'{}", where, key, did_you_mean(key, keys)));
}

const std::vector<std::string>& unhashed_keys() {
  // Output locations, labels and execution resources: they do not change what is computed, only
  // how. Two of them change results in rounding: run.threads (intra-op reductions split their work
  // by thread; `rerun` pins the recorded count) and optim.fuse_conv_relu (the same function with
  // other kernels, like cuDNN's algorithm choice in benchmark mode; prepare_model fuses nothing when
  // run.deterministic is set, so it never changes a deterministic run). Keeping
  // them out keeps a run's id across machines, and every run id from before the key existed.
  static const std::vector<std::string> keys{
      "checkpoint.every", "checkpoint.keep", "data.workers", "optim.fuse_conv_relu", "run.experiment",
      "run.log_every",    "run.log_level",   "run.name",     "run.results_dir",      "run.threads"};
  return keys;
}

bool is_unhashed_key(std::string_view key) {
  const auto& keys = unhashed_keys();
  return std::find(keys.begin(), keys.end(), key) != keys.end();
}

const std::vector<std::string>& keys_hashed_when_set() {
  // Result-affecting keys added after run ids were in use. At their default they reproduce what
  // was computed before they existed, so there they are left out of the hash, and every earlier
  // run id stays valid; any other value is hashed as usual.
  static const std::vector<std::string> keys{"optim.bias_decay_mult", "optim.bias_lr_mult"};
  return keys;
}

}  // namespace fcnlab
