#include <fmt/format.h>

#include <algorithm>
#include <iostream>

#include "cli/options.h"
#include "cli/report_format.h"
#include "core/error.h"
#include "core/progress.h"
#include "results/run_file.h"

namespace fcnlab::cli {

int cmd_show(const Args& args) {
  po::options_description opts("Options");
  opts.add_options()("no-config", "do not print the recorded config");
  const auto p = parse_args("show", args, opts, false, 1);
  if (p.help) {
    print_help("fcnlab show FILE.h5", "Prints a run file's identity, status, final metrics, curves and config.", opts);
    return 0;
  }
  if (p.positional.empty()) throw UsageError("fcnlab show: missing the run file FILE.h5 (see fcnlab show --help)");
  const RunFileReader reader(p.positional.front());
  const RunInfo i = reader.info();
  std::cout << fmt::format(
      "run        {}\nexperiment {}\nstatus     {}{}\ncreated    {} on {} ({})\nversions   fcnlab {} (commit {}{}), "
      "LibTorch {}{}{}, schema {}\nconfig     hash {}, seed {}, deterministic {}\noverrides  {}\ndata       "
      "fingerprint {}\n"
      "time       {} wall, {:.1f} train img/s\n",
      i.run_id, i.experiment, to_string(i.status), i.message.empty() ? "" : " (" + i.message + ")", i.created_utc,
      i.host, i.device, i.fcnlab_version, i.git_commit, i.git_dirty ? "-dirty" : "", i.torch_version,
      i.cuda_version.empty() ? "" : ", CUDA " + i.cuda_version,
      i.cudnn_version.empty() ? "" : ", cuDNN " + i.cudnn_version, i.schema_version, i.config_hash, i.seed,
      i.deterministic, i.overrides.empty() ? "(none)" : i.overrides, i.data_fingerprint,
      format_duration(i.wall_seconds), i.train_img_per_s);
  const auto train = reader.train();
  if (!train.empty()) {
    const auto best = std::min_element(train.begin(), train.end(), [](auto& a, auto& b) { return a.loss < b.loss; });
    std::cout << fmt::format("train      {} iterations, loss {:.4f} (first) -> {:.4f} (last), min {:.4f} at {}\n",
                             train.back().step, train.front().loss, train.back().loss, best->loss, best->step);
  }
  const auto val = reader.val();
  if (!val.empty()) {
    std::cout << fmt::format("val curve  {:>8} {:>9} {:>9} {:>9} {:>12}\n", "step", "mean IoU", "pix acc", "BF",
                             "boundaryIoU");
    for (const auto& v : val)
      std::cout << fmt::format("           {:>8} {:>9.4f} {:>9.4f} {:>9.4f} {:>12.4f}\n", v.step, v.mean_iou,
                               v.pixel_acc, v.bf_score, v.boundary_iou);
  }
  if (const auto f = reader.final()) std::cout << format_final(*f);
  if (!p.vm.count("no-config")) std::cout << "config\n" << i.config_toml;
  return 0;
}

}  // namespace fcnlab::cli
