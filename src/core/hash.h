#pragma once
// Stable 64-bit hashing (xxHash XXH3-64). Used for config identity and data fingerprints:
// the value for a given input never changes across builds or machines.
#include <cstdint>
#include <string>
#include <string_view>

namespace fcnlab {

std::uint64_t hash64(std::string_view bytes);
// 16 lower-case hex digits.
std::string hex64(std::uint64_t value);

// Incremental hashing for long inputs (file contents, lists of files).
class Hasher {
 public:
  Hasher();
  ~Hasher();
  Hasher(const Hasher&) = delete;
  Hasher& operator=(const Hasher&) = delete;
  void update(std::string_view bytes);
  std::uint64_t digest() const;

 private:
  void* state_;  // XXH3_state_t*, kept opaque so xxhash.h stays out of this header
};

}  // namespace fcnlab
