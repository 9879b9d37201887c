#include "cli/command.h"

namespace fcnlab::cli {

const std::vector<Command>& commands() {
  static const std::vector<Command> list{
      {"config", "print the resolved configuration (canonical TOML) and its hash", cmd_config},
      {"train", "train one FCN; writes results/<experiment>/<run_id>.h5 (resumes from a checkpoint)", cmd_train},
      {"sweep", "run a sweep file or a command-line multirun (skips finished runs, resumes partial ones)", cmd_sweep},
      {"show", "print a run file: config, status, final metrics, curves", cmd_show},
      {"eval", "re-evaluate a trained run's model on a split", cmd_eval},
      {"predict", "apply a trained run's model to images: VOC-palette masks, overlays, a VOC submission", cmd_predict},
      {"rerun", "retrain a run from its recorded config and compare every final metric", cmd_rerun},
      {"model", "print the FCN layer table: sizes, strides, parameters, FLOPs (--bench: ms/step)", cmd_model},
      {"report", "tables (md/csv/latex/json) of a results dir: mean ± std over seeds, bootstrap CIs", cmd_report},
      {"make-toy", "write the toy VOC-format dataset (deterministic)", cmd_make_toy},
      {"check-data", "check every image and label of the configured splits", cmd_check_data},
      {"bench", "benchmarks: fcnlab bench data | ... (fcnlab bench --help)", cmd_bench},
      {"eval-masks", "every metric (IoU, trimap, BF, Boundary IoU) for PNG predictions vs ground truth",
       cmd_eval_masks},
  };
  return list;
}

}  // namespace fcnlab::cli
