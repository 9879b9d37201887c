#include "cli/final_table.h"

#include <fmt/format.h>

#include <cmath>

namespace fcnlab::cli {

namespace {
std::string num(double v) {
  return std::isnan(v) ? std::string("-") : fmt::format("{:.4f}", v);
}
}  // namespace

std::string format_final(const FinalRecord& f) {
  std::string out = "final scores\n";
  for (const auto& [name, value] : f.scalars) out += fmt::format("  {:<22} {}\n", name, num(value));
  out += fmt::format("per class ({} classes, {} images)\n  {:<16} {:>8} {:>8} {:>12}\n", f.num_classes(), f.images,
                     "class", "IoU", "BF", "boundaryIoU");
  for (int c = 0; c < f.num_classes(); ++c) {
    const auto k = static_cast<std::size_t>(c);
    out += fmt::format("  {:<16} {:>8} {:>8} {:>12}\n", f.class_names[k], num(f.per_class_iou[k]),
                       num(f.bf_per_class[k]), num(f.boundary_iou_per_class[k]));
  }
  out += "trimap (band width px: pixel acc / mean IoU)\n";
  for (std::size_t k = 0; k < f.trimap_width.size(); ++k)
    out +=
        fmt::format("  {:>3}px  {} / {}\n", f.trimap_width[k], num(f.trimap_pixel_acc[k]), num(f.trimap_mean_iou[k]));
  return out;
}

}  // namespace fcnlab::cli
