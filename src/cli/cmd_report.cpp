#include <fmt/format.h>

#include <fstream>
#include <iostream>

#include "cli/options.h"
#include "core/error.h"
#include "core/text.h"
#include "report/report.h"

namespace fcnlab::cli {

namespace {
std::vector<std::string> comma_list(const std::string& text) {
  std::vector<std::string> out;
  for (const auto& part : split(text, ',')) {
    const auto t = trim(part);
    if (!t.empty()) out.push_back(t);
  }
  return out;
}
}  // namespace

int cmd_report(const Args& args) {
  report::ReportOptions o;
  std::string by, metrics, format = "md", output;
  po::options_description opts("Options");
  opts.add_options()("by", po::value(&by),
                     "group by these config keys, comma-separated (default: every key that "
                     "varies across runs, except run.seed and keys outside the hash)")(
      "metrics", po::value(&metrics),
      "metrics, comma-separated: any /final scalar, e.g. mean_iou, trimap_acc_2, trimap_miou_4 (default: mean_iou, "
      "pixel_acc, bf_score, boundary_iou, trimap acc at the smallest width)")(
      "ci",
      "95% bootstrap intervals over val images (the confusion scores; bf_score, boundary_iou and trimap_* "
      "from run files of schema 3)")(
      "vs", po::value(&o.vs),
      "key=value: paired differences against the group with this value (other keys equal), "
      "with bootstrap intervals")("format", po::value(&format), "md | csv | latex | json (default md)")(
      "paper", "the paper's Table 2 columns (pixel acc., mean acc., mean IU, f.w. IU), in percent")(
      "marginal",
      "for each grouping key, the mean of each value over the combinations of the other keys that were run "
      "with every value")("resamples", po::value(&o.resamples), "bootstrap resamples (default 1000)")(
      "seed", po::value(&o.seed), "bootstrap seed (default fixed, so tables are reproducible)")(
      "output,o", po::value(&output), "write the table to this file instead of stdout");
  const auto p = parse_args("report", args, opts, false, 1);
  if (p.help) {
    print_help(
        "fcnlab report DIR [--by k1,k2] [--metrics m1,m2] [--ci] [--vs key=value] [--format md|csv|latex|json]\n"
        "                     [--paper] [--marginal]",
        "Reads every finished run file DIR/*.h5 (files that are unreadable, unfinished, diverged or failed\n"
        "are skipped with a warning on stderr), groups the runs by config keys and prints one row per\n"
        "group: the key values, n seeds and, per metric, mean ± std over seeds. --ci adds 95% bootstrap\n"
        "intervals: val images are resampled with replacement (the same resamples for every run), each\n"
        "run's scores are recomputed from its per-image data (confusion matrices; BF, Boundary IoU bands\n"
        "and trimap counts in files of schema 3), and a group's value is the\n"
        "mean over its seeds. --vs adds paired differences (same resamples for both groups).",
        opts);
    return 0;
  }
  if (!p.overrides.empty())
    throw UsageError(fmt::format("fcnlab report: unexpected argument '{}' (see fcnlab report --help)", p.overrides[0]));
  if (p.positional.empty()) throw UsageError("fcnlab report: missing the results directory (see fcnlab report --help)");
  const auto fmt_parsed = parse_enum<report::Format>(format);
  if (!fmt_parsed)
    throw UsageError(fmt::format("fcnlab report: --format '{}': expected {}", format, allowed_names<report::Format>()));
  o.by = comma_list(by);
  o.metrics = comma_list(metrics);
  o.ci = p.vm.count("ci") > 0;
  o.paper = p.vm.count("paper") > 0;
  o.marginal = p.vm.count("marginal") > 0;

  std::vector<std::string> warnings;
  std::string text;
  try {
    text = report::report_dir(p.positional[0], o, *fmt_parsed, &warnings);
  } catch (...) {
    for (const auto& w : warnings) std::cerr << "fcnlab report: warning: " << w << '\n';
    throw;
  }
  for (const auto& w : warnings) std::cerr << "fcnlab report: warning: " << w << '\n';
  if (output.empty()) {
    std::cout << text << std::flush;
  } else {
    std::ofstream out(output);
    out << text;
    out.close();
    if (!out) throw IoError(fmt::format("cannot write {}", output));
  }
  return 0;
}

}  // namespace fcnlab::cli
