#include "yaml/json.h"

#include <cctype>
#include <optional>

#include "core/diagnostics.h"
#include "yaml/walker.h"

namespace chipwatch::yaml {

namespace {

bool LooksLikeInt(std::string_view s) {
  size_t i = (!s.empty() && (s[0] == '-' || s[0] == '+')) ? 1 : 0;
  if (i >= s.size()) return false;
  for (size_t j = i; j < s.size(); ++j) {
    if (!std::isdigit(static_cast<unsigned char>(s[j]))) return false;
  }
  return true;
}

bool LooksLikeFloat(std::string_view s) {
  size_t i = (!s.empty() && (s[0] == '-' || s[0] == '+')) ? 1 : 0;
  size_t int_digits = 0, frac_digits = 0;
  while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i, ++int_digits;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i, ++frac_digits;
  }
  if (int_digits + frac_digits == 0) return false;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
    size_t exp_digits = 0;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i, ++exp_digits;
    if (exp_digits == 0) return false;
  }
  return i == s.size();
}

bool IsYamlNull(std::string_view s) {
  return s == "~" || s == "null" || s == "Null" || s == "NULL";
}

// Renders a plain scalar that YAML's core schema reads as a number as JSON number text; numbers
// with leading zeros (account ids) stay strings since JSON cannot keep the zeros.
std::optional<std::string> JsonNumber(const std::string& s) {
  std::string_view digits = s;
  bool negative = false;
  if (!digits.empty() && (digits[0] == '-' || digits[0] == '+')) {
    negative = digits[0] == '-';
    digits.remove_prefix(1);
  }
  if (LooksLikeInt(s)) {
    if (digits.size() > 1 && digits[0] == '0') return std::nullopt;
    return (negative ? "-" : "") + std::string(digits);
  }
  if (LooksLikeFloat(s)) {
    if (digits.size() > 1 && digits[0] == '0' && digits[1] != '.') return std::nullopt;
    std::string out = negative ? "-" : "";
    if (digits[0] == '.') out += '0';
    for (size_t i = 0; i < digits.size(); ++i) {
      out += digits[i];
      if (digits[i] == '.' &&
          (i + 1 == digits.size() || !std::isdigit(static_cast<unsigned char>(digits[i + 1])))) {
        out += '0';
      }
    }
    return out;
  }
  return std::nullopt;
}

}  // namespace

void AppendJson(const YAML::Node& n, std::string& out) {
  if (!n.IsDefined() || n.IsNull()) {
    out += "null";
    return;
  }
  if (n.IsScalar()) {
    const std::string& s = n.Scalar();
    if (IsPlain(n)) {
      if (IsYamlNull(s) || s.empty()) {
        out += "null";
        return;
      }
      if (auto b = ParseBool(s)) {
        out += *b ? "true" : "false";
        return;
      }
      if (auto num = JsonNumber(s)) {
        out += *num;
        return;
      }
    }
    out += '"';
    AppendJsonEscaped(out, s);
    out += '"';
    return;
  }
  if (n.IsSequence()) {
    out += '[';
    bool first = true;
    for (const auto& item : n) {
      if (!first) out += ',';
      first = false;
      AppendJson(item, out);
    }
    out += ']';
    return;
  }
  out += '{';
  bool first = true;
  for (auto it = n.begin(); it != n.end(); ++it) {
    if (!first) out += ',';
    first = false;
    out += '"';
    AppendJsonEscaped(out, it->first.IsScalar() ? it->first.Scalar() : std::string());
    out += "\":";
    AppendJson(it->second, out);
  }
  out += '}';
}

bool LooksLikeNumber(std::string_view s) { return LooksLikeInt(s) || LooksLikeFloat(s); }

}  // namespace chipwatch::yaml
