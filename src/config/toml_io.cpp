// A Config as TOML: typed reading with errors naming key and origin, writing, the canonical text
// (`fcnlab config`, run files), the diff from the defaults and single values.

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <climits>
#include <cmath>
#include <type_traits>

#include "config/detail.h"
#include "config/loader.h"
#include "config/schema_fields.h"
#include "core/error.h"
#include "core/text.h"

namespace fcnlab {
namespace detail {

namespace {

// Reads typed values out of the layered table, with errors naming key and origin.
class Reader {
 public:
  Reader(const toml::table& root, const Origins& origins) : root_(root), origins_(origins) {}

  void operator()(std::string_view key, std::int64_t& v) {
    const auto& n = get(key);
    if (!n.is_integer()) fail(key, n, "expected an integer");
    v = *n.value<std::int64_t>();
  }
  void operator()(std::string_view key, int& v) {
    const auto& n = get(key);
    if (!n.is_integer()) fail(key, n, "expected an integer");
    const auto x = *n.value<std::int64_t>();
    if (x < INT_MIN || x > INT_MAX) fail(key, n, "integer out of range");
    v = static_cast<int>(x);
  }
  void operator()(std::string_view key, double& v) {
    const auto& n = get(key);
    if (!n.is_number()) fail(key, n, "expected a number");
    v = *n.value<double>();
  }
  void operator()(std::string_view key, bool& v) {
    const auto& n = get(key);
    if (!n.is_boolean()) fail(key, n, "expected true or false");
    v = *n.value<bool>();
  }
  void operator()(std::string_view key, std::string& v) {
    const auto& n = get(key);
    if (!n.is_string()) fail(key, n, "expected a string");
    v = *n.value<std::string>();
  }
  void operator()(std::string_view key, std::vector<double>& v) {
    const auto& n = get(key);
    const auto* arr = n.as_array();
    if (arr == nullptr || !std::all_of(arr->begin(), arr->end(), [](const toml::node& e) { return e.is_number(); }))
      fail(key, n, "expected an array of numbers");
    v.clear();
    for (const auto& e : *arr) v.push_back(*e.value<double>());
  }
  void operator()(std::string_view key, std::vector<int>& v) {
    const auto& n = get(key);
    const auto* arr = n.as_array();
    if (arr == nullptr || !std::all_of(arr->begin(), arr->end(), [](const toml::node& e) { return e.is_integer(); }))
      fail(key, n, "expected an array of integers");
    v.clear();
    for (const auto& e : *arr) {
      const auto x = *e.value<std::int64_t>();
      if (x < INT_MIN || x > INT_MAX) fail(key, n, fmt::format("integer {} out of range", x));
      v.push_back(static_cast<int>(x));
    }
  }
  void operator()(std::string_view key, Skip& v) {
    const auto& n = get(key);
    const auto parsed = n.is_integer() ? parse_enum<Skip>(std::to_string(*n.value<std::int64_t>())) : std::nullopt;
    if (!parsed) fail(key, n, fmt::format("expected one of {}", allowed_names<Skip>()));
    v = *parsed;
  }
  template <class E, std::enable_if_t<std::is_enum_v<E>, int> = 0>
  void operator()(std::string_view key, E& v) {
    const auto& n = get(key);
    const auto parsed = n.is_string() ? parse_enum<E>(*n.value<std::string>()) : std::nullopt;
    if (!parsed) fail(key, n, fmt::format("expected one of {}", allowed_names<E>()));
    v = *parsed;
  }
  void operator()(std::string_view key, Device& v) {
    const auto& n = get(key);
    const std::string expected = "expected auto | cpu | cuda | cuda:N";
    if (!n.is_string()) fail(key, n, expected);
    const std::string s = *n.value<std::string>();
    if (auto k = parse_enum<DeviceKind>(s)) {
      v = Device{*k, -1};
      return;
    }
    if (s.rfind("cuda:", 0) == 0 && s.size() > 5 &&
        std::all_of(s.begin() + 5, s.end(), [](char ch) { return ch >= '0' && ch <= '9'; }) && s.size() < 9) {
      v = Device{DeviceKind::cuda, std::stoi(s.substr(5))};
      return;
    }
    fail(key, n, expected);
  }
  void operator()(std::string_view key, ClassWeighting& mode, std::vector<double>& weights) {
    const auto& n = get(key);
    const std::string expected = "expected \"none\", \"median_freq\" or an array of per-class weights";
    weights.clear();
    if (n.is_string()) {
      const auto m = parse_enum<ClassWeighting>(*n.value<std::string>());
      if (!m || *m == ClassWeighting::given) fail(key, n, expected);
      mode = *m;
      return;
    }
    (*this)(key, weights);
    mode = ClassWeighting::given;
  }

 private:
  const toml::node& get(std::string_view key) {
    const auto view = root_.at_path(key);
    if (!view) throw ConfigError(fmt::format("{}: missing (the compiled-in defaults lack it)", key));
    return *view.node();
  }
  [[noreturn]] void fail(std::string_view key, const toml::node& n, const std::string& what) {
    const auto it = origins_.find(key);
    throw ConfigError(
        fmt::format("{}: {} is {}: {}", it == origins_.end() ? "config" : it->second, key, describe_type(n), what));
  }
  const toml::table& root_;
  const Origins& origins_;
};

// Writes a Config into a TOML table (for canonical output and hashing).
class Writer {
 public:
  explicit Writer(toml::table& root) : root_(root) {}
  void operator()(std::string_view key, const std::int64_t& v) { put(key, v); }
  void operator()(std::string_view key, const int& v) { put(key, static_cast<std::int64_t>(v)); }
  void operator()(std::string_view key, const double& v) { put(key, v); }
  void operator()(std::string_view key, const bool& v) { put(key, v); }
  void operator()(std::string_view key, const std::string& v) { put(key, v); }
  void operator()(std::string_view key, const std::vector<double>& v) {
    toml::array a;
    for (double x : v) a.push_back(x);
    put(key, std::move(a));
  }
  void operator()(std::string_view key, const std::vector<int>& v) {
    toml::array a;
    for (int x : v) a.push_back(static_cast<std::int64_t>(x));
    put(key, std::move(a));
  }
  void operator()(std::string_view key, const Skip& v) { put(key, static_cast<std::int64_t>(v)); }
  template <class E, std::enable_if_t<std::is_enum_v<E>, int> = 0>
  void operator()(std::string_view key, const E& v) {
    put(key, std::string(to_string(v)));
  }
  void operator()(std::string_view key, const Device& v) { put(key, to_string(v)); }
  void operator()(std::string_view key, const ClassWeighting& mode, const std::vector<double>& weights) {
    if (mode == ClassWeighting::given)
      (*this)(key, weights);
    else
      put(key, std::string(to_string(mode)));
  }

 private:
  template <class T>
  void put(std::string_view key, T&& value) {
    const auto dot = key.find('.');
    auto* section = root_.emplace(key.substr(0, dot), toml::table{}).first->second.as_table();
    section->insert_or_assign(key.substr(dot + 1), std::forward<T>(value));
  }
  toml::table& root_;
};

// Shortest text that reads back as the same double (std::to_chars), always with a '.' or exponent.
std::string format_double(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  std::array<char, 64> buf{};
  const auto res = std::to_chars(buf.data(), buf.data() + buf.size(), v);
  std::string s(buf.data(), res.ptr);
  if (s.find_first_of(".eE") == std::string::npos) s += ".0";
  return s;
}

}  // namespace

std::string describe_type(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::string:
      return fmt::format("the string \"{}\"", *n.value<std::string>());
    case toml::node_type::integer:
      return fmt::format("the integer {}", *n.value<std::int64_t>());
    case toml::node_type::floating_point:
      return fmt::format("the float {}", *n.value<double>());
    case toml::node_type::boolean:
      return *n.value<bool>() ? "the boolean true" : "the boolean false";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::table:
      return "a table";
    default:
      return "a date/time";
  }
}

std::string with_line(const std::string& file, const toml::node& n) {
  if (n.source().begin.line == 0) return file;
  return fmt::format("{}:{}", file, n.source().begin.line);
}

Config read_config(const toml::table& root, const Origins& origins) {
  Config c;
  visit_fields(c, Reader{root, origins});
  return c;
}

toml::table to_table(const Config& c) {
  toml::table t;
  visit_fields(c, Writer{t});
  return t;
}

std::string format_value(const toml::node& n) {
  if (const auto* s = n.as_string()) return quoted_string(s->get());
  if (const auto* i = n.as_integer()) return std::to_string(i->get());
  if (const auto* d = n.as_floating_point()) return format_double(d->get());
  if (const auto* b = n.as_boolean()) return b->get() ? "true" : "false";
  if (const auto* a = n.as_array()) {
    std::string out = "[";
    for (std::size_t i = 0; i < a->size(); ++i) out += (i ? ", " : "") + format_value(*a->get(i));
    return out + "]";
  }
  throw ConfigError("internal: unsupported value type in canonical output");
}

// The canonical text: sections and keys sorted (toml::table is ordered), one key per line.
std::string format_table(const toml::table& t) {
  std::string out;
  for (const auto& [section, node] : t) {
    if (!out.empty()) out += '\n';
    out += fmt::format("[{}]\n", section.str());
    for (const auto& [key, value] : *node.as_table()) out += fmt::format("{} = {}\n", key.str(), format_value(value));
  }
  return out;
}

}  // namespace detail

using detail::format_table;
using detail::format_value;
using detail::to_table;

std::string to_canonical_toml(const Config& config) {
  return detail::format_table(detail::to_table(config));
}

std::string diff_from_default(const Config& config) {
  const auto current = to_table(config);
  const auto defaults = to_table(Config{});
  toml::table diff;
  for (const auto& key : config_keys()) {
    const auto a = current.at_path(key);
    const auto b = defaults.at_path(key);
    if (a == b) continue;
    const auto dot = key.find('.');
    auto* section = diff.emplace(key.substr(0, dot), toml::table{}).first->second.as_table();
    a.node()->visit([&](const auto& v) { section->insert_or_assign(key.substr(dot + 1), v); });
  }
  return diff.empty() ? std::string() : format_table(diff);
}

std::string config_value(const Config& config, std::string_view key) {
  const auto t = to_table(config);
  const auto view = t.at_path(key);
  if (!view) throw ConfigError(fmt::format("unknown key '{}'", key));
  return format_value(*view.node());
}

}  // namespace fcnlab
