#include "match/regex_checker.h"

#include <hs/hs.h>

#include <cctype>
#include <cstdlib>

namespace chipwatch {

RegexChecker HyperscanRegexChecker() {
  return [](const std::string& pattern, bool ignore_case) -> std::string {
    unsigned flags = HS_FLAG_SINGLEMATCH | HS_FLAG_ALLOWEMPTY;
    if (ignore_case) flags |= HS_FLAG_CASELESS;
    // hs_expression_info parses and analyses the pattern as hs_compile would, without building
    // a database: a fraction of the cost, which matters with thousands of rules. Errors only the
    // full build finds (resource limits) are reported by CompiledRules::Compile, also with the
    // rule's position.
    hs_expr_info_t* info = nullptr;
    hs_compile_error_t* err = nullptr;
    if (hs_expression_info(pattern.c_str(), flags, &info, &err) == HS_SUCCESS) {
      std::free(info);
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
