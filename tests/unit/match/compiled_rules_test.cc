// Tests for the rule compiler and evaluator (match/compiled_rules.h).
#include "match/compiled_rules.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "match/regex_checker.h"
#include "policy/loader.h"

namespace chipwatch {
namespace {

std::string Dump(const Diagnostics& diags) {
  std::string out;
  for (const auto& d : diags.items()) out += d.ToString() + "\n";
  return out;
}

// A rule in flow style: `extra` adds keys ("severity_from: {...}, ").
std::string Rule(const std::string& id, const std::string& condition,
                 const std::string& extra = "") {
  return "  - {id: " + id + ", title: t, severity: high, " + extra + "condition: " + condition +
         "}\n";
}

class MatchTest : public ::testing::Test {
 protected:
  void Compile(const std::string& yaml) {
    Diagnostics diags;
    LoadOptions options;
    options.check_regex = HyperscanRegexChecker();
    defs_ = LoadDefinitionsFromStrings({{"r.yaml", yaml}}, diags, options);
    ASSERT_FALSE(diags.has_errors()) << Dump(diags);
    rules_ = CompiledRules::Compile(*defs_, diags);
    ASSERT_NE(rules_, nullptr) << Dump(diags);
    scratch_ = rules_->NewScratch();
    ASSERT_NE(scratch_, nullptr);
  }
  void CompileRules(const std::string& rules) { Compile("rules:\n" + rules); }

  std::vector<std::string> Match(const Event& event) {
    out_.clear();
    rules_->Evaluate(event, *scratch_, out_);
    std::vector<std::string> ids;
    for (const auto& m : out_) ids.push_back(m.rule->id);
    return ids;
  }
  bool Matches(const Event& event) { return !Match(event).empty(); }

  static Event With(FieldId f, std::string_view v) {
    Event e;
    e.SetStr(f, v);
    return e;
  }

  std::unique_ptr<PolicyDefinitions> defs_;
  std::unique_ptr<const CompiledRules> rules_;
  std::unique_ptr<MatchScratch> scratch_;
  std::vector<RuleMatch> out_;
};

using Ids = std::vector<std::string>;

// `alert: false` (issue 13): the rule is still compiled and evaluated, its matches reported with
// CompiledRule::alert false for the stateful stage to feed correlations with.
TEST_F(MatchTest, RuleWithoutAlertIsCompiledAndEvaluated) {
  CompileRules(Rule("QUIET", "{equals: {field: provider, value: aws}}", "alert: false, ") +
               Rule("LOUD", "{equals: {field: provider, value: aws}}"));
  EXPECT_EQ(Match(With(FieldId::kProvider, "aws")), (Ids{"QUIET", "LOUD"}));
  ASSERT_EQ(out_.size(), 2u);
  EXPECT_FALSE(out_[0].rule->alert);
  EXPECT_TRUE(out_[1].rule->alert);
}

TEST_F(MatchTest, EqualsCaseSensitiveAndInsensitive) {
  CompileRules(Rule("CS", "{equals: {field: provider, value: AWS}}") +
               Rule("CI", "{equals: {field: provider, value: AWS, ignore_case: true}}"));
  EXPECT_EQ(Match(With(FieldId::kProvider, "AWS")), (Ids{"CS", "CI"}));
  EXPECT_EQ(Match(With(FieldId::kProvider, "aws")), (Ids{"CI"}));
  EXPECT_EQ(Match(With(FieldId::kProvider, "aws2")), Ids{});
  EXPECT_EQ(Match(With(FieldId::kProvider, "AWS\n")), Ids{});  // anchored at the very end
  EXPECT_EQ(Match(With(FieldId::kProvider, "xAWS")), Ids{});
  EXPECT_EQ(Match(Event()), Ids{});                   // unset field
  EXPECT_EQ(rules_->hyperscan_database_count(), 0u);  // literals go to the field's hash index
  EXPECT_TRUE(rules_->has_string_index(FieldId::kProvider));
  EXPECT_EQ(rules_->literal_count(), 2u);
}

TEST_F(MatchTest, EqualsEscapesRegexMetacharacters) {
  CompileRules(Rule("A", "{equals: {field: instance.type, value: 'p5.48xlarge'}}") +
               Rule("E", "{equals: {field: zone, value: ''}}"));
  EXPECT_EQ(Match(With(FieldId::kInstanceType, "p5.48xlarge")), Ids{"A"});
  EXPECT_EQ(Match(With(FieldId::kInstanceType, "p5x48xlarge")), Ids{});
  EXPECT_EQ(Match(With(FieldId::kZone, "")), Ids{"E"});
  EXPECT_EQ(Match(With(FieldId::kZone, "a")), Ids{});
}

TEST_F(MatchTest, InListAndInlineItems) {
  Compile(R"(lists:
  - {name: countries, items: [CN, RU, 'K.P']}
rules:
)" + Rule("L", "{in: {field: source.country, list: countries}}") +
          Rule("I", "{in: {field: source.country, items: [ir, by], ignore_case: true}}"));
  EXPECT_EQ(Match(With(FieldId::kSourceCountry, "CN")), Ids{"L"});
  EXPECT_EQ(Match(With(FieldId::kSourceCountry, "cn")), Ids{});
  EXPECT_EQ(Match(With(FieldId::kSourceCountry, "K.P")), Ids{"L"});
  EXPECT_EQ(Match(With(FieldId::kSourceCountry, "KxP")), Ids{});
  EXPECT_EQ(Match(With(FieldId::kSourceCountry, "IR")), Ids{"I"});
  EXPECT_EQ(Match(With(FieldId::kSourceCountry, "CNX")), Ids{});
  EXPECT_EQ(rules_->predicate_count(), 2u);
  EXPECT_EQ(rules_->literal_count(), 5u);
  EXPECT_EQ(rules_->pattern_count(), 0u);
}

TEST_F(MatchTest, RegexAndContains) {
  CompileRules(Rule("R", R"({regex: {field: accelerator.model, pattern: '\bh(100|800)\b'}})") +
               Rule("RI",
                    "{regex: {field: accelerator.model, pattern: '^nvidia', "
                    "ignore_case: true}}") +
               Rule("C", "{contains: {field: user_agent, value: 'boto3/'}}") +
               Rule("CI",
                    "{contains: {field: user_agent, value: 'TERRAFORM', "
                    "ignore_case: true}}"));
  EXPECT_EQ(Match(With(FieldId::kAcceleratorModel, "nvidia h100 80gb")), (Ids{"R", "RI"}));
  EXPECT_EQ(Match(With(FieldId::kAcceleratorModel, "NVIDIA H1000")), (Ids{"RI"}));
  EXPECT_EQ(Match(With(FieldId::kAcceleratorModel, "a100")), Ids{});
  EXPECT_EQ(Match(With(FieldId::kUserAgent, "Boto3/1.2 boto3/1.3")), Ids{"C"});
  EXPECT_EQ(Match(With(FieldId::kUserAgent, "Terraform/1.5")), Ids{"CI"});
  EXPECT_EQ(Match(With(FieldId::kUserAgent, "boto3")), Ids{});
  EXPECT_EQ(rules_->hyperscan_database_count(), 2u);
  EXPECT_TRUE(rules_->has_database(FieldId::kUserAgent));
  EXPECT_FALSE(rules_->has_string_index(FieldId::kAction));
}

TEST_F(MatchTest, CidrV4AndV6) {
  Compile(R"(lists:
  - {name: nets, items: ['2001:db8::/32', 203.0.113.0/24]}
rules:
)" + Rule("V4", "{cidr: {field: source.ip, items: [10.0.0.0/8, 192.168.1.7]}}") +
          Rule("L", "{cidr: {field: source.ip, list: nets}}") +
          Rule("N", "{not: {cidr: {field: source.ip, items: [0.0.0.0/0]}}}") +
          Rule("EQ", "{equals: {field: source.ip, value: '2001:db8::1'}}"));
  auto ip = [](std::string_view text) {
    Event e;
    e.SetStr(FieldId::kSourceIp, text);
    e.source_addr = ParseIp(text);
    return e;
  };
  EXPECT_EQ(Match(ip("10.255.0.1")), Ids{"V4"});
  EXPECT_EQ(Match(ip("11.0.0.0")), Ids{});
  EXPECT_EQ(Match(ip("192.168.1.7")), Ids{"V4"});
  EXPECT_EQ(Match(ip("192.168.1.8")), Ids{});
  EXPECT_EQ(Match(ip("203.0.113.255")), Ids{"L"});
  EXPECT_EQ(Match(ip("2001:db8:ffff::1")), (Ids{"L", "N"}));
  EXPECT_EQ(Match(ip("2001:db8::1")), (Ids{"L", "N", "EQ"}));
  EXPECT_EQ(Match(ip("2001:db9::1")), Ids{"N"});
  EXPECT_EQ(Match(Event()), Ids{"N"});  // unset ip: cidr false, its not true
}

TEST_F(MatchTest, NumberComparisonsAndBools) {
  CompileRules(Rule("GT", "{gt: {field: accelerator.count, value: 4}}") +
               Rule("GTE", "{gte: {field: accelerator.count, value: 4}}") +
               Rule("LT", "{lt: {field: accelerator.count, value: 4}}") +
               Rule("LTE", "{lte: {field: accelerator.count, value: 4}}") +
               Rule("EQ", "{equals: {field: accelerator.count, value: 4}}") +
               Rule("F", "{equals: {field: model.frontier, value: true}}") +
               Rule("NF", "{equals: {field: model.frontier, value: false}}"));
  Event e;
  e.SetNum(FieldId::kAcceleratorCount, 8);
  EXPECT_EQ(Match(e), (Ids{"GT", "GTE"}));
  e.SetNum(FieldId::kAcceleratorCount, 4);
  EXPECT_EQ(Match(e), (Ids{"GTE", "LTE", "EQ"}));
  e.SetNum(FieldId::kAcceleratorCount, -1);
  EXPECT_EQ(Match(e), (Ids{"LT", "LTE"}));
  EXPECT_EQ(Match(Event()), Ids{});  // unset number matches no comparison
  Event b;
  b.SetBool(FieldId::kModelFrontier, true);
  EXPECT_EQ(Match(b), Ids{"F"});
  b.SetBool(FieldId::kModelFrontier, false);
  EXPECT_EQ(Match(b), Ids{"NF"});
  EXPECT_EQ(rules_->hyperscan_database_count(), 0u);
}

TEST_F(MatchTest, ExistsNotAnyAllWithUnsetFields) {
  CompileRules(Rule("EX", "{exists: model.frontier}") +
               Rule("NOT", "{not: {equals: {field: region, value: cn-north-1}}}") +
               Rule("ANY", "{any: [{equals: {field: region, value: a}}, {exists: zone}]}") +
               Rule("ALL", "{all: [{equals: {field: region, value: a}}, {not: {exists: zone}}]}"));
  EXPECT_EQ(Match(Event()), Ids{"NOT"});
  Event e;
  e.SetBool(FieldId::kModelFrontier, false);
  e.SetStr(FieldId::kRegion, "a");
  EXPECT_EQ(Match(e), (Ids{"EX", "NOT", "ANY", "ALL"}));
  e.SetStr(FieldId::kZone, "z");
  EXPECT_EQ(Match(e), (Ids{"EX", "NOT", "ANY"}));
  e.SetStr(FieldId::kRegion, "cn-north-1");
  EXPECT_EQ(Match(e), (Ids{"EX", "ANY"}));
}

TEST_F(MatchTest, MacrosAreExpanded) {
  Compile(R"(macros:
  - {name: restricted, condition: {equals: {field: accelerator.status, value: restricted}}}
  - {name: restricted_from_cn, condition: {all: [{macro: restricted},
      {equals: {field: source.country, value: CN}}]}}
rules:
)" + Rule("M", "{all: [{macro: restricted_from_cn}, {not: {macro: restricted}}]}") +
          Rule("M2", "{macro: restricted_from_cn}"));
  Event e;
  e.SetStr(FieldId::kAcceleratorStatus, "restricted");
  e.SetStr(FieldId::kSourceCountry, "CN");
  EXPECT_EQ(Match(e), Ids{"M2"});
  EXPECT_EQ(rules_->predicate_count(), 2u);  // macro predicates shared by both rules
}

TEST_F(MatchTest, EffectiveFromUntilAgainstEventTime) {
  CompileRules(
      "  - {id: W, title: t, severity: low, effective_from: 2023-10-17, "
      "effective_until: 2024-01-01, condition: {exists: region}}\n");
  Event e;
  e.SetStr(FieldId::kRegion, "r");
  e.SetNum(FieldId::kEventTime, *ParseDateMs("2023-10-16"));
  EXPECT_EQ(Match(e), Ids{});
  e.SetNum(FieldId::kEventTime, *ParseDateMs("2023-10-17"));
  EXPECT_EQ(Match(e), Ids{"W"});
  e.SetNum(FieldId::kEventTime, *ParseDateMs("2024-01-01") - 1);
  EXPECT_EQ(Match(e), Ids{"W"});
  e.SetNum(FieldId::kEventTime, *ParseDateMs("2024-01-01"));
  EXPECT_EQ(Match(e), Ids{});
  e.Unset(FieldId::kEventTime);
  EXPECT_EQ(Match(e), Ids{"W"});  // no time: the window does not apply
}

TEST_F(MatchTest, EventTimeComparison) {
  CompileRules(Rule("T", "{gte: {field: event.time, value: 2024-03-01}}"));
  Event e;
  e.SetNum(FieldId::kEventTime, *ParseTimestampMs("2024-03-01T00:00:00Z"));
  EXPECT_TRUE(Matches(e));
  e.SetNum(FieldId::kEventTime, *ParseTimestampMs("2024-02-29T23:59:59.999Z"));
  EXPECT_FALSE(Matches(e));
}

TEST_F(MatchTest, SeverityFrom) {
  CompileRules(Rule("S", "{exists: source.country}",
                    "severity_from: {field: source.tier, map: {embargoed: critical, "
                    "licence-required: medium}}, "));
  Event e;
  e.SetStr(FieldId::kSourceCountry, "CN");
  Match(e);
  ASSERT_EQ(out_.size(), 1u);
  EXPECT_EQ(out_[0].severity, Severity::kHigh);  // no tier: the rule's severity
  e.SetStr(FieldId::kSourceTier, "embargoed");
  Match(e);
  EXPECT_EQ(out_[0].severity, Severity::kCritical);
  e.SetStr(FieldId::kSourceTier, "licence-required");
  Match(e);
  EXPECT_EQ(out_[0].severity, Severity::kMedium);
  e.SetStr(FieldId::kSourceTier, "other");
  Match(e);
  EXPECT_EQ(out_[0].severity, Severity::kHigh);
}

TEST_F(MatchTest, ActionIndexSkipsRulesForOtherActions) {
  Compile(R"(lists:
  - {name: provisioning, items: [RunInstances, StartInstances]}
macros:
  - {name: provisioning, condition: {in: {field: action, list: provisioning}}}
rules:
)" + Rule("RUN", "{all: [{macro: provisioning}, {exists: instance.type}]}") +
          Rule("AZ",
               "{equals: {field: action, value: MICROSOFT.COMPUTE/VIRTUALMACHINES/WRITE, "
               "ignore_case: true}}") +
          Rule("ANY", "{exists: region}") +
          Rule("OR", "{any: [{equals: {field: action, value: X}}, {exists: zone}]}"));
  EXPECT_EQ(rules_->indexed_rule_count(), 2u);
  EXPECT_EQ(rules_->unindexed_rule_count(), 2u);

  Event e;
  e.SetStr(FieldId::kAction, "DescribeInstances");
  e.SetStr(FieldId::kInstanceType, "p5.48xlarge");
  EXPECT_EQ(Match(e), Ids{});
  EXPECT_EQ(scratch_->stats().last_candidates, 2u);  // ANY and OR only

  e.SetStr(FieldId::kAction, "StartInstances");
  EXPECT_EQ(Match(e), Ids{"RUN"});
  EXPECT_EQ(scratch_->stats().last_candidates, 3u);

  e.SetStr(FieldId::kAction, "Microsoft.Compute/virtualMachines/write");
  e.SetStr(FieldId::kRegion, "eastus");
  EXPECT_EQ(Match(e), (Ids{"AZ", "ANY"}));
  EXPECT_EQ(scratch_->stats().last_candidates, 3u);
}

TEST_F(MatchTest, IndexedConstraintStillHoldsElsewhereInTheCondition) {
  Compile(R"(macros:
  - {name: run, condition: {equals: {field: action, value: RunInstances}}}
rules:
)" + Rule("NEVER", "{all: [{macro: run}, {not: {macro: run}}]}") +
          Rule("BOTH", "{all: [{macro: run}, {any: [{macro: run}, {exists: zone}]}]}"));
  EXPECT_EQ(Match(With(FieldId::kAction, "RunInstances")), Ids{"BOTH"});
  EXPECT_EQ(Match(With(FieldId::kAction, "runinstances")), Ids{});
  EXPECT_TRUE(rules_->has_string_index(FieldId::kAction));  // for the nested references
}

TEST_F(MatchTest, NoCandidatesMeansNoWork) {
  // The instance.type pattern is the rule's trigger; its action constraint is the gate.
  CompileRules(Rule("A",
                    "{all: [{equals: {field: action, value: RunInstances}}, "
                    "{regex: {field: instance.type, pattern: '^p5'}}]}"));
  EXPECT_EQ(rules_->triggered_rule_count(), 1u);
  EXPECT_EQ(rules_->indexed_rule_count(), 0u);
  scratch_->ResetStats();
  Event e;
  e.SetStr(FieldId::kAction, "RunInstances");  // no instance.type: nothing to scan, no candidate
  EXPECT_FALSE(rules_->MayMatch(e, *scratch_));
  EXPECT_EQ(Match(e), Ids{});
  EXPECT_EQ(scratch_->stats().candidates, 0u);
  EXPECT_EQ(scratch_->stats().fields_scanned, 0u);
  e.SetStr(FieldId::kInstanceType, "m5.large");  // scanned once, no trigger
  scratch_->ResetStats();
  EXPECT_FALSE(rules_->MayMatch(e, *scratch_));
  EXPECT_EQ(Match(e), Ids{});
  EXPECT_EQ(scratch_->stats().candidates, 0u);
  e.SetStr(FieldId::kInstanceType, "p5.48xlarge");
  EXPECT_TRUE(rules_->MayMatch(e, *scratch_));
  scratch_->ResetStats();
  EXPECT_EQ(Match(e), Ids{"A"});
  EXPECT_EQ(scratch_->stats().fields_scanned, 1u);  // action is matched by its hash index, not HS
  EXPECT_FALSE(rules_->has_database(FieldId::kAction));
}

TEST_F(MatchTest, TriggeredRuleGateRejectsOtherActionsBeforeEnrichment) {
  // Reached through principal (a literal) and source.ip (a CIDR), gated by the action; the
  // enrichment-set source.country is left to Evaluate().
  CompileRules(Rule("P",
                    "{all: [{in: {field: action, items: [AssumeRole]}}, "
                    "{in: {field: principal, items: ['arn:aws:iam::1:user/eve']}}, "
                    "{in: {field: source.country, items: [CN]}}]}") +
               Rule("N",
                    "{all: [{equals: {field: action, value: GetObject}}, "
                    "{cidr: {field: source.ip, items: [203.0.113.0/24, '2001:db8::/32']}}]}"));
  EXPECT_EQ(rules_->triggered_rule_count(), 2u);
  EXPECT_EQ(rules_->unindexed_rule_count(), 0u);
  Event e;
  e.SetStr(FieldId::kAction, "AssumeRole");
  e.SetStr(FieldId::kPrincipal, "arn:aws:iam::1:user/eve");
  e.SetStr(FieldId::kSourceIp, "203.0.113.9");
  e.source_addr = ParseIp("203.0.113.9");
  EXPECT_TRUE(rules_->MayMatch(e, *scratch_));  // P's trigger and gate hold
  EXPECT_EQ(Match(e), Ids{});                   // ... but not its country (not enriched)
  e.SetStr(FieldId::kSourceCountry, "CN");
  EXPECT_EQ(Match(e), Ids{"P"});
  e.SetStr(FieldId::kAction, "ListBuckets");  // both triggers set, neither gate holds
  EXPECT_FALSE(rules_->MayMatch(e, *scratch_));
  EXPECT_EQ(Match(e), Ids{});
  e.SetStr(FieldId::kAction, "GetObject");
  EXPECT_TRUE(rules_->MayMatch(e, *scratch_));
  EXPECT_EQ(Match(e), Ids{"N"});
  for (const char* ip : {"203.0.112.255", "203.0.114.0", "2001:db9::1", "10.0.0.1"}) {
    e.SetStr(FieldId::kSourceIp, ip);
    e.source_addr = ParseIp(ip);
    EXPECT_FALSE(rules_->MayMatch(e, *scratch_)) << ip;
    EXPECT_EQ(Match(e), Ids{}) << ip;
  }
  e.SetStr(FieldId::kSourceIp, "2001:db8:ffff::1");
  e.source_addr = ParseIp("2001:db8:ffff::1");
  EXPECT_EQ(Match(e), Ids{"N"});
}

TEST_F(MatchTest, CidrTriggerIndexWithNestedAndWideRanges) {
  // Overlapping ranges of several rules cut the address space into intervals; a range over more
  // than 256 of them (the /8) is reached through its action instead, with the same results.
  std::string rules;
  for (int i = 0; i < 300; ++i) {  // 10.0.0.0/24 .. 10.1.43.0/24
    rules += Rule("S" + std::to_string(i),
                  "{all: [{equals: {field: action, value: A}}, "
                  "{cidr: {field: source.ip, items: [10." +
                      std::to_string(i / 256) + "." + std::to_string(i % 256) + ".0/24]}}]}");
  }
  rules += Rule("WIDE",
                "{all: [{equals: {field: action, value: A}}, "
                "{cidr: {field: source.ip, items: [10.0.0.0/8]}}]}");
  rules += Rule("HOST", "{cidr: {field: source.ip, items: [10.0.5.1]}}");
  CompileRules(rules);
  EXPECT_EQ(rules_->indexed_rule_count(), 1u);  // WIDE
  EXPECT_EQ(rules_->triggered_rule_count(), 301u);
  EXPECT_EQ(rules_->unindexed_rule_count(), 0u);
  auto event = [](const char* action, const char* ip) {
    Event e;
    e.SetStr(FieldId::kAction, action);
    e.SetStr(FieldId::kSourceIp, ip);
    e.source_addr = ParseIp(ip);
    return e;
  };
  EXPECT_EQ(Match(event("A", "10.0.7.9")), (Ids{"S7", "WIDE"}));
  EXPECT_EQ(Match(event("A", "10.1.43.255")), (Ids{"S299", "WIDE"}));
  EXPECT_EQ(Match(event("A", "10.0.5.1")), (Ids{"S5", "WIDE", "HOST"}));
  EXPECT_EQ(Match(event("A", "10.0.5.0")), (Ids{"S5", "WIDE"}));
  EXPECT_EQ(Match(event("A", "10.0.5.2")), (Ids{"S5", "WIDE"}));
  EXPECT_EQ(Match(event("B", "10.0.5.1")), Ids{"HOST"});
  EXPECT_TRUE(rules_->MayMatch(event("B", "10.0.5.1"), *scratch_));
  EXPECT_FALSE(rules_->MayMatch(event("B", "10.0.5.2"), *scratch_));
  EXPECT_FALSE(rules_->MayMatch(event("B", "10.1.44.1"), *scratch_));
  EXPECT_EQ(Match(event("A", "10.1.44.1")), Ids{"WIDE"});
  EXPECT_TRUE(rules_->MayMatch(event("A", "11.0.0.1"), *scratch_));  // WIDE, by its action
  EXPECT_EQ(Match(event("A", "11.0.0.1")), Ids{});
  EXPECT_EQ(Match(event("A", "0.0.0.0")), Ids{});
  EXPECT_EQ(Match(event("A", "255.255.255.255")), Ids{});
}

TEST_F(MatchTest, EachFieldIsScannedOncePerEvent) {
  std::string rules;
  for (int i = 0; i < 50; ++i) {
    rules +=
        Rule("R" + std::to_string(i),
             "{any: [{contains: {field: principal, value: 'user" + std::to_string(i) +
                 "'}}, {regex: {field: principal, pattern: 'role/x" + std::to_string(i) + "$'}}]}");
  }
  CompileRules(rules);
  EXPECT_EQ(rules_->hyperscan_database_count(), 1u);
  EXPECT_EQ(rules_->pattern_count(), 100u);
  scratch_->ResetStats();
  Event e;
  e.SetStr(FieldId::kPrincipal, "arn:aws:iam::1:role/x7");
  EXPECT_EQ(Match(e), Ids{"R7"});
  EXPECT_EQ(scratch_->stats().fields_scanned, 1u);
  EXPECT_EQ(scratch_->stats().candidates, 50u);
  e.SetStr(FieldId::kPrincipal, "user12");
  EXPECT_EQ(Match(e), (Ids{"R1", "R12"}));
}

TEST_F(MatchTest, ManyRulesOnOneFieldShareOneDatabase) {
  std::string rules;
  for (int i = 0; i < 200; ++i) {
    std::string n = std::to_string(i);
    rules += Rule("E" + n, "{equals: {field: model.id, value: 'model-" + n + "'}}");
    rules += Rule("X" + n, "{regex: {field: model.id, pattern: '^vendor" + n +
                               "\\.', "
                               "ignore_case: true}}");
  }
  CompileRules(rules);
  EXPECT_EQ(rules_->hyperscan_database_count(), 1u);
  EXPECT_EQ(Match(With(FieldId::kModelId, "model-42")), Ids{"E42"});
  EXPECT_EQ(Match(With(FieldId::kModelId, "VENDOR7.claude")), Ids{"X7"});
}

TEST_F(MatchTest, DisabledRulesNeverMatch) {
  CompileRules("  - {id: D, title: t, severity: low, enabled: false, condition: {exists: zone}}\n" +
               Rule("E", "{exists: zone}"));
  EXPECT_EQ(Match(With(FieldId::kZone, "z")), Ids{"E"});
  ASSERT_EQ(rules_->rules().size(), 2u);
  EXPECT_FALSE(rules_->rules()[0].enabled);
  EXPECT_EQ(rules_->FindRule("E"), &rules_->rules()[1]);
}

TEST_F(MatchTest, ReasonRendering) {
  CompileRules(
      "  - {id: R, title: t, severity: low, condition: {exists: region}, reason: "
      "'{accelerator.family} x{accelerator.count} from {source.country} at {event.time}"
      " frontier={model.frontier} {{ok}}'}\n");
  Event e;
  e.SetStr(FieldId::kAcceleratorFamily, "H100");
  e.SetNum(FieldId::kAcceleratorCount, 8);
  e.SetBool(FieldId::kModelFrontier, true);
  e.SetNum(FieldId::kEventTime, 1700000000000);
  EXPECT_EQ(RenderReason(rules_->rules()[0], e),
            "H100 x8 from - at 1700000000000 frontier=true {ok}");
  e.SetStr(FieldId::kEventTime, "2023-11-14T22:13:20Z");
  e.SetNum(FieldId::kEventTime, 1700000000000);
  EXPECT_EQ(RenderReason(rules_->rules()[0], e),
            "H100 x8 from - at 2023-11-14T22:13:20Z frontier=true {ok}");
}

TEST_F(MatchTest, InvalidRegexReportedAtLoadWithChecker) {
  Diagnostics diags;
  LoadOptions options;
  options.check_regex = HyperscanRegexChecker();
  auto defs = LoadDefinitionsFromStrings(
      {{"r.yaml", "rules:\n" + Rule("A", "{regex: {field: model.id, pattern: '(ab'}}")}}, diags,
      options);
  ASSERT_EQ(diags.error_count(), 1u) << Dump(diags);
  EXPECT_EQ(diags.items()[0].code, "invalid-regex");
  EXPECT_EQ(diags.items()[0].pos.ToString(), "r.yaml:2:50");
  EXPECT_NE(diags.items()[0].message.find("Missing close parenthesis"), std::string::npos)
      << diags.items()[0].message;
}

TEST_F(MatchTest, CompileReportsEveryBadRegexWithPosition) {
  Diagnostics diags;
  auto defs = LoadDefinitionsFromStrings(
      {{"r.yaml", "rules:\n" + Rule("A", "{regex: {field: model.id, pattern: '(ab'}}") +
                      Rule("B", "{regex: {field: model.id, pattern: 'ok'}}") +
                      Rule("C", "{regex: {field: model.id, pattern: '(a)\\1'}}")}},
      diags);
  ASSERT_FALSE(diags.has_errors()) << Dump(diags);  // no checker: the compiler reports
  Diagnostics compile_diags;
  EXPECT_EQ(CompiledRules::Compile(*defs, compile_diags), nullptr);
  ASSERT_EQ(compile_diags.error_count(), 2u) << Dump(compile_diags);
  EXPECT_EQ(compile_diags.items()[0].code, "invalid-regex");
  EXPECT_EQ(compile_diags.items()[0].pos.ToString(), "r.yaml:2:50");
  EXPECT_EQ(compile_diags.items()[1].pos.ToString(), "r.yaml:4:50");
}

TEST_F(MatchTest, ThousandGeneratedRules) {
  std::string rules;
  for (int i = 0; i < 1000; ++i) {
    std::string n = std::to_string(i);
    switch (i % 4) {
      case 0:
        rules += Rule("G" + n, "{all: [{equals: {field: action, value: Act" + n +
                                   "}}, {in: {field: source.country, items: [CN, RU]}}]}");
        break;
      case 1:
        rules +=
            Rule("G" + n, "{all: [{equals: {field: action, value: Act" + n +
                              "}}, {regex: {field: instance.type, pattern: '^p" + n + "\\.'}}]}");
        break;
      case 2:
        rules += Rule("G" + n, "{all: [{contains: {field: model.id, value: 'm" + n +
                                   "-'}}, {gte: {field: accelerator.count, value: " + n + "}}]}");
        break;
      default:
        rules += Rule("G" + n, "{all: [{equals: {field: action, value: Act" + n +
                                   "}}, {cidr: {field: source.ip, items: [10." +
                                   std::to_string(i % 256) + ".0.0/16]}}]}");
    }
  }
  CompileRules(rules);
  EXPECT_EQ(rules_->rules().size(), 1000u);
  // Action index: the source.country rules (an enrichment field can't trigger). Triggers: the
  // instance.type regexes, the model.id substrings and the source.ip networks.
  EXPECT_EQ(rules_->indexed_rule_count(), 250u);
  EXPECT_EQ(rules_->hyperscan_database_count(), 2u);  // instance.type, model.id
  EXPECT_TRUE(rules_->has_string_index(FieldId::kSourceCountry));
  EXPECT_EQ(rules_->triggered_rule_count(), 750u);
  EXPECT_EQ(rules_->unindexed_rule_count(), 0u);
  for (int i = 0; i < 1000; ++i) {
    std::string n = std::to_string(i);
    std::string action = "Act" + n, itype = "p" + n + ".large", model = "m" + n + "-v1";
    std::string ip = "10." + std::to_string(i % 256) + ".3.4";
    Event e;
    e.SetStr(FieldId::kAction, action);
    e.SetStr(FieldId::kSourceCountry, "RU");
    e.SetStr(FieldId::kInstanceType, itype);
    e.SetStr(FieldId::kModelId, model);
    e.SetNum(FieldId::kAcceleratorCount, i);
    e.SetStr(FieldId::kSourceIp, ip);
    e.source_addr = ParseIp(ip);
    EXPECT_EQ(Match(e), Ids{"G" + n}) << i;
    EXPECT_LE(scratch_->stats().last_candidates, 8u);
  }
}

TEST_F(MatchTest, ScratchPerThreadOverSharedRules) {
  CompileRules(Rule("A", "{regex: {field: principal, pattern: 'admin'}}"));
  std::shared_ptr<const CompiledRules> shared = std::move(rules_);
  std::vector<std::thread> threads;
  std::vector<int> hits(2, 0);
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&, t] {
      auto scratch = shared->NewScratch();
      std::vector<RuleMatch> out;
      Event e;
      for (int i = 0; i < 1000; ++i) {
        e.SetStr(FieldId::kPrincipal, i % 2 ? "admin" : "user");
        out.clear();
        shared->Evaluate(e, *scratch, out);
        hits[t] += static_cast<int>(out.size());
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(hits[0], 500);
  EXPECT_EQ(hits[1], 500);
}

TEST_F(MatchTest, OutputIsInLoadOrderAcrossIndexedAndUnindexedRules) {
  CompileRules(Rule("1", "{exists: region}") +
               Rule("2", "{equals: {field: action, value: RunInstances}}") +
               Rule("3", "{equals: {field: action, value: runinstances, ignore_case: true}}") +
               Rule("4", "{exists: region}") +
               Rule("5", "{in: {field: action, items: [RunInstances, RunInstances]}}"));
  Event e;
  e.SetStr(FieldId::kAction, "RunInstances");
  e.SetStr(FieldId::kRegion, "r");
  EXPECT_EQ(Match(e), (Ids{"1", "2", "3", "4", "5"}));
}

TEST(MatchScratchTest, CompileEmptyPolicy) {
  PolicyDefinitions defs;
  Diagnostics diags;
  auto rules = CompiledRules::Compile(defs, diags);
  ASSERT_NE(rules, nullptr);
  auto scratch = rules->NewScratch();
  std::vector<RuleMatch> out;
  rules->Evaluate(Event(), *scratch, out);
  EXPECT_TRUE(out.empty());
  MatchScratch moved = std::move(*scratch);
  EXPECT_EQ(moved.stats().events, 1u);
}

}  // namespace
}  // namespace chipwatch
