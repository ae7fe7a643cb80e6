// Scale check for the rule compiler: 10,000 extra rules against a 6-rule pack give the pack's
// matches plus exactly the extra rules' own, through the indexes (no extra rule is a candidate for
// every event). Times are benchmark targets (bench/run, docs/benchmarks.md), not asserted here.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "match/compiled_rules.h"
#include "policy/loader.h"

namespace chipwatch {
namespace {

constexpr char kPack[] = R"(lists:
  - {name: provisioning, items: [RunInstances, StartInstances, CreateFleet, RunJobFlow]}
  - {name: embargoed, items: [CN, RU, IR, KP, BY, CU, SY]}
macros:
  - {name: provisioning, condition: {in: {field: action, list: provisioning}}}
  - {name: restricted, condition: {equals: {field: accelerator.status, value: restricted}}}
rules:
  - {id: P1, title: t, severity: critical, condition: {all: [{macro: provisioning}, {macro: restricted}, {in: {field: source.country, list: embargoed}}]}}
  - {id: P2, title: t, severity: high, condition: {all: [{macro: provisioning}, {macro: restricted}, {in: {field: region.country, list: embargoed}}]}}
  - {id: P3, title: t, severity: high, condition: {all: [{equals: {field: action, value: InvokeModel}}, {equals: {field: model.frontier, value: true}}, {in: {field: source.country, list: embargoed}}]}}
  - {id: P4, title: t, severity: medium, condition: {all: [{macro: restricted}, {in: {field: tenant.country, list: embargoed}}]}}
  - {id: P5, title: t, severity: low, condition: {all: [{equals: {field: action, value: pods.create}}, {regex: {field: accelerator.model, pattern: 'h100|h800|b200', ignore_case: true}}]}}
  - {id: P6, title: t, severity: medium, condition: {all: [{exists: source.ip}, {cidr: {field: source.ip, items: [198.51.100.0/24]}}, {macro: restricted}]}}
)";

std::string ExtraRules(int n) {
  std::string out;
  for (int i = 0; i < n; ++i) {
    std::string s = std::to_string(i);
    switch (i % 5) {
      case 0:
        out += "  - {id: X" + s +
               ", title: t, severity: low, condition: {all: [{equals: {field: "
               "action, value: Op" +
               s + "}}, {exists: region}]}}\n";
        break;
      case 1:
        out += "  - {id: X" + s +
               ", title: t, severity: low, condition: {all: [{equals: {field: "
               "model.id, value: 'vendor.model-" +
               s + "'}}, {exists: source.country}]}}\n";
        break;
      case 2:
        out += "  - {id: X" + s +
               ", title: t, severity: low, condition: {all: [{regex: {field: "
               "instance.type, pattern: '^zz" +
               s +
               "\\.'}}, {gte: {field: accelerator.count, "
               "value: 2}}]}}\n";
        break;
      case 3:
        out += "  - {id: X" + s +
               ", title: t, severity: low, condition: {all: [{in: {field: "
               "principal, items: ['arn:aws:iam::" +
               s + ":user/a', 'arn:aws:iam::" + s + ":user/b']}}, {exists: region}]}}\n";
        break;
      default:
        out += "  - {id: X" + s +
               ", title: t, severity: low, condition: {all: [{contains: {field: "
               "user_agent, value: 'tool" +
               s + "/'}}, {exists: region}]}}\n";
    }
  }
  return out;
}

std::vector<Event> Events() {
  std::vector<Event> events;
  const char* actions[] = {"RunInstances", "DescribeInstances", "InvokeModel", "pods.create",
                           "ListBuckets",  "GetObject",         "Op5",         "AssumeRole"};
  for (int i = 0; i < 64; ++i) {
    Event e;
    e.SetStr(FieldId::kAction, actions[i % 8]);
    e.SetStr(FieldId::kRegion, "us-east-1");
    e.SetStr(FieldId::kPrincipal, "arn:aws:iam::123456789012:user/alice");
    e.SetStr(FieldId::kUserAgent, "aws-cli/2.13.0 Python/3.11.4 Linux/5.15");
    e.SetStr(FieldId::kInstanceType, i % 3 ? "p5.48xlarge" : "m5.large");
    e.SetStr(FieldId::kSourceCountry, i % 4 ? "US" : "CN");
    e.SetStr(FieldId::kAcceleratorStatus, i % 3 ? "restricted" : "not_controlled");
    e.SetStr(FieldId::kModelId, "anthropic.claude-3-sonnet");
    e.SetNum(FieldId::kAcceleratorCount, 8);
    e.SetNum(FieldId::kEventTime, 1700000000000 + i);
    events.push_back(e);
  }
  return events;
}

struct Compiled {
  std::unique_ptr<PolicyDefinitions> defs;
  std::unique_ptr<const CompiledRules> rules;
};

Compiled CompileYaml(const std::string& yaml) {
  Diagnostics diags;
  Compiled c;
  c.defs = LoadDefinitionsFromStrings({{"pack.yaml", yaml}}, diags);
  EXPECT_FALSE(diags.has_errors());
  c.rules = CompiledRules::Compile(*c.defs, diags);
  return c;
}

// Matches over all events, and the largest candidate count of one event.
size_t CountMatches(const CompiledRules& rules, const std::vector<Event>& events,
                    uint64_t* max_candidates) {
  auto scratch = rules.NewScratch();
  std::vector<RuleMatch> out;
  size_t matches = 0;
  *max_candidates = 0;
  for (const auto& e : events) {
    out.clear();
    rules.Evaluate(e, *scratch, out);
    matches += out.size();
    *max_candidates = std::max(*max_candidates, scratch->stats().last_candidates);
  }
  return matches;
}

TEST(ScaleTest, TenThousandExtraRules) {
  Compiled small = CompileYaml(kPack);
  Compiled big = CompileYaml(std::string(kPack) + ExtraRules(10000));
  ASSERT_NE(small.rules, nullptr);
  ASSERT_NE(big.rules, nullptr);
  EXPECT_EQ(big.rules->unindexed_rule_count(), small.rules->unindexed_rule_count());
  const auto events = Events();
  uint64_t small_candidates = 0, big_candidates = 0;
  const size_t small_matches = CountMatches(*small.rules, events, &small_candidates);
  const size_t big_matches = CountMatches(*big.rules, events, &big_candidates);
  // Every event meets exactly the pack's matches plus X5 (action Op5 with a region).
  EXPECT_EQ(big_matches, small_matches + 8);
  EXPECT_LE(big_candidates, small_candidates + 1);
}

}  // namespace
}  // namespace chipwatch
