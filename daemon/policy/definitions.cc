#include "policy/definitions.h"

#include <array>

namespace chipwatch {

namespace {
constexpr std::array<std::string_view, 5> kSeverityNames = {"info", "low", "medium", "high",
                                                            "critical"};
}  // namespace

std::string_view SeverityName(Severity s) { return kSeverityNames[static_cast<size_t>(s)]; }

std::optional<Severity> ParseSeverity(std::string_view name) {
  for (size_t i = 0; i < kSeverityNames.size(); ++i) {
    if (kSeverityNames[i] == name) return static_cast<Severity>(i);
  }
  return std::nullopt;
}

const ListDef* PolicyDefinitions::FindList(const std::string& name) const {
  for (const auto& list : lists) {
    if (list.name == name) return &list;
  }
  return nullptr;
}

const MacroDef* PolicyDefinitions::FindMacro(const std::string& name) const {
  for (const auto& macro : macros) {
    if (macro.name == name) return &macro;
  }
  return nullptr;
}

namespace {

// Parses `text` into parts; with `correlation`, `{count}` and `{group.<field>}` are accepted too.
Result<std::vector<ReasonPart>> ParseTemplate(std::string_view text, bool correlation) {
  std::vector<ReasonPart> parts;
  std::string literal;
  auto flush = [&] {
    if (!literal.empty()) parts.push_back({std::move(literal), std::nullopt});
    literal.clear();
  };
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '}') {
      if (i + 1 < text.size() && text[i + 1] == '}') ++i;
      literal += '}';
      continue;
    }
    if (c != '{') {
      literal += c;
      continue;
    }
    if (i + 1 < text.size() && text[i + 1] == '{') {
      literal += '{';
      ++i;
      continue;
    }
    size_t close = text.find('}', i + 1);
    if (close == std::string_view::npos) {
      return Status::InvalidArgument("unterminated placeholder at offset " + std::to_string(i) +
                                     " (use {{ for a literal {)");
    }
    std::string_view name = text.substr(i + 1, close - i - 1);
    if (name.empty()) {
      return Status::InvalidArgument("empty placeholder {} at offset " + std::to_string(i));
    }
    i = close;
    if (correlation && name == "count") {
      flush();
      parts.push_back({std::string(), std::nullopt, true});
      continue;
    }
    const bool group = correlation && name.starts_with("group.");
    if (group) name.remove_prefix(6);
    auto field = FieldByName(name);
    if (!field) {
      return Status::InvalidArgument("unknown field {" + std::string(group ? "group." : "") +
                                     std::string(name) + "} in placeholder");
    }
    flush();
    parts.push_back({std::string(), *field, false, group});
  }
  flush();
  return parts;
}

}  // namespace

Result<std::vector<ReasonPart>> ParseReasonTemplate(std::string_view text) {
  return ParseTemplate(text, false);
}

Result<std::vector<ReasonPart>> ParseCorrelationReasonTemplate(std::string_view text) {
  return ParseTemplate(text, true);
}

std::optional<int64_t> ParseDurationMs(std::string_view text) {
  if (text.size() < 2) return std::nullopt;
  int64_t unit = 0;
  switch (text.back()) {
    case 's':
      unit = 1000;
      break;
    case 'm':
      unit = 60 * 1000;
      break;
    case 'h':
      unit = 3600 * 1000;
      break;
    case 'd':
      unit = 24 * 3600 * 1000;
      break;
    default:
      return std::nullopt;
  }
  int64_t n = 0;
  for (char c : text.substr(0, text.size() - 1)) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + (c - '0');
    if (n > 100000000) return std::nullopt;  // beyond any sensible window; no overflow
  }
  if (n == 0) return std::nullopt;
  return n * unit;
}

}  // namespace chipwatch
