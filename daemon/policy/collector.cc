#include "policy/collector.h"

#include <algorithm>
#include <charconv>
#include <functional>
#include <set>
#include <string_view>
#include <unordered_map>

#include "policy/cidr.h"

namespace chipwatch::policy_internal {

namespace {

using Kind = ConditionDef::Kind;

std::string_view OperatorName(Kind kind) {
  switch (kind) {
    case Kind::kAll:
      return "all";
    case Kind::kAny:
      return "any";
    case Kind::kNot:
      return "not";
    case Kind::kMacro:
      return "macro";
    case Kind::kEquals:
      return "equals";
    case Kind::kIn:
      return "in";
    case Kind::kRegex:
      return "regex";
    case Kind::kContains:
      return "contains";
    case Kind::kCidr:
      return "cidr";
    case Kind::kGt:
      return "gt";
    case Kind::kGte:
      return "gte";
    case Kind::kLt:
      return "lt";
    case Kind::kLte:
      return "lte";
    case Kind::kExists:
      return "exists";
  }
  return "?";
}

std::string_view TypeName(FieldType type) {
  switch (type) {
    case FieldType::kString:
      return "a string";
    case FieldType::kNumber:
      return "a number";
    case FieldType::kBool:
      return "a bool";
    case FieldType::kIp:
      return "an ip";
  }
  return "?";
}

std::optional<int64_t> ParseInteger(std::string_view text) {
  if (!text.empty() && text[0] == '+') text.remove_prefix(1);
  int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

class Collector {
 public:
  Collector(const LoadOptions& options, Diagnostics& diags)
      : options_(options), diags_(diags), defs_(std::make_unique<PolicyDefinitions>()) {}

  std::unique_ptr<PolicyDefinitions> Run(std::vector<RawFile> files) {
    std::vector<CorrelationDef> correlations;
    for (auto& file : files) {
      defs_->files.push_back(file.name);
      CollectLists(file);
      CollectMacros(file);
      CollectRules(file);
      CollectCatalog(file);
      for (auto& corr : file.correlations) correlations.push_back(std::move(corr));
    }
    for (size_t i = 0; i < defs_->rules.size(); ++i) rule_index_.emplace(defs_->rules[i].id, i);
    // Correlation ids are checked against every file's rule ids.
    CollectCorrelations(correlations);
    // Empty lists are not worth a warning: the default pack's watch lists are empty on purpose,
    // waiting for operators to append to them.
    CheckMacroCycles();
    for (auto& macro : defs_->macros) CheckCondition(macro.condition);
    std::set<std::string> listed;  // rule ids some correlation lists
    for (const auto& corr : defs_->correlations) {
      listed.insert(corr.rules.begin(), corr.rules.end());
    }
    for (auto& rule : defs_->rules) {
      CheckRule(rule);
      CheckRuleState(rule, listed.count(rule.id) > 0);
    }
    for (auto& corr : defs_->correlations) CheckCorrelation(corr);
    return std::move(defs_);
  }

 private:
  void CollectLists(RawFile& file) {
    for (auto& raw : file.lists) {
      ListDef* existing = nullptr;
      for (auto& list : defs_->lists) {
        if (list.name == raw.def.name) existing = &list;
      }
      if (raw.append) {
        if (!existing) {
          diags_.Error(
              raw.def.pos, DiagCode::kUnknownList,
              "'append: true' for list '" + raw.def.name + "', which no earlier file defines");
          continue;
        }
        existing->items.insert(existing->items.end(), raw.def.items.begin(), raw.def.items.end());
        existing->item_pos.insert(existing->item_pos.end(), raw.def.item_pos.begin(),
                                  raw.def.item_pos.end());
        continue;
      }
      if (existing) {
        diags_.Error(raw.def.pos, DiagCode::kDuplicateList,
                     "list '" + raw.def.name + "' is already defined at " +
                         existing->pos.ToString() + " (use 'append: true' to extend it)");
        continue;
      }
      defs_->lists.push_back(std::move(raw.def));
    }
  }

  void CollectMacros(RawFile& file) {
    for (auto& macro : file.macros) {
      if (const MacroDef* existing = defs_->FindMacro(macro.name)) {
        diags_.Error(
            macro.pos, DiagCode::kDuplicateMacro,
            "macro '" + macro.name + "' is already defined at " + existing->pos.ToString());
        continue;
      }
      defs_->macros.push_back(std::move(macro));
    }
  }

  void CollectRules(RawFile& file) {
    for (auto& rule : file.rules) {
      if (!rule.id.empty()) {
        auto [it, inserted] = rule_ids_.emplace(rule.id, rule.pos);
        if (!inserted) {
          diags_.Error(rule.pos, DiagCode::kDuplicateRuleId,
                       "rule id '" + rule.id + "' is already used at " + it->second.ToString());
          continue;
        }
      }
      defs_->rules.push_back(std::move(rule));
    }
  }

  // Correlation ids: unique, and no rule's id (alerts name either).
  void CollectCorrelations(std::vector<CorrelationDef>& correlations) {
    for (auto& corr : correlations) {
      if (!corr.id.empty()) {
        if (auto rule = rule_ids_.find(corr.id); rule != rule_ids_.end()) {
          diags_.Error(corr.pos, DiagCode::kDuplicateCorrelationId,
                       "correlation id '" + corr.id + "' is already a rule's id at " +
                           rule->second.ToString());
          continue;
        }
        auto [it, inserted] = correlation_index_.emplace(corr.id, defs_->correlations.size());
        if (!inserted) {
          diags_.Error(corr.pos, DiagCode::kDuplicateCorrelationId,
                       "correlation id '" + corr.id + "' is already used at " +
                           defs_->correlations[it->second].pos.ToString());
          continue;
        }
      }
      defs_->correlations.push_back(std::move(corr));
    }
  }

  static std::string EntryKey(const CatalogEntry& e) {
    if (!e.name.empty()) return e.name;
    std::string key = "pattern:";
    for (const auto& p : e.patterns) key += p + "\n";
    return key;
  }

  void CollectCatalog(RawFile& file) {
    for (auto& raw : file.catalog_entries) {
      auto& entries = defs_->catalogs[raw.entry->catalog];
      const std::string key = EntryKey(*raw.entry);
      CatalogEntry* existing = nullptr;
      bool overlaps = false;  // with any entry of that key (destinations: one per period)
      for (auto& e : entries) {
        if (EntryKey(*e) != key) continue;
        existing = e.get();
        overlaps = overlaps || e->PeriodOverlaps(*raw.entry);
      }
      const std::string label = "'" + raw.entry->catalog + "' entry '" + raw.entry->name + "'";
      if (!existing) {
        if (raw.override_entry) {
          diags_.Error(raw.entry->pos, DiagCode::kOverrideUnknownEntry,
                       "'override: true' for " + label + ", which no earlier entry defines");
          continue;
        }
        entries.push_back(std::move(raw.entry));
        continue;
      }
      // A destination whose tier changed has an entry per period (CatalogIndex chains them);
      // `override: true` then applies to the latest.
      if (!raw.override_entry && raw.entry->catalog == "destinations" && !overlaps) {
        entries.push_back(std::move(raw.entry));
        continue;
      }
      if (!raw.override_entry) {
        diags_.Error(raw.entry->pos, DiagCode::kDuplicateCatalogEntry,
                     label + " is already defined at " + existing->pos.ToString() +
                         " (use 'override: true' to replace its keys)");
        continue;
      }
      const CatalogEntry& over = *raw.entry;
      for (const auto& [k, v] : over.attrs) existing->attrs[k] = v;
      for (const auto& [k, p] : over.attr_pos) existing->attr_pos[k] = p;
      if (!over.patterns.empty()) existing->patterns = over.patterns;
      if (over.effective_from_ms) existing->effective_from_ms = over.effective_from_ms;
      if (over.effective_until_ms) existing->effective_until_ms = over.effective_until_ms;
      if (!over.source.empty()) existing->source = over.source;
    }
  }

  // Reports unknown macro references (in macros) and cycles among macros.
  void CheckMacroCycles() {
    enum class Color { kWhite, kGrey, kBlack };
    std::unordered_map<std::string, Color> color;
    std::vector<std::string> stack;
    std::function<void(const MacroDef&)> visit;
    std::function<void(const ConditionDef&)> walk = [&](const ConditionDef& c) {
      if (c.kind == Kind::kMacro) {
        const MacroDef* target = defs_->FindMacro(c.macro);
        if (!target) return;  // reported by CheckCondition
        Color& col = color[target->name];
        if (col == Color::kGrey) {
          std::string path;
          bool in_cycle = false;
          for (const auto& name : stack) {
            in_cycle |= name == target->name;
            if (in_cycle) path += name + " -> ";
          }
          path += target->name;
          diags_.Error(c.pos, DiagCode::kMacroCycle, "macro cycle: " + path);
          cyclic_.insert(target->name);
        } else if (col == Color::kWhite) {
          visit(*target);
        }
        return;
      }
      for (const auto& child : c.children) walk(child);
    };
    visit = [&](const MacroDef& m) {
      color[m.name] = Color::kGrey;
      stack.push_back(m.name);
      walk(m.condition);
      stack.pop_back();
      color[m.name] = Color::kBlack;
    };
    for (const auto& m : defs_->macros) {
      if (color[m.name] == Color::kWhite) visit(m);
    }
  }

  void CheckRule(RuleDef& rule) {
    CheckCondition(rule.condition);
    if (!rule.reason.empty()) {
      auto parts = ParseReasonTemplate(rule.reason);
      if (parts.ok()) {
        rule.reason_parts = std::move(parts).value();
      } else {
        rule.reason_parts.clear();
        diags_.Error(rule.pos, DiagCode::kInvalidReason,
                     "rule '" + rule.id + "': bad 'reason': " + parts.status().message());
      }
    }
    if (rule.severity_from) {
      auto& sf = *rule.severity_from;
      if (!sf.field.empty()) {
        auto field = FieldByName(sf.field);
        if (!field) {
          diags_.Error(sf.pos, DiagCode::kUnknownField,
                       "unknown field '" + sf.field + "' in 'severity_from'");
        } else if (TypeOf(*field) != FieldType::kString) {
          diags_.Error(sf.pos, DiagCode::kTypeMismatch,
                       "'severity_from' needs a string field; '" + sf.field + "' is " +
                           std::string(TypeName(TypeOf(*field))));
        } else {
          sf.field_id = *field;
        }
      }
    }
    if (!rule.enabled) {
      diags_.Warning(rule.pos, DiagCode::kRuleDisabled, "rule '" + rule.id + "' is disabled");
    } else if (rule.tests.empty()) {
      diags_.Warning(rule.pos, DiagCode::kRuleWithoutTests, "rule '" + rule.id + "' has no tests");
    }
  }

  // Field names (`group_by`, `suppress.by`) to ids; unknown names are reported and left out.
  void ResolveFields(const std::vector<std::string>& names, const std::vector<SourcePos>& pos,
                     const std::string& what, const SourcePos& fallback,
                     std::vector<FieldId>& ids) {
    ids.clear();
    for (size_t i = 0; i < names.size(); ++i) {
      auto field = FieldByName(names[i]);
      if (!field) {
        diags_.Error(i < pos.size() ? pos[i] : fallback, DiagCode::kUnknownField,
                     "unknown field '" + names[i] + "' in " + what +
                         " (see the field table in docs/rules.md)");
        continue;
      }
      ids.push_back(*field);
    }
  }

  // A rule's stateful keys: `suppress.by` resolved, `alert: false` feeding something, the alerts
  // its multi-event tests expect.
  void CheckRuleState(RuleDef& rule, bool listed) {
    if (rule.suppress) {
      ResolveFields(rule.suppress->by, rule.suppress->by_pos, "'suppress.by'", rule.suppress->pos,
                    rule.suppress->by_ids);
    }
    if (!rule.alert && !listed) {
      diags_.Warning(rule.pos, DiagCode::kRuleFeedsNothing,
                     "rule '" + rule.id +
                         "' has 'alert: false' and no correlation lists it: it raises nothing");
    }
    CheckExpectedAlerts(rule.tests);
  }

  void CheckCorrelation(CorrelationDef& corr) {
    ResolveFields(corr.group_by, corr.group_by_pos, "'group_by'", corr.pos, corr.group_ids);
    if (!corr.field.empty()) {
      if (auto field = FieldByName(corr.field)) {
        corr.field_id = *field;
      } else {
        diags_.Error(
            corr.field_pos, DiagCode::kUnknownField,
            "unknown field '" + corr.field + "' in 'field' (see the field table in docs/rules.md)");
      }
    }
    corr.rule_indexes.clear();
    for (size_t i = 0; i < corr.rules.size(); ++i) {
      const SourcePos& pos = i < corr.rule_pos.size() ? corr.rule_pos[i] : corr.pos;
      auto it = rule_index_.find(corr.rules[i]);
      if (it == rule_index_.end()) {
        diags_.Error(
            pos, DiagCode::kUnknownRule,
            "correlation '" + corr.id + "' lists '" + corr.rules[i] + "', which is no rule's id" +
                (correlation_index_.count(corr.rules[i]) ? " (it is a correlation's)" : ""));
        continue;
      }
      corr.rule_indexes.push_back(it->second);
      if (!defs_->rules[it->second].enabled) {
        diags_.Warning(pos, DiagCode::kDisabledRuleInCorrelation,
                       "correlation '" + corr.id + "' lists rule '" + corr.rules[i] +
                           "', which is disabled: its matches never feed it");
      }
    }
    CheckCorrelationReason(corr);
    CheckExpectedAlerts(corr.tests);
    if (!corr.enabled) {
      diags_.Warning(corr.pos, DiagCode::kCorrelationDisabled,
                     "correlation '" + corr.id + "' is disabled");
    } else if (corr.tests.empty()) {
      diags_.Warning(corr.pos, DiagCode::kCorrelationWithoutTests,
                     "correlation '" + corr.id + "' has no tests");
    }
  }

  // `reason`: rule fields, {count}, and {group.<field>} for a field of `group_by`.
  void CheckCorrelationReason(CorrelationDef& corr) {
    corr.reason_parts.clear();
    if (corr.reason.empty()) return;
    auto parts = ParseCorrelationReasonTemplate(corr.reason);
    if (!parts.ok()) {
      diags_.Error(corr.pos, DiagCode::kInvalidReason,
                   "correlation '" + corr.id + "': bad 'reason': " + parts.status().message());
      return;
    }
    for (const ReasonPart& part : *parts) {
      if (!part.group || !part.field) continue;
      const bool grouped =
          std::any_of(corr.group_by.begin(), corr.group_by.end(),
                      [&](const std::string& g) { return FieldByName(g) == part.field; });
      if (!grouped) {
        diags_.Error(corr.pos, DiagCode::kInvalidReason,
                     "correlation '" + corr.id + "': bad 'reason': {group." +
                         std::string(FieldName(*part.field)) +
                         "} names a field that is not in 'group_by'");
        return;
      }
    }
    corr.reason_parts = std::move(parts).value();
  }

  void CheckExpectedAlerts(const std::vector<RuleTestDef>& tests) {
    for (const RuleTestDef& test : tests) {
      for (const ExpectedAlertDef& alert : test.expected) CheckExpectedAlert(alert);
    }
  }

  // An expected alert names a rule or correlation that can raise it: `kind: correlation` a
  // correlation (its `group` fields among `group_by`), `event` a rule with `alert: true` (no
  // group, no count), `summary` a rule with `suppress` (its `group` fields among `suppress.by`).
  void CheckExpectedAlert(const ExpectedAlertDef& alert) {
    if (alert.rule.empty() || alert.kind.empty()) return;  // reported by the reader
    auto rule_it = rule_index_.find(alert.rule);
    auto corr_it = correlation_index_.find(alert.rule);
    if (rule_it == rule_index_.end() && corr_it == correlation_index_.end()) {
      diags_.Error(alert.pos, DiagCode::kUnknownRule,
                   "expected alert of '" + alert.rule + "', which is no rule or correlation id");
      return;
    }
    const std::vector<std::string>* group_fields = nullptr;
    std::string problem;
    if (alert.kind == "correlation") {
      if (corr_it == correlation_index_.end()) {
        problem = "'" + alert.rule + "' is a rule: its alerts are of kind event or summary";
      } else {
        group_fields = &defs_->correlations[corr_it->second].group_by;
      }
    } else if (rule_it == rule_index_.end()) {
      problem = "'" + alert.rule + "' is a correlation: its alerts are of kind correlation";
    } else {
      const RuleDef& rule = defs_->rules[rule_it->second];
      if (alert.kind == "event" && !rule.alert) {
        problem = "rule '" + rule.id + "' has 'alert: false': it raises no event alert";
      } else if (alert.kind == "event" && (!alert.group.empty() || alert.count)) {
        problem = "an event alert has no 'group' or 'count' (correlation and summary alerts do)";
      } else if (alert.kind == "summary" && !rule.suppress) {
        problem = "rule '" + rule.id + "' has no 'suppress': it raises no summary";
      } else if (alert.kind == "summary") {
        group_fields = &rule.suppress->by;
      }
    }
    for (size_t i = 0; group_fields && problem.empty() && i < alert.group.size(); ++i) {
      const std::string& name = alert.group[i].first;
      if (std::find(group_fields->begin(), group_fields->end(), name) == group_fields->end()) {
        problem = "'group' names '" + name + "', which is not among the fields '" + alert.rule +
                  "' groups by";
      }
    }
    if (!problem.empty()) diags_.Error(alert.pos, DiagCode::kInvalidExpect, problem);
  }

  bool ResolveField(ConditionDef& c) {
    auto field = FieldByName(c.field);
    if (!field) {
      diags_.Error(c.pos, DiagCode::kUnknownField,
                   "unknown field '" + c.field + "' in '" + std::string(OperatorName(c.kind)) +
                       "' (see the field table in docs/rules.md)");
      return false;
    }
    c.field_id = *field;
    return true;
  }

  void TypeMismatch(const ConditionDef& c, std::string_view needs) {
    diags_.Error(c.pos, DiagCode::kTypeMismatch,
                 "'" + std::string(OperatorName(c.kind)) + "' needs " + std::string(needs) + "; '" +
                     c.field + "' is " + std::string(TypeName(TypeOf(c.field_id))));
  }

  void ParseNumberValue(ConditionDef& c) {
    std::optional<int64_t> n = ParseInteger(c.value);
    if (!n && c.field_id == FieldId::kEventTime) {
      n = ParseDateMs(c.value);
      if (!n) n = ParseTimestampMs(c.value);
    }
    if (!n) {
      diags_.Error(
          c.pos, DiagCode::kInvalidNumber,
          "'" + std::string(OperatorName(c.kind)) + "' on '" + c.field +
              "' needs an integer value" +
              (c.field_id == FieldId::kEventTime ? " (unix ms, a date or a timestamp)" : "") +
              ", got '" + c.value + "'");
      return;
    }
    c.number = *n;
  }

  void CheckCidrItems(const std::vector<std::string>& items, const std::vector<SourcePos>& pos,
                      const SourcePos& fallback) {
    for (size_t i = 0; i < items.size(); ++i) {
      if (auto r = ParseCidr(items[i]); !r.ok()) {
        diags_.Error(i < pos.size() ? pos[i] : fallback, DiagCode::kInvalidCidr,
                     "invalid CIDR '" + items[i] + "': " + r.status().message());
      }
    }
  }

  const ListDef* ResolveList(const ConditionDef& c) {
    const ListDef* list = defs_->FindList(c.list);
    if (!list) {
      diags_.Error(c.pos, DiagCode::kUnknownList,
                   "unknown list '" + c.list + "' in '" + std::string(OperatorName(c.kind)) + "'");
    }
    return list;
  }

  // `equals`: the value parsed as the field's type (number, bool or address).
  void CheckEquals(ConditionDef& c, FieldType type) {
    if (type == FieldType::kNumber) {
      ParseNumberValue(c);
    } else if (type == FieldType::kBool) {
      if (c.value != "true" && c.value != "false") {
        diags_.Error(
            c.pos, DiagCode::kInvalidBool,
            "'equals' on bool field '" + c.field + "' needs true or false, got '" + c.value + "'");
      }
      c.number = c.value == "true" ? 1 : 0;
    } else if (type == FieldType::kIp) {
      if (auto r = ParseCidr(c.value); !r.ok()) {
        diags_.Error(c.pos, DiagCode::kInvalidCidr,
                     "invalid address '" + c.value + "': " + r.status().message());
      }
    }
  }

  // `in`, `contains` and `regex`: a string field, a known list, a pattern Hyperscan accepts.
  void CheckStringMatch(ConditionDef& c, FieldType type) {
    if (type != FieldType::kString) {
      TypeMismatch(c, "a string field");
      return;
    }
    if (c.kind == Kind::kIn && !c.list.empty()) ResolveList(c);
    if (c.kind == Kind::kRegex && options_.check_regex) {
      std::string err = options_.check_regex(c.value, c.ignore_case);
      if (!err.empty()) {
        diags_.Error(c.pos, DiagCode::kInvalidRegex, "invalid regex '" + c.value + "': " + err);
      }
    }
  }

  // `cidr`: an ip field and networks that parse (a list's items are checked once).
  void CheckCidr(ConditionDef& c, FieldType type) {
    if (type != FieldType::kIp) {
      TypeMismatch(c, "an ip field");
      return;
    }
    if (c.list.empty()) {
      CheckCidrItems(c.items, c.item_pos, c.pos);
    } else if (const ListDef* list = ResolveList(c)) {
      if (cidr_checked_lists_.insert(list->name).second) {
        CheckCidrItems(list->items, list->item_pos, list->pos);
      }
    }
  }

  void CheckCondition(ConditionDef& c) {
    switch (c.kind) {
      case Kind::kAll:
      case Kind::kAny:
      case Kind::kNot:
        for (auto& child : c.children) CheckCondition(child);
        return;
      case Kind::kMacro:
        if (!defs_->FindMacro(c.macro)) {
          diags_.Error(c.pos, DiagCode::kUnknownMacro, "unknown macro '" + c.macro + "'");
        }
        return;
      case Kind::kExists:
        ResolveField(c);
        return;
      default:
        break;
    }
    if (!ResolveField(c)) return;
    const FieldType type = TypeOf(c.field_id);
    if (c.ignore_case && type != FieldType::kString) {
      TypeMismatch(c, "a string field for 'ignore_case'");
      return;
    }
    switch (c.kind) {
      case Kind::kEquals:
        CheckEquals(c, type);
        return;
      case Kind::kIn:
      case Kind::kContains:
      case Kind::kRegex:
        CheckStringMatch(c, type);
        return;
      case Kind::kCidr:
        CheckCidr(c, type);
        return;
      case Kind::kGt:
      case Kind::kGte:
      case Kind::kLt:
      case Kind::kLte:
        if (type != FieldType::kNumber) {
          TypeMismatch(c, "a number field");
          return;
        }
        ParseNumberValue(c);
        return;
      default:
        return;
    }
  }

  const LoadOptions& options_;
  Diagnostics& diags_;
  std::unique_ptr<PolicyDefinitions> defs_;
  std::unordered_map<std::string, SourcePos> rule_ids_;
  std::unordered_map<std::string, size_t> rule_index_;         // into defs_->rules
  std::unordered_map<std::string, size_t> correlation_index_;  // into defs_->correlations
  std::set<std::string> cidr_checked_lists_;
  std::set<std::string> cyclic_;
};

}  // namespace

std::unique_ptr<PolicyDefinitions> Collect(std::vector<RawFile> files, const LoadOptions& options,
                                           Diagnostics& diags) {
  return Collector(options, diags).Run(std::move(files));
}

}  // namespace chipwatch::policy_internal
