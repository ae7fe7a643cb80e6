// Tests for the stateful syntax of the policy reader and collector (issue 13, docs/rules.md
// "Suppression and correlations"): `alert`, `suppress`, `correlations:` and multi-event tests,
// every diagnostic with its code and position.
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "policy/loader.h"

namespace chipwatch {
namespace {

std::string Dump(const Diagnostics& diags) {
  std::string out;
  for (const auto& d : diags.items()) out += d.ToString() + "\n";
  return out;
}

// Two tested rules, A (`alert: false`) and B, on lines 2 and 3; the correlations follow from line
// 5 on (so the first correlation's keys are at line 5 and on, column 5).
const char kRules[] =
    "rules:\n"
    "  - {id: A, title: t, severity: low, alert: false, condition: {exists: region}, tests: "
    "[{event: {x: 1}, expect: none}]}\n"
    "  - {id: B, title: t, severity: low, condition: {exists: zone}, tests: [{event: {x: 1}, "
    "expect: none}]}\n"
    "correlations:\n";

// A tested multi-event test for a correlation, as the last key of a block correlation.
const char kCorrelationTest[] = "    tests: [{events: [{event: {x: 1}}], expect: []}]\n";

class CorrelationSyntaxTest : public ::testing::Test {
 protected:
  const PolicyDefinitions& Load(std::vector<std::pair<std::string, std::string>> files) {
    diags_ = Diagnostics();
    defs_ = LoadDefinitionsFromStrings(files, diags_);
    return *defs_;
  }
  const PolicyDefinitions& Load(const std::string& text) { return Load({{"r.yaml", text}}); }
  // kRules, then `correlations` (block correlations starting at line 5).
  const PolicyDefinitions& LoadCorrelations(const std::string& correlations) {
    return Load(kRules + correlations);
  }

  // The diagnostics with `code`.
  std::vector<Diagnostic> All(const std::string& code) const {
    std::vector<Diagnostic> out;
    for (const auto& d : diags_.items()) {
      if (d.code == code) out.push_back(d);
    }
    return out;
  }
  // Exactly one diagnostic with `code`, an error at `where` whose message contains `part`.
  void ExpectOnly(const std::string& code, const std::string& where, const std::string& part = "",
                  Diagnostic::Level level = Diagnostic::Level::kError) {
    const auto found = All(code);
    ASSERT_EQ(found.size(), 1u) << code << " in:\n" << Dump(diags_);
    const Diagnostic& d = found[0];
    EXPECT_EQ(d.level, level) << d.ToString();
    EXPECT_EQ(d.pos.ToString(), where) << d.ToString();
    if (!part.empty()) {
      EXPECT_NE(d.message.find(part), std::string::npos) << d.ToString();
    }
  }
  void ExpectWarning(const std::string& code, const std::string& where,
                     const std::string& part = "") {
    ExpectOnly(code, where, part, Diagnostic::Level::kWarning);
    EXPECT_FALSE(diags_.has_errors()) << Dump(diags_);
  }

  Diagnostics diags_;
  std::unique_ptr<PolicyDefinitions> defs_;
};

// A block correlation: the required keys of its type, `extra` lines (4 spaces, ending in \n) after
// them, and a test. Its keys from line 5 on (after kRules): id 5, title 6, severity 7, type 8,
// rules 9, group_by 10, timespan 11, then `field` and `condition` when set, then `extra`.
struct Corr {
  std::string id = "C1";
  std::string type;
  std::string rules = "[A, B]";
  std::string group_by = "[source.ip]";
  std::string timespan = "1h";
  std::optional<std::string> field;      // value_count: "account"
  std::optional<std::string> condition;  // event_count, value_count: "{gte: 3}"
  std::string extra;
  bool tests = true;

  explicit Corr(std::string t) : type(std::move(t)) {
    if (type == "value_count") field = "account";
    if (type == "value_count" || type == "event_count") condition = "{gte: 3}";
  }
  Corr& Id(std::string v) { return id = std::move(v), *this; }
  Corr& Rules(std::string v) { return rules = std::move(v), *this; }
  Corr& GroupBy(std::string v) { return group_by = std::move(v), *this; }
  Corr& Timespan(std::string v) { return timespan = std::move(v), *this; }
  Corr& Field(std::optional<std::string> v) { return field = std::move(v), *this; }
  Corr& Condition(std::optional<std::string> v) { return condition = std::move(v), *this; }
  Corr& Extra(std::string v) { return extra = std::move(v), *this; }
  Corr& NoTests() { return tests = false, *this; }

  operator std::string() const {  // NOLINT(google-explicit-constructor): reads as YAML text
    std::string c = "  - id: " + id + "\n    title: t\n    severity: high\n    type: " + type +
                    "\n    rules: " + rules + "\n    group_by: " + group_by +
                    "\n    timespan: " + timespan + "\n";
    if (field) c += "    field: " + *field + "\n";
    if (condition) c += "    condition: " + *condition + "\n";
    return c + extra + (tests ? kCorrelationTest : "");
  }
};

TEST_F(CorrelationSyntaxTest, ValidPolicyWithEveryTypeLoadsWithResolvedIds) {
  const auto& defs = Load(R"y(rules:
  - id: CW-HW-010
    title: Restricted accelerator provisioned (any origin)
    severity: info
    alert: false
    condition: {equals: {field: accelerator.status, value: restricted}}
    tests:
      - {event: {x: 1}, expect: none}
  - id: CW-HW-001
    title: Restricted accelerator from a restricted destination
    severity: critical
    suppress: {by: [account, accelerator.family], for: 1h}
    condition: {exists: source.tier}
    tests:
      - {event: {x: 1}, expect: none}
      - name: repeats are summarized
        events:
          - format: cloudtrail
            enrich: {source.tier: embargoed}
            event: {eventName: RunInstances}
          - event_json: '{"eventName": "RunInstances"}'
        expect:
          - {rule: CW-HW-001, kind: event}
          - {rule: CW-HW-001, kind: summary, group: {account: "123"}, count: 1}
correlations:
  - id: CW-CORR-001
    title: One source address provisions restricted accelerators in several accounts
    description: d
    severity: high
    tags: [export-control, intermediary]
    type: value_count
    rules: [CW-HW-010]
    group_by: [source.ip]
    field: account
    timespan: 24h
    condition: {gte: 3}
    suppress: {for: 24h}
    reason: "{group.source.ip} in {count} accounts, last {account}"
    tests:
      - name: three accounts from one address
        events:
          - format: cloudtrail
            enrich: {source.country: SG}
            event: {eventName: RunInstances}
          - {event_json: '{}'}
        expect:
          - {rule: CW-CORR-001, kind: correlation, group: {source.ip: 203.0.113.7}, count: 3}
  - id: CW-CORR-002
    title: burst
    severity: medium
    type: event_count
    rules: [CW-HW-010, CW-HW-001]
    group_by: [account, region]
    timespan: 10m
    condition: {gt: 20}
    tests:
      - {name: nothing, events: [{event: {a: 1}}], expect: []}
  - id: CW-CORR-003
    title: one then the other
    severity: high
    enabled: true
    type: temporal
    rules: [CW-HW-001, CW-HW-010]
    group_by: [principal, account, region]
    timespan: 30d
    tests:
      - {events: [{event: {a: 1}}, {event: {a: 2}}], expect: [{rule: CW-CORR-003, kind: correlation}]}
)y");
  ASSERT_FALSE(diags_.has_errors()) << Dump(diags_);
  EXPECT_EQ(diags_.warning_count(), 0u) << Dump(diags_);
  ASSERT_EQ(defs.rules.size(), 2u);
  EXPECT_FALSE(defs.rules[0].alert);
  EXPECT_FALSE(defs.rules[0].suppress);
  EXPECT_TRUE(defs.rules[1].alert);
  ASSERT_TRUE(defs.rules[1].suppress);
  const SuppressDef& s = *defs.rules[1].suppress;
  EXPECT_EQ(s.by, (std::vector<std::string>{"account", "accelerator.family"}));
  EXPECT_EQ(s.by_ids, (std::vector<FieldId>{FieldId::kAccount, FieldId::kAcceleratorFamily}));
  EXPECT_EQ(s.by_pos[1].ToString(), "r.yaml:12:30");
  EXPECT_EQ(s.for_ms, 3600 * 1000);
  EXPECT_EQ(s.pos.ToString(), "r.yaml:12:15");

  // The rule's tests: one single-event, one multi-event.
  ASSERT_EQ(defs.rules[1].tests.size(), 2u);
  EXPECT_FALSE(defs.rules[1].tests[0].multi_event);
  const RuleTestDef& multi = defs.rules[1].tests[1];
  EXPECT_TRUE(multi.multi_event);
  EXPECT_EQ(multi.name, "repeats are summarized");
  EXPECT_EQ(multi.pos.ToString(), "r.yaml:16:9");
  ASSERT_EQ(multi.events.size(), 2u);
  EXPECT_EQ(multi.events[0].format, Format::kCloudTrail);
  EXPECT_EQ(multi.events[0].enrich[0],
            (std::pair<std::string, std::string>{"source.tier", "embargoed"}));
  EXPECT_EQ(multi.events[0].event_json, R"({"eventName":"RunInstances"})");
  EXPECT_EQ(multi.events[0].pos.ToString(), "r.yaml:18:13");
  EXPECT_EQ(multi.events[1].format, Format::kAuto);
  EXPECT_EQ(multi.events[1].event_json, R"({"eventName": "RunInstances"})");
  ASSERT_EQ(multi.expected.size(), 2u);
  EXPECT_EQ(multi.expected[0].rule, "CW-HW-001");
  EXPECT_EQ(multi.expected[0].kind, "event");
  EXPECT_TRUE(multi.expected[0].group.empty());
  EXPECT_FALSE(multi.expected[0].count);
  EXPECT_EQ(multi.expected[1].kind, "summary");
  EXPECT_EQ(multi.expected[1].group[0], (std::pair<std::string, std::string>{"account", "123"}));
  EXPECT_EQ(multi.expected[1].count, 1u);
  EXPECT_EQ(multi.expected[1].pos.ToString(), "r.yaml:24:13");

  ASSERT_EQ(defs.correlations.size(), 3u);
  const CorrelationDef& vc = defs.correlations[0];
  EXPECT_EQ(vc.id, "CW-CORR-001");
  EXPECT_EQ(vc.pos.ToString(), "r.yaml:26:5");
  EXPECT_EQ(vc.description, "d");
  EXPECT_EQ(vc.severity, Severity::kHigh);
  EXPECT_EQ(vc.tags, (std::vector<std::string>{"export-control", "intermediary"}));
  EXPECT_TRUE(vc.enabled);
  EXPECT_EQ(vc.type, CorrelationType::kValueCount);
  EXPECT_EQ(vc.rules, std::vector<std::string>{"CW-HW-010"});
  EXPECT_EQ(vc.rule_pos[0].ToString(), "r.yaml:32:13");
  EXPECT_EQ(vc.rule_indexes, std::vector<size_t>{0});
  EXPECT_EQ(vc.group_by, std::vector<std::string>{"source.ip"});
  EXPECT_EQ(vc.group_ids, std::vector<FieldId>{FieldId::kSourceIp});
  EXPECT_EQ(vc.field, "account");
  EXPECT_EQ(vc.field_id, FieldId::kAccount);
  EXPECT_EQ(vc.field_pos.ToString(), "r.yaml:34:12");
  EXPECT_EQ(vc.timespan_ms, 24 * 3600 * 1000);
  EXPECT_EQ(vc.threshold, 3u);
  EXPECT_FALSE(vc.greater);
  EXPECT_EQ(vc.suppress_ms, 24 * 3600 * 1000);
  ASSERT_EQ(vc.reason_parts.size(), 5u);
  EXPECT_EQ(vc.reason_parts[0].field, FieldId::kSourceIp);
  EXPECT_TRUE(vc.reason_parts[0].group);
  EXPECT_EQ(vc.reason_parts[1].literal, " in ");
  EXPECT_TRUE(vc.reason_parts[2].count);
  EXPECT_EQ(vc.reason_parts[4].field, FieldId::kAccount);
  EXPECT_FALSE(vc.reason_parts[4].group);
  ASSERT_EQ(vc.tests.size(), 1u);
  EXPECT_TRUE(vc.tests[0].multi_event);
  EXPECT_EQ(vc.tests[0].events[0].enrich[0],
            (std::pair<std::string, std::string>{"source.country", "SG"}));
  EXPECT_EQ(vc.tests[0].events[1].event_json, "{}");
  ASSERT_EQ(vc.tests[0].expected.size(), 1u);
  EXPECT_EQ(vc.tests[0].expected[0].group[0],
            (std::pair<std::string, std::string>{"source.ip", "203.0.113.7"}));
  EXPECT_EQ(vc.tests[0].expected[0].count, 3u);

  const CorrelationDef& ec = defs.correlations[1];
  EXPECT_EQ(ec.type, CorrelationType::kEventCount);
  EXPECT_EQ(ec.rule_indexes, (std::vector<size_t>{0, 1}));
  EXPECT_EQ(ec.group_ids, (std::vector<FieldId>{FieldId::kAccount, FieldId::kRegion}));
  EXPECT_EQ(ec.field_id, FieldId::kCount);
  EXPECT_EQ(ec.timespan_ms, 10 * 60 * 1000);
  EXPECT_EQ(ec.threshold, 20u);
  EXPECT_TRUE(ec.greater);
  EXPECT_EQ(ec.suppress_ms, 0);
  EXPECT_EQ(ec.severity, Severity::kMedium);
  ASSERT_EQ(ec.tests.size(), 1u);
  EXPECT_TRUE(ec.tests[0].expected.empty());  // `expect: []`: no alert at all

  const CorrelationDef& tc = defs.correlations[2];
  EXPECT_EQ(tc.type, CorrelationType::kTemporal);
  EXPECT_EQ(tc.rule_indexes, (std::vector<size_t>{1, 0}));
  EXPECT_EQ(tc.group_by.size(), 3u);
  EXPECT_FALSE(tc.threshold);
  EXPECT_EQ(tc.timespan_ms, int64_t{30} * 24 * 3600 * 1000);
  EXPECT_EQ(tc.tests[0].name, "test #1");
}

TEST_F(CorrelationSyntaxTest, CorrelationsInAnyFileListRulesOfAnyFile) {
  const auto& defs =
      Load({{"a.yaml", "correlations:\n" + std::string(Corr("event_count").Rules("[X, Y]"))},
            {"b.yaml", kRules + std::string(Corr("temporal").Id("C2"))},
            {"c.yaml",
             "rules:\n  - {id: X, title: t, severity: low, condition: {exists: zone}}\n"
             "  - {id: Y, title: t, severity: low, condition: {exists: zone}}\n"}});
  ASSERT_FALSE(diags_.has_errors()) << Dump(diags_);
  ASSERT_EQ(defs.correlations.size(), 2u);
  EXPECT_EQ(defs.correlations[0].id, "C1");
  EXPECT_EQ(defs.correlations[0].rule_indexes, (std::vector<size_t>{2, 3}));
  EXPECT_EQ(defs.correlations[1].id, "C2");
  EXPECT_EQ(defs.correlations[1].pos.ToString(), "b.yaml:5:5");
}

TEST_F(CorrelationSyntaxTest, TopLevelKeysIncludeCorrelations) {
  Load("rules: []\ncorrelation: []\n");
  ExpectOnly("unknown-key", "r.yaml:2:1", "allowed: lists, macros, rules, catalogs, correlations");
}

TEST_F(CorrelationSyntaxTest, UnknownCorrelationKey) {
  const auto& defs = LoadCorrelations(Corr("event_count").Extra("    timespam: 2h\n"));
  ExpectOnly("unknown-key", "r.yaml:13:5", "unknown key 'timespam' in a correlation (allowed: id");
  EXPECT_EQ(defs.correlations.size(), 1u);  // the rest is kept
}

TEST_F(CorrelationSyntaxTest, MissingRequiredCorrelationKeys) {
  LoadCorrelations("  - {id: C1, title: t, rules: [A]}\n");
  const auto missing = All("missing-key");
  // severity, type, group_by, timespan (and nothing about the type's keys: there is no type).
  ASSERT_EQ(missing.size(), 4u) << Dump(diags_);
  for (const auto& d : missing) EXPECT_EQ(d.pos.ToString(), "r.yaml:5:5") << d.ToString();
  EXPECT_NE(missing[0].message.find("correlation has no 'severity'"), std::string::npos);
  EXPECT_NE(missing[1].message.find("'type'"), std::string::npos);
}

TEST_F(CorrelationSyntaxTest, BadType) {
  LoadCorrelations(Corr("count"));
  ExpectOnly("invalid-correlation-type", "r.yaml:8:11",
             "must be one of event_count, value_count, temporal; got 'count'");
}

TEST_F(CorrelationSyntaxTest, FieldOnEventCountOrTemporal) {
  LoadCorrelations(Corr("event_count").Field("account"));
  ExpectOnly("key-not-for-type", "r.yaml:12:5", "'field' is for value_count correlations");
  LoadCorrelations(Corr("temporal").Field("account"));
  ExpectOnly("key-not-for-type", "r.yaml:12:5", "this one is temporal");
}

TEST_F(CorrelationSyntaxTest, ValueCountWithoutField) {
  LoadCorrelations(Corr("value_count").Field(std::nullopt));
  ExpectOnly("missing-key", "r.yaml:5:5", "has no 'field'");
}

TEST_F(CorrelationSyntaxTest, ConditionMissingOrOnTemporal) {
  LoadCorrelations(Corr("event_count").Condition(std::nullopt));
  ExpectOnly("missing-key", "r.yaml:5:5", "has no 'condition'");
  LoadCorrelations(Corr("value_count").Condition(std::nullopt));
  ExpectOnly("missing-key", "r.yaml:5:5", "value_count correlations need one");
  LoadCorrelations(Corr("temporal").Condition("{gte: 2}"));
  ExpectOnly("key-not-for-type", "r.yaml:12:5", "a temporal correlation takes no 'condition'");
}

TEST_F(CorrelationSyntaxTest, ConditionIsOneOfGteOrGtWithAPositiveInteger) {
  auto load = [&](const std::string& condition) {
    LoadCorrelations(Corr("event_count").Condition(condition));
  };
  load("{gte: 0}");
  ExpectOnly("invalid-threshold", "r.yaml:12:22", "'gte' must be a positive integer, got '0'");
  load("{gt: -2}");
  ExpectOnly("invalid-threshold", "r.yaml:12:21", "got '-2'");
  load("{gte: 2.5}");
  ExpectOnly("invalid-threshold", "r.yaml:12:22");
  load("{gte: '+3'}");
  ExpectOnly("invalid-threshold", "r.yaml:12:22");
  load("{}");
  ExpectOnly("invalid-threshold", "r.yaml:12:16", "needs 'gte' or 'gt'");
  load("{gte: 3, gt: 2}");
  ExpectOnly("conflicting-keys", "r.yaml:12:25", "not both");
  load("{lt: 3}");
  ExpectOnly("unknown-key", "r.yaml:12:17", "allowed: gte, gt");
  load("3");
  ExpectOnly("wrong-type", "r.yaml:12:16", "must be a mapping");
  load("{gt: 1}");
  EXPECT_FALSE(diags_.has_errors()) << Dump(diags_);
  EXPECT_EQ(defs_->correlations[0].threshold, 1u);
  EXPECT_TRUE(defs_->correlations[0].greater);
}

TEST_F(CorrelationSyntaxTest, GroupByOneToThreeKnownFieldsNoneTwice) {
  auto load = [&](const std::string& group_by) {
    LoadCorrelations(Corr("event_count").GroupBy(group_by));
  };
  load("[]");
  ExpectOnly("invalid-group-by", "r.yaml:10:15", "'group_by' needs at least one field");
  load("[account, region, zone, principal]");
  ExpectOnly("invalid-group-by", "r.yaml:10:39", "at most 3 fields");
  load("[account, region, account]");
  ExpectOnly("invalid-group-by", "r.yaml:10:33", "field 'account' is twice in 'group_by'");
  load("[account, sorce.ip]");
  ExpectOnly("unknown-field", "r.yaml:10:25", "unknown field 'sorce.ip' in 'group_by'");
  load("source.ip");
  ExpectOnly("wrong-type", "r.yaml:10:15", "'group_by' must be a sequence");
  LoadCorrelations(Corr("value_count").GroupBy("[source.ip, account]"));
  ExpectOnly("invalid-group-by", "r.yaml:12:12", "'field' account is also in 'group_by'");
}

TEST_F(CorrelationSyntaxTest, CountedFieldMustBeKnown) {
  LoadCorrelations(Corr("value_count").Field("acount"));
  ExpectOnly("unknown-field", "r.yaml:12:12", "unknown field 'acount' in 'field'");
}

TEST_F(CorrelationSyntaxTest, DurationsParseAndAreAtMostThirtyDays) {
  auto load = [&](const std::string& timespan, const std::string& extra = "") {
    LoadCorrelations(Corr("temporal").Timespan(timespan).Extra(extra));
  };
  load("24");
  ExpectOnly("invalid-duration", "r.yaml:11:15",
             "'timespan' must be a duration: a positive integer followed by s, m, h or d");
  load("0s");
  ExpectOnly("invalid-duration", "r.yaml:11:15", "got '0s'");
  load("1w");
  ExpectOnly("invalid-duration", "r.yaml:11:15", "got '1w'");
  load("31d");
  ExpectOnly("window-too-long", "r.yaml:11:15", "'timespan' is 31d, over 30 days");
  load("721h");
  ExpectOnly("window-too-long", "r.yaml:11:15");
  load("720h");
  EXPECT_FALSE(diags_.has_errors()) << Dump(diags_);
  EXPECT_EQ(defs_->correlations[0].timespan_ms, int64_t{720} * 3600 * 1000);
  load("1h", "    suppress: {for: 43201m}\n");
  ExpectOnly("window-too-long", "r.yaml:12:21", "'suppress.for' is 43201m");
  load("1h", "    suppress: {for: soon}\n");
  ExpectOnly("invalid-duration", "r.yaml:12:21", "'suppress.for' must be a duration");
  load("1h", "    suppress: {by: [account], for: 1h}\n");
  ExpectOnly("unknown-key", "r.yaml:12:16", "in a correlation's 'suppress' (allowed: for)");
  load("1h", "    suppress: {}\n");
  ExpectOnly("missing-key", "r.yaml:12:15", "has no 'for'");
}

TEST_F(CorrelationSyntaxTest, RulesListNonEmptyKnownNoneTwice) {
  LoadCorrelations(Corr("event_count").Rules("[]"));
  ExpectOnly("invalid-correlation-rules", "r.yaml:9:12", "'rules' names no rule");
  LoadCorrelations(Corr("event_count").Rules("[A, B, A]"));
  ExpectOnly("invalid-correlation-rules", "r.yaml:9:19", "rule 'A' is twice in 'rules'");
  LoadCorrelations(Corr("event_count").Rules("[A, CW-NOPE]"));
  ExpectOnly("unknown-rule", "r.yaml:9:16", "lists 'CW-NOPE', which is no rule's id");
  // C1 takes lines 5 to 13, C2 starts at 14: its rules at 18.
  LoadCorrelations(std::string(Corr("event_count")) +
                   std::string(Corr("event_count").Id("C2").Rules("[C1]")));
  ExpectOnly("unknown-rule", "r.yaml:18:13", "(it is a correlation's)");
}

TEST_F(CorrelationSyntaxTest, TemporalListsTwoToThirtyTwoRules) {
  LoadCorrelations(Corr("temporal").Rules("[A]"));
  ExpectOnly("invalid-correlation-rules", "r.yaml:9:12", "lists 2 to 32 rules, got 1");
  std::string rules = "rules:\n";
  std::string ids = "[";
  for (int i = 0; i < 33; ++i) {
    const std::string id = "R" + std::to_string(i);
    rules += "  - {id: " + id + ", title: t, severity: low, condition: {exists: zone}}\n";
    ids += (i ? ", " : "") + id;
  }
  // 33 rules on lines 2 to 34, correlations: 35, the correlation from 36: rules at 40.
  Load(rules + "correlations:\n" + std::string(Corr("temporal").Rules(ids + "]")));
  ExpectOnly("invalid-correlation-rules", "r.yaml:40:12", "got 33");
  EXPECT_EQ(diags_.error_count(), 1u) << Dump(diags_);
  // 32 is fine.
  Load(rules + "correlations:\n" +
       std::string(Corr("temporal").Rules(ids.substr(0, ids.rfind(',')) + "]")));
  EXPECT_FALSE(diags_.has_errors()) << Dump(diags_);
}

TEST_F(CorrelationSyntaxTest, DuplicateCorrelationIds) {
  // b.yaml: C1 on lines 2 to 9, B from line 10.
  Load({{"a.yaml", kRules + std::string(Corr("temporal"))},
        {"b.yaml", "correlations:\n" + std::string(Corr("temporal")) +
                       std::string(Corr("temporal").Id("B"))}});
  const auto found = All("duplicate-correlation-id");
  ASSERT_EQ(found.size(), 2u) << Dump(diags_);
  EXPECT_EQ(found[0].pos.ToString(), "b.yaml:2:5");
  EXPECT_NE(found[0].message.find("'C1' is already used at a.yaml:5:5"), std::string::npos);
  EXPECT_EQ(found[1].pos.ToString(), "b.yaml:10:5");
  EXPECT_NE(found[1].message.find("'B' is already a rule's id at a.yaml:3:5"), std::string::npos);
  EXPECT_EQ(defs_->correlations.size(), 1u);
}

TEST_F(CorrelationSyntaxTest, ReasonTemplateGroupFieldsAndCount) {
  auto load = [&](const std::string& reason) {
    LoadCorrelations(Corr("temporal").Extra("    reason: '" + reason + "'\n"));
  };
  load("{count} from {group.account}");
  ExpectOnly("invalid-reason", "r.yaml:5:5",
             "{group.account} names a field that is not in 'group_by'");
  load("{group.nope}");
  ExpectOnly("invalid-reason", "r.yaml:5:5", "unknown field {group.nope}");
  load("{group.source.ip}: {count} ({region})");
  EXPECT_FALSE(diags_.has_errors()) << Dump(diags_);
  EXPECT_EQ(defs_->correlations[0].reason_parts.size(), 6u);
  // {count} and {group.*} are for correlations only.
  Load(
      "rules:\n  - {id: A, title: t, severity: low, reason: '{count}', condition: {exists: "
      "zone}}\n");
  ExpectOnly("invalid-reason", "r.yaml:2:5", "unknown field {count}");
}

TEST_F(CorrelationSyntaxTest, RuleSuppressAndAlert) {
  auto load = [&](const std::string& keys) {
    Load("rules:\n  - id: A\n    title: t\n    severity: low\n    condition: {exists: zone}\n" +
         keys + "    tests: [{event: {x: 1}, expect: none}]\n");
  };
  load("    suppress: {by: [account, accelerator.family], for: 1h}\n");
  EXPECT_TRUE(diags_.items().empty()) << Dump(diags_);
  load("    suppress: {by: [], for: 1h}\n");
  ExpectOnly("invalid-group-by", "r.yaml:6:20", "'suppress.by' needs at least one field");
  load("    suppress: {by: [account, account], for: 1h}\n");
  ExpectOnly("invalid-group-by", "r.yaml:6:30", "twice in 'suppress.by'");
  load("    suppress: {by: [acount], for: 1h}\n");
  ExpectOnly("unknown-field", "r.yaml:6:21", "unknown field 'acount' in 'suppress.by'");
  load("    suppress: {by: [account], for: 60}\n");
  ExpectOnly("invalid-duration", "r.yaml:6:36", "'suppress.for' must be a duration");
  load("    suppress: {by: [account], for: 31d}\n");
  ExpectOnly("window-too-long", "r.yaml:6:36");
  load("    suppress: {by: [account]}\n");
  ExpectOnly("missing-key", "r.yaml:6:15", "'suppress' has no 'for'");
  load("    suppress: {by: account, for: 1h}\n");
  ExpectOnly("wrong-type", "r.yaml:6:20", "'by' must be a sequence");
  load("    suppress: {for: 1h, key: [account]}\n");
  ExpectOnly("unknown-key", "r.yaml:6:25", "allowed: by, for");
  load("    suppress: 1h\n");
  ExpectOnly("wrong-type", "r.yaml:6:15", "'suppress' must be a mapping");
  load("    alert: no-thanks\n");
  ExpectOnly("wrong-type", "r.yaml:6:12", "'alert' must be true or false");
}

TEST_F(CorrelationSyntaxTest, AlertFalseOnARuleThatFeedsNothingIsAWarning) {
  Load(kRules);  // A has `alert: false`, and there are no correlations
  ExpectWarning("rule-feeds-nothing", "r.yaml:2:5",
                "rule 'A' has 'alert: false' and no correlation lists it");
  LoadCorrelations(Corr("event_count").Rules("[A]"));
  EXPECT_TRUE(diags_.items().empty()) << Dump(diags_);
}

TEST_F(CorrelationSyntaxTest, CorrelationListingADisabledRuleIsAWarning) {
  Load({{"r.yaml", kRules + std::string(Corr("temporal").Rules("[A, B, D]"))},
        {"d.yaml",
         "rules:\n  - {id: D, title: t, severity: low, enabled: false, condition: "
         "{exists: zone}}\n"}});
  ExpectWarning("disabled-rule-in-correlation", "r.yaml:9:19", "lists rule 'D', which is disabled");
}

TEST_F(CorrelationSyntaxTest, CorrelationWithoutTestsOrDisabledIsAWarning) {
  LoadCorrelations(Corr("temporal").NoTests());
  ExpectWarning("correlation-without-tests", "r.yaml:5:5", "correlation 'C1' has no tests");
  LoadCorrelations(Corr("temporal").NoTests().Extra("    enabled: false\n"));
  ExpectWarning("correlation-disabled", "r.yaml:5:5", "correlation 'C1' is disabled");
  EXPECT_TRUE(All("correlation-without-tests").empty());
}

TEST_F(CorrelationSyntaxTest, CorrelationTestsTakeTheMultiEventForm) {
  LoadCorrelations(
      Corr("temporal").NoTests().Extra("    tests: [{event: {x: 1}, expect: alert}]\n"));
  ExpectOnly("invalid-expect", "r.yaml:12:37", "a correlation test takes the multi-event form");
}

// The multi-event tests of rule B (on line 3 of `rules`, the tests below from line 5).
class MultiEventTestTest : public CorrelationSyntaxTest {
 protected:
  void LoadTests(const std::string& tests) {
    Load(
        "rules:\n"
        "  - {id: S, title: t, severity: low, suppress: {by: [account], for: 1h}, condition: "
        "{exists: zone}, tests: [{event: {x: 1}, expect: none}]}\n"
        "  - id: Q\n    title: t\n    severity: low\n    alert: false\n"
        "    condition: {exists: zone}\n    tests:\n" +
        tests + "correlations:\n" + std::string(Corr("temporal").Rules("[S, Q]")));
  }
};

TEST_F(MultiEventTestTest, EventsNonEmptyEachWithOneRecord) {
  LoadTests("      - {events: [], expect: []}\n");
  ExpectOnly("missing-test-event", "r.yaml:9:18", "'events' is empty");
  LoadTests("      - {name: n, expect: [{rule: S, kind: event}]}\n");
  ExpectOnly("missing-test-event", "r.yaml:9:9", "multi-event test has no 'events'");
  LoadTests("      - {events: [{format: cloudtrail}], expect: []}\n");
  ExpectOnly("missing-test-event", "r.yaml:9:19",
             "test event has neither 'event' nor 'event_json'");
  LoadTests("      - {events: [{event: {a: 1}, event_json: '{}'}], expect: []}\n");
  ExpectOnly("conflicting-keys", "r.yaml:9:35", "test event has both");
  LoadTests("      - {events: [{event: [1]}], expect: []}\n");
  ExpectOnly("wrong-type", "r.yaml:9:27", "'event' must be a mapping");
  LoadTests(
      "      - {events: [{event: {a: 1}, format: syslog, enrich: {countri: x}}], expect: []}\n");
  ExpectOnly("invalid-format", "r.yaml:9:43", "unknown test format 'syslog'");
  ExpectOnly("unknown-field", "r.yaml:9:60", "unknown field 'countri' in 'enrich'");
  LoadTests("      - {events: {event: {a: 1}}, expect: []}\n");
  ExpectOnly("wrong-type", "r.yaml:9:18", "'events' must be a sequence");
  LoadTests("      - {events: [{event: {a: 1}, expect: none}], expect: []}\n");
  ExpectOnly("unknown-key", "r.yaml:9:35", "in a test event (allowed: format, enrich, event");
}

TEST_F(MultiEventTestTest, SingleEventKeysDoNotMixWithEvents) {
  LoadTests("      - {events: [{event: {a: 1}}], format: cloudtrail, severity: low, expect: []}\n");
  const auto found = All("conflicting-keys");
  ASSERT_EQ(found.size(), 2u) << Dump(diags_);
  EXPECT_EQ(found[0].pos.ToString(), "r.yaml:9:37");
  EXPECT_NE(found[0].message.find("a multi-event test takes no 'format'"), std::string::npos);
  EXPECT_EQ(found[1].pos.ToString(), "r.yaml:9:57");
  LoadTests("      - {events: [{event: {a: 1}}], expect: alert}\n");
  ExpectOnly("invalid-expect", "r.yaml:9:45", "must be a sequence of alerts");
  LoadTests("      - {events: [{event: {a: 1}}]}\n");
  ExpectOnly("invalid-expect", "r.yaml:9:9", "multi-event test has no 'expect'");
}

TEST_F(MultiEventTestTest, ExpectedAlertsNameWhatThePolicyCanRaise) {
  auto load = [&](const std::string& alert) {
    LoadTests("      - events: [{event: {a: 1}}]\n        expect:\n          - " + alert + "\n");
  };
  load("{kind: event}");
  ExpectOnly("missing-key", "r.yaml:11:13", "expected alert has no 'rule'");
  load("{rule: S}");
  ExpectOnly("missing-key", "r.yaml:11:13", "expected alert has no 'kind'");
  load("{rule: S, kind: alert}");
  ExpectOnly("invalid-expect", "r.yaml:11:29", "'kind' must be event, correlation or summary");
  load("{rule: CW-NOPE, kind: event}");
  ExpectOnly("unknown-rule", "r.yaml:11:13", "expected alert of 'CW-NOPE'");
  load("{rule: S, kind: correlation}");
  ExpectOnly("invalid-expect", "r.yaml:11:13", "'S' is a rule");
  load("{rule: C1, kind: event}");
  ExpectOnly("invalid-expect", "r.yaml:11:13", "'C1' is a correlation");
  load("{rule: Q, kind: event}");
  ExpectOnly("invalid-expect", "r.yaml:11:13", "rule 'Q' has 'alert: false'");
  load("{rule: S, kind: event, count: 2}");
  ExpectOnly("invalid-expect", "r.yaml:11:13", "an event alert has no 'group' or 'count'");
  load("{rule: Q, kind: summary}");
  ExpectOnly("invalid-expect", "r.yaml:11:13", "rule 'Q' has no 'suppress'");
  load("{rule: S, kind: summary, group: {region: x}}");
  ExpectOnly("invalid-expect", "r.yaml:11:13", "'group' names 'region'");
  load("{rule: C1, kind: correlation, group: {source.ip: 203.0.113.7}, count: 0}");
  ExpectOnly("invalid-expect", "r.yaml:11:83", "'count' must be a positive integer, got '0'");
  load("{rule: C1, kind: correlation, group: {sorce.ip: x}}");
  ExpectOnly("unknown-field", "r.yaml:11:51", "unknown field 'sorce.ip' in 'group'");
  load("{rule: S, kind: summary, group: {account: '1'}, count: 2}");
  EXPECT_FALSE(diags_.has_errors()) << Dump(diags_);
}

}  // namespace
}  // namespace chipwatch
