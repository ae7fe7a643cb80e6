// Pre-resolved chipwatch_alerts_total handles (engine/alert_counters.h): the same series, and
// values, as Metrics::Alerts, resolved once per policy; a reload's new rules get theirs.
#include "engine/alert_counters.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "engine/input_reader.h"
#include "engine/policy.h"
#include "engine/processor.h"

namespace chipwatch {
namespace {

constexpr char kOneRule[] = R"(
rules:
  - id: R-1
    title: one
    severity: medium
    severity_from: {field: region, map: {cn-north-1: critical}}
    condition: {equals: {field: action, value: RunInstances}}
)";

constexpr char kTwoRules[] = R"(
rules:
  - id: R-1
    title: one
    severity: medium
    severity_from: {field: region, map: {cn-north-1: critical}}
    condition: {equals: {field: action, value: RunInstances}}
  - id: R-2
    title: two
    severity: low
    condition: {equals: {field: action, value: CreateFleet}}
)";

std::shared_ptr<const LoadedPolicy> Load(const char* yaml) {
  Diagnostics diags;
  auto policy = LoadPolicyFromStrings({{"inline.yaml", yaml}}, diags);
  EXPECT_NE(policy, nullptr);
  return policy;
}

bool HasLine(const std::string& text, const std::string& line) {
  return text.find("\n" + line + "\n") != std::string::npos;
}

TEST(AlertCountersTest, ResolvesTheSameSeriesAsMetricsAlertsAtZero) {
  Metrics metrics("test");
  auto policy = Load(kOneRule);
  ASSERT_NE(policy, nullptr);
  AlertCounters counters(metrics, *policy->rules);
  const CompiledRule& rule = policy->rules->rules()[0];
  EXPECT_EQ(&counters.For(rule, Severity::kMedium), &metrics.Alerts("R-1", "medium"));
  EXPECT_EQ(&counters.For(rule, Severity::kCritical), &metrics.Alerts("R-1", "critical"));
  const std::string text = metrics.Serialize();
  EXPECT_TRUE(HasLine(text, R"(chipwatch_alerts_total{rule_id="R-1",severity="medium"} 0)"));
  EXPECT_TRUE(HasLine(text, R"(chipwatch_alerts_total{rule_id="R-1",severity="critical"} 0)"));
  EXPECT_EQ(text.find(R"(severity="high")"), std::string::npos);

  counters.For(rule, Severity::kMedium).Inc();
  counters.For(rule, Severity::kCritical).Inc();
  counters.For(rule, Severity::kCritical).Inc();
  EXPECT_TRUE(HasLine(metrics.Serialize(),
                      R"(chipwatch_alerts_total{rule_id="R-1",severity="critical"} 2)"));
  EXPECT_EQ(metrics.Alerts("R-1", "medium").Value(), 1.0);
}

TEST(AlertCountersTest, ASeverityTheRuleCannotRaiseFallsBackToTheSameFamily) {
  Metrics metrics("test");
  auto policy = Load(kOneRule);
  ASSERT_NE(policy, nullptr);
  AlertCounters counters(metrics, *policy->rules);
  const CompiledRule& rule = policy->rules->rules()[0];
  counters.For(rule, Severity::kLow).Inc();
  EXPECT_EQ(metrics.Alerts("R-1", "low").Value(), 1.0);
}

TEST(AlertCountersTest, AReloadThatAddsARuleKeepsTheOldSeriesAndAddsTheNew) {
  Metrics metrics("test");
  auto before = Load(kOneRule);
  ASSERT_NE(before, nullptr);
  auto old_counters = std::make_shared<const AlertCounters>(metrics, *before->rules);
  old_counters->For(before->rules->rules()[0], Severity::kMedium).Inc();
  EXPECT_EQ(metrics.Serialize().find("R-2"), std::string::npos);

  auto after = Load(kTwoRules);  // the reload
  ASSERT_NE(after, nullptr);
  auto new_counters = std::make_shared<const AlertCounters>(metrics, *after->rules);
  EXPECT_TRUE(
      HasLine(metrics.Serialize(), R"(chipwatch_alerts_total{rule_id="R-2",severity="low"} 0)"));
  const CompiledRule& r1 = after->rules->rules()[0];
  const CompiledRule& r2 = after->rules->rules()[1];
  // The same series across snapshots: the count goes on.
  EXPECT_EQ(&new_counters->For(r1, Severity::kMedium),
            &old_counters->For(before->rules->rules()[0], Severity::kMedium));
  new_counters->For(r1, Severity::kMedium).Inc();
  new_counters->For(r2, Severity::kLow).Inc();
  const std::string text = metrics.Serialize();
  EXPECT_TRUE(HasLine(text, R"(chipwatch_alerts_total{rule_id="R-1",severity="medium"} 2)"));
  EXPECT_TRUE(HasLine(text, R"(chipwatch_alerts_total{rule_id="R-2",severity="low"} 1)"));
  // A rule of another policy (an alert raised under the old snapshot) is still counted right.
  new_counters->For(before->rules->rules()[0], Severity::kCritical).Inc();
  EXPECT_EQ(metrics.Alerts("R-1", "critical").Value(), 1.0);
}

TEST(AlertCountersTest, TheProcessorAttachesTheCounterToEachAlert) {
  Metrics metrics("test");
  auto policy = Load(kOneRule);
  ASSERT_NE(policy, nullptr);
  auto counters = std::make_shared<const AlertCounters>(metrics, *policy->rules);
  EventProcessor processor(policy, nullptr);
  processor.set_alert_counters(counters);
  std::string text =
      R"({"eventVersion":"1.08","eventTime":"2025-06-01T10:00:00Z","eventSource":"ec2.amazonaws.com",)"
      R"("eventName":"RunInstances","awsRegion":"cn-north-1","eventID":"e-1"})";
  const size_t size = text.size();
  text.append(kInputPadding, '\0');
  Origin origin;
  origin.file = "test.jsonl";
  ProcessorOutput out;
  processor.Process(std::string_view(text.data(), size), text.size(), Format::kAuto, origin, out);
  ASSERT_EQ(out.refs.size(), 1u);
  EXPECT_EQ(out.refs[0].alerts_total, &metrics.Alerts("R-1", "critical"));
}

}  // namespace
}  // namespace chipwatch
