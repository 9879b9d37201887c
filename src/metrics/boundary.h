#pragma once
// Boundary primitives of the metrics (DESIGN.md "Metrics"): label and mask boundaries, the inner
// band of Boundary IoU, and the BF boundary match. Row-major byte images; torch-free.
#include <cstdint>
#include <vector>

namespace fcnlab {

// out[i] = 1 where the label (void included) differs from one of the pixel's 4-neighbours.
void label_boundary(const std::uint8_t* labels, int height, int width, std::uint8_t* out);

// out[i] = 1 for mask pixels (mask != 0) with a 4-neighbour inside the image outside the mask.
void mask_boundary(const std::uint8_t* mask, int height, int width, std::uint8_t* out);

// Boundary IoU's inner band (boundary-iou-api mask_to_boundary): the mask minus its erosion by a
// 3x3 square applied `d` times, the image zero-padded (pixels near the image border are in the
// band). Computed as two separable distance passes, O(pixels) whatever d.
void inner_band(const std::uint8_t* mask, int height, int width, int d, std::uint8_t* out);

// theta = bf_tolerance x image diagonal (pixels).
double bf_tolerance_px(int height, int width, double bf_tolerance);
// d = max(1, round(ratio x diagonal)); round half to even, as Python's round() in boundary-iou-api.
int boundary_iou_dilation_px(int height, int width, double ratio);

// Boundary pixels of a class in ground truth and prediction and how many lie within theta
// (Euclidean, distance <= theta) of the other's boundary.
struct BoundaryMatch {
  std::int64_t gt_boundary = 0, gt_matched = 0;      // recall = gt_matched / gt_boundary
  std::int64_t pred_boundary = 0, pred_matched = 0;  // precision = pred_matched / pred_boundary
  bool predicted = false;                            // the prediction holds the class at all
};
BoundaryMatch match_boundaries(const std::uint8_t* gt_mask, const std::uint8_t* pred_mask, int height, int width,
                               double theta);
// F = 2PR / (P + R); 0 when the class is not predicted or P + R = 0. When both boundaries are
// empty (the class fills the image in both), F = 1 if predicted.
double bf_from_match(const BoundaryMatch& m);

}  // namespace fcnlab
