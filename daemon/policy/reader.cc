#include "policy/reader.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <initializer_list>
#include <string_view>

#include "yaml/json.h"
#include "yaml/walker.h"

namespace chipwatch::policy_internal {

namespace {

using yaml::Find;
using yaml::KindName;
using yaml::MapEntry;

constexpr int kMaxConditionDepth = 64;
// The longest `timespan` or `suppress.for` (docs/stateful.md: state is kept at most this long).
constexpr int64_t kMaxWindowMs = int64_t{30} * 24 * 3600 * 1000;
constexpr size_t kMaxGroupBy = 3;
constexpr size_t kMinTemporalRules = 2;
constexpr size_t kMaxTemporalRules = 32;  // one bit each in CorrelationMatch::rules

// The rule reader's wording of the walker's mapping messages: "unknown key 'x' in a rule".
constexpr yaml::Wording kWording = {
    .not_a_mapping =
        [](std::string_view what, std::string_view kind) {
          return std::string(what) + " must be a mapping, got " + std::string(kind);
        },
    .key_not_scalar =
        [](std::string_view what, std::string_view) {
          return "keys of " + std::string(what) + " must be scalars";
        },
    .unknown_key =
        [](std::string_view what, const std::string& key, std::string_view allowed) {
          return "unknown key '" + key + "' in " + std::string(what) +
                 " (allowed: " + std::string(allowed) + ")";
        },
    .duplicate_key =
        [](std::string_view what, const std::string& key) {
          return "duplicate key '" + key + "' in " + std::string(what);
        },
    .missing_key =
        [](std::string_view what, std::string_view key) {
          return std::string(what) + " has no '" + std::string(key) + "'";
        },
};

// How messages name a key's value: 'id'.
std::string Quoted(const std::string& key) { return "'" + key + "'"; }

const std::initializer_list<std::string_view> kConditionKeys = {
    "all",      "any",  "not", "macro", "equals", "in",  "regex",
    "contains", "cidr", "gt",  "gte",   "lt",     "lte", "exists"};

std::optional<CorrelationType> ParseCorrelationType(std::string_view name) {
  if (name == "event_count") return CorrelationType::kEventCount;
  if (name == "value_count") return CorrelationType::kValueCount;
  if (name == "temporal") return CorrelationType::kTemporal;
  return std::nullopt;
}

std::string_view CorrelationTypeName(CorrelationType type) {
  switch (type) {
    case CorrelationType::kEventCount:
      return "event_count";
    case CorrelationType::kValueCount:
      return "value_count";
    case CorrelationType::kTemporal:
      return "temporal";
  }
  return "?";
}

// A positive integer written in decimal digits ("3"), else nullopt.
std::optional<uint64_t> ParsePositive(std::string_view text) {
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || value == 0) {
    return std::nullopt;
  }
  return value;
}

// The keys an entry of `catalog` may have (one of CatalogNames(); ReadCatalogs checked it).
const std::initializer_list<std::string_view>& CatalogEntryKeys(const std::string& catalog) {
  static const std::initializer_list<std::string_view> kAccelerators = {"name",
                                                                        "status",
                                                                        "classification",
                                                                        "match",
                                                                        "effective_from",
                                                                        "effective_until",
                                                                        "source",
                                                                        "override",
                                                                        "description",
                                                                        "notes",
                                                                        "tpp",
                                                                        "performance_density",
                                                                        "restricted_tiers"};
  static const std::initializer_list<std::string_view> kInstanceTypes = {
      "name",           "pattern",         "provider", "accelerator", "model",       "count",
      "effective_from", "effective_until", "source",   "override",    "description", "notes"};
  static const std::initializer_list<std::string_view> kDestinations = {
      "name",   "country",  "tier",        "groups", "effective_from", "effective_until",
      "source", "override", "description", "notes"};
  static const std::initializer_list<std::string_view> kRegions = {
      "name",   "pattern",  "provider",    "country", "effective_from", "effective_until",
      "source", "override", "description", "notes"};
  static const std::initializer_list<std::string_view> kModelVendors = {
      "name",           "supported_countries", "unsupported_countries",
      "effective_from", "effective_until",     "source",
      "override",       "description",         "notes"};
  static const std::initializer_list<std::string_view> kFrontierModels = {
      "name",   "vendor",   "match",       "effective_from", "effective_until",
      "source", "override", "description", "notes"};
  if (catalog == "accelerators") return kAccelerators;
  if (catalog == "instance_types") return kInstanceTypes;
  if (catalog == "destinations") return kDestinations;
  if (catalog == "regions") return kRegions;
  if (catalog == "model_vendors") return kModelVendors;
  return kFrontierModels;
}

class FileReader {
 public:
  FileReader(const std::string& name, Diagnostics& diags) : yaml_(name, diags, kWording) {
    file_.name = name;
  }

  RawFile Read(const std::string& text) {
    auto docs = yaml_.Load(text);
    if (!docs) return std::move(file_);
    yaml_.Guard([&] {
      for (const auto& doc : *docs) ReadDocument(doc);
    });
    return std::move(file_);
  }

 private:
  SourcePos Pos(const YAML::Node& n) const { return yaml_.Pos(n); }
  void Error(const YAML::Node& n, DiagCode code, std::string message) {
    yaml_.Error(n, code, std::move(message));
  }
  bool ReadMap(const YAML::Node& n, std::string_view what,
               std::initializer_list<std::string_view> allowed, std::vector<MapEntry>& out) {
    return yaml_.ReadMap(n, what, allowed, out);
  }
  bool RequireKeys(const YAML::Node& n, const std::vector<MapEntry>& entries, std::string_view what,
                   std::initializer_list<std::string_view> keys) {
    return yaml_.RequireKeys(n, entries, what, keys);
  }
  bool GetString(const MapEntry& e, std::string& out) {
    return yaml_.GetScalar(e, Quoted(e.key), out);
  }
  bool GetBool(const MapEntry& e, bool& out) { return yaml_.GetBool(e, Quoted(e.key), out); }
  bool GetStringList(const MapEntry& e, std::vector<std::string>& out,
                     std::vector<SourcePos>* pos = nullptr, bool allow_scalar = false) {
    return yaml_.GetStringList(e, Quoted(e.key), out, pos, allow_scalar);
  }

  bool GetDate(const MapEntry& e, std::optional<int64_t>& out) {
    std::string text;
    if (!GetString(e, text)) return false;
    auto ms = ParseDateMs(text);
    if (!ms) {
      Error(e.value, DiagCode::kInvalidDate,
            "'" + e.key + "' must be a date YYYY-MM-DD, got '" + text + "'");
      return false;
    }
    out = *ms;
    return true;
  }

  void CheckDateRange(const std::vector<MapEntry>& entries, const std::optional<int64_t>& from,
                      const std::optional<int64_t>& until) {
    if (from && until && *until <= *from) {
      Error(Find(entries, "effective_until")->value, DiagCode::kInvalidDateRange,
            "'effective_until' must be after 'effective_from'");
    }
  }

  void ReadDocument(const YAML::Node& doc) {
    if (!doc.IsDefined() || doc.IsNull()) return;  // empty document
    std::vector<MapEntry> top;
    if (!ReadMap(doc, "a rules file", {"lists", "macros", "rules", "catalogs", "correlations"},
                 top)) {
      return;
    }
    for (const auto& e : top) {
      if (e.value.IsNull()) continue;  // `rules:` with nothing under it
      if (e.key == "catalogs") {
        ReadCatalogs(e.value);
        continue;
      }
      if (!e.value.IsSequence()) {
        Error(e.value, DiagCode::kWrongType,
              "'" + e.key + "' must be a sequence, got " + KindName(e.value));
        continue;
      }
      for (const auto& item : e.value) {
        if (e.key == "lists") {
          ReadList(item);
        } else if (e.key == "macros") {
          ReadMacro(item);
        } else if (e.key == "correlations") {
          ReadCorrelation(item);
        } else {
          ReadRule(item);
        }
      }
    }
  }

  void ReadList(const YAML::Node& n) {
    std::vector<MapEntry> entries;
    if (!ReadMap(n, "a list", {"name", "description", "source", "items", "append"}, entries))
      return;
    RawList list;
    list.def.pos = Pos(n);
    bool ok = RequireKeys(n, entries, "list", {"name", "items"});
    for (const auto& e : entries) {
      if (e.key == "name") {
        ok &= GetString(e, list.def.name);
      } else if (e.key == "description") {
        GetString(e, list.def.description);
      } else if (e.key == "source") {
        GetString(e, list.def.source);
      } else if (e.key == "items") {
        if (!e.value.IsNull()) GetStringList(e, list.def.items, &list.def.item_pos);
      } else if (e.key == "append") {
        GetBool(e, list.append);
      }
    }
    if (ok && !list.def.name.empty()) file_.lists.push_back(std::move(list));
  }

  void ReadMacro(const YAML::Node& n) {
    std::vector<MapEntry> entries;
    if (!ReadMap(n, "a macro", {"name", "description", "condition"}, entries)) return;
    MacroDef macro;
    macro.pos = Pos(n);
    bool ok = RequireKeys(n, entries, "macro", {"name", "condition"});
    for (const auto& e : entries) {
      if (e.key == "name") {
        ok &= GetString(e, macro.name);
      } else if (e.key == "condition") {
        ok &= ReadCondition(e.value, macro.condition, 0);
      }
    }
    // A macro with a bad condition is still recorded so that its references are not reported as
    // unknown; its errors are already in diags.
    if (!macro.name.empty()) file_.macros.push_back(std::move(macro));
  }

  void ReadRule(const YAML::Node& n) {
    std::vector<MapEntry> entries;
    if (!ReadMap(n, "a rule",
                 {"id", "title", "description", "severity", "severity_from", "tags", "enabled",
                  "effective_from", "effective_until", "reason", "condition", "tests", "alert",
                  "suppress"},
                 entries)) {
      return;
    }
    RuleDef rule;
    rule.pos = Pos(n);
    RequireKeys(n, entries, "rule", {"id", "title", "severity", "condition"});
    for (const auto& e : entries) ReadRuleKey(e, rule);
    CheckDateRange(entries, rule.effective_from_ms, rule.effective_until_ms);
    if (rule.id.empty() && Find(entries, "id")) {
      Error(Find(entries, "id")->value, DiagCode::kWrongType, "'id' must not be empty");
    }
    file_.rules.push_back(std::move(rule));
  }

  void ReadRuleKey(const MapEntry& e, RuleDef& rule) {
    if (e.key == "id") {
      GetString(e, rule.id);
    } else if (e.key == "title") {
      GetString(e, rule.title);
    } else if (e.key == "description") {
      GetString(e, rule.description);
    } else if (e.key == "severity") {
      ReadSeverity(e, rule.severity);
    } else if (e.key == "severity_from") {
      ReadSeverityFrom(e.value, rule.severity_from.emplace());
    } else if (e.key == "tags") {
      GetStringList(e, rule.tags);
    } else if (e.key == "enabled") {
      GetBool(e, rule.enabled);
    } else if (e.key == "effective_from") {
      GetDate(e, rule.effective_from_ms);
    } else if (e.key == "effective_until") {
      GetDate(e, rule.effective_until_ms);
    } else if (e.key == "reason") {
      GetString(e, rule.reason);
    } else if (e.key == "condition") {
      ReadCondition(e.value, rule.condition, 0);
    } else if (e.key == "tests") {
      ReadTests(e, rule.tests, /*correlation=*/false);
    } else if (e.key == "alert") {
      GetBool(e, rule.alert);
    } else if (e.key == "suppress") {
      ReadRuleSuppress(e, rule.suppress.emplace());
    }
  }

  // A rule's `suppress: {by: [fields], for: D}`.
  void ReadRuleSuppress(const MapEntry& e, SuppressDef& def) {
    def.pos = yaml_.ValuePos(e);
    std::vector<MapEntry> args;
    if (!ReadMap(e.value, "'suppress'", {"by", "for"}, args)) return;
    RequireKeys(e.value, args, "'suppress'", {"by", "for"});
    for (const auto& a : args) {
      if (a.key == "by") {
        if (GetStringList(a, def.by, &def.by_pos)) {
          CheckFieldNames(a, "'suppress.by'", def.by, def.by_pos, SIZE_MAX);
        }
      } else if (a.key == "for") {
        GetDuration(a, "'suppress.for'", def.for_ms);
      }
    }
  }

  // A list of field names (`group_by`, `suppress.by`): at least one, at most `max`, none twice.
  // Whether they are fields is the collector's check.
  void CheckFieldNames(const MapEntry& e, const std::string& what,
                       const std::vector<std::string>& names, const std::vector<SourcePos>& pos,
                       size_t max) {
    if (names.empty()) {
      yaml_.Error(yaml_.ValuePos(e), DiagCode::kInvalidGroupBy, what + " needs at least one field");
      return;
    }
    if (names.size() > max && pos.size() == names.size()) {
      yaml_.Error(pos[max], DiagCode::kInvalidGroupBy,
                  what + " takes at most " + std::to_string(max) + " fields");
    }
    for (size_t i = 1; i < names.size() && i < pos.size(); ++i) {
      const auto end = names.begin() + static_cast<std::ptrdiff_t>(i);
      if (std::find(names.begin(), end, names[i]) != end) {
        yaml_.Error(pos[i], DiagCode::kInvalidGroupBy,
                    "field '" + names[i] + "' is twice in " + what);
      }
    }
  }

  // A duration (`timespan`, `suppress.for`): "90s", "5m", "1h", "30d", at most 30 days.
  bool GetDuration(const MapEntry& e, const std::string& what, int64_t& out) {
    std::string text;
    if (!yaml_.GetScalar(e, what, text)) return false;
    auto ms = ParseDurationMs(text);
    if (!ms) {
      static constexpr std::string_view kForm =
          " must be a duration: a positive integer followed by s, m, h or d (90s, 5m, 1h, 30d)";
      Error(e.value, DiagCode::kInvalidDuration,
            what + std::string(kForm) + ", got '" + text + "'");
      return false;
    }
    if (*ms > kMaxWindowMs) {
      Error(e.value, DiagCode::kWindowTooLong,
            what + " is " + text + ", over 30 days (30d at most: state is not kept longer)");
      return false;
    }
    out = *ms;
    return true;
  }

  bool ReadSeverity(const MapEntry& e, Severity& out) {
    std::string text;
    if (!GetString(e, text)) return false;
    auto s = ParseSeverity(text);
    if (!s) {
      Error(e.value, DiagCode::kInvalidSeverity,
            "'" + e.key + "' must be one of info, low, medium, high, critical; got '" + text + "'");
      return false;
    }
    out = *s;
    return true;
  }

  void ReadSeverityFrom(const YAML::Node& n, SeverityFromDef& def) {
    def.pos = Pos(n);
    std::vector<MapEntry> entries;
    if (!ReadMap(n, "'severity_from'", {"field", "map"}, entries)) return;
    RequireKeys(n, entries, "'severity_from'", {"field", "map"});
    for (const auto& e : entries) {
      if (e.key == "field") {
        GetString(e, def.field);
      } else if (e.key == "map") {
        ReadSeverityMap(e, def);
      }
    }
  }

  void ReadSeverityMap(const MapEntry& e, SeverityFromDef& def) {
    if (!e.value.IsMap()) {
      yaml_.Error(
          yaml_.ValuePos(e), DiagCode::kWrongType,
          "'map' must be a mapping of field values to severities, got " + KindName(e.value));
      return;
    }
    for (auto it = e.value.begin(); it != e.value.end(); ++it) {
      if (!it->first.IsScalar()) {
        Error(it->first, DiagCode::kWrongType, "keys of 'map' must be strings");
        continue;
      }
      MapEntry m{it->first.Scalar(), it->first, it->second};
      std::string text;
      if (!GetString(m, text)) continue;
      auto s = ParseSeverity(text);
      if (!s) {
        Error(m.value, DiagCode::kInvalidSeverity,
              "severity for '" + m.key +
                  "' must be one of info, low, medium, high, critical; got '" + text + "'");
        continue;
      }
      def.map.emplace_back(m.key, *s);
    }
  }

  // `tests:` of a rule or a correlation. A correlation's tests take the multi-event form.
  void ReadTests(const MapEntry& e, std::vector<RuleTestDef>& tests, bool correlation) {
    if (!e.value.IsSequence()) {
      yaml_.Error(yaml_.ValuePos(e), DiagCode::kWrongType,
                  "'tests' must be a sequence, got " + KindName(e.value));
      return;
    }
    for (const auto& t : e.value) ReadTest(t, tests, correlation);
  }

  void ReadTest(const YAML::Node& n, std::vector<RuleTestDef>& tests, bool correlation) {
    std::vector<MapEntry> entries;
    if (!ReadMap(
            n, correlation ? "a correlation test" : "a rule test",
            {"name", "format", "enrich", "event", "event_json", "events", "expect", "severity"},
            entries)) {
      return;
    }
    RuleTestDef test;
    test.pos = Pos(n);
    test.name = "test #" + std::to_string(tests.size() + 1);
    const MapEntry* expect = Find(entries, "expect");
    // `expect:` a sequence, or `events:`, makes the multi-event form.
    test.multi_event = Find(entries, "events") || (expect && expect->value.IsSequence());
    if (test.multi_event) {
      ReadMultiEventTest(n, entries, test);
    } else if (correlation) {
      yaml_.Error(expect ? yaml_.ValuePos(*expect) : Pos(n), DiagCode::kInvalidExpect,
                  "a correlation test takes the multi-event form: 'events' (the records in "
                  "order) and 'expect' (a sequence of alerts, [] for none)");
    } else {
      ReadSingleEventTest(n, entries, test);
    }
    tests.push_back(std::move(test));
  }

  // `event` or `event_json`, `expect: alert | none`.
  void ReadSingleEventTest(const YAML::Node& n, const std::vector<MapEntry>& entries,
                           RuleTestDef& test) {
    const MapEntry* event = Find(entries, "event");
    const MapEntry* event_json = Find(entries, "event_json");
    if (!event && !event_json) {
      Error(n, DiagCode::kMissingTestEvent, "rule test has neither 'event' nor 'event_json'");
    } else if (event && event_json) {
      Error(event_json->key_node, DiagCode::kConflictingKeys,
            "rule test has both 'event' and 'event_json'; give one");
    }
    if (!Find(entries, "expect")) {
      Error(n, DiagCode::kInvalidExpect, "rule test has no 'expect' (alert or none)");
    }
    for (const auto& e : entries) ReadTestKey(e, test);
  }

  // `events: [...]` and `expect: [alerts]`; the event keys belong to each element of `events`.
  void ReadMultiEventTest(const YAML::Node& n, const std::vector<MapEntry>& entries,
                          RuleTestDef& test) {
    for (std::string_view key : {"event", "event_json", "format", "enrich", "severity"}) {
      if (const MapEntry* e = Find(entries, key)) {
        Error(e->key_node, DiagCode::kConflictingKeys,
              "a multi-event test takes no '" + e->key + "': " +
                  (key == "severity" ? "list the alerts it expects in 'expect'"
                                     : "give it in each element of 'events'"));
      }
    }
    if (!Find(entries, "events")) {
      Error(n, DiagCode::kMissingTestEvent,
            "multi-event test has no 'events' (the records, in order)");
    }
    if (!Find(entries, "expect")) {
      Error(n, DiagCode::kInvalidExpect,
            "multi-event test has no 'expect' (a sequence of alerts, [] for none)");
    }
    for (const auto& e : entries) {
      if (e.key == "name") {
        GetString(e, test.name);
      } else if (e.key == "events") {
        ReadTestEvents(e, test.events);
      } else if (e.key == "expect") {
        ReadExpectedAlerts(e, test.expected);
      }
    }
  }

  void ReadTestEvents(const MapEntry& e, std::vector<TestEventDef>& events) {
    if (!e.value.IsSequence()) {
      yaml_.Error(yaml_.ValuePos(e), DiagCode::kWrongType,
                  "'events' must be a sequence of test events, got " + KindName(e.value));
      return;
    }
    if (e.value.size() == 0) {
      Error(e.value, DiagCode::kMissingTestEvent, "'events' is empty: give at least one record");
      return;
    }
    for (const auto& item : e.value) ReadTestEvent(item, events);
  }

  // One element of `events`: a record as a single-event test gives it.
  void ReadTestEvent(const YAML::Node& n, std::vector<TestEventDef>& events) {
    std::vector<MapEntry> entries;
    if (!ReadMap(n, "a test event", {"format", "enrich", "event", "event_json"}, entries)) return;
    TestEventDef event;
    event.pos = Pos(n);
    const MapEntry* raw = Find(entries, "event");
    const MapEntry* raw_json = Find(entries, "event_json");
    if (!raw && !raw_json) {
      Error(n, DiagCode::kMissingTestEvent, "test event has neither 'event' nor 'event_json'");
    } else if (raw && raw_json) {
      Error(raw_json->key_node, DiagCode::kConflictingKeys,
            "test event has both 'event' and 'event_json'; give one");
    }
    for (const auto& e : entries) {
      if (e.key == "format") {
        ReadFormat(e, event.format);
      } else if (e.key == "enrich") {
        ReadFieldValues(e, event.enrich);
      } else if (e.key == "event") {
        ReadEventMapping(e, event.event_json);
      } else if (e.key == "event_json") {
        GetString(e, event.event_json);
      }
    }
    events.push_back(std::move(event));
  }

  void ReadExpectedAlerts(const MapEntry& e, std::vector<ExpectedAlertDef>& expected) {
    if (!e.value.IsSequence()) {
      const std::string got = KindName(e.value);
      yaml_.Error(
          yaml_.ValuePos(e), DiagCode::kInvalidExpect,
          "'expect' of a multi-event test must be a sequence of alerts ([] for none), got " + got);
      return;
    }
    for (const auto& item : e.value) {
      std::vector<MapEntry> entries;
      if (!ReadMap(item, "an expected alert", {"rule", "kind", "group", "count"}, entries)) {
        continue;
      }
      ExpectedAlertDef alert;
      alert.pos = Pos(item);
      RequireKeys(item, entries, "expected alert", {"rule", "kind"});
      for (const auto& k : entries) ReadExpectedAlertKey(k, alert);
      expected.push_back(std::move(alert));
    }
  }

  void ReadExpectedAlertKey(const MapEntry& e, ExpectedAlertDef& alert) {
    if (e.key == "rule") {
      GetString(e, alert.rule);
    } else if (e.key == "kind") {
      std::string text;
      if (!GetString(e, text)) return;
      if (text != "event" && text != "correlation" && text != "summary") {
        Error(e.value, DiagCode::kInvalidExpect,
              "'kind' must be event, correlation or summary, got '" + text + "'");
        return;
      }
      alert.kind = text;
    } else if (e.key == "group") {
      ReadFieldValues(e, alert.group);
    } else if (e.key == "count") {
      std::string text;
      if (!GetString(e, text)) return;
      auto count = ParsePositive(text);
      if (!count) {
        Error(e.value, DiagCode::kInvalidExpect,
              "'count' must be a positive integer, got '" + text + "'");
        return;
      }
      alert.count = *count;
    }
  }

  void ReadTestKey(const MapEntry& e, RuleTestDef& test) {
    if (e.key == "name") {
      GetString(e, test.name);
    } else if (e.key == "format") {
      ReadFormat(e, test.format);
    } else if (e.key == "enrich") {
      ReadFieldValues(e, test.enrich);
    } else if (e.key == "event") {
      ReadEventMapping(e, test.event_json);
    } else if (e.key == "event_json") {
      GetString(e, test.event_json);
    } else if (e.key == "expect") {
      std::string text;
      if (!GetString(e, text)) return;
      if (text == "alert") {
        test.expect_alert = true;
      } else if (text == "none") {
        test.expect_alert = false;
      } else {
        Error(e.value, DiagCode::kInvalidExpect,
              "'expect' must be alert or none, got '" + text + "'");
      }
    } else if (e.key == "severity") {
      Severity s;
      if (ReadSeverity(e, s)) test.expect_severity = s;
    }
  }

  void ReadFormat(const MapEntry& e, Format& out) {
    std::string text;
    if (!GetString(e, text)) return;
    auto f = ParseFormat(text);
    if (!f) {
      Error(e.value, DiagCode::kInvalidFormat,
            "unknown test format '" + text +
                "' (allowed: auto, cloudtrail, gcp_audit, azure_activity, k8s_audit, "
                "gpu_alloc, oci_audit)");
      return;
    }
    out = *f;
  }

  // `event:`, the raw record as YAML, rendered to JSON.
  void ReadEventMapping(const MapEntry& e, std::string& json) {
    if (!e.value.IsMap()) {
      yaml_.Error(yaml_.ValuePos(e), DiagCode::kWrongType,
                  "'event' must be a mapping (the raw log record), got " + KindName(e.value));
      return;
    }
    yaml::AppendJson(e.value, json);
  }

  // `enrich:` or an expected alert's `group:`, field name -> value.
  void ReadFieldValues(const MapEntry& e, std::vector<std::pair<std::string, std::string>>& out) {
    const std::string what = "'" + e.key + "'";
    if (!e.value.IsMap()) {
      yaml_.Error(yaml_.ValuePos(e), DiagCode::kWrongType,
                  what + " must be a mapping of field names to values, got " + KindName(e.value));
      return;
    }
    for (auto it = e.value.begin(); it != e.value.end(); ++it) {
      if (!it->first.IsScalar() || !it->second.IsScalar()) {
        Error(it->first, DiagCode::kWrongType, what + " entries must be 'field: value' scalars");
        continue;
      }
      const std::string field = it->first.Scalar();
      if (!FieldByName(field)) {
        Error(it->first, DiagCode::kUnknownField, "unknown field '" + field + "' in " + what);
        continue;
      }
      out.emplace_back(field, it->second.Scalar());
    }
  }

  // A condition: a mapping with exactly one operator key.
  bool ReadCondition(const YAML::Node& n, ConditionDef& cond, int depth) {
    using Kind = ConditionDef::Kind;
    cond.pos = Pos(n);
    if (depth > kMaxConditionDepth) {
      Error(n, DiagCode::kConditionTooDeep,
            "condition nested deeper than " + std::to_string(kMaxConditionDepth) + " levels");
      return false;
    }
    std::vector<MapEntry> entries;
    if (!ReadMap(n, "a condition", kConditionKeys, entries)) return false;
    if (entries.size() != 1) {
      if (entries.empty() && n.size() == 0) {
        Error(n, DiagCode::kEmptyCondition,
              "a condition needs exactly one of: " + JoinNames(kConditionKeys));
      } else if (entries.size() > 1) {
        Error(entries[1].key_node, DiagCode::kConflictingKeys,
              "a condition has exactly one key (use all/any to combine), got '" + entries[0].key +
                  "' and '" + entries[1].key + "'");
      }
      return false;
    }
    const MapEntry& e = entries[0];
    const std::string& op = e.key;
    if (op == "all" || op == "any") {
      cond.kind = op == "all" ? Kind::kAll : Kind::kAny;
      return ReadChildren(e, cond, depth);
    }
    if (op == "not") {
      cond.kind = Kind::kNot;
      cond.children.emplace_back();
      return ReadCondition(e.value, cond.children.back(), depth + 1);
    }
    if (op == "macro" || op == "exists") {
      cond.kind = op == "macro" ? Kind::kMacro : Kind::kExists;
      std::string name;
      if (!GetString(e, name)) return false;
      if (name.empty()) {
        Error(e.value, DiagCode::kWrongType, "'" + op + "' needs a name");
        return false;
      }
      (op == "macro" ? cond.macro : cond.field) = name;
      return true;
    }
    return ReadOperator(e, cond);
  }

  // The conditions of `all` or `any`.
  bool ReadChildren(const MapEntry& e, ConditionDef& cond, int depth) {
    const std::string& op = e.key;
    if (!e.value.IsSequence()) {
      yaml_.Error(yaml_.ValuePos(e), DiagCode::kWrongType,
                  "'" + op + "' must be a sequence of conditions, got " + KindName(e.value));
      return false;
    }
    if (e.value.size() == 0) {
      Error(e.value, DiagCode::kEmptyCondition, "'" + op + "' needs at least one condition");
      return false;
    }
    bool ok = true;
    for (const auto& child : e.value) {
      cond.children.emplace_back();
      ok &= ReadCondition(child, cond.children.back(), depth + 1);
    }
    return ok;
  }

  // A field operator (equals, contains, regex, in, cidr, gt, gte, lt, lte) and its arguments.
  bool ReadOperator(const MapEntry& e, ConditionDef& cond) {
    using Kind = ConditionDef::Kind;
    const std::string& op = e.key;
    std::vector<MapEntry> args;
    bool ok = true;
    const std::string what = "'" + op + "'";
    if (op == "equals" || op == "contains") {
      cond.kind = op == "equals" ? Kind::kEquals : Kind::kContains;
      if (!ReadMap(e.value, what, {"field", "value", "ignore_case"}, args)) return false;
      ok &= RequireKeys(e.value, args, what, {"field", "value"});
    } else if (op == "regex") {
      cond.kind = Kind::kRegex;
      if (!ReadMap(e.value, what, {"field", "pattern", "ignore_case"}, args)) return false;
      ok &= RequireKeys(e.value, args, what, {"field", "pattern"});
    } else if (op == "in" || op == "cidr") {
      cond.kind = op == "in" ? Kind::kIn : Kind::kCidr;
      bool in = op == "in";
      if (!(in ? ReadMap(e.value, what, {"field", "list", "items", "ignore_case"}, args)
               : ReadMap(e.value, what, {"field", "list", "items"}, args))) {
        return false;
      }
      ok &= RequireKeys(e.value, args, what, {"field"});
      bool has_list = Find(args, "list"), has_items = Find(args, "items");
      if (has_list == has_items) {
        Error(e.value, has_list ? DiagCode::kConflictingKeys : DiagCode::kMissingKey,
              what + " needs exactly one of 'list' or 'items'");
        ok = false;
      }
    } else {  // gt gte lt lte
      cond.kind = op == "gt"    ? Kind::kGt
                  : op == "gte" ? Kind::kGte
                  : op == "lt"  ? Kind::kLt
                                : Kind::kLte;
      if (!ReadMap(e.value, what, {"field", "value"}, args)) return false;
      ok &= RequireKeys(e.value, args, what, {"field", "value"});
    }
    for (const auto& a : args) ok = ReadOperatorArg(a, what, cond, ok);
    return ok;
  }

  // One argument of an operator; returns `ok` and-ed with whether it was read.
  bool ReadOperatorArg(const MapEntry& a, const std::string& what, ConditionDef& cond, bool ok) {
    if (a.key == "field") {
      ok &= GetString(a, cond.field);
    } else if (a.key == "value" || a.key == "pattern") {
      ok &= GetString(a, cond.value);
      if (a.value.IsScalar() && yaml::IsPlain(a.value)) {
        if (yaml::ParseBool(cond.value)) {
          cond.value_type = ConditionDef::ValueType::kBool;
        } else if (yaml::LooksLikeNumber(cond.value)) {
          cond.value_type = ConditionDef::ValueType::kNumber;
        }
      }
    } else if (a.key == "ignore_case") {
      ok &= GetBool(a, cond.ignore_case);
    } else if (a.key == "list") {
      ok &= GetString(a, cond.list);
    } else if (a.key == "items") {
      ok &= GetStringList(a, cond.items, &cond.item_pos);
      if (ok && cond.items.empty()) {
        Error(a.value, DiagCode::kEmptyCondition, what + " has no items");
        ok = false;
      }
    }
    return ok;
  }

  void ReadCorrelation(const YAML::Node& n) {
    std::vector<MapEntry> entries;
    if (!ReadMap(n, "a correlation",
                 {"id", "title", "description", "severity", "tags", "enabled", "type", "rules",
                  "group_by", "field", "timespan", "condition", "suppress", "reason", "tests"},
                 entries)) {
      return;
    }
    CorrelationDef corr;
    corr.pos = Pos(n);
    RequireKeys(n, entries, "correlation",
                {"id", "title", "severity", "type", "rules", "group_by", "timespan"});
    bool type_read = false;
    for (const auto& e : entries) {
      if (e.key == "type") {
        type_read = ReadCorrelationType(e, corr.type);
      } else {
        ReadCorrelationKey(e, corr);
      }
    }
    if (corr.id.empty() && Find(entries, "id")) {
      Error(Find(entries, "id")->value, DiagCode::kWrongType, "'id' must not be empty");
    }
    if (type_read) CheckCorrelationType(n, entries, corr);
    const MapEntry* field = Find(entries, "field");
    if (field && !corr.field.empty() &&
        std::find(corr.group_by.begin(), corr.group_by.end(), corr.field) != corr.group_by.end()) {
      Error(field->value, DiagCode::kInvalidGroupBy,
            "'field' " + corr.field + " is also in 'group_by': each group would count one value");
    }
    file_.correlations.push_back(std::move(corr));
  }

  bool ReadCorrelationType(const MapEntry& e, CorrelationType& out) {
    std::string text;
    if (!GetString(e, text)) return false;
    auto type = ParseCorrelationType(text);
    if (!type) {
      Error(e.value, DiagCode::kInvalidCorrelationType,
            "'type' must be one of event_count, value_count, temporal; got '" + text + "'");
      return false;
    }
    out = *type;
    return true;
  }

  void ReadCorrelationKey(const MapEntry& e, CorrelationDef& corr) {
    if (e.key == "id") {
      GetString(e, corr.id);
    } else if (e.key == "title") {
      GetString(e, corr.title);
    } else if (e.key == "description") {
      GetString(e, corr.description);
    } else if (e.key == "severity") {
      ReadSeverity(e, corr.severity);
    } else if (e.key == "tags") {
      GetStringList(e, corr.tags);
    } else if (e.key == "enabled") {
      GetBool(e, corr.enabled);
    } else if (e.key == "rules") {
      if (GetStringList(e, corr.rules, &corr.rule_pos)) CheckCorrelationRules(e, corr);
    } else if (e.key == "group_by") {
      if (GetStringList(e, corr.group_by, &corr.group_by_pos)) {
        CheckFieldNames(e, "'group_by'", corr.group_by, corr.group_by_pos, kMaxGroupBy);
      }
    } else if (e.key == "field") {
      GetString(e, corr.field);
      corr.field_pos = yaml_.ValuePos(e);
    } else if (e.key == "timespan") {
      GetDuration(e, "'timespan'", corr.timespan_ms);
    } else if (e.key == "condition") {
      ReadThreshold(e, corr);
    } else if (e.key == "suppress") {
      std::vector<MapEntry> args;
      if (!ReadMap(e.value, "a correlation's 'suppress'", {"for"}, args)) return;
      RequireKeys(e.value, args, "a correlation's 'suppress'", {"for"});
      for (const auto& a : args) GetDuration(a, "'suppress.for'", corr.suppress_ms);
    } else if (e.key == "reason") {
      GetString(e, corr.reason);
    } else if (e.key == "tests") {
      ReadTests(e, corr.tests, /*correlation=*/true);
    }
  }

  // `rules:` lists at least one rule, none twice (whether they are rules is the collector's check).
  void CheckCorrelationRules(const MapEntry& e, const CorrelationDef& corr) {
    if (corr.rules.empty()) {
      yaml_.Error(yaml_.ValuePos(e), DiagCode::kInvalidCorrelationRules,
                  "'rules' names no rule: list the ids of the rules whose matches feed it");
      return;
    }
    for (size_t i = 1; i < corr.rules.size() && i < corr.rule_pos.size(); ++i) {
      const auto end = corr.rules.begin() + static_cast<std::ptrdiff_t>(i);
      if (std::find(corr.rules.begin(), end, corr.rules[i]) != end) {
        yaml_.Error(corr.rule_pos[i], DiagCode::kInvalidCorrelationRules,
                    "rule '" + corr.rules[i] + "' is twice in 'rules'");
      }
    }
  }

  // `condition: {gte: N}` or `{gt: N}`, N > 0.
  void ReadThreshold(const MapEntry& e, CorrelationDef& corr) {
    std::vector<MapEntry> args;
    if (!ReadMap(e.value, "a correlation's 'condition'", {"gte", "gt"}, args)) return;
    if (args.size() > 1) {
      Error(args[1].key_node, DiagCode::kConflictingKeys,
            "a correlation's 'condition' has one of 'gte' or 'gt', not both");
      return;
    }
    if (args.empty()) {
      if (e.value.size() == 0) {
        Error(e.value, DiagCode::kInvalidThreshold,
              "a correlation's 'condition' needs 'gte' or 'gt': {gte: N}");
      }
      return;  // an unknown key, reported
    }
    const MapEntry& a = args[0];
    std::string text;
    if (!GetString(a, text)) return;
    auto threshold = ParsePositive(text);
    if (!threshold) {
      Error(a.value, DiagCode::kInvalidThreshold,
            "'" + a.key + "' must be a positive integer, got '" + text + "'");
      return;
    }
    corr.threshold = *threshold;
    corr.greater = a.key == "gt";
  }

  // The keys that depend on `type`: `field` (value_count only, required there), `condition`
  // (event_count and value_count, required there), 2 to 32 rules for temporal.
  void CheckCorrelationType(const YAML::Node& n, const std::vector<MapEntry>& entries,
                            const CorrelationDef& corr) {
    const std::string type(CorrelationTypeName(corr.type));
    const bool temporal = corr.type == CorrelationType::kTemporal;
    const MapEntry* field = Find(entries, "field");
    if (corr.type == CorrelationType::kValueCount && !field) {
      Error(n, DiagCode::kMissingKey,
            "correlation has no 'field' (a value_count correlation counts that field's distinct "
            "values)");
    } else if (corr.type != CorrelationType::kValueCount && field) {
      Error(field->key_node, DiagCode::kKeyNotForType,
            "'field' is for value_count correlations; this one is " + type);
    }
    const MapEntry* condition = Find(entries, "condition");
    if (!temporal && !condition) {
      Error(n, DiagCode::kMissingKey,
            "correlation has no 'condition' ({gte: N} or {gt: N}; " + type +
                " correlations need one)");
    } else if (temporal && condition) {
      Error(condition->key_node, DiagCode::kKeyNotForType,
            "a temporal correlation takes no 'condition': it fires when every listed rule has "
            "matched within 'timespan'");
    }
    const MapEntry* rules = Find(entries, "rules");
    if (temporal && rules && !corr.rules.empty() &&
        (corr.rules.size() < kMinTemporalRules || corr.rules.size() > kMaxTemporalRules)) {
      Error(rules->value, DiagCode::kInvalidCorrelationRules,
            "a temporal correlation lists 2 to 32 rules, got " + std::to_string(corr.rules.size()));
    }
  }

  void ReadCatalogs(const YAML::Node& n) {
    std::vector<MapEntry> entries;
    if (!ReadMap(n, "'catalogs'",
                 {"accelerators", "instance_types", "destinations", "regions", "frontier_models",
                  "model_vendors"},
                 entries)) {
      return;
    }
    for (const auto& e : entries) {
      if (e.value.IsNull()) continue;
      if (!e.value.IsSequence()) {
        Error(e.value, DiagCode::kWrongType,
              "catalog '" + e.key + "' must be a sequence of entries, got " + KindName(e.value));
        continue;
      }
      for (const auto& item : e.value) ReadCatalogEntry(e.key, item);
    }
  }

  void ReadCatalogEntry(const std::string& catalog, const YAML::Node& n) {
    std::vector<MapEntry> entries;
    const std::string what = "a '" + catalog + "' entry";
    if (!ReadMap(n, what, CatalogEntryKeys(catalog), entries)) return;
    RawCatalogEntry raw;
    raw.entry = std::make_unique<CatalogEntry>();
    CatalogEntry& entry = *raw.entry;
    entry.catalog = catalog;
    entry.pos = Pos(n);
    for (const auto& e : entries) ReadCatalogKey(e, raw);
    CheckDateRange(entries, entry.effective_from_ms, entry.effective_until_ms);
    bool pattern_only = (catalog == "instance_types" || catalog == "regions") &&
                        Find(entries, "pattern") != nullptr;
    if (entry.name.empty() && !pattern_only) {
      Error(n, DiagCode::kMissingName,
            what + " has no 'name'" +
                (catalog == "instance_types" || catalog == "regions" ? " (or 'pattern')" : ""));
      return;
    }
    if (entry.source.empty() && !raw.override_entry) {
      Error(n, DiagCode::kMissingSource,
            what + " '" + entry.name + "' has no 'source' (every catalog entry must cite one)");
    }
    file_.catalog_entries.push_back(std::move(raw));
  }

  void ReadCatalogKey(const MapEntry& e, RawCatalogEntry& raw) {
    CatalogEntry& entry = *raw.entry;
    if (e.key == "name") {
      GetString(e, entry.name);
    } else if (e.key == "match" || e.key == "pattern") {
      GetStringList(e, entry.patterns, nullptr, /*allow_scalar=*/true);
      entry.attr_pos[e.key] = Pos(e.value);
    } else if (e.key == "effective_from") {
      GetDate(e, entry.effective_from_ms);
    } else if (e.key == "effective_until") {
      GetDate(e, entry.effective_until_ms);
    } else if (e.key == "source") {
      GetString(e, entry.source);
    } else if (e.key == "override") {
      GetBool(e, raw.override_entry);
    } else {
      std::string text;
      if (e.value.IsSequence()) {
        std::vector<std::string> items;
        if (!GetStringList(e, items)) return;
        for (const auto& item : items) text += (text.empty() ? "" : ", ") + item;
      } else if (!GetString(e, text)) {
        return;
      }
      entry.attrs[e.key] = std::move(text);
      entry.attr_pos[e.key] = Pos(e.value);
    }
  }

  yaml::YamlWalker yaml_;
  RawFile file_;
};

}  // namespace

const std::vector<std::string>& CatalogNames() {
  static const std::vector<std::string> kNames = {"accelerators",    "instance_types",
                                                  "destinations",    "regions",
                                                  "frontier_models", "model_vendors"};
  return kNames;
}

RawFile ReadPolicyFile(const std::string& name, const std::string& text, Diagnostics& diags) {
  return FileReader(name, diags).Read(text);
}

}  // namespace chipwatch::policy_internal
