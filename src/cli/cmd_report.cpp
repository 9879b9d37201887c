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
  std::string by, metrics, format = "md", output, margin;
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
      "key=value: paired differences against the group with this value (other keys equal), each with an "
      "interval over seeds and images, a Holm-adjusted p-value and a verdict")(
      "where", po::value(&o.where)->composing(),
      "key=v1,v2: only runs with one of these values (repeatable; every filter must hold)")(
      "pool", "let a row average runs of different configurations (otherwise an error names the keys that vary)")(
      "alpha", po::value(&o.alpha), "level of * and ≈, Holm-adjusted over the table (default 0.05)")(
      "margin", po::value(&margin),
      "X or metric=X,...: equivalence margins; a Δ shown within ±X (two one-sided tests) is marked ≈")(
      "pooled-seed-variance",
      "use the pooled within-configuration seed variance of all runs for every group (gives groups of one "
      "run an interval and a verdict)")("format", po::value(&format), "md | csv | latex | json (default md)")(
      "paper", "the paper's Table 2 columns (pixel acc., mean acc., mean IU, f.w. IU), in percent")(
      "marginal",
      "for each grouping key, the mean of each value over the combinations of the other keys that were run "
      "with every value")("resamples", po::value(&o.resamples), "bootstrap resamples (default 1000)")(
      "seed", po::value(&o.seed), "bootstrap seed (default fixed, so tables are reproducible)")(
      "output,o", po::value(&output), "write the table to this file instead of stdout");
  const auto p = parse_args("report", args, opts, false, 1);
  if (p.help) {
    print_help(
        "fcnlab report DIR [--by k1,k2] [--where k=v1,v2]... [--pool] [--metrics m1,m2] [--ci]\n"
        "                     [--vs key=value [--alpha A] [--margin X|m=X,...] [--pooled-seed-variance]]\n"
        "                     [--format md|csv|latex|json] [--paper] [--marginal]",
        "Reads every finished run file DIR/*.h5 (files that are unreadable, unfinished, diverged or failed\n"
        "are skipped with a warning on stderr), groups the runs by config keys and prints one row per\n"
        "configuration: the key values, n seeds and, per metric, mean ± std over seeds. A row that would\n"
        "average runs of different configurations is an error (exit 2) unless --pool. --ci adds intervals\n"
        "of the group means over both seeds and val images: ± t sqrt(s²/n + v_img), where v_img is the\n"
        "variance over a bootstrap of the val images with the runs held fixed (per-image confusion\n"
        "matrices; BF, Boundary IoU bands and trimap counts in files of schema >= 3). --vs adds paired\n"
        "differences with intervals over seeds and images, p-values Holm-adjusted over the table (*),\n"
        "equivalence with --margin (≈), and for undecided cells the seeds per arm for 80% power.\n",
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
  o.pool = p.vm.count("pool") > 0;
  o.pooled_seed_variance = p.vm.count("pooled-seed-variance") > 0;
  if (!margin.empty()) o.margins = report::parse_margins(margin);

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
