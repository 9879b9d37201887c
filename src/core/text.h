#pragma once
// Small string helpers shared by modules.
#include <string>
#include <string_view>
#include <vector>

namespace fcnlab {

// Levenshtein distance, for "did you mean ...?" suggestions.
std::size_t edit_distance(std::string_view a, std::string_view b);
// The candidate closest to `word`, or "" when none is reasonably close.
std::string nearest(std::string_view word, const std::vector<std::string>& candidates);
std::vector<std::string> split(std::string_view text, char sep);
std::string trim(std::string_view text);

}  // namespace fcnlab
