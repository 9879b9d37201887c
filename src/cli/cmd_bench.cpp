#include <fmt/format.h>

#include <iostream>
#include <string_view>

#include "cli/command.h"
#include "cli/options.h"
#include "core/error.h"

namespace fcnlab::cli {

namespace {
// One line per benchmark; each lives in cmd_bench_<name>.cpp and is declared in cli/command.h.
const Command kBenches[] = {
    {"data", "decoded + augmented images/s and ms per batch of the training loader", bench_data},
    {"train", "ms per full training step (forward, loss, backward, optimiser), images/s, TFLOP/s", bench_train},
    {"metrics", "ms per 500x375 image of the boundary metrics (trimap, BF, Boundary IoU), one core", bench_metrics},
    {"loss", "ms per forward + backward of every loss at the toy size", bench_loss},
    {"eval", "images/s of evaluation: decode, forward, metrics, and the whole overlapped", bench_eval},
};

void print_list(std::ostream& out) {
  out << "Usage: fcnlab bench <benchmark> [options]   (fcnlab bench <benchmark> --help)\n\nBenchmarks:\n";
  for (const auto& b : kBenches) out << fmt::format("  {:<10} {}\n", b.name, b.summary);
}
}  // namespace

int cmd_bench(const Args& args) {
  if (args.empty()) {
    print_list(std::cerr);
    throw UsageError("fcnlab bench: missing the benchmark name");
  }
  if (args[0] == "--help" || args[0] == "-h") {
    print_list(std::cout);
    return 0;
  }
  for (const auto& b : kBenches)
    if (b.name == args[0]) return b.run(Args(args.begin() + 1, args.end()));
  std::string names;
  for (const auto& b : kBenches) names += fmt::format("{}{}", names.empty() ? "" : ", ", b.name);
  throw UsageError(fmt::format("fcnlab bench: unknown benchmark '{}' (available: {})", args[0], names));
}

}  // namespace fcnlab::cli
