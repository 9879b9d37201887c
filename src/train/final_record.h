#pragma once
// The /final record of a run file from an evaluation's plain results. Torch-free: used by the
// trainer, `fcnlab eval` and `fcnlab eval-masks`.
#include <string>
#include <vector>

#include "metrics/evaluator.h"
#include "results/run_file.h"

namespace fcnlab {

// Scalars: pixel_acc, mean_acc, mean_iou, fw_iou, bf_score, boundary_iou, classes_counted_iou,
// classes_counted_acc, images, and trimap_acc_<w> / trimap_miou_<w> for each band width.
// `image_ids`: the scored images in the order of r's per-image rows (one per image; Error otherwise).
FinalRecord to_final_record(const EvalResult& r, const std::vector<std::string>& class_names,
                            const std::vector<std::string>& image_ids);

}  // namespace fcnlab
