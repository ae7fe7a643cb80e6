#include "engine/processor.h"

#include <gtest/gtest.h>

#include <string>

#include "engine/alert_json.h"
#include "engine/input_reader.h"
#include "engine/policy.h"

namespace chipwatch {
namespace {

constexpr char kPolicy[] = R"(
catalogs:
  accelerators:
    - {name: H100, status: restricted, classification: 3A090.a, match: ['\bh100\b'], source: test}
    - {name: T4, status: not_controlled, match: ['\bt4\b'], source: test}
  instance_types:
    - {name: p5.48xlarge, provider: aws, accelerator: H100, model: NVIDIA H100 80GB HBM3, count: 8, source: test}
    - {name: g4dn.xlarge, provider: aws, accelerator: T4, count: 1, source: test}
  destinations:
    - {name: CN, country: China, tier: embargoed, source: test}
lists:
  - {name: launches, items: [RunInstances]}
rules:
  - id: T-1
    title: restricted launch from a restricted place
    severity: medium
    severity_from: {field: source.tier, map: {embargoed: critical}}
    tags: [t]
    reason: "{accelerator.family} x{accelerator.count} from {source.country}"
    condition:
      all:
        - in: {field: action, list: launches}
        - equals: {field: accelerator.status, value: restricted}
        - exists: source.tier
)";

std::string Record(const std::string& type, const std::string& id = "e-1") {
  return R"({"eventVersion":"1.08","eventTime":"2025-06-01T10:00:00Z","eventSource":"ec2.amazonaws.com",)"
         R"("eventName":"RunInstances","awsRegion":"us-east-1","sourceIPAddress":"36.110.1.2",)"
         R"("eventID":")" +
         id + R"(","recipientAccountId":"111122223333","requestParameters":{"instanceType":")" +
         type + R"("}})";
}

class ProcessorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Diagnostics diags;
    policy_ = LoadPolicyFromStrings({{"inline.yaml", kPolicy}}, diags);
    ASSERT_NE(policy_, nullptr) << (diags.items().empty() ? "" : diags.items()[0].ToString());
  }

  ProcessorOutput Run(EventProcessor& processor, const std::string& text) {
    std::string padded = text;
    padded.append(kInputPadding, '\0');
    Origin origin;
    origin.file = "test.jsonl";
    origin.line = 7;
    ProcessorOutput out;
    processor.Process(std::string_view(padded.data(), text.size()), padded.size(), Format::kAuto,
                      origin, out);
    return out;
  }

  std::shared_ptr<const LoadedPolicy> policy_;
};

TEST_F(ProcessorTest, StandInCountryDrivesTierSeverityAndReason) {
  EventProcessor processor(policy_, nullptr);
  processor.set_overrides({{FieldId::kSourceCountry, "CN"}});
  ProcessorOutput out = Run(processor, Record("p5.48xlarge"));
  EXPECT_EQ(out.events, 1u);
  ASSERT_EQ(out.alert_count, 1u);
  EXPECT_NE(out.alerts.find(R"("rule_id":"T-1")"), std::string::npos);
  EXPECT_NE(out.alerts.find(R"("severity":"critical")"), std::string::npos);
  EXPECT_NE(out.alerts.find(R"("reason":"H100 x8 from CN")"), std::string::npos);
  EXPECT_NE(out.alerts.find(R"("origin":{"file":"test.jsonl","line":7,"index":0})"),
            std::string::npos);
  EXPECT_EQ(out.alerts.back(), '\n');
}

TEST_F(ProcessorTest, NoCountryNoAlertAndHarmlessTypeNoAlert) {
  EventProcessor processor(policy_, nullptr);
  EXPECT_EQ(Run(processor, Record("p5.48xlarge")).alert_count, 0u);
  processor.set_overrides({{FieldId::kSourceCountry, "CN"}});
  EXPECT_EQ(Run(processor, Record("g4dn.xlarge")).alert_count, 0u);
}

TEST_F(ProcessorTest, UndecodableRecordIsAFailureWithItsOrigin) {
  EventProcessor processor(policy_, nullptr);
  ProcessorOutput out = Run(processor, R"({"eventVersion":"1.08","eventName":)");
  EXPECT_EQ(out.events, 0u);
  ASSERT_EQ(out.failures.size(), 1u);
  EXPECT_EQ(out.failures[0].origin.file, "test.jsonl");
  EXPECT_EQ(out.failures[0].origin.line, 7u);
}

TEST_F(ProcessorTest, EnvelopeRecordsKeepTheirOwnLinesAndIndexes) {
  EventProcessor processor(policy_, nullptr);
  processor.set_overrides({{FieldId::kSourceCountry, "CN"}});
  std::string doc =
      "{\"Records\":[\n" + Record("g4dn.xlarge", "a") + ",\n" + Record("p5.48xlarge", "b") + "\n]}";
  ProcessorOutput out = Run(processor, doc);
  EXPECT_EQ(out.events, 2u);
  ASSERT_EQ(out.alert_count, 1u);
  EXPECT_NE(out.alerts.find(R"("event_id":"b")"), std::string::npos);
  EXPECT_NE(out.alerts.find(R"("line":9,"index":1)"), std::string::npos) << out.alerts;
}

TEST_F(ProcessorTest, ObserverSeesEveryEventWithItsMatches) {
  EventProcessor processor(policy_, nullptr);
  processor.set_overrides({{FieldId::kSourceCountry, "CN"}});
  std::vector<size_t> seen;
  processor.set_observer(
      [&](const Event&, const std::vector<RuleMatch>& matches) { seen.push_back(matches.size()); });
  Run(processor, Record("p5.48xlarge"));
  Run(processor, Record("g4dn.xlarge"));
  EXPECT_EQ(seen, (std::vector<size_t>{1, 0}));
}

TEST(SetFieldFromTextTest, TypesAreChecked) {
  Arena arena;
  Event e;
  EXPECT_TRUE(SetFieldFromText(e, FieldId::kTenantKnown, "false", arena));
  EXPECT_TRUE(e.Has(FieldId::kTenantKnown));
  EXPECT_EQ(e.Num(FieldId::kTenantKnown), 0);
  EXPECT_FALSE(SetFieldFromText(e, FieldId::kTenantKnown, "maybe", arena));
  EXPECT_TRUE(SetFieldFromText(e, FieldId::kAcceleratorCount, "8", arena));
  EXPECT_EQ(e.Num(FieldId::kAcceleratorCount), 8);
  EXPECT_FALSE(SetFieldFromText(e, FieldId::kAcceleratorCount, "8x", arena));
  EXPECT_TRUE(SetFieldFromText(e, FieldId::kSourceIp, "036.110.001.002", arena));
  EXPECT_TRUE(e.source_addr.valid);
  EXPECT_FALSE(SetFieldFromText(e, FieldId::kSourceIp, "AWS Internal", arena));
  EXPECT_TRUE(SetFieldFromText(e, FieldId::kSourceCountry, "CN", arena));
  EXPECT_EQ(e.Str(FieldId::kSourceCountry), "CN");
}

TEST_F(ProcessorTest, AlertJsonHasFixedKeysNullsAndKafkaOrigin) {
  const CompiledRule& rule = policy_->rules->rules()[0];
  Event e;
  e.format = Format::kGpuAlloc;
  e.SetStr(FieldId::kEventId, "id-\"1\"");
  e.SetStr(FieldId::kAction, "allocate");
  e.SetNum(FieldId::kAcceleratorCount, 4);
  e.SetBool(FieldId::kTenantKnown, false);
  e.origin.file = "gpu-alloc";
  e.origin.partition = 3;
  e.origin.offset = 42;
  std::string out;
  AppendAlertJson(out, rule, Severity::kHigh, e, "why");
  EXPECT_EQ(out.rfind(R"({"schema":"chipwatch-alert/v1","kind":"event","rule_id":"T-1",)", 0), 0u)
      << out;
  EXPECT_NE(out.find(R"("event_id":"id-\"1\"","event_time":null,"format":"gpu_alloc")"),
            std::string::npos);
  EXPECT_NE(out.find(R"("accelerator_count":4)"), std::string::npos);
  EXPECT_NE(out.find(R"("tenant_known":false)"), std::string::npos);
  EXPECT_NE(out.find(R"("matched":[],"tags":["t"])"), std::string::npos);
  EXPECT_NE(out.find(R"("origin":{"topic":"gpu-alloc","partition":3,"offset":42,"index":0}})"),
            std::string::npos)
      << out;
}

}  // namespace
}  // namespace chipwatch
