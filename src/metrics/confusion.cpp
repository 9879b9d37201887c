#include "metrics/confusion.h"

#include <fmt/format.h>

#include <limits>

#include "core/error.h"

namespace fcnlab {

namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
}

Scores scores_from_confusion(const std::int64_t* counts, int num_classes) {
  const auto C = static_cast<std::size_t>(num_classes);
  std::vector<std::int64_t> row(C, 0), col(C, 0), diag(C, 0);
  for (std::size_t i = 0; i < C; ++i) {
    for (std::size_t j = 0; j < C; ++j) {
      row[i] += counts[i * C + j];
      col[j] += counts[i * C + j];
    }
    diag[i] = counts[i * C + i];
  }
  return scores_from_marginals(diag.data(), row.data(), col.data(), num_classes);
}

Scores scores_from_marginals(const std::int64_t* diag, const std::int64_t* row, const std::int64_t* col,
                             int num_classes) {
  const auto C = static_cast<std::size_t>(num_classes);
  Scores s;
  s.per_class_iou.assign(C, kNaN);
  s.per_class_acc.assign(C, kNaN);
  std::int64_t total = 0, sum_diag = 0;
  for (std::size_t c = 0; c < C; ++c) {
    total += row[c];
    sum_diag += diag[c];
  }
  double sum_acc = 0, sum_iou = 0, fw = 0;
  for (std::size_t c = 0; c < C; ++c) {
    const auto d = static_cast<double>(diag[c]), r = static_cast<double>(row[c]);
    const auto uni = static_cast<double>(row[c] + col[c] - diag[c]);
    if (uni > 0) {
      s.per_class_iou[c] = d / uni;
      sum_iou += s.per_class_iou[c];
      ++s.classes_counted_iou;
    }
    if (r > 0) {
      s.per_class_acc[c] = d / r;
      sum_acc += s.per_class_acc[c];
      fw += r / static_cast<double>(total) * s.per_class_iou[c];
      ++s.classes_counted_acc;
    }
  }
  s.pixel_acc = total > 0 ? static_cast<double>(sum_diag) / static_cast<double>(total) : kNaN;
  s.mean_acc = s.classes_counted_acc > 0 ? sum_acc / s.classes_counted_acc : kNaN;
  s.mean_iou = s.classes_counted_iou > 0 ? sum_iou / s.classes_counted_iou : kNaN;
  s.fw_iou = s.classes_counted_acc > 0 ? fw : kNaN;
  return s;
}

ConfusionMatrix::ConfusionMatrix(int num_classes) : num_classes_(num_classes) {
  if (num_classes < 1 || num_classes > 255)
    throw DataError(fmt::format("confusion matrix: number of classes must be in [1, 255], got {}", num_classes));
  counts_.assign(static_cast<std::size_t>(num_classes) * static_cast<std::size_t>(num_classes), 0);
}

void ConfusionMatrix::reset() {
  std::fill(counts_.begin(), counts_.end(), 0);
}

void ConfusionMatrix::update(const std::uint8_t* pred, const std::uint8_t* label, std::size_t n) {
  const auto C = static_cast<unsigned>(num_classes_);
  for (std::size_t i = 0; i < n; ++i) {
    const unsigned g = label[i];
    if (g == kVoidLabel) continue;
    const unsigned p = pred[i];
    if (g >= C || p >= C)
      throw DataError(fmt::format("confusion matrix: {} value {} at pixel {} is outside [0, {}){}",
                                  g >= C ? "label" : "prediction", g >= C ? g : p, i, C,
                                  g >= C ? " and is not 255 (void)" : ""));
    ++counts_[g * C + p];
  }
}

void ConfusionMatrix::merge(const ConfusionMatrix& other) {
  if (other.num_classes_ != num_classes_)
    throw DataError(fmt::format("confusion matrix: cannot merge {} classes into {}", other.num_classes_, num_classes_));
  for (std::size_t i = 0; i < counts_.size(); ++i) counts_[i] += other.counts_[i];
}

void ConfusionMatrix::add_counts(const std::int64_t* counts) {
  for (std::size_t i = 0; i < counts_.size(); ++i) counts_[i] += counts[i];
}

std::int64_t ConfusionMatrix::total() const {
  std::int64_t t = 0;
  for (auto v : counts_) t += v;
  return t;
}

}  // namespace fcnlab
