// ASCII case helpers shared by the rule compiler, the indexes and the enrichment: rule keys,
// catalog names and event values are compared case-insensitively byte by byte, ignoring the locale
// (a UTF-8 byte above 0x7f is never changed). Plain functions; thread-safe.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace chipwatch {

constexpr char AsciiLower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

// Writes the lower-cased `s` to `out` (at least s.size() bytes).
inline void AsciiLowerInto(std::string_view s, char* out) {
  for (size_t i = 0; i < s.size(); ++i) out[i] = AsciiLower(s[i]);
}

// Replaces `out` with the lower-cased `s`, keeping out's capacity (no allocation when it fits).
inline void AsciiLowerAssign(std::string_view s, std::string& out) {
  out.assign(s);
  for (char& c : out) c = AsciiLower(c);
}

inline std::string AsciiLowered(std::string_view s) {
  std::string out;
  AsciiLowerAssign(s, out);
  return out;
}

inline bool AsciiEqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (AsciiLower(a[i]) != AsciiLower(b[i])) return false;
  }
  return true;
}

}  // namespace chipwatch
