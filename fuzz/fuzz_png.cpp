// Fuzzes the label PNG decoder (libpng behind decode_png_label). Bad input: fcnlab::DataError.
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "core/error.h"
#include "data/image_io.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const fcnlab::Image8 img = fcnlab::decode_png_label(data, size, "fuzz.png");
    if (img.channels != 1 ||
        img.pixels.size() != static_cast<std::size_t>(img.width) * static_cast<std::size_t>(img.height))
      std::abort();
  } catch (const fcnlab::DataError&) {
  } catch (const std::exception& e) {
    std::fprintf(stderr, "unexpected exception type escaped decode_png_label: %s\n", e.what());
    std::abort();
  }
  return 0;
}
