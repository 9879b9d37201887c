#pragma once
// The one list of config schema fields, for the files of config/ only. Every visitor (reader,
// writer, key list) walks it, so adding a key here is all it takes (plus its documented default in
// configs/default.toml).
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"

namespace fcnlab::detail {

template <class C, class V>
void visit_fields(C& c, V&& v) {
  v("run.seed", c.run.seed);
  v("run.device", c.run.device);
  v("run.deterministic", c.run.deterministic);
  v("run.name", c.run.name);
  v("run.experiment", c.run.experiment);
  v("run.results_dir", c.run.results_dir);
  v("run.threads", c.run.threads);
  v("run.log_level", c.run.log_level);
  v("run.log_every", c.run.log_every);

  v("data.root", c.data.root);
  v("data.image_dir", c.data.image_dir);
  v("data.label_dir", c.data.label_dir);
  v("data.split_dir", c.data.split_dir);
  v("data.train_split", c.data.train_split);
  v("data.val_split", c.data.val_split);
  v("data.num_classes", c.data.num_classes);
  v("data.crop", c.data.crop);
  v("data.scale", c.data.scale);
  v("data.hflip", c.data.hflip);
  v("data.vflip", c.data.vflip);
  v("data.mean", c.data.mean);
  v("data.std", c.data.std);
  v("data.workers", c.data.workers);
  v("data.val_batch", c.data.val_batch);

  v("model.backbone", c.model.backbone);
  v("model.width", c.model.width);
  v("model.fc_channels", c.model.fc_channels);
  v("model.dropout", c.model.dropout);
  v("model.batchnorm", c.model.batchnorm);
  v("model.skip", c.model.skip);
  v("model.fusion", c.model.fusion);
  v("model.upsample", c.model.upsample);
  v("model.padding", c.model.padding);
  v("model.pretrained", c.model.pretrained);
  v("model.score_scaling", c.model.score_scaling);

  v("loss.name", c.loss.name);
  v("loss.reduction", c.loss.reduction);
  v("loss.class_weights", c.loss.class_weighting, c.loss.class_weights);
  v("loss.aux_weight", c.loss.aux_weight);
  v("loss.per_image", c.loss.per_image);
  v("loss.focal_gamma", c.loss.focal_gamma);
  v("loss.boundary_width", c.loss.boundary_width);
  v("loss.boundary_weight", c.loss.boundary_weight);

  v("optim.name", c.optim.name);
  v("optim.lr", c.optim.lr);
  v("optim.momentum", c.optim.momentum);
  v("optim.weight_decay", c.optim.weight_decay);
  v("optim.bias_lr_mult", c.optim.bias_lr_mult);
  v("optim.bias_decay_mult", c.optim.bias_decay_mult);
  v("optim.adam_beta1", c.optim.adam_beta1);
  v("optim.adam_beta2", c.optim.adam_beta2);
  v("optim.schedule", c.optim.schedule);
  v("optim.poly_power", c.optim.poly_power);
  v("optim.step_every", c.optim.step_every);
  v("optim.step_gamma", c.optim.step_gamma);
  v("optim.warmup", c.optim.warmup);
  v("optim.iterations", c.optim.iterations);
  v("optim.epochs", c.optim.epochs);
  v("optim.batch_size", c.optim.batch_size);
  v("optim.iter_size", c.optim.iter_size);
  v("optim.amp", c.optim.amp);
  v("optim.channels_last", c.optim.channels_last);
  v("optim.fuse_conv_relu", c.optim.fuse_conv_relu);

  v("eval.every", c.eval.every);
  v("eval.trimap_widths", c.eval.trimap_widths);
  v("eval.bf_tolerance", c.eval.bf_tolerance);
  v("eval.boundary_iou_dilation", c.eval.boundary_iou_dilation);
  v("eval.examples", c.eval.examples);

  v("checkpoint.every", c.checkpoint.every);
  v("checkpoint.keep", c.checkpoint.keep);
}

struct KeyLister {
  std::vector<std::string> keys;
  template <class... T>
  void operator()(std::string_view key, T&...) {
    keys.emplace_back(key);
  }
};

}  // namespace fcnlab::detail
