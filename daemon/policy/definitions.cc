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

}  // namespace chipwatch
