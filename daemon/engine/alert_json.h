// Alert JSON: the one-line document chipwatch emits for every rule match (docs/alerts.md).
//
// Field order is fixed and nothing depends on wall-clock time, so a replay of the same input gives
// byte-identical output. Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/event.h"
#include "match/compiled_rules.h"

namespace chipwatch {

// Adding keys is backward compatible (consumers ignore what they do not know): `kind` and the
// stateful keys kept v1 (docs/alerts.md).
inline constexpr std::string_view kAlertSchema = "chipwatch-alert/v1";

// What raised an alert: one rule match (`event`), a correlation (issue 13), or the summary of a
// suppression window's repeats.
enum class AlertKind : uint8_t { kEvent, kCorrelation, kSummary };
std::string_view AlertKindName(AlertKind kind);  // "event", "correlation", "summary"

// Where an event alert's fragments (below) lie in the output: [begin, end) offsets.
struct AlertJsonSpans {
  size_t event_begin = 0, event_end = 0;
  size_t matched_begin = 0, matched_end = 0;
  size_t origin_begin = 0, origin_end = 0;
};

// Appends one event alert (no trailing newline) to `out`; `spans`, when given, receives where its
// fragments are (they are byte for byte what the Append*Fragment functions write).
void AppendAlertJson(std::string& out, const CompiledRule& rule, Severity severity,
                     const Event& event, std::string_view reason, AlertJsonSpans* spans = nullptr);

// Fragments of an event alert, rendered while the Event is alive so that a correlation or
// summary alert can be written later without it (engine/stateful.h). Each is a comma-separated
// run of `"key":value` pairs without braces or leading comma.
//   event:   event_id, event_time (time_source), format, action, outcome, actor, resource
//   matched: "matched":[...]
//   origin:  "origin":{...}
void AppendEventFragment(std::string& out, const Event& event);
void AppendMatchedFragment(std::string& out, const Event& event);
void AppendOriginFragment(std::string& out, const Origin& origin);
// A field's value as JSON: a quoted string, a number, true/false, or null when unset.
void AppendFieldJson(std::string& out, const Event& event, FieldId field);

// A correlation or summary alert, from fragments (docs/alerts.md).
struct StatefulAlertJson {
  AlertKind kind = AlertKind::kCorrelation;
  std::string_view rule_id, title;
  Severity severity = Severity::kMedium;
  std::string_view event;   // AppendEventFragment of the completing / last suppressed event
  std::string_view reason;  // plain text
  std::string_view group;   // a JSON object: {"field.name":value-or-null, ...}
  uint64_t count = 0;
  int64_t first_seen_ms = 0, last_seen_ms = 0;
  const std::vector<std::string>* events = nullptr;  // event ids
  const std::vector<std::string>* values = nullptr;  // value_count only (else null: no key)
  std::string_view matched;                          // AppendMatchedFragment
  const std::vector<std::string>* tags = nullptr;
  std::string_view origin;  // AppendOriginFragment
};
void AppendStatefulAlertJson(std::string& out, const StatefulAlertJson& alert);

}  // namespace chipwatch
