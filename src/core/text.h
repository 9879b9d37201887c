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
// " (did you mean X?)" for the candidate nearest to `word`, or "" when none is reasonably close.
std::string did_you_mean(std::string_view word, const std::vector<std::string>& candidates);
std::vector<std::string> split(std::string_view text, char sep);
std::string trim(std::string_view text);
// `text` in double quotes with ", \, \n, \t, \r escaped and the other control characters
// (U+0000..U+001F, U+007F) as \uXXXX: a TOML basic string and a JSON string alike.
std::string quoted_string(std::string_view text);

}  // namespace fcnlab
