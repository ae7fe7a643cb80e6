// Interned ISO 3166 alpha-2 codes: every two-letter upper-case code as a view into one static,
// immutable table, so that lookups can hand out codes without allocating. Thread-safe (constant).
#pragma once

#include <array>
#include <optional>
#include <string_view>

namespace chipwatch::enrich_internal {

inline constexpr size_t kCountryCodeCount = 26 * 26;

inline constexpr std::array<char, kCountryCodeCount* 2> kCountryCodeChars = [] {
  std::array<char, kCountryCodeCount * 2> chars{};
  for (size_t i = 0; i < kCountryCodeCount; ++i) {
    chars[2 * i] = static_cast<char>('A' + i / 26);
    chars[2 * i + 1] = static_cast<char>('A' + i % 26);
  }
  return chars;
}();

// Index 0..675 of a two-letter code in either case ("cn" and "CN" alike), or nullopt.
inline std::optional<size_t> CountryCodeIndex(std::string_view code) {
  if (code.size() != 2) return std::nullopt;
  size_t index = 0;
  for (char c : code) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    if (c < 'A' || c > 'Z') return std::nullopt;
    index = index * 26 + static_cast<size_t>(c - 'A');
  }
  return index;
}

inline std::string_view CountryCodeAt(size_t index) {
  return {kCountryCodeChars.data() + 2 * index, 2};
}

// The interned upper-case form of a two-letter code, or empty when `code` is not two letters.
inline std::string_view InternCountryCode(std::string_view code) {
  auto index = CountryCodeIndex(code);
  return index ? CountryCodeAt(*index) : std::string_view();
}

}  // namespace chipwatch::enrich_internal
