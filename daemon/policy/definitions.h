// Policy definitions: what the rule reader produces from YAML, before compilation.
//
// Plain structs joining the three load stages (reader -> collector -> compilers). The reader turns
// each YAML file into definitions with file:line:col positions; the collector applies list appends
// and checks ids; the catalog index (enrich/) and rule compiler (match/) turn them into immutable
// evaluable forms. The language is specified in docs/rules.md.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/diagnostics.h"
#include "core/event.h"
#include "core/status.h"
#include "state/correlation.h"

namespace chipwatch {

enum class Severity : uint8_t { kInfo = 0, kLow, kMedium, kHigh, kCritical };
std::string_view SeverityName(Severity s);
std::optional<Severity> ParseSeverity(std::string_view name);

// A named list of strings (`lists:`), possibly extended by later files with `append: true`.
struct ListDef {
  std::string name;
  std::vector<std::string> items;
  std::vector<SourcePos> item_pos;  // parallel to items
  std::string description;
  std::string source;
  SourcePos pos;
};

// One condition node. Exactly one kind; children for all/any/not.
struct ConditionDef {
  // clang-format off
  enum class Kind : uint8_t {
    kAll, kAny, kNot, kMacro,
    kEquals, kIn, kRegex, kContains, kCidr, kGt, kGte, kLt, kLte, kExists
  };
  // clang-format on
  Kind kind = Kind::kAll;
  std::vector<ConditionDef> children;  // all / any / not (one child)
  std::string field;                   // operator's field name as written ("source.ip")
  std::string macro;                   // kMacro: macro name
  std::string list;                    // kIn / kCidr: list name (empty when items are inline)
  std::vector<std::string> items;      // kIn / kCidr inline items
  std::string value;                   // kEquals/kContains/kRegex(pattern)/numeric as text
  enum class ValueType : uint8_t { kString, kNumber, kBool } value_type = ValueType::kString;
  bool ignore_case = false;
  SourcePos pos;
  // Filled by the collector (policy/loader.h) once the load has no errors:
  FieldId field_id = FieldId::kCount;  // `field` resolved (kCount when the node has no field)
  int64_t number = 0;               // numeric/bool value of equals/gt/gte/lt/lte on number fields
  std::vector<SourcePos> item_pos;  // parallel to inline `items`
};

struct MacroDef {
  std::string name;
  ConditionDef condition;
  SourcePos pos;
};

// `severity_from: {field: source.tier, map: {embargoed: critical, licence-required: medium}}`
struct SeverityFromDef {
  std::string field;
  std::vector<std::pair<std::string, Severity>> map;
  SourcePos pos;
  FieldId field_id = FieldId::kCount;  // `field` resolved by the collector
};

// One piece of a parsed `reason` template: literal text, or a field's value when `field` is set,
// or (correlations only) the number the condition counted when `count` is set. A correlation's
// `{group.<field>}` is `{<field>}` of the event that completed it (the group's value).
struct ReasonPart {
  std::string literal;
  std::optional<FieldId> field;
  bool count = false;
  bool group = false;  // `field` was written `{group.<field>}` (correlations)
};

// One event of a test: the raw record and the stand-ins for lookups.
struct TestEventDef {
  Format format = Format::kAuto;
  std::string event_json;  // the event rendered to JSON (from `event:` mapping or `event_json:`)
  std::vector<std::pair<std::string, std::string>> enrich;  // field name -> value stand-ins
  SourcePos pos;
};

// One alert a multi-event test expects (`expect: [{rule: ID, kind: correlation, group: {...}}]`).
struct ExpectedAlertDef {
  std::string rule;                                        // rule or correlation id
  std::string kind;                                        // event | correlation | summary
  std::vector<std::pair<std::string, std::string>> group;  // field name -> value; empty: any
  std::optional<uint64_t> count;
  SourcePos pos;
};

// A test carried by a rule or a correlation (`tests:`). Single-event form: `event`/`event_json`
// with `expect: alert | none`. Multi-event form: `events: [...]` with `expect: [alerts]`: the
// owner's alerts (every kind), in order, must be exactly those listed.
struct RuleTestDef {
  std::string name;
  Format format = Format::kAuto;
  std::string event_json;  // the event rendered to JSON (from `event:` mapping or `event_json:`)
  std::vector<std::pair<std::string, std::string>> enrich;  // field name -> value stand-ins
  bool expect_alert = false;
  std::optional<Severity> expect_severity;
  // Multi-event form (multi_event set): the events in order and the alerts expected.
  bool multi_event = false;
  std::vector<TestEventDef> events;
  std::vector<ExpectedAlertDef> expected;
  SourcePos pos;
};

// `suppress: {by: [account, accelerator.family], for: 1h}` on a rule.
struct SuppressDef {
  std::vector<std::string> by;  // field names as written, 1 or more
  std::vector<SourcePos> by_pos;
  int64_t for_ms = 0;
  SourcePos pos;
  std::vector<FieldId> by_ids;  // `by` resolved by the collector
};

struct RuleDef {
  std::string id;
  std::string title;
  std::string description;
  Severity severity = Severity::kMedium;
  std::optional<SeverityFromDef> severity_from;
  std::vector<std::string> tags;
  bool enabled = true;
  std::optional<int64_t> effective_from_ms;   // against event time
  std::optional<int64_t> effective_until_ms;  // exclusive
  std::string reason;                    // template: "{accelerator.family} from {source.country}"
  std::vector<ReasonPart> reason_parts;  // `reason` parsed by the collector
  ConditionDef condition;
  std::vector<RuleTestDef> tests;
  bool alert = true;  // `alert: false`: feeds correlations only, raises no alert of its own
  std::optional<SuppressDef> suppress;
  SourcePos pos;
};

// One correlation (`correlations:`, docs/stateful.md).
struct CorrelationDef {
  std::string id;
  std::string title;
  std::string description;
  Severity severity = Severity::kMedium;
  std::vector<std::string> tags;
  bool enabled = true;
  CorrelationType type = CorrelationType::kEventCount;
  std::vector<std::string> rules;  // ids of the rules whose matches feed it
  std::vector<SourcePos> rule_pos;
  std::vector<std::string> group_by;  // 1 to 3 field names
  std::vector<SourcePos> group_by_pos;
  std::string field;  // value_count: the counted field
  SourcePos field_pos;
  int64_t timespan_ms = 0;
  // `condition: {gte: N}` or `{gt: N}` (event_count, value_count).
  std::optional<uint64_t> threshold;
  bool greater = false;
  int64_t suppress_ms = 0;               // `suppress: {for: D}`; 0: none
  std::string reason;                    // template: rule fields, {group.<field>}, {count}
  std::vector<ReasonPart> reason_parts;  // parsed by the collector
  std::vector<RuleTestDef> tests;
  SourcePos pos;
  // Resolved by the collector:
  std::vector<FieldId> group_ids;      // parallel to group_by
  FieldId field_id = FieldId::kCount;  // value_count
  std::vector<size_t> rule_indexes;    // into PolicyDefinitions::rules, parallel to `rules`
  // (group_ids and rule_indexes are parallel when the load has no errors: an unknown name is left
  // out.)
};

// One catalog entry (`catalogs: {<catalog>: [entries]}`). Attributes other than the common ones
// are kept as text with their positions; the catalog index (enrich/catalog_index.h) gives them
// meaning and reports bad values.
struct CatalogEntry {
  std::string catalog;  // accelerators | instance_types | destinations | regions | frontier_models
                        // | model_vendors
  std::string name;
  std::vector<std::string> patterns;  // `match:` / `pattern:` regexes
  std::map<std::string, std::string> attrs;
  std::map<std::string, SourcePos> attr_pos;
  std::optional<int64_t> effective_from_ms;
  std::optional<int64_t> effective_until_ms;  // exclusive
  std::string source;
  SourcePos pos;

  const std::string* Attr(const std::string& key) const {
    auto it = attrs.find(key);
    return it == attrs.end() ? nullptr : &it->second;
  }
  // True when `time_ms` lies within [effective_from, effective_until).
  bool EffectiveAt(int64_t time_ms) const {
    if (effective_from_ms && time_ms < *effective_from_ms) return false;
    if (effective_until_ms && time_ms >= *effective_until_ms) return false;
    return true;
  }
  // Whether this entry's [effective_from, effective_until) period and `other`'s share a moment (an
  // open end is unbounded). Destinations may repeat a country for periods that do not overlap.
  bool PeriodOverlaps(const CatalogEntry& other) const {
    const int64_t from = effective_from_ms.value_or(INT64_MIN);
    const int64_t until = effective_until_ms.value_or(INT64_MAX);
    return from < other.effective_until_ms.value_or(INT64_MAX) &&
           other.effective_from_ms.value_or(INT64_MIN) < until;
  }
};

struct PolicyDefinitions {
  std::vector<ListDef> lists;  // after appends: one per name
  std::vector<MacroDef> macros;
  std::vector<RuleDef> rules;
  std::vector<CorrelationDef> correlations;
  // Catalog name -> entries, in load order. Entries are heap-allocated so that Event can point at
  // them; the compiled policy keeps this object alive.
  std::map<std::string, std::vector<std::unique_ptr<CatalogEntry>>> catalogs;
  std::vector<std::string> files;  // files read, in order

  const ListDef* FindList(const std::string& name) const;
  const MacroDef* FindMacro(const std::string& name) const;
};

// Parses a `reason` template: "{field}" placeholders ("{{" and "}}" are literal braces) into its
// parts; an InvalidArgument status says what is wrong (unknown field, unterminated placeholder).
Result<std::vector<ReasonPart>> ParseReasonTemplate(std::string_view text);
// A correlation's template: the same, plus `{count}` and `{group.<field>}` (the field must be one
// of `group_by`, which the caller checks).
Result<std::vector<ReasonPart>> ParseCorrelationReasonTemplate(std::string_view text);

// Parses a duration: a positive integer with s, m, h or d ("90s", "1h", "30d") into ms.
std::optional<int64_t> ParseDurationMs(std::string_view text);

}  // namespace chipwatch
