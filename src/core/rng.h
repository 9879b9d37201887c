#pragma once
// A small, fully specified random generator (SplitMix64) with its own distributions, so every
// draw is identical across standard libraries and machines (std::uniform_*_distribution is not).
// Streams are keyed by tuples, e.g. Rng(seed, epoch, sample) for the augmentation of one sample.
#include <cmath>
#include <cstdint>

namespace fcnlab {

class Rng {
 public:
  // A stream keyed by (seed, a, b, c): each key is mixed into the state.
  explicit Rng(std::uint64_t seed, std::uint64_t a = 0, std::uint64_t b = 0, std::uint64_t c = 0) {
    state_ = mix(seed ^ 0x6A09E667F3BCC908ull);
    state_ = mix(state_ ^ (a + 0x3C6EF372FE94F82Bull));
    state_ = mix(state_ ^ (b + 0xA54FF53A5F1D36F1ull));
    state_ = mix(state_ ^ (c + 0x510E527FADE682D1ull));
  }
  // The plain SplitMix64 sequence that starts from `state` (the bootstrap's resamples are defined
  // by it, so their tables do not change with the keyed constructor's mixing).
  static Rng from_state(std::uint64_t state) {
    Rng r(0);
    r.state_ = state;
    return r;
  }
  std::uint64_t next() {
    state_ += 0x9E3779B97F4A7C15ull;
    return mix(state_);
  }
  // Uniform in [0, 1) with 53 random bits.
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  // Uniform integer in [0, n); n > 0. (Modulo bias < n / 2^64: negligible.)
  std::uint64_t below(std::uint64_t n) { return next() % n; }
  // Uniform integer in [0, n) without modulo bias, by rejection; n > 0.
  std::uint64_t below_unbiased(std::uint64_t n) {
    const std::uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    std::uint64_t x = 0;
    do x = next();
    while (x >= limit);
    return x % n;
  }
  int between(int lo, int hi) {
    return lo + static_cast<int>(below(static_cast<std::uint64_t>(hi - lo + 1)));
  }  // [lo, hi]
  bool chance(double p) { return uniform() < p; }

 private:
  static std::uint64_t mix(std::uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  std::uint64_t state_;
};

}  // namespace fcnlab
