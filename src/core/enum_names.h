#pragma once
// Generic name <-> enum conversion. Each enum declares a table:
//   template <> struct EnumNames<Fusion> { static constexpr std::array<std::pair<Fusion, std::string_view>, 3>
//   table{...}; };
// and gets to_string / parse_enum / allowed_names for free. Errors list the allowed values.
#include <optional>
#include <string>
#include <string_view>

namespace fcnlab {

template <class E>
struct EnumNames;  // specialised per enum

template <class E>
std::string_view to_string(E value) {
  for (const auto& [v, name] : EnumNames<E>::table)
    if (v == value) return name;
  return "?";
}

template <class E>
std::optional<E> parse_enum(std::string_view name) {
  for (const auto& [v, n] : EnumNames<E>::table)
    if (n == name) return v;
  return std::nullopt;
}

// "a | b | c", for error messages and documentation.
template <class E>
std::string allowed_names() {
  std::string out;
  for (const auto& [v, n] : EnumNames<E>::table) {
    if (!out.empty()) out += " | ";
    out += n;
  }
  return out;
}

}  // namespace fcnlab
