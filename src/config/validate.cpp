// validate(): every range and cross-field check of a Config, the one place a run's config is
// refused before it starts (`fcnlab config`, `sweep --dry-run` and every run call it).

#include <fmt/format.h>

#include <string>

#include "config/detail.h"
#include "config/loader.h"
#include "core/error.h"

namespace fcnlab {
namespace detail {

namespace {

// A single path component that stays where it is put: no '/', and not "." or "..".
bool is_plain_name(const std::string& name) {
  return name.find('/') == std::string::npos && name != "." && name != "..";
}

class Validator {
 public:
  Validator(const Config& c, const Origins* origins) : c_(c), origins_(origins) {}
  void check(bool ok, std::string_view key, std::string_view requirement) const {
    if (ok) return;
    std::string origin = "config";
    if (origins_ != nullptr) {
      if (auto it = origins_->find(key); it != origins_->end()) origin = it->second;
    }
    throw ConfigError(fmt::format("{}: {} = {}: {}", origin, key, config_value(c_, key), requirement));
  }

 private:
  const Config& c_;
  const Origins* origins_;
};

}  // namespace

void validate_config(const Config& c, const Origins* origins) {
  const Validator v(c, origins);
  v.check(c.run.seed >= 0, "run.seed", "must be >= 0");
  v.check(c.run.threads >= 0, "run.threads", "must be >= 0 (0 = all cores)");
  v.check(c.run.log_every >= 1, "run.log_every", "must be >= 1");
  // Both become part of file names under run.results_dir: a '/' or a ".." would put the run's files
  // elsewhere.
  v.check(!c.run.experiment.empty() && is_plain_name(c.run.experiment), "run.experiment",
          "must be a non-empty name without '/', not \".\" or \"..\"");
  v.check(c.run.name.empty() || is_plain_name(c.run.name), "run.name",
          "must be empty or a name without '/', not \".\" or \"..\" (it prefixes the run id, a file name)");
  v.check(!c.run.results_dir.empty(), "run.results_dir", "must not be empty");

  v.check(!c.data.root.empty(), "data.root", "must not be empty");
  v.check(c.data.num_classes >= 2 && c.data.num_classes <= 255, "data.num_classes",
          "must be in [2, 255] (255 is the void label)");
  v.check(c.data.crop >= 0, "data.crop", "must be >= 0 (0 = whole images)");
  v.check(c.data.scale.size() == 2 && c.data.scale[0] > 0 && c.data.scale[0] <= c.data.scale[1], "data.scale",
          "must be [lo, hi] with 0 < lo <= hi");
  v.check(c.data.mean.size() == 3, "data.mean", "must have 3 values (R, G, B)");
  v.check(c.data.std.size() == 3 && std::all_of(c.data.std.begin(), c.data.std.end(), [](double s) { return s > 0; }),
          "data.std", "must have 3 positive values (R, G, B)");
  v.check(c.data.workers >= 0, "data.workers", "must be >= 0");
  v.check(c.data.val_batch >= 1, "data.val_batch", "must be >= 1");

  v.check(c.model.width > 0 && c.model.width <= 4, "model.width", "must be in (0, 4]");
  v.check(c.model.fc_channels >= 1, "model.fc_channels", "must be >= 1");
  v.check(c.model.dropout >= 0 && c.model.dropout < 1, "model.dropout", "must be in [0, 1)");
  v.check(c.model.pretrained.empty() || !c.model.batchnorm, "model.pretrained",
          "needs model.batchnorm = false: the importer reads torchvision's plain VGG16");

  v.check(c.loss.class_weighting != ClassWeighting::given ||
              static_cast<int>(c.loss.class_weights.size()) == c.data.num_classes,
          "loss.class_weights", fmt::format("must have data.num_classes = {} entries", c.data.num_classes));
  v.check(std::all_of(c.loss.class_weights.begin(), c.loss.class_weights.end(),
                      [](double w) { return w >= 0 && std::isfinite(w); }),
          "loss.class_weights", "weights must be finite and >= 0");
  v.check(c.loss.name != LossName::wce || c.loss.class_weighting != ClassWeighting::none, "loss.class_weights",
          fmt::format("loss.name = \"wce\" needs class weights: set loss.class_weights = \"median_freq\" or a list of "
                      "data.num_classes = {} numbers",
                      c.data.num_classes));
  v.check(c.loss.aux_weight >= 0, "loss.aux_weight", "must be >= 0");
  v.check(c.loss.focal_gamma >= 0, "loss.focal_gamma", "must be >= 0");
  v.check(c.loss.boundary_width >= 1, "loss.boundary_width", "must be >= 1 (pixels)");
  v.check(c.loss.boundary_weight > 0, "loss.boundary_weight", "must be > 0");
  {
    const bool pixelwise = c.loss.name == LossName::ce || c.loss.name == LossName::wce ||
                           c.loss.name == LossName::focal || c.loss.name == LossName::boundary_ce;
    v.check(c.loss.reduction != Reduction::sum || pixelwise, "loss.reduction",
            fmt::format("needs a per-pixel loss (ce, wce, focal, boundary_ce), but loss.name = \"{}\" "
                        "holds a Dice or Lovasz term, normalised over the batch: it has no sum, and beside a summed "
                        "CE it would weigh about 1/pixels; set loss.reduction = \"mean\" (with a learning rate for "
                        "it, as experiments/voc_ablation.toml does)",
                        to_string(c.loss.name)));
  }

  v.check(c.optim.lr > 0, "optim.lr", "must be > 0");
  v.check(c.optim.momentum >= 0 && c.optim.momentum < 1, "optim.momentum", "must be in [0, 1)");
  v.check(c.optim.weight_decay >= 0, "optim.weight_decay", "must be >= 0");
  v.check(c.optim.bias_lr_mult >= 0, "optim.bias_lr_mult", "must be >= 0 (0 freezes the biases)");
  v.check(c.optim.bias_decay_mult >= 0, "optim.bias_decay_mult", "must be >= 0");
  v.check(c.optim.adam_beta1 >= 0 && c.optim.adam_beta1 < 1, "optim.adam_beta1", "must be in [0, 1)");
  v.check(c.optim.adam_beta2 >= 0 && c.optim.adam_beta2 < 1, "optim.adam_beta2", "must be in [0, 1)");
  v.check(c.optim.poly_power > 0, "optim.poly_power", "must be > 0");
  v.check(c.optim.step_every >= 1, "optim.step_every", "must be >= 1");
  v.check(c.optim.step_gamma > 0 && c.optim.step_gamma <= 1, "optim.step_gamma", "must be in (0, 1]");
  v.check(c.optim.warmup >= 0, "optim.warmup", "must be >= 0");
  v.check(c.optim.iterations >= 1, "optim.iterations", "must be >= 1");
  v.check(c.optim.epochs >= 0, "optim.epochs", "must be >= 0 (0 = use optim.iterations)");
  v.check(c.optim.batch_size >= 1, "optim.batch_size", "must be >= 1");
  v.check(c.optim.iter_size >= 1, "optim.iter_size", "must be >= 1");
  v.check(
      c.data.crop > 0 || c.optim.batch_size == 1, "data.crop",
      fmt::format("0 (whole images) needs optim.batch_size = 1, but it is {}; set a crop size", c.optim.batch_size));

  v.check(c.eval.every >= 0, "eval.every", "must be >= 0 (0 = only at the end)");
  v.check(!c.eval.trimap_widths.empty() &&
              std::all_of(c.eval.trimap_widths.begin(), c.eval.trimap_widths.end(), [](int w) { return w >= 1; }) &&
              std::is_sorted(c.eval.trimap_widths.begin(), c.eval.trimap_widths.end()),
          "eval.trimap_widths", "must be a non-empty ascending list of widths >= 1 (pixels)");
  v.check(c.eval.bf_tolerance > 0 && c.eval.bf_tolerance < 1, "eval.bf_tolerance",
          "must be in (0, 1) (a fraction of the image diagonal)");
  v.check(c.eval.boundary_iou_dilation > 0 && c.eval.boundary_iou_dilation < 1, "eval.boundary_iou_dilation",
          "must be in (0, 1) (a fraction of the image diagonal)");
  v.check(c.eval.examples >= 0, "eval.examples", "must be >= 0");

  v.check(c.checkpoint.every >= 0, "checkpoint.every", "must be >= 0 (0 = never)");
  v.check(c.checkpoint.keep >= 1, "checkpoint.keep", "must be >= 1");
}

}  // namespace detail

void validate(const Config& config) {
  detail::validate_config(config, nullptr);
}

}  // namespace fcnlab
