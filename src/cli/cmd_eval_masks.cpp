// fcnlab eval-masks: every metric for any model's PNG predictions against VOC-style ground truth.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <thread>

#include "cli/options.h"
#include "config/loader.h"
#include "core/error.h"
#include "core/host.h"
#include "core/text.h"
#include "core/version.h"
#include "data/image_io.h"
#include "data/voc.h"
#include "metrics/evaluator.h"
#include "report/report.h"
#include "results/run_file.h"
#include "train/final_record.h"

namespace fcnlab::cli {

namespace fs = std::filesystem;

namespace {

using report::Format;  // md, csv and json (eval-masks has no LaTeX table)

std::set<std::string> pngs_in(const fs::path& dir) {
  if (!fs::is_directory(dir)) throw DataError(fmt::format("{}: not a directory", dir.string()));
  std::set<std::string> names;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_regular_file() && e.path().extension() == ".png") names.insert(e.path().filename().string());
  return names;
}

// The file names to evaluate, in order: the --ids list, or every PNG of the ground-truth folder
// (then the prediction folder must hold exactly the same names).
std::vector<std::string> match_files(const fs::path& gt, const fs::path& pred, const std::string& ids_file) {
  const auto gt_names = pngs_in(gt), pred_names = pngs_in(pred);
  std::vector<std::string> names;
  if (!ids_file.empty()) {
    std::ifstream in(ids_file);
    if (!in) throw DataError(fmt::format("{}: cannot read the id list", ids_file));
    std::string line;
    while (std::getline(in, line)) {
      const std::string id = trim(line);
      if (!id.empty()) names.push_back(id + ".png");
    }
    if (names.empty()) throw DataError(fmt::format("{}: the id list is empty", ids_file));
  } else {
    names.assign(gt_names.begin(), gt_names.end());
    if (names.empty()) throw DataError(fmt::format("{}: no .png files", gt.string()));
    for (const auto& p : pred_names)
      if (!gt_names.count(p))
        throw DataError(
            fmt::format("{}: extra prediction without ground truth {}", (pred / p).string(), (gt / p).string()));
  }
  for (const auto& n : names) {
    if (!gt_names.count(n)) throw DataError(fmt::format("{}: missing ground-truth file", (gt / n).string()));
    if (!pred_names.count(n)) throw DataError(fmt::format("{}: missing prediction file", (pred / n).string()));
  }
  return names;
}

void check_image(const Image8& gt, const Image8& pred, const fs::path& gt_file, const fs::path& pred_file, int C) {
  if (gt.width != pred.width || gt.height != pred.height)
    throw DataError(fmt::format("{}: prediction is {}x{} but the ground truth {} is {}x{}", pred_file.string(),
                                pred.width, pred.height, gt_file.string(), gt.width, gt.height));
  for (std::size_t i = 0; i < gt.pixels.size(); ++i) {
    if (gt.pixels[i] >= C && gt.pixels[i] != 255)
      throw DataError(fmt::format("{}: label value {} at pixel ({}, {}) is outside [0, {}) and is not 255",
                                  gt_file.string(), gt.pixels[i], i % static_cast<std::size_t>(gt.width),
                                  i / static_cast<std::size_t>(gt.width), C));
    if (pred.pixels[i] >= C)
      throw DataError(fmt::format("{}: predicted value {} at pixel ({}, {}) is outside [0, {})", pred_file.string(),
                                  pred.pixels[i], i % static_cast<std::size_t>(gt.width),
                                  i / static_cast<std::size_t>(gt.width), C));
  }
}

std::string num(double v) {
  return std::isnan(v) ? std::string("nan") : fmt::format("{:.4f}", v);
}
std::string json_num(double v) {
  return std::isnan(v) ? std::string("null") : fmt::format("{:.6f}", v);
}

void print(const EvalResult& r, const std::vector<std::string>& names, Format f, std::ostream& out) {
  const std::vector<std::pair<std::string, double>> scalars{
      {"pixel_acc", r.scores.pixel_acc}, {"mean_acc", r.scores.mean_acc}, {"mean_iou", r.scores.mean_iou},
      {"fw_iou", r.scores.fw_iou},       {"bf_score", r.bf_score},        {"boundary_iou", r.boundary_iou}};
  const auto C = names.size();
  if (f == Format::json) {
    out << "{\n  \"images\": " << r.images << ",\n  \"classes_counted_iou\": " << r.scores.classes_counted_iou
        << ",\n  \"classes_counted_acc\": " << r.scores.classes_counted_acc << ",\n";
    for (const auto& [k, v] : scalars) out << fmt::format("  \"{}\": {},\n", k, json_num(v));
    out << "  \"per_class\": [\n";
    for (std::size_t c = 0; c < C; ++c)
      out << fmt::format("    {{\"class\": \"{}\", \"iou\": {}, \"acc\": {}, \"bf\": {}, \"boundary_iou\": {}}}{}\n",
                         names[c], json_num(r.scores.per_class_iou[c]), json_num(r.scores.per_class_acc[c]),
                         json_num(r.bf_per_class[c]), json_num(r.boundary_iou_per_class[c]), c + 1 < C ? "," : "");
    out << "  ],\n  \"trimap\": [\n";
    for (std::size_t k = 0; k < r.trimap_width.size(); ++k)
      out << fmt::format("    {{\"width\": {}, \"pixel_acc\": {}, \"mean_iou\": {}}}{}\n", r.trimap_width[k],
                         json_num(r.trimap_pixel_acc[k]), json_num(r.trimap_mean_iou[k]),
                         k + 1 < r.trimap_width.size() ? "," : "");
    out << "  ]\n}\n";
    return;
  }
  if (f == Format::csv) {
    out << "section,name,iou,acc,bf,boundary_iou\n";
    for (const auto& [k, v] : scalars) out << fmt::format("score,{},{},,,\n", k, num(v));
    for (std::size_t c = 0; c < C; ++c)
      out << fmt::format("class,{},{},{},{},{}\n", names[c], num(r.scores.per_class_iou[c]),
                         num(r.scores.per_class_acc[c]), num(r.bf_per_class[c]), num(r.boundary_iou_per_class[c]));
    for (std::size_t k = 0; k < r.trimap_width.size(); ++k)
      out << fmt::format("trimap,{},{},{},,\n", r.trimap_width[k], num(r.trimap_mean_iou[k]),
                         num(r.trimap_pixel_acc[k]));
    return;
  }
  out << fmt::format("{} images; mean IoU over {} classes, mean accuracy over {} classes\n\n", r.images,
                     r.scores.classes_counted_iou, r.scores.classes_counted_acc);
  out << "| pixel_acc | mean_acc | mean_iou | fw_iou | bf_score | boundary_iou |\n|---|---|---|---|---|---|\n|";
  for (const auto& s : scalars) out << ' ' << num(s.second) << " |";
  out << "\n\n| class | IoU | acc | BF | Boundary IoU |\n|---|---|---|---|---|\n";
  for (std::size_t c = 0; c < C; ++c)
    out << fmt::format("| {} | {} | {} | {} | {} |\n", names[c], num(r.scores.per_class_iou[c]),
                       num(r.scores.per_class_acc[c]), num(r.bf_per_class[c]), num(r.boundary_iou_per_class[c]));
  out << "\n| trimap width (px) | pixel_acc | mean_iou |\n|---|---|---|\n";
  for (std::size_t k = 0; k < r.trimap_width.size(); ++k)
    out << fmt::format("| {} | {} | {} |\n", r.trimap_width[k], num(r.trimap_pixel_acc[k]), num(r.trimap_mean_iou[k]));
}

// `files`: the matched file names in the order scored; their stems are the image ids.
void write_h5(const fs::path& file, const EvalResult& r, const std::vector<std::string>& names,
              const std::vector<std::string>& files, const Config& cfg, const std::string& gt, const std::string& pred,
              double seconds) {
  RunInfo info;
  info.fcnlab_version = version();
  info.git_commit = git_commit();
  info.git_dirty = git_dirty();
  info.created_utc = utc_now();
  info.host = host_name();
  info.device = "cpu";
  info.cpu_model = cpu_model();
  info.config_toml = to_canonical_toml(cfg);
  info.config_hash = config_hash_hex(cfg);
  info.overrides = fmt::format("eval-masks --gt {} --pred {}", gt, pred);
  info.experiment = "eval-masks";
  info.run_id = file.stem().string();
  info.status = RunStatus::finished;
  info.wall_seconds = seconds;
  std::vector<std::string> ids;
  for (const auto& f : files) ids.push_back(fs::path(f).stem().string());
  const FinalRecord f = to_final_record(r, names, ids);
  RunFileWriter w(file);
  w.write_info(info);
  w.write_final(f);
  w.commit();
}

}  // namespace

int cmd_eval_masks(const Args& args) {
  std::string gt, pred, ids, out, format = "md";
  int num_classes = 0, threads = 0;
  po::options_description opts("Options");
  opts.add_options()("gt", po::value<std::string>(&gt), "folder of ground-truth label PNGs (VOC style, 255 = void)")(
      "pred", po::value<std::string>(&pred), "folder of predicted label PNGs, matched by file name")(
      "num-classes", po::value<int>(&num_classes), "number of classes (default: data.num_classes, 21)")(
      "ids", po::value<std::string>(&ids), "evaluate only these ids (one per line; <id>.png in both folders)")(
      "out", po::value<std::string>(&out), "also write the /final group of a run file (HDF5) here")(
      "format", po::value<std::string>(&format)->default_value(format), "md | csv | json")(
      "threads", po::value<int>(&threads)->default_value(threads), "worker threads (0 = all cores)");
  const auto p = parse_args("eval-masks", args, opts, true);
  if (p.help) {
    print_help(
        "fcnlab eval-masks --gt DIR --pred DIR [--num-classes C] [--ids FILE] [--out FILE.h5]\n"
        "                         [--format md|csv|json] [--config FILE]... [eval.key=value]...",
        "Scores PNG predictions against ground truth with every metric of fcnlab: pixel accuracy,\n"
        "mean accuracy, mean IoU, frequency-weighted IoU, per-class IoU, trimap accuracy and mean\n"
        "IoU (eval.trimap_widths), BF score (eval.bf_tolerance) and Boundary IoU\n"
        "(eval.boundary_iou_dilation). Palette PNGs are read as their indices. Missing or extra\n"
        "files, size mismatches and out-of-range values are errors naming the file.",
        opts);
    return 0;
  }
  if (gt.empty() || pred.empty()) throw UsageError("fcnlab eval-masks: --gt DIR and --pred DIR are required");
  const auto parsed = parse_enum<Format>(format);
  if (!parsed || *parsed == Format::latex)
    throw UsageError(fmt::format("fcnlab eval-masks: --format must be md, csv or json, not '{}'", format));
  const Format fmt_out = *parsed;
  Config cfg = load_config(p);
  if (num_classes == 0) num_classes = cfg.data.num_classes;
  if (num_classes < 1 || num_classes > 255)
    throw UsageError(fmt::format("fcnlab eval-masks: --num-classes must be in [1, 255], got {}", num_classes));
  cfg.data.num_classes = num_classes;
  BoundaryOptions bopts{cfg.eval.trimap_widths, cfg.eval.bf_tolerance, cfg.eval.boundary_iou_dilation};
  const fs::path gt_dir(gt), pred_dir(pred);
  const auto names = match_files(gt_dir, pred_dir, ids);
  const auto t0 = std::chrono::steady_clock::now();

  // Contiguous chunks per thread, merged in order: the result does not depend on the thread count.
  std::size_t T = threads > 0 ? static_cast<std::size_t>(threads) : std::max(1u, std::thread::hardware_concurrency());
  T = std::min(T, names.size());
  std::vector<SegmentationEvaluator> evs(T, SegmentationEvaluator(num_classes, bopts));
  std::vector<std::exception_ptr> errors(T);
  auto work = [&](std::size_t t) {
    try {
      const std::size_t lo = names.size() * t / T, hi = names.size() * (t + 1) / T;
      for (std::size_t i = lo; i < hi; ++i) {
        const fs::path gf = gt_dir / names[i], pf = pred_dir / names[i];
        const Image8 g = read_png_label(gf), pr = read_png_label(pf);
        check_image(g, pr, gf, pf, num_classes);
        evs[t].process(pr.pixels.data(), g.pixels.data(), g.height, g.width);
      }
    } catch (...) {
      errors[t] = std::current_exception();  // rethrown on the calling thread below
    }
  };
  std::vector<std::thread> pool;
  for (std::size_t t = 1; t < T; ++t) pool.emplace_back(work, t);
  work(0);
  for (auto& th : pool) th.join();
  for (const auto& e : errors)
    if (e) std::rethrow_exception(e);
  for (std::size_t t = 1; t < T; ++t) evs[0].merge(evs[t]);
  const EvalResult r = evs[0].evaluate();
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const auto class_names = default_class_names(num_classes);
  print(r, class_names, fmt_out, std::cout);
  if (!out.empty()) {
    write_h5(out, r, class_names, names, cfg, gt, pred, secs);
    if (fmt_out == Format::md) std::cout << fmt::format("\nwrote {}\n", out);
  }
  return 0;
}

}  // namespace fcnlab::cli
