#include "config/loader.h"

#include <fmt/format.h>

#include <toml++/toml.h>
#include <algorithm>
#include <array>
#include <charconv>
#include <climits>
#include <cmath>
#include <functional>
#include <map>
#include <set>
#include <type_traits>

#include "core/error.h"
#include "core/hash.h"
#include "core/text.h"

namespace fcnlab {

std::string_view embedded_default_toml();  // generated from configs/default.toml

std::string to_string(const Device& d) {
  if (d.kind == DeviceKind::cuda && d.index >= 0) return fmt::format("cuda:{}", d.index);
  return std::string(to_string(d.kind));
}

namespace {

// The one list of schema fields. Every visitor (reader, writer, key list) walks it, so adding a
// key here is all it takes (plus its documented default in configs/default.toml).
template <class C, class V>
void visit_fields(C& c, V&& v) {
  v("run.seed", c.run.seed);
  v("run.device", c.run.device);
  v("run.deterministic", c.run.deterministic);
  v("run.name", c.run.name);
  v("run.experiment", c.run.experiment);
  v("run.results_dir", c.run.results_dir);
  v("run.threads", c.run.threads);
  v("run.log_level", c.run.log_level);
  v("run.log_every", c.run.log_every);

  v("data.root", c.data.root);
  v("data.image_dir", c.data.image_dir);
  v("data.label_dir", c.data.label_dir);
  v("data.split_dir", c.data.split_dir);
  v("data.train_split", c.data.train_split);
  v("data.val_split", c.data.val_split);
  v("data.num_classes", c.data.num_classes);
  v("data.crop", c.data.crop);
  v("data.scale", c.data.scale);
  v("data.hflip", c.data.hflip);
  v("data.vflip", c.data.vflip);
  v("data.mean", c.data.mean);
  v("data.std", c.data.std);
  v("data.workers", c.data.workers);
  v("data.val_batch", c.data.val_batch);

  v("model.backbone", c.model.backbone);
  v("model.width", c.model.width);
  v("model.fc_channels", c.model.fc_channels);
  v("model.dropout", c.model.dropout);
  v("model.batchnorm", c.model.batchnorm);
  v("model.skip", c.model.skip);
  v("model.fusion", c.model.fusion);
  v("model.upsample", c.model.upsample);
  v("model.padding", c.model.padding);
  v("model.pretrained", c.model.pretrained);
  v("model.score_scaling", c.model.score_scaling);

  v("loss.name", c.loss.name);
  v("loss.reduction", c.loss.reduction);
  v("loss.class_weights", c.loss.class_weighting, c.loss.class_weights);
  v("loss.aux_weight", c.loss.aux_weight);
  v("loss.per_image", c.loss.per_image);
  v("loss.focal_gamma", c.loss.focal_gamma);
  v("loss.boundary_width", c.loss.boundary_width);
  v("loss.boundary_weight", c.loss.boundary_weight);

  v("optim.name", c.optim.name);
  v("optim.lr", c.optim.lr);
  v("optim.momentum", c.optim.momentum);
  v("optim.weight_decay", c.optim.weight_decay);
  v("optim.bias_lr_mult", c.optim.bias_lr_mult);
  v("optim.bias_decay_mult", c.optim.bias_decay_mult);
  v("optim.adam_beta1", c.optim.adam_beta1);
  v("optim.adam_beta2", c.optim.adam_beta2);
  v("optim.schedule", c.optim.schedule);
  v("optim.poly_power", c.optim.poly_power);
  v("optim.step_every", c.optim.step_every);
  v("optim.step_gamma", c.optim.step_gamma);
  v("optim.warmup", c.optim.warmup);
  v("optim.iterations", c.optim.iterations);
  v("optim.epochs", c.optim.epochs);
  v("optim.batch_size", c.optim.batch_size);
  v("optim.iter_size", c.optim.iter_size);
  v("optim.amp", c.optim.amp);
  v("optim.channels_last", c.optim.channels_last);
  v("optim.fuse_conv_relu", c.optim.fuse_conv_relu);

  v("eval.every", c.eval.every);
  v("eval.trimap_widths", c.eval.trimap_widths);
  v("eval.bf_tolerance", c.eval.bf_tolerance);
  v("eval.boundary_iou_dilation", c.eval.boundary_iou_dilation);
  v("eval.examples", c.eval.examples);

  v("checkpoint.every", c.checkpoint.every);
  v("checkpoint.keep", c.checkpoint.keep);
}

// Where each key's current value came from: "configs/x.toml:12", "override 'k=v'", ...
using Origins = std::map<std::string, std::string, std::less<>>;

struct KeyLister {
  std::vector<std::string> keys;
  template <class... T>
  void operator()(std::string_view key, T&...) {
    keys.emplace_back(key);
  }
};

std::vector<std::string> sections_of(const std::vector<std::string>& keys) {
  std::set<std::string> s;
  for (const auto& k : keys) s.insert(k.substr(0, k.find('.')));
  return {s.begin(), s.end()};
}

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

toml::table to_table(const Config& c) {
  toml::table t;
  visit_fields(c, Writer{t});
  return t;
}

std::string format_value(const toml::node& n);

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

std::string with_line(const std::string& file, const toml::node& n) {
  if (n.source().begin.line == 0) return file;
  return fmt::format("{}:{}", file, n.source().begin.line);
}

}  // namespace

const std::vector<std::string>& config_keys() {
  static const std::vector<std::string> keys = [] {
    KeyLister l;
    Config c;
    visit_fields(c, l);
    std::sort(l.keys.begin(), l.keys.end());
    return l.keys;
  }();
  return keys;
}

void check_config_key(const std::string& key, const std::string& where) {
  const auto& keys = config_keys();
  if (!std::binary_search(keys.begin(), keys.end(), key))
    throw ConfigError(fmt::format("{}: unknown key '{}'{}", where, key, did_you_mean(key, keys)));
}

const std::vector<std::string>& unhashed_keys() {
  // Output locations, labels and execution resources: they do not change what is computed, only
  // how. Two of them change results in rounding: run.threads (intra-op reductions split their work
  // by thread; `rerun` pins the recorded count) and optim.fuse_conv_relu (the same function with
  // other kernels, like cuDNN's algorithm choice in benchmark mode; prepare_model fuses nothing when
  // run.deterministic is set, so it never changes a deterministic run). Keeping
  // them out keeps a run's id across machines, and every run id from before the key existed.
  static const std::vector<std::string> keys{
      "checkpoint.every", "checkpoint.keep", "data.workers", "optim.fuse_conv_relu", "run.experiment",
      "run.log_every",    "run.log_level",   "run.name",     "run.results_dir",      "run.threads"};
  return keys;
}

bool is_unhashed_key(std::string_view key) {
  const auto& keys = unhashed_keys();
  return std::find(keys.begin(), keys.end(), key) != keys.end();
}

const std::vector<std::string>& keys_hashed_when_set() {
  // Result-affecting keys added after run ids were in use. At their default they reproduce what
  // was computed before they existed, so there they are left out of the hash, and every earlier
  // run id stays valid; any other value is hashed as usual.
  static const std::vector<std::string> keys{"optim.bias_decay_mult", "optim.bias_lr_mult"};
  return keys;
}

struct ConfigBuilder::Impl {
  toml::table root;
  Origins origins;
  std::vector<std::filesystem::path> file_stack;  // for base-cycle detection

  // Copies the entries of `src` into `root`, rejecting unknown sections and keys.
  void merge(const toml::table& src, const std::string& origin) {
    const auto& keys = config_keys();
    static const auto sections = sections_of(keys);
    for (const auto& [k, node] : src) {
      const std::string section(k.str());
      const auto* tbl = node.as_table();
      if (std::find(sections.begin(), sections.end(), section) == sections.end()) {
        throw ConfigError(fmt::format("{}: unknown {} '{}'{}", with_line(origin, node), tbl ? "section" : "key",
                                      section, did_you_mean(section, tbl ? sections : keys)));
      }
      if (tbl == nullptr)
        throw ConfigError(fmt::format("{}: '{}' must be a table ([{}] section), not {}", with_line(origin, node),
                                      section, section, describe_type(node)));
      for (const auto& [leaf, value] : *tbl)
        set(section + "." + std::string(leaf.str()), value, with_line(origin, value));
    }
  }

  void set(const std::string& key, const toml::node& value, const std::string& origin) {
    check_config_key(key, origin);
    const auto dot = key.find('.');
    auto* section = root.emplace(key.substr(0, dot), toml::table{}).first->second.as_table();
    value.visit([&](const auto& v) { section->insert_or_assign(key.substr(dot + 1), v); });
    origins[key] = origin;
  }

  void add_file(const std::filesystem::path& file) {
    std::error_code ec;
    const auto canon = std::filesystem::weakly_canonical(file, ec);
    const auto& id = ec ? file : canon;
    if (std::find(file_stack.begin(), file_stack.end(), id) != file_stack.end()) {
      std::string chain;
      for (const auto& f : file_stack) chain += f.string() + " -> ";
      throw ConfigError(fmt::format("config base cycle: {}{}", chain, id.string()));
    }
    if (!std::filesystem::is_regular_file(file))
      throw ConfigError(fmt::format("config file not found: {}", file.string()));
    toml::table tbl;
    try {
      tbl = toml::parse_file(file.string());
    } catch (const toml::parse_error& e) {
      throw ConfigError(fmt::format("{}:{}:{}: TOML syntax error: {}", file.string(), e.source().begin.line,
                                    e.source().begin.column, e.description()));
    }
    file_stack.push_back(id);
    if (auto* base = tbl.get("base")) {
      const auto name = base->value<std::string>();
      if (!name)
        throw ConfigError(fmt::format("{}: base must be a string (a TOML file path relative to this file)",
                                      with_line(file.string(), *base)));
      const auto base_file = file.parent_path() / *name;
      if (!std::filesystem::is_regular_file(base_file))
        throw ConfigError(fmt::format("{}: base = \"{}\": config file not found: {}", with_line(file.string(), *base),
                                      *name, base_file.string()));
      add_file(base_file);
      tbl.erase("base");
    }
    merge(tbl, file.string());
    file_stack.pop_back();
  }
};

ConfigBuilder::ConfigBuilder() : impl_(std::make_unique<Impl>()) {
  add_text(embedded_default_toml(), "configs/default.toml");
}
ConfigBuilder::~ConfigBuilder() = default;
ConfigBuilder::ConfigBuilder(ConfigBuilder&&) noexcept = default;
ConfigBuilder& ConfigBuilder::operator=(ConfigBuilder&&) noexcept = default;

ConfigBuilder& ConfigBuilder::add_file(const std::filesystem::path& file) {
  impl_->add_file(file);
  return *this;
}

ConfigBuilder& ConfigBuilder::add_text(std::string_view text, const std::string& origin) {
  toml::table tbl;
  try {
    tbl = toml::parse(text, origin);
  } catch (const toml::parse_error& e) {
    throw ConfigError(fmt::format("{}:{}:{}: TOML syntax error: {}", origin, e.source().begin.line,
                                  e.source().begin.column, e.description()));
  }
  if (tbl.contains("base")) throw ConfigError(fmt::format("{}: 'base' is only allowed in config files", origin));
  impl_->merge(tbl, origin);
  return *this;
}

ConfigBuilder& ConfigBuilder::add_override(std::string_view kv) {
  const auto eq = kv.find('=');
  const std::string origin = fmt::format("override '{}'", kv);
  if (eq == std::string_view::npos || trim(kv.substr(0, eq)).empty())
    throw ConfigError(fmt::format("{}: expected key=value (e.g. model.skip=8)", origin));
  const std::string key = trim(kv.substr(0, eq));
  const std::string text = trim(kv.substr(eq + 1));
  // TOML value syntax; anything that does not parse as one value is a bare-word string.
  toml::table parsed;
  bool ok = false;
  try {
    parsed = toml::parse("v = " + text);
    ok = parsed.size() == 1 && parsed.contains("v");
  } catch (const toml::parse_error&) {
    ok = false;
  }
  if (ok)
    impl_->set(key, *parsed.get("v"), origin);
  else
    impl_->set(key, toml::value<std::string>(text), origin);
  return *this;
}

ConfigBuilder& ConfigBuilder::add_overrides(const std::vector<std::string>& overrides) {
  for (const auto& o : overrides) add_override(o);
  return *this;
}

namespace {

// A single path component that stays where it is put: no '/', and not "." or "..".
bool is_plain_name(const std::string& name) {
  return name.find('/') == std::string::npos && name != "." && name != "..";
}

class Validator {
 public:
  Validator(const Config& c, const Origins* origins) : c_(c), origins_(origins) {}
  void check(bool ok, std::string_view key, std::string_view requirement) const {
    if (ok) return;
    std::string origin = "config";
    if (origins_ != nullptr) {
      if (auto it = origins_->find(key); it != origins_->end()) origin = it->second;
    }
    throw ConfigError(fmt::format("{}: {} = {}: {}", origin, key, config_value(c_, key), requirement));
  }

 private:
  const Config& c_;
  const Origins* origins_;
};

void validate_impl(const Config& c, const Origins* origins) {
  const Validator v(c, origins);
  v.check(c.run.seed >= 0, "run.seed", "must be >= 0");
  v.check(c.run.threads >= 0, "run.threads", "must be >= 0 (0 = all cores)");
  v.check(c.run.log_every >= 1, "run.log_every", "must be >= 1");
  // Both become part of file names under run.results_dir: a '/' or a ".." would put the run's files
  // elsewhere.
  v.check(!c.run.experiment.empty() && is_plain_name(c.run.experiment), "run.experiment",
          "must be a non-empty name without '/', not \".\" or \"..\"");
  v.check(c.run.name.empty() || is_plain_name(c.run.name), "run.name",
          "must be empty or a name without '/', not \".\" or \"..\" (it prefixes the run id, a file name)");
  v.check(!c.run.results_dir.empty(), "run.results_dir", "must not be empty");

  v.check(!c.data.root.empty(), "data.root", "must not be empty");
  v.check(c.data.num_classes >= 2 && c.data.num_classes <= 255, "data.num_classes",
          "must be in [2, 255] (255 is the void label)");
  v.check(c.data.crop >= 0, "data.crop", "must be >= 0 (0 = whole images)");
  v.check(c.data.scale.size() == 2 && c.data.scale[0] > 0 && c.data.scale[0] <= c.data.scale[1], "data.scale",
          "must be [lo, hi] with 0 < lo <= hi");
  v.check(c.data.mean.size() == 3, "data.mean", "must have 3 values (R, G, B)");
  v.check(c.data.std.size() == 3 && std::all_of(c.data.std.begin(), c.data.std.end(), [](double s) { return s > 0; }),
          "data.std", "must have 3 positive values (R, G, B)");
  v.check(c.data.workers >= 0, "data.workers", "must be >= 0");
  v.check(c.data.val_batch >= 1, "data.val_batch", "must be >= 1");

  v.check(c.model.width > 0 && c.model.width <= 4, "model.width", "must be in (0, 4]");
  v.check(c.model.fc_channels >= 1, "model.fc_channels", "must be >= 1");
  v.check(c.model.dropout >= 0 && c.model.dropout < 1, "model.dropout", "must be in [0, 1)");
  v.check(c.model.pretrained.empty() || !c.model.batchnorm, "model.pretrained",
          "needs model.batchnorm = false: the importer reads torchvision's plain VGG16");

  v.check(c.loss.class_weighting != ClassWeighting::given ||
              static_cast<int>(c.loss.class_weights.size()) == c.data.num_classes,
          "loss.class_weights", fmt::format("must have data.num_classes = {} entries", c.data.num_classes));
  v.check(std::all_of(c.loss.class_weights.begin(), c.loss.class_weights.end(),
                      [](double w) { return w >= 0 && std::isfinite(w); }),
          "loss.class_weights", "weights must be finite and >= 0");
  v.check(c.loss.name != LossName::wce || c.loss.class_weighting != ClassWeighting::none, "loss.class_weights",
          fmt::format("loss.name = \"wce\" needs class weights: set loss.class_weights = \"median_freq\" or a list of "
                      "data.num_classes = {} numbers",
                      c.data.num_classes));
  v.check(c.loss.aux_weight >= 0, "loss.aux_weight", "must be >= 0");
  v.check(c.loss.focal_gamma >= 0, "loss.focal_gamma", "must be >= 0");
  v.check(c.loss.boundary_width >= 1, "loss.boundary_width", "must be >= 1 (pixels)");
  v.check(c.loss.boundary_weight > 0, "loss.boundary_weight", "must be > 0");
  {
    const bool pixelwise = c.loss.name == LossName::ce || c.loss.name == LossName::wce ||
                           c.loss.name == LossName::focal || c.loss.name == LossName::boundary_ce;
    v.check(c.loss.reduction != Reduction::sum || pixelwise, "loss.reduction",
            fmt::format("needs a per-pixel loss (ce, wce, focal, boundary_ce), but loss.name = \"{}\" "
                        "holds a Dice or Lovasz term, normalised over the batch: it has no sum, and beside a summed "
                        "CE it would weigh about 1/pixels; set loss.reduction = \"mean\" (with a learning rate for "
                        "it, as experiments/voc_ablation.toml does)",
                        to_string(c.loss.name)));
  }

  v.check(c.optim.lr > 0, "optim.lr", "must be > 0");
  v.check(c.optim.momentum >= 0 && c.optim.momentum < 1, "optim.momentum", "must be in [0, 1)");
  v.check(c.optim.weight_decay >= 0, "optim.weight_decay", "must be >= 0");
  v.check(c.optim.bias_lr_mult >= 0, "optim.bias_lr_mult", "must be >= 0 (0 freezes the biases)");
  v.check(c.optim.bias_decay_mult >= 0, "optim.bias_decay_mult", "must be >= 0");
  v.check(c.optim.adam_beta1 >= 0 && c.optim.adam_beta1 < 1, "optim.adam_beta1", "must be in [0, 1)");
  v.check(c.optim.adam_beta2 >= 0 && c.optim.adam_beta2 < 1, "optim.adam_beta2", "must be in [0, 1)");
  v.check(c.optim.poly_power > 0, "optim.poly_power", "must be > 0");
  v.check(c.optim.step_every >= 1, "optim.step_every", "must be >= 1");
  v.check(c.optim.step_gamma > 0 && c.optim.step_gamma <= 1, "optim.step_gamma", "must be in (0, 1]");
  v.check(c.optim.warmup >= 0, "optim.warmup", "must be >= 0");
  v.check(c.optim.iterations >= 1, "optim.iterations", "must be >= 1");
  v.check(c.optim.epochs >= 0, "optim.epochs", "must be >= 0 (0 = use optim.iterations)");
  v.check(c.optim.batch_size >= 1, "optim.batch_size", "must be >= 1");
  v.check(c.optim.iter_size >= 1, "optim.iter_size", "must be >= 1");
  v.check(
      c.data.crop > 0 || c.optim.batch_size == 1, "data.crop",
      fmt::format("0 (whole images) needs optim.batch_size = 1, but it is {}; set a crop size", c.optim.batch_size));

  v.check(c.eval.every >= 0, "eval.every", "must be >= 0 (0 = only at the end)");
  v.check(!c.eval.trimap_widths.empty() &&
              std::all_of(c.eval.trimap_widths.begin(), c.eval.trimap_widths.end(), [](int w) { return w >= 1; }) &&
              std::is_sorted(c.eval.trimap_widths.begin(), c.eval.trimap_widths.end()),
          "eval.trimap_widths", "must be a non-empty ascending list of widths >= 1 (pixels)");
  v.check(c.eval.bf_tolerance > 0 && c.eval.bf_tolerance < 1, "eval.bf_tolerance",
          "must be in (0, 1) (a fraction of the image diagonal)");
  v.check(c.eval.boundary_iou_dilation > 0 && c.eval.boundary_iou_dilation < 1, "eval.boundary_iou_dilation",
          "must be in (0, 1) (a fraction of the image diagonal)");
  v.check(c.eval.examples >= 0, "eval.examples", "must be >= 0");

  v.check(c.checkpoint.every >= 0, "checkpoint.every", "must be >= 0 (0 = never)");
  v.check(c.checkpoint.keep >= 1, "checkpoint.keep", "must be >= 1");
}

}  // namespace

Config ConfigBuilder::build() const {
  Config c;
  visit_fields(c, Reader{impl_->root, impl_->origins});
  validate_impl(c, &impl_->origins);
  return c;
}

void validate(const Config& config) {
  validate_impl(config, nullptr);
}

Config load_config(const std::vector<std::filesystem::path>& files, const std::vector<std::string>& overrides) {
  ConfigBuilder b;
  for (const auto& f : files) b.add_file(f);
  b.add_overrides(overrides);
  return b.build();
}

std::string to_canonical_toml(const Config& config) {
  return format_table(to_table(config));
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

std::uint64_t config_hash(const Config& config) {
  auto t = to_table(config);
  const auto erase = [&t](std::string_view key) {
    const auto dot = key.find('.');
    if (auto* section = t.get_as<toml::table>(key.substr(0, dot))) section->erase(key.substr(dot + 1));
  };
  for (const auto& key : unhashed_keys()) erase(key);
  static const toml::table defaults = to_table(Config{});
  for (const auto& key : keys_hashed_when_set()) {
    const auto value = t.at_path(key);
    const auto fallback = defaults.at_path(key);
    if (value && fallback && format_value(*value.node()) == format_value(*fallback.node())) erase(key);
  }
  return hash64(format_table(t));
}

std::string config_hash_hex(const Config& config) {
  return hex64(config_hash(config));
}

std::string config_value(const Config& config, std::string_view key) {
  const auto t = to_table(config);
  const auto view = t.at_path(key);
  if (!view) throw ConfigError(fmt::format("unknown key '{}'", key));
  return format_value(*view.node());
}

bool operator==(const Config& a, const Config& b) {
  return to_canonical_toml(a) == to_canonical_toml(b);
}

}  // namespace fcnlab
