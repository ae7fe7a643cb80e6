#include "policy/reader.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <exception>
#include <initializer_list>
#include <string_view>

#include "policy/yaml_load.h"

namespace chipwatch::policy_internal {

namespace {

constexpr int kMaxConditionDepth = 64;

struct MapEntry {
  std::string key;
  YAML::Node key_node;
  YAML::Node value;
};

std::string KindName(const YAML::Node& n) {
  if (!n.IsDefined() || n.IsNull()) return "nothing";
  if (n.IsScalar()) return "a scalar";
  if (n.IsSequence()) return "a sequence";
  if (n.IsMap()) return "a mapping";
  return "an unknown node";
}

bool IsPlain(const YAML::Node& n) { return n.Tag() == "?"; }

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
std::optional<bool> YamlBool(std::string_view s) {
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  return std::nullopt;
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

void RenderJson(const YAML::Node& n, std::string& out) {
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
      if (auto b = YamlBool(s)) {
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
      RenderJson(item, out);
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
    RenderJson(it->second, out);
  }
  out += '}';
}

class FileReader {
 public:
  FileReader(const std::string& name, Diagnostics& diags) : diags_(diags) { file_.name = name; }

  RawFile Read(const std::string& text) {
    std::vector<YAML::Node> docs;
    try {
      docs = LoadYamlDocuments(text);
    } catch (const YAML::Exception& e) {
      SourcePos pos{file_.name, e.mark.line >= 0 ? e.mark.line + 1 : 0,
                    e.mark.column >= 0 ? e.mark.column + 1 : 0};
      diags_.Error(pos, "yaml-syntax", "YAML syntax error: " + e.msg);
      return std::move(file_);
    } catch (const std::exception& e) {
      diags_.Error({file_.name, 0, 0}, "yaml-syntax", std::string("YAML error: ") + e.what());
      return std::move(file_);
    }
    try {
      for (const auto& doc : docs) ReadDocument(doc);
    } catch (const std::exception& e) {  // defensive: yaml-cpp accessors may throw
      diags_.Error({file_.name, 0, 0}, "internal",
                   std::string("unexpected YAML error: ") + e.what());
    }
    return std::move(file_);
  }

 private:
  SourcePos Pos(const YAML::Node& n) const {
    YAML::Mark m = n.Mark();
    return {file_.name, m.line >= 0 ? m.line + 1 : 0, m.column >= 0 ? m.column + 1 : 0};
  }
  void Error(const YAML::Node& n, std::string code, std::string message) {
    diags_.Error(Pos(n), std::move(code), std::move(message));
  }

  // Reads a mapping's entries, reporting unknown and duplicate keys. Returns false (after an error)
  // when `n` is not a mapping.
  bool ReadMap(const YAML::Node& n, std::string_view what,
               std::initializer_list<std::string_view> allowed, std::vector<MapEntry>& out) {
    out.clear();
    if (!n.IsMap()) {
      Error(n, "wrong-type", std::string(what) + " must be a mapping, got " + KindName(n));
      return false;
    }
    for (auto it = n.begin(); it != n.end(); ++it) {
      const YAML::Node key = it->first;  // it-> yields a temporary pair: copy the handles
      const YAML::Node value = it->second;
      if (!key.IsScalar()) {
        Error(key, "wrong-type", std::string("keys of ") + std::string(what) + " must be scalars");
        continue;
      }
      const std::string& name = key.Scalar();
      if (std::find(allowed.begin(), allowed.end(), name) == allowed.end()) {
        Error(key, "unknown-key",
              "unknown key '" + name + "' in " + std::string(what) +
                  " (allowed: " + JoinNames(allowed) + ")");
        continue;
      }
      bool duplicate = false;
      for (const auto& e : out) duplicate |= e.key == name;
      if (duplicate) {
        Error(key, "duplicate-key", "duplicate key '" + name + "' in " + std::string(what));
        continue;
      }
      out.push_back({name, key, value});
    }
    return true;
  }

  static const MapEntry* Find(const std::vector<MapEntry>& entries, std::string_view key) {
    for (const auto& e : entries) {
      if (e.key == key) return &e;
    }
    return nullptr;
  }

  bool GetString(const MapEntry& e, std::string& out) {
    if (!e.value.IsScalar()) {
      Error(e.value.IsDefined() && !e.value.IsNull() ? e.value : e.key_node, "wrong-type",
            "'" + e.key + "' must be a string, got " + KindName(e.value));
      return false;
    }
    out = e.value.Scalar();
    return true;
  }

  bool GetBool(const MapEntry& e, bool& out) {
    std::optional<bool> b;
    if (e.value.IsScalar()) b = YamlBool(e.value.Scalar());
    if (!b) {
      Error(e.value.IsDefined() && !e.value.IsNull() ? e.value : e.key_node, "wrong-type",
            "'" + e.key + "' must be true or false");
      return false;
    }
    out = *b;
    return true;
  }

  // A sequence of scalars (or, when `allow_scalar`, a single scalar).
  bool GetStringList(const MapEntry& e, std::vector<std::string>& out,
                     std::vector<SourcePos>* pos = nullptr, bool allow_scalar = false) {
    out.clear();
    if (pos) pos->clear();
    if (allow_scalar && e.value.IsScalar()) {
      out.push_back(e.value.Scalar());
      if (pos) pos->push_back(Pos(e.value));
      return true;
    }
    if (!e.value.IsSequence()) {
      Error(e.value.IsDefined() && !e.value.IsNull() ? e.value : e.key_node, "wrong-type",
            "'" + e.key + "' must be a sequence of strings, got " + KindName(e.value));
      return false;
    }
    bool ok = true;
    for (const auto& item : e.value) {
      if (!item.IsScalar()) {
        Error(item, "wrong-type",
              "items of '" + e.key + "' must be strings, got " + KindName(item));
        ok = false;
        continue;
      }
      out.push_back(item.Scalar());
      if (pos) pos->push_back(Pos(item));
    }
    return ok;
  }

  bool GetDate(const MapEntry& e, std::optional<int64_t>& out) {
    std::string text;
    if (!GetString(e, text)) return false;
    auto ms = ParseDateMs(text);
    if (!ms) {
      Error(e.value, "invalid-date",
            "'" + e.key + "' must be a date YYYY-MM-DD, got '" + text + "'");
      return false;
    }
    out = *ms;
    return true;
  }

  void CheckDateRange(const std::vector<MapEntry>& entries, const std::optional<int64_t>& from,
                      const std::optional<int64_t>& until) {
    if (from && until && *until <= *from) {
      Error(Find(entries, "effective_until")->value, "invalid-date-range",
            "'effective_until' must be after 'effective_from'");
    }
  }

  bool RequireKeys(const YAML::Node& n, const std::vector<MapEntry>& entries, std::string_view what,
                   std::initializer_list<std::string_view> keys) {
    bool ok = true;
    for (auto key : keys) {
      if (!Find(entries, key)) {
        Error(n, "missing-key", std::string(what) + " has no '" + std::string(key) + "'");
        ok = false;
      }
    }
    return ok;
  }

  void ReadDocument(const YAML::Node& doc) {
    if (!doc.IsDefined() || doc.IsNull()) return;  // empty document
    std::vector<MapEntry> top;
    if (!ReadMap(doc, "a rules file", {"lists", "macros", "rules", "catalogs"}, top)) return;
    for (const auto& e : top) {
      if (e.value.IsNull()) continue;  // `rules:` with nothing under it
      if (e.key == "catalogs") {
        ReadCatalogs(e.value);
        continue;
      }
      if (!e.value.IsSequence()) {
        Error(e.value, "wrong-type",
              "'" + e.key + "' must be a sequence, got " + KindName(e.value));
        continue;
      }
      for (const auto& item : e.value) {
        if (e.key == "lists") {
          ReadList(item);
        } else if (e.key == "macros") {
          ReadMacro(item);
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
                  "effective_from", "effective_until", "reason", "condition", "tests"},
                 entries)) {
      return;
    }
    RuleDef rule;
    rule.pos = Pos(n);
    RequireKeys(n, entries, "rule", {"id", "title", "severity", "condition"});
    for (const auto& e : entries) {
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
        if (!e.value.IsSequence()) {
          Error(e.value.IsNull() ? e.key_node : e.value, "wrong-type",
                "'tests' must be a sequence, got " + KindName(e.value));
          continue;
        }
        for (const auto& t : e.value) ReadTest(t, rule);
      }
    }
    CheckDateRange(entries, rule.effective_from_ms, rule.effective_until_ms);
    if (rule.id.empty() && Find(entries, "id")) {
      Error(Find(entries, "id")->value, "wrong-type", "'id' must not be empty");
    }
    file_.rules.push_back(std::move(rule));
  }

  bool ReadSeverity(const MapEntry& e, Severity& out) {
    std::string text;
    if (!GetString(e, text)) return false;
    auto s = ParseSeverity(text);
    if (!s) {
      Error(e.value, "invalid-severity",
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
        std::vector<MapEntry> map;
        if (!e.value.IsMap()) {
          Error(e.value.IsNull() ? e.key_node : e.value, "wrong-type",
                "'map' must be a mapping of field values to severities, got " + KindName(e.value));
          continue;
        }
        for (auto it = e.value.begin(); it != e.value.end(); ++it) {
          if (!it->first.IsScalar()) {
            Error(it->first, "wrong-type", "keys of 'map' must be strings");
            continue;
          }
          MapEntry m{it->first.Scalar(), it->first, it->second};
          std::string text;
          if (!GetString(m, text)) continue;
          auto s = ParseSeverity(text);
          if (!s) {
            Error(m.value, "invalid-severity",
                  "severity for '" + m.key +
                      "' must be one of info, low, medium, high, critical; got '" + text + "'");
            continue;
          }
          def.map.emplace_back(m.key, *s);
        }
      }
    }
  }

  void ReadTest(const YAML::Node& n, RuleDef& rule) {
    std::vector<MapEntry> entries;
    if (!ReadMap(n, "a rule test",
                 {"name", "format", "enrich", "event", "event_json", "expect", "severity"},
                 entries)) {
      return;
    }
    RuleTestDef test;
    test.pos = Pos(n);
    test.name = "test #" + std::to_string(rule.tests.size() + 1);
    const MapEntry* event = Find(entries, "event");
    const MapEntry* event_json = Find(entries, "event_json");
    if (!event && !event_json) {
      Error(n, "missing-test-event", "rule test has neither 'event' nor 'event_json'");
    } else if (event && event_json) {
      Error(event_json->key_node, "conflicting-keys",
            "rule test has both 'event' and 'event_json'; give one");
    }
    if (!Find(entries, "expect")) {
      Error(n, "invalid-expect", "rule test has no 'expect' (alert or none)");
    }
    for (const auto& e : entries) {
      if (e.key == "name") {
        GetString(e, test.name);
      } else if (e.key == "format") {
        std::string text;
        if (!GetString(e, text)) continue;
        auto f = ParseFormat(text);
        if (!f) {
          Error(e.value, "invalid-format",
                "unknown test format '" + text +
                    "' (allowed: auto, cloudtrail, gcp_audit, azure_activity, k8s_audit, "
                    "gpu_alloc, oci_audit)");
          continue;
        }
        test.format = *f;
      } else if (e.key == "enrich") {
        if (!e.value.IsMap()) {
          Error(e.value.IsNull() ? e.key_node : e.value, "wrong-type",
                "'enrich' must be a mapping of field names to values, got " + KindName(e.value));
          continue;
        }
        for (auto it = e.value.begin(); it != e.value.end(); ++it) {
          if (!it->first.IsScalar() || !it->second.IsScalar()) {
            Error(it->first, "wrong-type", "'enrich' entries must be 'field: value' scalars");
            continue;
          }
          const std::string field = it->first.Scalar();
          if (!FieldByName(field)) {
            Error(it->first, "unknown-field", "unknown field '" + field + "' in 'enrich'");
            continue;
          }
          test.enrich.emplace_back(field, it->second.Scalar());
        }
      } else if (e.key == "event") {
        if (!e.value.IsMap()) {
          Error(e.value.IsNull() ? e.key_node : e.value, "wrong-type",
                "'event' must be a mapping (the raw log record), got " + KindName(e.value));
          continue;
        }
        RenderJson(e.value, test.event_json);
      } else if (e.key == "event_json") {
        GetString(e, test.event_json);
      } else if (e.key == "expect") {
        std::string text;
        if (!GetString(e, text)) continue;
        if (text == "alert") {
          test.expect_alert = true;
        } else if (text == "none") {
          test.expect_alert = false;
        } else {
          Error(e.value, "invalid-expect", "'expect' must be alert or none, got '" + text + "'");
        }
      } else if (e.key == "severity") {
        Severity s;
        if (ReadSeverity(e, s)) test.expect_severity = s;
      }
    }
    rule.tests.push_back(std::move(test));
  }

  // Reads `field` (and the rest) of an operator mapping.
  bool ReadCondition(const YAML::Node& n, ConditionDef& cond, int depth) {
    using Kind = ConditionDef::Kind;
    cond.pos = Pos(n);
    if (depth > kMaxConditionDepth) {
      Error(n, "condition-too-deep",
            "condition nested deeper than " + std::to_string(kMaxConditionDepth) + " levels");
      return false;
    }
    static const std::initializer_list<std::string_view> kNodes = {
        "all",      "any",  "not", "macro", "equals", "in",  "regex",
        "contains", "cidr", "gt",  "gte",   "lt",     "lte", "exists"};
    std::vector<MapEntry> entries;
    if (!ReadMap(n, "a condition", kNodes, entries)) return false;
    if (entries.size() != 1) {
      if (entries.empty() && n.size() == 0) {
        Error(n, "empty-condition", "a condition needs exactly one of: " + JoinNames(kNodes));
      } else if (entries.size() > 1) {
        Error(entries[1].key_node, "conflicting-keys",
              "a condition has exactly one key (use all/any to combine), got '" + entries[0].key +
                  "' and '" + entries[1].key + "'");
      }
      return false;
    }
    const MapEntry& e = entries[0];
    const std::string& op = e.key;
    if (op == "all" || op == "any") {
      cond.kind = op == "all" ? Kind::kAll : Kind::kAny;
      if (!e.value.IsSequence()) {
        Error(e.value.IsNull() ? e.key_node : e.value, "wrong-type",
              "'" + op + "' must be a sequence of conditions, got " + KindName(e.value));
        return false;
      }
      if (e.value.size() == 0) {
        Error(e.value, "empty-condition", "'" + op + "' needs at least one condition");
        return false;
      }
      bool ok = true;
      for (const auto& child : e.value) {
        cond.children.emplace_back();
        ok &= ReadCondition(child, cond.children.back(), depth + 1);
      }
      return ok;
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
        Error(e.value, "wrong-type", "'" + op + "' needs a name");
        return false;
      }
      (op == "macro" ? cond.macro : cond.field) = name;
      return true;
    }
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
        Error(e.value, has_list ? "conflicting-keys" : "missing-key",
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
    for (const auto& a : args) {
      if (a.key == "field") {
        ok &= GetString(a, cond.field);
      } else if (a.key == "value" || a.key == "pattern") {
        ok &= GetString(a, cond.value);
        if (a.value.IsScalar() && IsPlain(a.value)) {
          if (YamlBool(cond.value)) {
            cond.value_type = ConditionDef::ValueType::kBool;
          } else if (LooksLikeInt(cond.value) || LooksLikeFloat(cond.value)) {
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
          Error(a.value, "empty-condition", what + " has no items");
          ok = false;
        }
      }
    }
    return ok;
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
        Error(e.value, "wrong-type",
              "catalog '" + e.key + "' must be a sequence of entries, got " + KindName(e.value));
        continue;
      }
      for (const auto& item : e.value) ReadCatalogEntry(e.key, item);
    }
  }

  void ReadCatalogEntry(const std::string& catalog, const YAML::Node& n) {
    std::vector<MapEntry> entries;
    const std::string what = "a '" + catalog + "' entry";
    bool ok;
    if (catalog == "accelerators") {
      ok = ReadMap(n, what,
                   {"name", "status", "classification", "match", "effective_from",
                    "effective_until", "source", "override", "description", "notes", "tpp",
                    "performance_density", "restricted_tiers"},
                   entries);
    } else if (catalog == "instance_types") {
      ok =
          ReadMap(n, what,
                  {"name", "pattern", "provider", "accelerator", "model", "count", "effective_from",
                   "effective_until", "source", "override", "description", "notes"},
                  entries);
    } else if (catalog == "destinations") {
      ok = ReadMap(n, what,
                   {"name", "country", "tier", "groups", "effective_from", "effective_until",
                    "source", "override", "description", "notes"},
                   entries);
    } else if (catalog == "regions") {
      ok = ReadMap(n, what,
                   {"name", "pattern", "provider", "country", "effective_from", "effective_until",
                    "source", "override", "description", "notes"},
                   entries);
    } else if (catalog == "model_vendors") {
      ok = ReadMap(n, what,
                   {"name", "supported_countries", "unsupported_countries", "effective_from",
                    "effective_until", "source", "override", "description", "notes"},
                   entries);
    } else {
      ok = ReadMap(n, what,
                   {"name", "vendor", "match", "effective_from", "effective_until", "source",
                    "override", "description", "notes"},
                   entries);
    }
    if (!ok) return;
    RawCatalogEntry raw;
    raw.entry = std::make_unique<CatalogEntry>();
    CatalogEntry& entry = *raw.entry;
    entry.catalog = catalog;
    entry.pos = Pos(n);
    for (const auto& e : entries) {
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
          if (!GetStringList(e, items)) continue;
          for (const auto& item : items) text += (text.empty() ? "" : ", ") + item;
        } else if (!GetString(e, text)) {
          continue;
        }
        entry.attrs[e.key] = std::move(text);
        entry.attr_pos[e.key] = Pos(e.value);
      }
    }
    CheckDateRange(entries, entry.effective_from_ms, entry.effective_until_ms);
    bool pattern_only = (catalog == "instance_types" || catalog == "regions") &&
                        Find(entries, "pattern") != nullptr;
    if (entry.name.empty() && !pattern_only) {
      Error(n, "missing-name",
            what + " has no 'name'" +
                (catalog == "instance_types" || catalog == "regions" ? " (or 'pattern')" : ""));
      return;
    }
    if (entry.source.empty() && !raw.override_entry) {
      Error(n, "missing-source",
            what + " '" + entry.name + "' has no 'source' (every catalog entry must cite one)");
    }
    file_.catalog_entries.push_back(std::move(raw));
  }

  Diagnostics& diags_;
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
