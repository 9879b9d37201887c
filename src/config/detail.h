#pragma once
// What the files of config/ share and nobody else needs: where each value came from, reading and
// writing a Config as TOML, the canonical text, and validation with origins.
#include <toml++/toml.h>

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "config/config.h"

namespace fcnlab::detail {

// Where each key's current value came from: "configs/x.toml:12", "override 'k=v'", ...
using Origins = std::map<std::string, std::string, std::less<>>;

// The sections ("model", "optim", ...) of dotted keys, sorted.
std::vector<std::string> sections_of(const std::vector<std::string>& keys);

// "the integer 3", "an array", ...: what a TOML value is, for error messages.
std::string describe_type(const toml::node& n);
// "file:line" of a node, or `file` when the node has no position.
std::string with_line(const std::string& file, const toml::node& n);

// Reads every schema field out of the layered table; ConfigError names the key and its origin.
Config read_config(const toml::table& root, const Origins& origins);
// The Config as a TOML table (canonical output, diffs and hashing).
toml::table to_table(const Config& c);
// One value / a whole table in canonical text: sections and keys sorted, one key per line.
std::string format_value(const toml::node& n);
std::string format_table(const toml::table& t);

// validate() with each key's origin in the message (null: "config").
void validate_config(const Config& c, const Origins* origins);

}  // namespace fcnlab::detail
