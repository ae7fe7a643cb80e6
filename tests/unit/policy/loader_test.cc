// Tests for the policy reader and collector (policy/loader.h): every error path with its position.
#include "policy/loader.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "../common/temp_dir.h"

namespace chipwatch {
namespace {

using testing::TempDir;

std::string Dump(const Diagnostics& diags) {
  std::string out;
  for (const auto& d : diags.items()) out += d.ToString() + "\n";
  return out;
}

class LoaderTest : public ::testing::Test {
 protected:
  const PolicyDefinitions& Load(std::vector<std::pair<std::string, std::string>> files) {
    diags_ = Diagnostics();
    defs_ = LoadDefinitionsFromStrings(files, diags_);
    return *defs_;
  }
  const PolicyDefinitions& Load(const std::string& text) { return Load({{"r.yaml", text}}); }

  // The first diagnostic with `code`; fails the test when there is none.
  const Diagnostic& Find(const std::string& code) {
    for (const auto& d : diags_.items()) {
      if (d.code == code) return d;
    }
    ADD_FAILURE() << "no diagnostic " << code << " in:\n" << Dump(diags_);
    static const Diagnostic kNone;
    return kNone;
  }
  std::vector<Diagnostic> Errors() const {
    std::vector<Diagnostic> out;
    for (const auto& d : diags_.items()) {
      if (d.level == Diagnostic::Level::kError) out.push_back(d);
    }
    return out;
  }
  size_t Count(const std::string& code) const {
    size_t n = 0;
    for (const auto& d : diags_.items()) n += d.code == code;
    return n;
  }
  void ExpectError(const std::string& code, const std::string& where,
                   const std::string& message_part = "") {
    const Diagnostic& d = Find(code);
    EXPECT_EQ(d.level, Diagnostic::Level::kError) << d.ToString();
    EXPECT_EQ(d.pos.ToString(), where) << d.ToString();
    if (!message_part.empty()) {
      EXPECT_NE(d.message.find(message_part), std::string::npos) << d.ToString();
    }
  }

  Diagnostics diags_;
  std::unique_ptr<PolicyDefinitions> defs_;
};

// A valid rule in flow style with the given condition (flow YAML).
std::string Rule(const std::string& id, const std::string& condition) {
  return "  - {id: " + id + ", title: t, severity: high, condition: " + condition + "}\n";
}

TEST_F(LoaderTest, SpecExampleLoadsWithoutErrors) {
  const auto& defs = Load(R"y(lists:
  - name: provisioning_actions
    description: API calls that provision accelerator capacity
    source: AWS EC2 API reference
    items: [RunInstances, StartInstances]
macros:
  - name: restricted_accelerator
    condition:
      equals: {field: accelerator.status, value: restricted}
  - name: restricted_accelerator_provisioned
    condition:
      all:
        - macro: restricted_accelerator
        - in: {field: action, list: provisioning_actions}
rules:
  - id: CW-HW-001
    title: Restricted accelerator provisioned from a restricted destination
    description: >
      Longer text.
    severity: critical
    severity_from:
      field: source.tier
      map: {embargoed: critical, licence-required: medium}
    tags: [export-control, hardware]
    enabled: true
    effective_from: 2022-10-07
    effective_until: 2030-01-01
    reason: "{accelerator.family} via {instance.type} from {source.country} ({source.tier})"
    condition:
      all:
        - macro: restricted_accelerator_provisioned
        - exists: source.tier
        - gte: {field: accelerator.count, value: 1}
    tests:
      - name: p5.48xlarge launched from China
        format: cloudtrail
        enrich: {source.country: CN}
        event: {eventName: RunInstances, awsRegion: us-east-1}
        expect: alert
        severity: critical
)y");
  EXPECT_FALSE(diags_.has_errors()) << Dump(diags_);
  EXPECT_EQ(diags_.warning_count(), 0u) << Dump(diags_);
  ASSERT_EQ(defs.rules.size(), 1u);
  const RuleDef& rule = defs.rules[0];
  EXPECT_EQ(rule.id, "CW-HW-001");
  EXPECT_EQ(rule.severity, Severity::kCritical);
  EXPECT_EQ(rule.pos.ToString(), "r.yaml:16:5");
  EXPECT_EQ(rule.effective_from_ms, ParseDateMs("2022-10-07"));
  EXPECT_EQ(rule.effective_until_ms, ParseDateMs("2030-01-01"));
  ASSERT_TRUE(rule.severity_from);
  EXPECT_EQ(rule.severity_from->field_id, FieldId::kSourceTier);
  ASSERT_EQ(rule.severity_from->map.size(), 2u);
  EXPECT_EQ(rule.severity_from->map[1].second, Severity::kMedium);
  EXPECT_EQ(rule.tags, (std::vector<std::string>{"export-control", "hardware"}));
  ASSERT_EQ(rule.reason_parts.size(), 8u);
  EXPECT_EQ(rule.reason_parts[0].field, FieldId::kAcceleratorFamily);
  EXPECT_EQ(rule.reason_parts[1].literal, " via ");
  ASSERT_EQ(rule.condition.children.size(), 3u);
  EXPECT_EQ(rule.condition.children[1].field_id, FieldId::kSourceTier);
  EXPECT_EQ(rule.condition.children[2].number, 1);
  ASSERT_EQ(rule.tests.size(), 1u);
  EXPECT_EQ(rule.tests[0].format, Format::kCloudTrail);
  EXPECT_TRUE(rule.tests[0].expect_alert);
  EXPECT_EQ(rule.tests[0].expect_severity, Severity::kCritical);
  EXPECT_EQ(rule.tests[0].enrich[0], (std::pair<std::string, std::string>{"source.country", "CN"}));
  EXPECT_EQ(rule.tests[0].event_json, R"({"eventName":"RunInstances","awsRegion":"us-east-1"})");
  ASSERT_EQ(defs.macros.size(), 2u);
  EXPECT_EQ(defs.macros[0].condition.field_id, FieldId::kAcceleratorStatus);
  EXPECT_EQ(defs.files, std::vector<std::string>{"r.yaml"});
}

TEST_F(LoaderTest, YamlSyntaxErrorHasPosition) {
  Load("rules:\n  - id: x\n    title: [unclosed\n");
  ASSERT_EQ(diags_.error_count(), 1u) << Dump(diags_);
  const Diagnostic& d = Find("yaml-syntax");
  EXPECT_EQ(d.pos.file, "r.yaml");
  EXPECT_GE(d.pos.line, 3);
  EXPECT_GE(d.pos.column, 1);
  EXPECT_NE(d.ToString().find("YAML syntax error"), std::string::npos);
}

TEST_F(LoaderTest, TabIndentationIsSyntaxErrorWithLineAndColumn) {
  Load("rules:\n\t- id: x\n");
  ExpectError("yaml-syntax", "r.yaml:2:2", "illegal block entry");
}

TEST_F(LoaderTest, UnknownTopLevelKeyListsAllowed) {
  Load("rules: []\nrulez: []\n");
  ExpectError("unknown-key", "r.yaml:2:1", "allowed: lists, macros, rules, catalogs");
}

TEST_F(LoaderTest, UnknownRuleKey) {
  Load(
      "rules:\n  - id: A\n    titel: x\n    title: t\n    severity: low\n"
      "    condition: {exists: provider}\n");
  ExpectError("unknown-key", "r.yaml:3:5", "unknown key 'titel' in a rule");
  EXPECT_EQ(defs_->rules.size(), 1u);  // the rest of the rule is kept
}

TEST_F(LoaderTest, MissingRequiredRuleKeys) {
  Load("rules:\n  - id: A\n    severity: low\n");
  EXPECT_EQ(Count("missing-key"), 2u) << Dump(diags_);  // title, condition
  ExpectError("missing-key", "r.yaml:2:5", "has no 'title'");
}

TEST_F(LoaderTest, UnknownListKeyAndItemsNotASequence) {
  Load("lists:\n  - name: a\n    itemz: [x]\n    items: x\n");
  ExpectError("unknown-key", "r.yaml:3:5", "allowed: name, description, source, items, append");
  ExpectError("wrong-type", "r.yaml:4:12", "'items' must be a sequence");
}

TEST_F(LoaderTest, UnknownConditionAndOperatorKeys) {
  Load("rules:\n" + Rule("A", "{equal: {field: provider, value: aws}}") +
       Rule("B", "{equals: {field: provider, value: aws, ignorecase: true}}"));
  const auto items = Errors();
  ASSERT_EQ(items.size(), 2u) << Dump(diags_);
  EXPECT_EQ(items[0].code, "unknown-key");
  EXPECT_EQ(items[0].pos.ToString(), "r.yaml:2:51");
  EXPECT_NE(items[0].message.find("all, any, not, macro, equals"), std::string::npos);
  EXPECT_EQ(items[1].code, "unknown-key");
  EXPECT_EQ(items[1].pos.ToString(), "r.yaml:3:89");
  EXPECT_NE(items[1].message.find("allowed: field, value, ignore_case"), std::string::npos);
}

TEST_F(LoaderTest, ConditionWithTwoOperators) {
  Load(
      "rules:\n  - id: A\n    title: t\n    severity: low\n    condition:\n"
      "      exists: provider\n      equals: {field: provider, value: aws}\n");
  ExpectError("conflicting-keys", "r.yaml:7:7", "exactly one key");
}

TEST_F(LoaderTest, InvalidSeverity) {
  Load("rules:\n  - id: A\n    title: t\n    severity: urgent\n    condition: {exists: region}\n");
  ExpectError("invalid-severity", "r.yaml:4:15", "info, low, medium, high, critical");
}

TEST_F(LoaderTest, WrongScalarTypes) {
  Load(
      "rules:\n  - id: A\n    title: t\n    severity: low\n    enabled: maybe\n"
      "    tags: {a: b}\n    condition: {exists: region}\n");
  ExpectError("wrong-type", "r.yaml:5:14", "'enabled' must be true or false");
  EXPECT_EQ(Count("wrong-type"), 2u) << Dump(diags_);
}

TEST_F(LoaderTest, DuplicateRuleIdAcrossFiles) {
  Load({{"a.yaml", "rules:\n" + Rule("X", "{exists: region}")},
        {"b.yaml", "rules:\n" + Rule("Y", "{exists: region}") + Rule("X", "{exists: zone}")}});
  ExpectError("duplicate-rule-id", "b.yaml:3:5", "already used at a.yaml:2:5");
  EXPECT_EQ(defs_->rules.size(), 2u);
}

TEST_F(LoaderTest, ListAppendAcrossFiles) {
  const auto& defs =
      Load({{"a.yaml", "lists:\n  - {name: acts, items: [RunInstances]}\n"},
            {"b.yaml", "lists:\n  - name: acts\n    append: true\n    items: [CreateFleet, X]\n"}});
  EXPECT_FALSE(diags_.has_errors()) << Dump(diags_);
  const ListDef* list = defs.FindList("acts");
  ASSERT_NE(list, nullptr);
  EXPECT_EQ(list->items, (std::vector<std::string>{"RunInstances", "CreateFleet", "X"}));
  ASSERT_EQ(list->item_pos.size(), 3u);
  EXPECT_EQ(list->item_pos[1].ToString(), "b.yaml:4:13");
  EXPECT_EQ(defs.lists.size(), 1u);
}

TEST_F(LoaderTest, DuplicateListWithoutAppend) {
  Load({{"a.yaml", "lists:\n  - {name: acts, items: [A]}\n"},
        {"b.yaml", "lists:\n  - {name: acts, items: [B]}\n"}});
  ExpectError("duplicate-list", "b.yaml:2:5", "already defined at a.yaml:2:5");
  EXPECT_EQ(defs_->FindList("acts")->items, std::vector<std::string>{"A"});
}

TEST_F(LoaderTest, AppendToUnknownList) {
  Load("lists:\n  - {name: nope, append: true, items: [A]}\n");
  ExpectError("unknown-list", "r.yaml:2:5", "'append: true' for list 'nope'");
}

TEST_F(LoaderTest, EmptyListIsFineAndCanBeAppendedTo) {
  Load("lists:\n  - {name: e, items: []}\n  - {name: e, append: true, items: [x]}\n");
  EXPECT_TRUE(diags_.items().empty());
  EXPECT_EQ(defs_->FindList("e")->items, std::vector<std::string>{"x"});
}

TEST_F(LoaderTest, UnknownMacro) {
  Load("rules:\n" + Rule("A", "{all: [{exists: region}, {macro: nope}]}"));
  ExpectError("unknown-macro", "r.yaml:2:75", "unknown macro 'nope'");
}

TEST_F(LoaderTest, MacroCycleIsReportedOnce) {
  Load(
      "macros:\n  - {name: a, condition: {macro: b}}\n  - {name: b, condition: {any: "
      "[{exists: region}, {macro: a}]}}\n  - {name: self, condition: {not: {macro: self}}}\n"
      "rules:\n" +
      Rule("R", "{macro: a}"));
  EXPECT_EQ(Count("macro-cycle"), 2u) << Dump(diags_);
  ExpectError("macro-cycle", "r.yaml:3:51", "macro cycle: a -> b -> a");
  EXPECT_EQ(Errors()[1].message, "macro cycle: self -> self");
}

TEST_F(LoaderTest, MacrosMayReferToLaterMacros) {
  Load("macros:\n  - {name: a, condition: {macro: b}}\n  - {name: b, condition: {exists: zone}}\n");
  EXPECT_FALSE(diags_.has_errors()) << Dump(diags_);
}

TEST_F(LoaderTest, DuplicateMacro) {
  Load(
      "macros:\n  - {name: a, condition: {exists: zone}}\n  - {name: a, condition: {exists: "
      "zone}}\n");
  ExpectError("duplicate-macro", "r.yaml:3:5", "already defined at r.yaml:2:5");
}

TEST_F(LoaderTest, InvalidDatesAndRange) {
  Load(
      "rules:\n  - id: A\n    title: t\n    severity: low\n    effective_from: 2023-02-30\n"
      "    condition: {exists: region}\n"
      "  - id: B\n    title: t\n    severity: low\n    effective_from: 2024-01-01\n"
      "    effective_until: 2023-01-01\n    condition: {exists: region}\n");
  ExpectError("invalid-date", "r.yaml:5:21", "YYYY-MM-DD");
  ExpectError("invalid-date-range", "r.yaml:11:22");
}

TEST_F(LoaderTest, UnknownFields) {
  Load("rules:\n" + Rule("A", "{equals: {field: source.cuntry, value: CN}}") +
       Rule("B", "{exists: nope}"));
  EXPECT_EQ(Count("unknown-field"), 2u) << Dump(diags_);
  ExpectError("unknown-field", "r.yaml:2:50", "unknown field 'source.cuntry' in 'equals'");
}

TEST_F(LoaderTest, TypeMismatches) {
  Load("rules:\n" + Rule("A", "{regex: {field: accelerator.count, pattern: '8'}}") +
       Rule("B", "{cidr: {field: region, items: [10.0.0.0/8]}}") +
       Rule("C", "{gt: {field: region, value: 3}}") +
       Rule("D", "{equals: {field: model.frontier, value: yes}}") +
       Rule("E", "{contains: {field: response.code, value: '4'}}"));
  EXPECT_EQ(Count("type-mismatch"), 4u) << Dump(diags_);
  ExpectError("type-mismatch", "r.yaml:2:50",
              "'regex' needs a string field; 'accelerator.count' is a number");
  const auto items = Errors();
  EXPECT_NE(items[1].message.find("'cidr' needs an ip field; 'region' is a string"),
            std::string::npos);
  EXPECT_NE(items[2].message.find("'gt' needs a number field"), std::string::npos);
  ExpectError("invalid-bool", "r.yaml:5:50", "needs true or false");
}

TEST_F(LoaderTest, NumbersAndEventTimeValues) {
  const auto& defs = Load("rules:\n" + Rule("A", "{gt: {field: accelerator.count, value: 1.5}}") +
                          Rule("B", "{gte: {field: event.time, value: 2024-01-01}}") +
                          Rule("C", "{lt: {field: event.time, value: '2024-01-01T00:00:01Z'}}") +
                          Rule("D", "{equals: {field: response.code, value: 403}}"));
  EXPECT_EQ(diags_.error_count(), 1u) << Dump(diags_);
  ExpectError("invalid-number", "r.yaml:2:50", "needs an integer value");
  EXPECT_EQ(defs.rules[1].condition.number, *ParseDateMs("2024-01-01"));
  EXPECT_EQ(defs.rules[2].condition.number, *ParseDateMs("2024-01-01") + 1000);
  EXPECT_EQ(defs.rules[3].condition.number, 403);
}

TEST_F(LoaderTest, InvalidCidrInlineAndInList) {
  Load(
      "lists:\n  - name: nets\n    items: [10.0.0.0/8, 300.1.1.1/8, '2001:db8::/129']\n"
      "rules:\n" +
      Rule("A", "{cidr: {field: source.ip, items: [192.168.0.0/16, 10.0.0.0/33]}}") +
      Rule("B", "{cidr: {field: source.ip, list: nets}}") +
      Rule("C", "{cidr: {field: source.ip, list: nets}}"));
  EXPECT_EQ(Count("invalid-cidr"), 3u) << Dump(diags_);  // list items reported once
  ExpectError("invalid-cidr", "r.yaml:5:100", "invalid CIDR '10.0.0.0/33': bad prefix length");
  const auto items = Errors();
  EXPECT_EQ(items[1].pos.ToString(), "r.yaml:3:25");
  EXPECT_NE(items[1].message.find("'300.1.1.1' is not an IPv4 or IPv6 address"), std::string::npos);
  EXPECT_EQ(items[2].pos.ToString(), "r.yaml:3:38");
}

TEST_F(LoaderTest, UnknownListInInAndCidr) {
  Load("rules:\n" + Rule("A", "{in: {field: action, list: acts}}") +
       Rule("B", "{cidr: {field: source.ip, list: nets}}"));
  EXPECT_EQ(Count("unknown-list"), 2u) << Dump(diags_);
  ExpectError("unknown-list", "r.yaml:2:50", "unknown list 'acts' in 'in'");
}

TEST_F(LoaderTest, InNeedsListOrItems) {
  Load("rules:\n" + Rule("A", "{in: {field: action}}") +
       Rule("B", "{in: {field: action, list: a, items: [b]}}"));
  ExpectError("missing-key", "r.yaml:2:55", "exactly one of 'list' or 'items'");
  ExpectError("conflicting-keys", "r.yaml:3:55");
}

TEST_F(LoaderTest, BadReasonPlaceholders) {
  Load(
      "rules:\n  - id: A\n    title: t\n    severity: low\n    reason: '{source.country} {nope}'\n"
      "    condition: {exists: region}\n"
      "  - id: B\n    title: t\n    severity: low\n    reason: 'from {source.country'\n"
      "    condition: {exists: region}\n"
      "  - id: C\n    title: t\n    severity: low\n    reason: '{{literal}} {}'\n"
      "    condition: {exists: region}\n");
  EXPECT_EQ(Count("invalid-reason"), 3u) << Dump(diags_);
  ExpectError("invalid-reason", "r.yaml:2:5", "unknown field {nope}");
  EXPECT_NE(Errors()[1].message.find("unterminated placeholder"), std::string::npos);
  EXPECT_NE(Errors()[2].message.find("empty placeholder"), std::string::npos);
}

TEST_F(LoaderTest, SeverityFromErrors) {
  Load(
      "rules:\n  - id: A\n    title: t\n    severity: low\n"
      "    severity_from: {field: source.tyer, map: {embargoed: critical}}\n"
      "    condition: {exists: region}\n"
      "  - id: B\n    title: t\n    severity: low\n"
      "    severity_from: {field: source.tier, map: {embargoed: severe}}\n"
      "    condition: {exists: region}\n");
  ExpectError("unknown-field", "r.yaml:5:20", "in 'severity_from'");
  ExpectError("invalid-severity", "r.yaml:10:58", "severity for 'embargoed'");
}

TEST_F(LoaderTest, RuleTestErrors) {
  Load(R"y(rules:
  - id: A
    title: t
    severity: low
    condition: {exists: region}
    tests:
      - {name: a, format: cloudtrial, event: {x: 1}, expect: alert}
      - {name: b, expect: none}
      - {name: c, event: {x: 1}, expect: fire}
      - {name: d, event: [1, 2], expect: none}
      - {name: e, event_json: '{}', event: {x: 1}, expect: none}
      - {name: f, event: {x: 1}, enrich: {source.countri: CN}, expect: alert, severity: hot}
      - {name: g, event: {x: 1}}
)y");
  ExpectError("invalid-format", "r.yaml:7:27", "unknown test format 'cloudtrial'");
  ExpectError("missing-test-event", "r.yaml:8:9", "neither 'event' nor 'event_json'");
  ExpectError("invalid-expect", "r.yaml:9:42", "'expect' must be alert or none, got 'fire'");
  ExpectError("wrong-type", "r.yaml:10:26", "'event' must be a mapping");
  ExpectError("conflicting-keys", "r.yaml:11:19");
  ExpectError("unknown-field", "r.yaml:12:43", "unknown field 'source.countri' in 'enrich'");
  ExpectError("invalid-severity", "r.yaml:12:89");
  EXPECT_EQ(Count("invalid-expect"), 2u) << Dump(diags_);  // g has none
}

TEST_F(LoaderTest, TestEventRenderedToJsonWithYamlTypes) {
  const auto& defs = Load(R"y(rules:
  - id: A
    title: t
    severity: low
    condition: {exists: region}
    tests:
      - expect: alert
        event:
          s: "123"
          n: 123
          neg: -7
          f: 1.5
          lead: 0123
          b: true
          qb: 'true'
          nul: ~
          empty:
          text: hello "world"
          list: [1, a, {k: v}]
          nested: {a: {b: false}}
      - expect: none
        event_json: '{"raw": 1}'
)y");
  ASSERT_FALSE(diags_.has_errors()) << Dump(diags_);
  ASSERT_EQ(defs.rules[0].tests.size(), 2u);
  EXPECT_EQ(defs.rules[0].tests[0].event_json,
            R"({"s":"123","n":123,"neg":-7,"f":1.5,"lead":"0123","b":true,"qb":"true",)"
            R"("nul":null,"empty":null,"text":"hello \"world\"","list":[1,"a",{"k":"v"}],)"
            R"("nested":{"a":{"b":false}}})");
  EXPECT_EQ(defs.rules[0].tests[0].name, "test #1");
  EXPECT_EQ(defs.rules[0].tests[1].event_json, R"({"raw": 1})");
  EXPECT_FALSE(defs.rules[0].tests[1].expect_alert);
}

TEST_F(LoaderTest, WarningsForRulesWithoutTestsAndDisabledRules) {
  Load("rules:\n" + Rule("A", "{exists: region}") +
       "  - {id: B, title: t, severity: low, enabled: false, condition: {exists: zone}}\n");
  EXPECT_FALSE(diags_.has_errors()) << Dump(diags_);
  EXPECT_EQ(diags_.warning_count(), 2u);
  EXPECT_EQ(Find("rule-without-tests").pos.ToString(), "r.yaml:2:5");
  EXPECT_EQ(Find("rule-disabled").pos.ToString(), "r.yaml:3:5");
  EXPECT_FALSE(defs_->rules[1].enabled);
}

TEST_F(LoaderTest, DuplicateYamlKey) {
  Load(
      "rules:\n  - id: A\n    id: B\n    title: t\n    severity: low\n"
      "    condition: {exists: region}\n");
  ExpectError("duplicate-key", "r.yaml:3:5", "duplicate key 'id'");
}

TEST_F(LoaderTest, EmptyAllAndDeepNesting) {
  std::string deep = "{exists: region}";
  for (int i = 0; i < 70; ++i) deep = "{not: " + deep + "}";
  Load("rules:\n" + Rule("A", "{all: []}") + Rule("B", deep));
  ExpectError("empty-condition", "r.yaml:2:56", "'all' needs at least one condition");
  EXPECT_EQ(Count("condition-too-deep"), 1u) << Dump(diags_);
}

TEST_F(LoaderTest, CatalogEntriesNeedNameAndSource) {
  Load(R"y(catalogs:
  accelerators:
    - {name: H100, status: restricted, match: ['\bh100\b']}
    - {status: restricted, source: x}
  instance_types:
    - {pattern: 'g6e\..*', accelerator: L40S, source: AWS}
  gadgets:
    - {name: x}
)y");
  ExpectError("missing-source", "r.yaml:3:7", "'accelerators' entry 'H100' has no 'source'");
  ExpectError("missing-name", "r.yaml:4:7");
  ExpectError("unknown-key", "r.yaml:7:3", "allowed: accelerators, instance_types");
  EXPECT_EQ(diags_.error_count(), 3u) << Dump(diags_);
  ASSERT_EQ(defs_->catalogs.at("instance_types").size(), 1u);
  EXPECT_EQ(defs_->catalogs.at("instance_types")[0]->patterns[0], "g6e\\..*");
}

TEST_F(LoaderTest, UnknownCatalogEntryKey) {
  Load("catalogs:\n  destinations:\n    - {name: CN, tier: embargoed, source: s, grups: [D:1]}\n");
  ExpectError("unknown-key", "r.yaml:3:46", "allowed: name, country, tier, groups");
}

TEST_F(LoaderTest, CatalogDuplicateAndOverride) {
  const auto& defs = Load(
      {{"a.yaml",
        "catalogs:\n  accelerators:\n"
        "    - {name: L4, status: unclear, match: ['\\bl4\\b'], classification: x, source: s1}\n"
        "  destinations:\n    - {name: CN, country: China, tier: embargoed, groups: [D:1, D:5], "
        "source: s, effective_from: 2022-10-07}\n"},
       {"b.yaml",
        "catalogs:\n  accelerators:\n    - {name: L4, status: restricted, override: true}\n"
        "    - {name: L4, status: restricted, source: s}\n"
        "    - {name: B200, status: restricted, override: true}\n"}});
  ExpectError("duplicate-catalog-entry", "b.yaml:4:7", "already defined at a.yaml:3:7");
  ExpectError("override-unknown-entry", "b.yaml:5:7");
  EXPECT_EQ(diags_.error_count(), 2u) << Dump(diags_);
  const auto& acc = defs.catalogs.at("accelerators");
  ASSERT_EQ(acc.size(), 1u);
  EXPECT_EQ(*acc[0]->Attr("status"), "restricted");
  EXPECT_EQ(*acc[0]->Attr("classification"), "x");
  EXPECT_EQ(acc[0]->source, "s1");
  EXPECT_EQ(acc[0]->attr_pos.at("status").ToString(), "b.yaml:3:26");
  const auto& cn = *defs.catalogs.at("destinations")[0];
  EXPECT_EQ(*cn.Attr("groups"), "D:1, D:5");
  EXPECT_FALSE(cn.EffectiveAt(*ParseDateMs("2022-10-06")));
  EXPECT_TRUE(cn.EffectiveAt(*ParseDateMs("2022-10-07")));
}

TEST(LoadFilesTest, DirectoryIsReadRecursivelyInRelativePathOrder) {
  TempDir dir;
  dir.Write("b.yaml", "lists:\n  - {name: acts, append: true, items: [B]}\n");
  dir.Write("a/z.yml", "lists:\n  - {name: acts, items: [A]}\n");
  dir.Write("c.txt", "not yaml: [");
  dir.Write("c/d.yaml", "lists:\n  - {name: acts, append: true, items: [D]}\n");
  std::string extra = dir.Write("../cw_extra_" + std::to_string(::getpid()) + ".yaml",
                                "lists:\n  - {name: acts, append: true, items: [E]}\n");
  Diagnostics diags;
  auto defs = LoadDefinitions({dir.path(), extra}, diags);
  std::filesystem::remove(extra);
  EXPECT_FALSE(diags.has_errors()) << Dump(diags);
  ASSERT_EQ(defs->files.size(), 4u);
  EXPECT_EQ(defs->files[0], dir.path() + "/a/z.yml");
  EXPECT_EQ(defs->files[1], dir.path() + "/b.yaml");
  EXPECT_EQ(defs->files[2], dir.path() + "/c/d.yaml");
  EXPECT_EQ(defs->FindList("acts")->items, (std::vector<std::string>{"A", "B", "D", "E"}));
  EXPECT_EQ(defs->FindList("acts")->item_pos[1].ToString(), dir.path() + "/b.yaml:2:40");
}

TEST(LoadFilesTest, MissingPathAndEmptyDirectory) {
  TempDir dir;
  Diagnostics diags;
  auto defs = LoadDefinitions({"/nonexistent/rules.yaml", dir.path()}, diags);
  ASSERT_NE(defs, nullptr);
  ASSERT_EQ(diags.items().size(), 2u);
  EXPECT_EQ(diags.items()[0].code, "missing-path");
  EXPECT_EQ(diags.items()[0].pos.ToString(), "/nonexistent/rules.yaml");
  EXPECT_EQ(diags.items()[1].code, "no-rule-files");
  EXPECT_EQ(diags.items()[1].level, Diagnostic::Level::kWarning);
}

TEST(LoadFilesTest, SyntaxErrorInOneFileKeepsTheOthers) {
  TempDir dir;
  dir.Write("a.yaml", "rules:\n  - {id: A, title: t, severity: low, condition: {exists: zone}}\n");
  dir.Write("b.yaml", "rules: [\n");
  Diagnostics diags;
  auto defs = LoadDefinitions({dir.path()}, diags);
  EXPECT_EQ(diags.error_count(), 1u) << Dump(diags);
  EXPECT_EQ(diags.items()[0].code, "yaml-syntax");
  EXPECT_EQ(diags.items()[0].pos.ToString(), dir.path() + "/b.yaml:2:1");
  EXPECT_EQ(defs->rules.size(), 1u);
}

// The files are parsed concurrently (the largest first); their problems and definitions still
// come in file order.
TEST(LoadFilesTest, ProblemsAndDefinitionsComeInFileOrder) {
  TempDir dir;
  std::string big = "lists:\n";
  for (int i = 0; i < 2000; ++i) {
    big += "  - {name: big" + std::to_string(i) + ", items: [x]}\n";
  }
  dir.Write("a.yaml", "lists:\n  - {name: a, items: [A], colour: red}\n");
  dir.Write("b.yaml", big + "  - {name: b, items: [B], colour: red}\n");
  dir.Write("c.yaml", "rules: [\n");
  dir.Write("d.yaml", "lists:\n  - {name: d, items: [D], colour: red}\n");
  Diagnostics diags;
  auto defs = LoadDefinitions({dir.path()}, diags);
  ASSERT_NE(defs, nullptr);
  std::vector<std::string> files;
  for (const auto& d : diags.items()) {
    if (files.empty() || files.back() != d.pos.file) files.push_back(d.pos.file);
  }
  EXPECT_EQ(files, (std::vector<std::string>{dir.File("a.yaml"), dir.File("b.yaml"),
                                             dir.File("c.yaml"), dir.File("d.yaml")}))
      << Dump(diags);
  EXPECT_EQ(diags.items()[0].pos.ToString(), dir.File("a.yaml") + ":2:27") << Dump(diags);
  ASSERT_EQ(defs->files.size(), 4u);
  EXPECT_EQ(defs->files[1], dir.File("b.yaml"));
  EXPECT_NE(defs->FindList("big1999"), nullptr);
}

TEST(ReasonTemplateTest, ParsesLiteralsAndFields) {
  auto parsed = ParseReasonTemplate("{{x}} {action} on {region}!");
  ASSERT_TRUE(parsed.ok()) << parsed.status().message();
  const std::vector<ReasonPart>& parts = *parsed;
  ASSERT_EQ(parts.size(), 5u);
  EXPECT_EQ(parts[0].literal, "{x} ");
  EXPECT_EQ(parts[1].field, FieldId::kAction);
  EXPECT_EQ(parts[2].literal, " on ");
  EXPECT_EQ(parts[3].field, FieldId::kRegion);
  EXPECT_EQ(parts[4].literal, "!");
  auto bogus = ParseReasonTemplate("{bogus}");
  ASSERT_FALSE(bogus.ok());
  EXPECT_EQ(bogus.status().message(), "unknown field {bogus} in placeholder");
  EXPECT_FALSE(ParseReasonTemplate("{action").ok());
  EXPECT_FALSE(ParseReasonTemplate("{}").ok());
}

}  // namespace
}  // namespace chipwatch
