# Writes OUT: a C++ file defining fcnlab::embedded_default_toml() with the bytes of IN.
file(READ ${IN} text HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "'\\\\x\\1'," bytes "${text}")
file(WRITE ${OUT} "// generated from ${IN} by cmake/embed_text.cmake\n#include <string_view>\nnamespace fcnlab {\nnamespace {\nconstexpr char kBytes[] = {${bytes} '\\0'};\n}\nstd::string_view embedded_default_toml() { return {kBytes, sizeof(kBytes) - 1}; }\n}  // namespace fcnlab\n")
