// Alert JSON: the one-line document chipwatch emits for every rule match (docs/alerts.md).
//
// Field order is fixed and nothing depends on wall-clock time, so a replay of the same input gives
// byte-identical output. Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "core/event.h"
#include "match/compiled_rules.h"

namespace chipwatch {

inline constexpr std::string_view kAlertSchema = "chipwatch-alert/v1";

// Appends one alert (no trailing newline) to `out`.
void AppendAlertJson(std::string& out, const CompiledRule& rule, Severity severity,
                     const Event& event, std::string_view reason);

}  // namespace chipwatch
