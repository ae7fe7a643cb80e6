// CompiledRules::Evaluate and MayMatch do not allocate once warm (compiled_rules.h's claim):
// counted with a replaced global operator new (this binary only; it forwards to malloc).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "../common/counting_new.h"
#include "match/compiled_rules.h"
#include "match/regex_checker.h"
#include "policy/loader.h"

namespace chipwatch {
namespace {

// Every way a rule is reached: the action index (exact and ignore_case), a literal trigger, a
// pattern trigger, a composite (action, region) key, a source.ip range, and no index at all.
constexpr char kRules[] = R"(
lists:
  - {name: launches, items: [RunInstances, CreateFleet]}
rules:
  - {id: by-action, title: t, severity: high, condition: {all: [{in: {field: action, list: launches}}, {regex: {field: instance.type, pattern: '^p5\\.'}}]}}
  - {id: folded, title: t, severity: low, condition: {equals: {field: action, value: runinstances, ignore_case: true}}}
  - {id: literal, title: t, severity: high, condition: {in: {field: principal, items: [alice, bob]}}}
  - {id: pattern, title: t, severity: high, condition: {contains: {field: user_agent, value: Boto3}}}
  - {id: composite, title: t, severity: high, condition: {all: [{in: {field: action, list: launches}}, {equals: {field: region, value: CN-North-1}}]}}
  - {id: address, title: t, severity: high, condition: {cidr: {field: source.ip, items: [36.110.0.0/16]}}}
  - id: everywhere
    title: t
    severity: medium
    severity_from: {field: region, map: {cn-north-1: critical}}
    condition: {any: [{gt: {field: accelerator.count, value: 7}}, {not: {exists: region}}]}
)";

TEST(NoAllocationTest, EvaluateAndMayMatchDoNotAllocateWhenWarm) {
  Diagnostics diags;
  LoadOptions options;
  options.check_regex = HyperscanRegexChecker();
  auto defs = LoadDefinitionsFromStrings({{"r.yaml", kRules}}, diags, options);
  ASSERT_FALSE(diags.has_errors()) << (diags.items().empty() ? "" : diags.items()[0].ToString());
  auto rules = CompiledRules::Compile(*defs, diags);
  ASSERT_NE(rules, nullptr);
  auto scratch = rules->NewScratch();
  ASSERT_NE(scratch, nullptr);
  std::vector<RuleMatch> out;
  out.reserve(rules->rules().size());
  const std::string long_agent = std::string(2000, 'x') + " Boto3/1.34";

  std::vector<Event> events(4);
  events[0].SetStr(FieldId::kAction, "RunInstances");
  events[0].SetStr(FieldId::kInstanceType, "p5.48xlarge");
  events[0].SetStr(FieldId::kRegion, "cn-north-1");
  events[0].SetStr(FieldId::kPrincipal, "alice");
  events[0].SetStr(FieldId::kUserAgent, long_agent);
  events[0].SetStr(FieldId::kSourceIp, "36.110.1.2");
  events[0].source_addr = ParseIp("36.110.1.2");
  events[0].SetNum(FieldId::kAcceleratorCount, 8);
  events[1].SetStr(FieldId::kAction, "GetObject");
  events[1].SetStr(FieldId::kRegion, "us-east-1");
  events[2].SetStr(FieldId::kAction, "RUNINSTANCES");
  events[2].SetStr(FieldId::kPrincipal, "carol");
  events[3].SetStr(FieldId::kUserAgent, "aws-cli/2");

  size_t matched = 0;
  auto run = [&] {
    for (int round = 0; round < 3; ++round) {
      for (const Event& event : events) {
        out.clear();
        if (rules->MayMatch(event, *scratch)) rules->Evaluate(event, *scratch, out);
        matched += out.size();
      }
    }
  };
  run();  // warm-up: scratch buffers grow to the policy's needs
  ASSERT_GT(matched, 0u);
  EXPECT_EQ(counting_new::AllocationsDuring(run), 0);
}

}  // namespace
}  // namespace chipwatch
