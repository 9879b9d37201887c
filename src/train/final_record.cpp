#include "train/final_record.h"

#include <fmt/format.h>

#include "core/error.h"

namespace fcnlab {

FinalRecord to_final_record(const EvalResult& r, const std::vector<std::string>& class_names,
                            const std::vector<std::string>& image_ids) {
  if (image_ids.size() != static_cast<std::size_t>(r.images))
    throw DataError(fmt::format("{} image ids for {} scored images", image_ids.size(), r.images));
  FinalRecord f;
  f.scalars = {{"pixel_acc", r.scores.pixel_acc},
               {"mean_acc", r.scores.mean_acc},
               {"mean_iou", r.scores.mean_iou},
               {"fw_iou", r.scores.fw_iou},
               {"bf_score", r.bf_score},
               {"boundary_iou", r.boundary_iou},
               {"classes_counted_iou", r.scores.classes_counted_iou},
               {"classes_counted_acc", r.scores.classes_counted_acc},
               {"images", static_cast<double>(r.images)}};
  for (std::size_t k = 0; k < r.trimap_width.size(); ++k) {
    f.scalars.emplace_back(fmt::format("trimap_acc_{}", r.trimap_width[k]), r.trimap_pixel_acc[k]);
    f.scalars.emplace_back(fmt::format("trimap_miou_{}", r.trimap_width[k]), r.trimap_mean_iou[k]);
  }
  f.class_names = class_names;
  f.confusion = r.confusion;
  f.per_class_iou = r.scores.per_class_iou;
  f.images = r.images;
  f.per_image_confusion = r.per_image_confusion;
  f.image_ids = image_ids;
  f.trimap_width.assign(r.trimap_width.begin(), r.trimap_width.end());
  f.trimap_pixel_acc = r.trimap_pixel_acc;
  f.trimap_mean_iou = r.trimap_mean_iou;
  f.bf_per_class = r.bf_per_class;
  f.boundary_iou_per_class = r.boundary_iou_per_class;
  f.per_image_bf = r.per_image_bf;
  f.per_image_boundary_band = r.per_image_boundary_band;
  f.per_image_trimap = r.per_image_trimap;
  return f;
}

}  // namespace fcnlab
