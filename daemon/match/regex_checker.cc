#include "match/regex_checker.h"

#include <hs/hs.h>

#include <cctype>

namespace chipwatch {

RegexChecker HyperscanRegexChecker() {
  return [](const std::string& pattern, bool ignore_case) -> std::string {
    unsigned flags = HS_FLAG_SINGLEMATCH | HS_FLAG_ALLOWEMPTY;
    if (ignore_case) flags |= HS_FLAG_CASELESS;
    hs_database_t* db = nullptr;
    hs_compile_error_t* err = nullptr;
    if (hs_compile(pattern.c_str(), flags, HS_MODE_BLOCK, nullptr, &db, &err) == HS_SUCCESS) {
      hs_free_database(db);
      return std::string();
    }
    std::string message = err && err->message ? err->message : "Hyperscan compile failed";
    hs_free_compile_error(err);
    return message;
  };
}

std::string EscapeHyperscanLiteral(std::string_view literal) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(literal.size() * 2);
  for (unsigned char c : literal) {
    if (std::isalnum(c)) {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

}  // namespace chipwatch
