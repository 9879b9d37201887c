// Fuzzes the HDF5 run-file reader: the input is written to a temporary file, opened with
// RunFileReader and read in full (info, curves, final, examples). Bad input: fcnlab::Error
// (IoError naming the file). HDF5 itself is not instrumented.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "core/error.h"
#include "results/run_file.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::string file = "/tmp/fcnlab-fuzz-runfile-" + std::to_string(::getpid()) + ".h5";
  if (FILE* f = std::fopen(file.c_str(), "wb")) {
    const bool ok = std::fwrite(data, 1, size, f) == size;
    std::fclose(f);
    if (!ok) std::abort();
  } else {
    std::abort();
  }
  try {
    const fcnlab::RunFileReader reader(file);
    (void)reader.info();
    (void)reader.train();
    (void)reader.val();
    (void)reader.final();
    (void)reader.examples();
  } catch (const fcnlab::Error&) {
  } catch (const std::exception& e) {
    std::fprintf(stderr, "unexpected exception type escaped RunFileReader: %s\n", e.what());
    std::abort();
  }
  return 0;
}
