// Layering: compiled-in defaults <- config files (with their base chains) <- key=value overrides.

#include <fmt/format.h>

#include <algorithm>

#include "config/detail.h"
#include "config/loader.h"
#include "core/error.h"
#include "core/text.h"

namespace fcnlab {

using detail::describe_type;
using detail::Origins;
using detail::sections_of;
using detail::with_line;

std::string_view embedded_default_toml();  // generated from configs/default.toml

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

Config ConfigBuilder::build() const {
  Config c = detail::read_config(impl_->root, impl_->origins);
  detail::validate_config(c, &impl_->origins);
  return c;
}

Config load_config(const std::vector<std::filesystem::path>& files, const std::vector<std::string>& overrides) {
  ConfigBuilder b;
  for (const auto& f : files) b.add_file(f);
  b.add_overrides(overrides);
  return b.build();
}

}  // namespace fcnlab
