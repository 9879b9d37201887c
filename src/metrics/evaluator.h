#pragma once
// The whole evaluation of a split, detectron2 style (reset / process one image / evaluate):
// confusion matrix and FCN scores, per-image confusions (for bootstrap intervals), trimap
// accuracy and mean IoU, BF score and Boundary IoU. Plain data in and out; torch-free.
#include <cstdint>
#include <vector>

#include "metrics/confusion.h"

namespace fcnlab {

struct BoundaryOptions {
  std::vector<int> trimap_widths{1, 2, 4, 8, 16, 32};  // eval.trimap_widths (ascending, >= 1)
  double bf_tolerance = 0.0075;                        // eval.bf_tolerance (x diagonal)
  double boundary_iou_dilation = 0.02;                 // eval.boundary_iou_dilation (x diagonal)
};

// Everything /final of the HDF5 schema needs.
struct EvalResult {
  Scores scores;
  double bf_score = 0;                  // mean over images (with a ground-truth class) of the mean over their classes
  double boundary_iou = 0;              // mean over classes with a non-empty band union
  std::vector<std::int64_t> confusion;  // [C*C], rows ground truth
  std::vector<std::int32_t> per_image_confusion;             // [N*C*C]
  std::vector<int> trimap_width;                             // [K]
  std::vector<double> trimap_pixel_acc, trimap_mean_iou;     // [K]
  std::vector<double> bf_per_class, boundary_iou_per_class;  // [C], NaN where undefined
  // Per image, so that the boundary metrics can be recomputed for resamples of the images
  // (bootstrap intervals) with the functions below:
  std::vector<double> per_image_bf;                   // [N*C] BF, NaN where the class is not in the ground truth
  std::vector<std::int32_t> per_image_boundary_band;  // [N*C*2] Boundary IoU band intersection, union
  std::vector<std::int32_t> per_image_trimap;         // [N*K*C*3] see trimap_from_images
  std::int64_t images = 0;
  int num_classes = 0;
};

// The boundary metrics recomputed from per-image data, with image i counted weights[i] times
// (each once when `weights` is empty): with empty weights they equal what evaluate() reports.
// DataError when the sizes do not fit together.
struct ClassMeanScore {
  double score = 0;               // NaN when no class (or image) counts
  std::vector<double> per_class;  // [C], NaN where undefined
};
// BF: per image the mean over its classes, then the weighted mean over images; per class the
// weighted mean over the images holding it.
ClassMeanScore bf_from_images(const std::vector<double>& per_image_bf, int num_classes,
                              const std::vector<std::uint32_t>& weights);
// Boundary IoU: band intersections and unions summed (weighted) over images, then the mean over
// classes with a non-empty union.
ClassMeanScore boundary_iou_from_images(const std::vector<std::int32_t>& per_image_band, int num_classes,
                                        const std::vector<std::uint32_t>& weights);
// Trimap scores within trimap_width[band] of a ground-truth boundary. per_image_trimap holds, per
// image, per band k (the non-void pixels whose narrowest band is k) and per class: correctly
// predicted pixels, ground-truth pixels, predicted pixels.
Scores trimap_from_images(const std::vector<std::int32_t>& per_image_trimap, int bands, int num_classes, int band,
                          const std::vector<std::uint32_t>& weights);

class SegmentationEvaluator {
 public:
  SegmentationEvaluator(int num_classes, BoundaryOptions opts);
  void reset();
  // One image: prediction and label maps of height x width, row-major. Label 255 is void: its
  // pixels count in no score, and the prediction there is ignored (BF and Boundary IoU included).
  // DataError for a value >= num_classes (other than a void label).
  void process(const std::uint8_t* pred, const std::uint8_t* label, int height, int width);
  // Appends another evaluator's images after this one's (for evaluation in parallel chunks).
  void merge(const SegmentationEvaluator& other);
  EvalResult evaluate() const;
  std::int64_t images() const { return images_; }
  int num_classes() const { return num_classes_; }

  // Only the boundary metrics of one image, without touching the confusion matrices (for the
  // benchmark): adds to the trimap, BF and Boundary IoU accumulators.
  void process_boundary(const std::uint8_t* pred, const std::uint8_t* label, int height, int width);

 private:
  int num_classes_;
  BoundaryOptions opts_;
  ConfusionMatrix confusion_;
  std::vector<std::int32_t> per_image_;
  std::int64_t images_ = 0;
  // Per image, in image order (EvalResult's per_image_* layouts), summed at evaluate(), so that a
  // merged evaluation equals a sequential one exactly.
  std::vector<std::int32_t> trimap_;  // [N*K*C*3], each pixel counted in the narrowest band holding it
  std::vector<double> bf_values_;     // [N*C]
  std::vector<std::int32_t> band_;    // [N*C*2]
};

}  // namespace fcnlab
