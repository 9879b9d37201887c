#include <fmt/format.h>

#include <algorithm>
#include <iostream>

#include "cli/final_table.h"
#include "cli/options.h"
#include "core/error.h"
#include "core/progress.h"
#include "results/run_file.h"

namespace fcnlab::cli {

namespace {

// The processor models a run ran on (schema 4; `rerun` compares them with its own).
std::string processors(const RunInfo& i) {
  if (i.schema_version < 4) return "processor  not recorded (schema_version < 4)\n";
  const auto name = [](const std::string& model, const char* none) { return model.empty() ? none : model; };
  return fmt::format("processor  cpu {}; gpu {}\n", name(i.cpu_model, "(unknown)"), name(i.gpu_model, "(none)"));
}

std::string image_ids(const FinalRecord& f, int schema_version) {
  if (f.image_ids.empty())
    return fmt::format("image ids  none recorded{}\n", schema_version < 4 ? " (schema_version < 4)" : "");
  return fmt::format("image ids  {} ({} ... {})\n", f.image_ids.size(), f.image_ids.front(), f.image_ids.back());
}

}  // namespace

int cmd_show(const Args& args) {
  po::options_description opts("Options");
  opts.add_options()("no-config", "do not print the recorded config");
  const auto p = parse_args("show", args, opts, false, 1);
  if (p.help) {
    print_help("fcnlab show FILE.h5",
               "Prints a run file's identity, status, processor models, final metrics, the number of image\n"
               "ids, curves and config.",
               opts);
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
  std::cout << processors(i);
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
  if (const auto f = reader.final()) std::cout << format_final(*f) << image_ids(*f, i.schema_version);
  if (!p.vm.count("no-config")) std::cout << "config\n" << i.config_toml;
  return 0;
}

}  // namespace fcnlab::cli
