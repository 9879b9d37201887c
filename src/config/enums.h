#pragma once
// Every choice in the configuration is an enum class with a name table (core/enum_names.h).
#include <array>
#include <string_view>
#include <utility>

#include "core/enum_names.h"

namespace fcnlab {

// Finest stride fused by the FCN head. The TOML value is the integer stride.
enum class Skip { s32 = 32, s16 = 16, s8 = 8, s4 = 4 };
enum class Fusion { sum, concat, max };
enum class Upsample { learned, bilinear, learned_random };
enum class Padding { caffe, same };
enum class Backbone { vgg16 };
enum class LossName { ce, wce, dice, lovasz, focal, boundary_ce, ce_dice, ce_lovasz };
enum class Reduction { mean, sum };
enum class ClassWeighting { none, median_freq, given };
enum class Optimizer { sgd, adam };
enum class Schedule { fixed, poly, step };
enum class Amp { off, bf16, fp16 };
enum class DeviceKind { auto_, cpu, cuda };
enum class LogLevel { debug, info, warn, error };

template <>
struct EnumNames<Skip> {
  static constexpr std::array<std::pair<Skip, std::string_view>, 4> table{
      {{Skip::s32, "32"}, {Skip::s16, "16"}, {Skip::s8, "8"}, {Skip::s4, "4"}}};
};
template <>
struct EnumNames<Fusion> {
  static constexpr std::array<std::pair<Fusion, std::string_view>, 3> table{
      {{Fusion::sum, "sum"}, {Fusion::concat, "concat"}, {Fusion::max, "max"}}};
};
template <>
struct EnumNames<Upsample> {
  static constexpr std::array<std::pair<Upsample, std::string_view>, 3> table{
      {{Upsample::learned, "learned"}, {Upsample::bilinear, "bilinear"}, {Upsample::learned_random, "learned_random"}}};
};
template <>
struct EnumNames<Padding> {
  static constexpr std::array<std::pair<Padding, std::string_view>, 2> table{
      {{Padding::caffe, "caffe"}, {Padding::same, "same"}}};
};
template <>
struct EnumNames<Backbone> {
  static constexpr std::array<std::pair<Backbone, std::string_view>, 1> table{{{Backbone::vgg16, "vgg16"}}};
};
template <>
struct EnumNames<LossName> {
  static constexpr std::array<std::pair<LossName, std::string_view>, 8> table{{{LossName::ce, "ce"},
                                                                               {LossName::wce, "wce"},
                                                                               {LossName::dice, "dice"},
                                                                               {LossName::lovasz, "lovasz"},
                                                                               {LossName::focal, "focal"},
                                                                               {LossName::boundary_ce, "boundary_ce"},
                                                                               {LossName::ce_dice, "ce+dice"},
                                                                               {LossName::ce_lovasz, "ce+lovasz"}}};
};
template <>
struct EnumNames<Reduction> {
  static constexpr std::array<std::pair<Reduction, std::string_view>, 2> table{
      {{Reduction::mean, "mean"}, {Reduction::sum, "sum"}}};
};
template <>
struct EnumNames<ClassWeighting> {
  static constexpr std::array<std::pair<ClassWeighting, std::string_view>, 3> table{
      {{ClassWeighting::none, "none"}, {ClassWeighting::median_freq, "median_freq"}, {ClassWeighting::given, "given"}}};
};
template <>
struct EnumNames<Optimizer> {
  static constexpr std::array<std::pair<Optimizer, std::string_view>, 2> table{
      {{Optimizer::sgd, "sgd"}, {Optimizer::adam, "adam"}}};
};
template <>
struct EnumNames<Schedule> {
  static constexpr std::array<std::pair<Schedule, std::string_view>, 3> table{
      {{Schedule::fixed, "fixed"}, {Schedule::poly, "poly"}, {Schedule::step, "step"}}};
};
template <>
struct EnumNames<Amp> {
  static constexpr std::array<std::pair<Amp, std::string_view>, 3> table{
      {{Amp::off, "off"}, {Amp::bf16, "bf16"}, {Amp::fp16, "fp16"}}};
};
template <>
struct EnumNames<DeviceKind> {
  static constexpr std::array<std::pair<DeviceKind, std::string_view>, 3> table{
      {{DeviceKind::auto_, "auto"}, {DeviceKind::cpu, "cpu"}, {DeviceKind::cuda, "cuda"}}};
};
template <>
struct EnumNames<LogLevel> {
  static constexpr std::array<std::pair<LogLevel, std::string_view>, 4> table{
      {{LogLevel::debug, "debug"}, {LogLevel::info, "info"}, {LogLevel::warn, "warn"}, {LogLevel::error, "error"}}};
};

}  // namespace fcnlab
