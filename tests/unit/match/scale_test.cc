// Scale check for the rule compiler: 10,000 extra rules against a 6-rule pack. Asserts load +
// compile < 10 s and identical matches; prints the per-event cost ratio (the 2x budget is a
// benchmark target, too noisy for a unit test on a shared machine). Skipped in debug builds.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
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

Compiled CompileYaml(const std::string& yaml, double* seconds) {
  auto start = std::chrono::steady_clock::now();
  Diagnostics diags;
  Compiled c;
  c.defs = LoadDefinitionsFromStrings({{"pack.yaml", yaml}}, diags);
  EXPECT_FALSE(diags.has_errors());

  c.rules = CompiledRules::Compile(*c.defs, diags);
  *seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return c;
}

double NsPerEvent(const CompiledRules& rules, const std::vector<Event>& events, size_t* matches) {
  auto scratch = rules.NewScratch();
  std::vector<RuleMatch> out;
  out.reserve(64);
  *matches = 0;
  for (const auto& e : events) rules.Evaluate(e, *scratch, out);  // warm up
  const int kRounds = 200;
  auto start = std::chrono::steady_clock::now();
  for (int r = 0; r < kRounds; ++r) {
    for (const auto& e : events) {
      out.clear();
      rules.Evaluate(e, *scratch, out);
      *matches += out.size();
    }
  }
  double ns =
      std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count();
  return ns / (kRounds * events.size());
}

TEST(ScaleTest, TenThousandExtraRules) {
#ifndef NDEBUG
  GTEST_SKIP() << "timings need an optimized build (-DCMAKE_BUILD_TYPE=Release)";
#endif
  double small_s = 0, big_s = 0;
  Compiled small = CompileYaml(kPack, &small_s);
  Compiled big = CompileYaml(std::string(kPack) + ExtraRules(10000), &big_s);
  ASSERT_NE(small.rules, nullptr);
  ASSERT_NE(big.rules, nullptr);
  EXPECT_LT(big_s, 10.0);
  const auto events = Events();
  size_t small_matches = 0, big_matches = 0;
  double small_ns = NsPerEvent(*small.rules, events, &small_matches);
  double big_ns = NsPerEvent(*big.rules, events, &big_matches);
  std::printf(
      "6 rules: compile %.3f s, %.0f ns/event; +10000 rules: compile %.3f s, %.0f ns/event "
      "(%.2fx), %zu HS databases, %zu unindexed rules\n",
      small_s, small_ns, big_s, big_ns, big_ns / small_ns, big.rules->hyperscan_database_count(),
      big.rules->unindexed_rule_count());
  // Every event meets exactly the pack's matches plus X5 (action Op5 with a region).
  EXPECT_EQ(big_matches, small_matches + 200 * 8);
}

}  // namespace
}  // namespace chipwatch
