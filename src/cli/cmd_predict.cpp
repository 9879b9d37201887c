#include <fmt/format.h>

#include <iostream>

#include "cli/options.h"
#include "core/error.h"
#include "train/predict.h"

namespace fcnlab::cli {

int cmd_predict(const Args& args) {
  po::options_description opts("Options");
  std::string run, checkpoint, split, out;
  std::vector<std::string> images;
  opts.add_options()("run", po::value<std::string>(&run),
                     "the run's HDF5 file (its config: data normalisation, "
                     "model, precision, batch size)")("checkpoint", po::value<std::string>(&checkpoint),
                                                      "model weights (default: the run's final weights)")(
      "images", po::value<std::vector<std::string>>(&images)->multitoken()->composing(),
      "JPEG files and folders of JPEGs to predict (folders: every *.jpg / *.jpeg)")(
      "split", po::value<std::string>(&split), "instead of --images: the images of this split of the run's data.root")(
      "out", po::value<std::string>(&out), "output folder: <image>.png per image, VOC palette")(
      "overlay", "also write overlay/<image>.jpg: the image blended with its mask")(
      "voc-submission",
      "write results/VOC2012/Segmentation/comp6_test_cls/<id>.png, the VOC evaluation server's layout, and "
      "results.tgz of it");
  const auto p = parse_args("predict", args, opts, false);
  if (p.help) {
    print_help(
        "fcnlab predict --run FILE.h5 (--images PATH... | --split NAME) --out DIR [--checkpoint P] [--overlay]\n"
        "                      [--voc-submission] [key=value]...",
        "Applies a trained run's model to images: each at its own size, in batches of data.val_batch on\n"
        "run.device, with the run's normalisation, precision and layout, as evaluation does. Writes one\n"
        "VOC-palette index PNG per image, named after it. Outputs appear only when every image has been\n"
        "predicted: an image that cannot be decoded is an error naming it, and nothing new is left in DIR.",
        opts);
    return 0;
  }
  if (run.empty() || out.empty()) throw UsageError("fcnlab predict: --run FILE.h5 and --out DIR are required");
  if (images.empty() == split.empty()) throw UsageError("fcnlab predict: give either --images PATH... or --split NAME");
  const TrainedRun t = open_trained_run(run, checkpoint, p);
  PredictOptions o;
  o.weights = t.weights;
  o.out = out;
  o.overlay = p.vm.count("overlay") > 0;
  o.voc_submission = p.vm.count("voc-submission") > 0;
  if (split.empty()) {
    std::vector<std::filesystem::path> inputs(images.begin(), images.end());
    o.images = jpeg_files(inputs);
  } else {
    o.images = split_images(t.config.data, split);
  }
  std::cout << fmt::format("{}: {} images with {}\n", t.info.run_id, o.images.size(), o.weights.string());
  const PredictResult r = predict_images(t.config, o);
  std::cout << fmt::format("wrote {} masks{} to {}\n", r.masks.size(), o.overlay ? " and overlays" : "",
                           o.out.string());
  if (!r.tarball.empty()) std::cout << fmt::format("VOC submission: {}\n", r.tarball.string());
  return 0;
}

}  // namespace fcnlab::cli
