#include "match/regex_checker.h"

#include <cctype>

#include "hs/hyperscan.h"

namespace chipwatch {

namespace {
// What a trailing `\b` after a word character becomes (CheaperTrailingWordBoundary).
constexpr std::string_view kBoundaryTail = "(?:\\W|$)";
}  // namespace

RegexChecker HyperscanRegexChecker() {
  return [](const std::string& pattern, bool ignore_case) -> std::string {
    unsigned flags = hs::kSingleMatch | hs::kAllowEmpty;
    if (ignore_case) flags |= hs::kCaseless;
    // hs_expression_info parses and analyses the pattern as hs_compile would, without building
    // a database: a fraction of the cost, which matters with thousands of rules. Errors only the
    // full build finds (resource limits) are reported by CompiledRules::Compile, also with the
    // rule's position.
    hs::ExpressionInfo info = hs::AnalyzeExpression(pattern, flags);
    if (info.ok) return std::string();
    return info.message.empty() ? std::string("Hyperscan compile failed") : info.message;
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

std::string CheaperTrailingWordBoundary(std::string_view pattern) {
  const size_t n = pattern.size();
  if (n < 3 || !pattern.ends_with("\\b") || pattern.find("\\Q") != std::string_view::npos) {
    return std::string(pattern);
  }
  // The `\b` is an escape only when an odd number of backslashes precedes the `b`.
  size_t slashes = 0;
  for (size_t i = n - 1; i > 0 && pattern[i - 1] == '\\'; --i) ++slashes;
  const unsigned char before = static_cast<unsigned char>(pattern[n - 3]);
  const bool word = std::isalnum(before) || before == '_';
  // No backslash among the four characters before it: it is a literal, not the end of an escape
  // (`\d`, `\x41`, `\012`, `\cA`, ...).
  const size_t from = n - 3 >= 4 ? n - 7 : 0;
  const bool literal = pattern.substr(from, n - 3 - from).find('\\') == std::string_view::npos;
  if (slashes % 2 == 0 || !word || !literal) return std::string(pattern);
  std::string out(pattern.substr(0, n - 2));
  out += kBoundaryTail;
  return out;
}

}  // namespace chipwatch
