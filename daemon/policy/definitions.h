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

// One piece of a parsed `reason` template: literal text, or a field's value when `field` is set.
struct ReasonPart {
  std::string literal;
  std::optional<FieldId> field;
};

// A test event carried by a rule (`tests:`).
struct RuleTestDef {
  std::string name;
  Format format = Format::kAuto;
  std::string event_json;  // the event rendered to JSON (from `event:` mapping or `event_json:`)
  std::vector<std::pair<std::string, std::string>> enrich;  // field name -> value stand-ins
  bool expect_alert = false;
  std::optional<Severity> expect_severity;
  SourcePos pos;
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
  SourcePos pos;
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

}  // namespace chipwatch
