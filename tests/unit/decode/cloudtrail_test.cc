#include <gtest/gtest.h>

#include <filesystem>

#include "decode_test_util.h"

namespace chipwatch::testing {
namespace {

class CloudTrailSamples : public SamplesFixture {
 protected:
  void SetUp() override { Load("cloudtrail.jsonl", Format::kCloudTrail); }
};

TEST_F(CloudTrailSamples, EveryLineDecodes) {
  EXPECT_EQ(handler_.errors.size(), 0u) << handler_.errors[0].message;
  EXPECT_EQ(handler_.events.size(), ReadLines(TestData("samples/cloudtrail.jsonl")).size());
}

TEST_F(CloudTrailSamples, RunInstancesP5FromChina) {
  const DecodedEvent& e = Get("ct-0001-run-p5-cn");
  EXPECT_EQ(e.format, Format::kCloudTrail);
  EXPECT_EQ(e.Str(FieldId::kFormat), "cloudtrail");
  EXPECT_EQ(e.Str(FieldId::kProvider), "aws");
  EXPECT_EQ(e.Str(FieldId::kEventSource), "ec2.amazonaws.com");
  EXPECT_EQ(e.Str(FieldId::kAction), "RunInstances");
  EXPECT_EQ(e.Str(FieldId::kEventTime), "2024-05-02T08:15:03Z");
  EXPECT_EQ(e.Num(FieldId::kEventTime), 1714637703000);
  EXPECT_EQ(e.Str(FieldId::kRegion), "us-east-1");
  EXPECT_EQ(e.Str(FieldId::kAccount), "111122223333");
  EXPECT_EQ(e.Str(FieldId::kTenant), "111122223333");
  EXPECT_EQ(e.Str(FieldId::kPrincipal), "arn:aws:iam::111122223333:user/ops-admin");
  EXPECT_EQ(e.Str(FieldId::kPrincipalType), "IAMUser");
  EXPECT_EQ(e.Str(FieldId::kSourceIp), "36.110.42.17");
  EXPECT_TRUE(e.source_addr.valid);
  EXPECT_TRUE(e.source_addr.is_v4);
  EXPECT_EQ(e.source_addr.bytes[12], 36);
  EXPECT_EQ(e.Str(FieldId::kUserAgent), "aws-cli/2.15.30 Python/3.11.8 Linux/6.1 exe/x86_64");
  EXPECT_EQ(e.Str(FieldId::kOutcome), "success");
  EXPECT_FALSE(e.Has(FieldId::kErrorCode));
  EXPECT_EQ(e.Str(FieldId::kInstanceType), "p5.48xlarge");
  EXPECT_EQ(e.Str(FieldId::kResourceName), "i-0p5aaaaaaaaaaaaa1");
  EXPECT_FALSE(e.Has(FieldId::kAcceleratorCount));  // maxCount is instances, not GPUs
  EXPECT_EQ(e.origin.line, 1u);
}

TEST_F(CloudTrailSamples, ModifyInstanceAttributeValueObject) {
  const DecodedEvent& e = Get("ct-0005-modify-p4d");
  EXPECT_EQ(e.Str(FieldId::kInstanceType), "p4d.24xlarge");
  EXPECT_EQ(e.Str(FieldId::kResourceName), "i-0123456789abcdef0");
  EXPECT_EQ(e.Str(FieldId::kPrincipalType), "AssumedRole");
  EXPECT_EQ(e.Str(FieldId::kPrincipal),
            "arn:aws:sts::111122223333:assumed-role/infra-bot-role/infra-bot");
}

TEST_F(CloudTrailSamples, LaunchTemplateTypeOnlyInResponse) {
  const DecodedEvent& e = Get("ct-0006-run-template");
  EXPECT_EQ(e.Str(FieldId::kInstanceType), "p5e.48xlarge");
  EXPECT_EQ(e.Str(FieldId::kResourceName), "i-0p5etemplate00001");
}

TEST_F(CloudTrailSamples, FailedLaunchKeepsErrorAndType) {
  const DecodedEvent& e = Get("ct-0007-run-failed");
  EXPECT_EQ(e.Str(FieldId::kOutcome), "failure");
  EXPECT_EQ(e.Str(FieldId::kErrorCode), "Server.InsufficientInstanceCapacity");
  EXPECT_EQ(e.Str(FieldId::kErrorMessage).rfind("We currently do not have sufficient", 0), 0u);
  EXPECT_EQ(e.Str(FieldId::kInstanceType), "p5.48xlarge");
}

TEST_F(CloudTrailSamples, SageMakerTrainingJob) {
  const DecodedEvent& e = Get("ct-0008-sagemaker-train");
  EXPECT_EQ(e.Str(FieldId::kEventSource), "sagemaker.amazonaws.com");
  EXPECT_EQ(e.Str(FieldId::kInstanceType), "ml.p5.48xlarge");
  EXPECT_EQ(e.Str(FieldId::kJobId), "llm-pretrain-7b-0502");
  EXPECT_EQ(e.Str(FieldId::kResourceName), "llm-pretrain-7b-0502");
  EXPECT_EQ(e.Str(FieldId::kRegion), "us-west-2");
}

TEST_F(CloudTrailSamples, BedrockInvokeWithInferenceProfile) {
  const DecodedEvent& e = Get("ct-0009-bedrock-invoke");
  EXPECT_EQ(e.Str(FieldId::kEventSource), "bedrock.amazonaws.com");
  EXPECT_EQ(e.Str(FieldId::kAction), "InvokeModel");
  EXPECT_EQ(e.Str(FieldId::kModelId), "us.anthropic.claude-3-5-sonnet-20240620-v1:0");
  EXPECT_EQ(e.Str(FieldId::kInferenceRegion), "us-west-2");
  EXPECT_FALSE(e.Has(FieldId::kInstanceType));
  const DecodedEvent& entitlement = Get("ct-0010-bedrock-entitlement");
  EXPECT_EQ(entitlement.Str(FieldId::kAction), "PutFoundationModelEntitlement");
  EXPECT_EQ(entitlement.Str(FieldId::kModelId), "anthropic.claude-3-opus-20240229-v1:0");
}

TEST_F(CloudTrailSamples, CapacityReservationFleetAndSpot) {
  EXPECT_EQ(Get("ct-0012-capacity-reservation").Str(FieldId::kInstanceType), "p5.48xlarge");
  EXPECT_EQ(Get("ct-0012-capacity-reservation").Str(FieldId::kRegion), "ap-east-1");
  // First override wins.
  EXPECT_EQ(Get("ct-0013-create-fleet").Str(FieldId::kInstanceType), "p4de.24xlarge");
  EXPECT_EQ(Get("ct-0018-spot").Str(FieldId::kInstanceType), "p4d.24xlarge");
  EXPECT_EQ(Get("ct-0017-endpoint-config").Str(FieldId::kInstanceType), "ml.g5.2xlarge");
}

TEST_F(CloudTrailSamples, NoiseHasNoInstanceType) {
  const DecodedEvent& describe = Get("ct-0003-describe");
  EXPECT_FALSE(describe.Has(FieldId::kInstanceType));
  EXPECT_EQ(Get("ct-0004-getobject").Str(FieldId::kSourceIp), "198.51.100.7");
  const DecodedEvent& start = Get("ct-0014-start");
  EXPECT_FALSE(start.Has(FieldId::kInstanceType));
  EXPECT_EQ(start.Str(FieldId::kResourceName), "i-0g4dnbbbbbbbbbbb2");
}

TEST_F(CloudTrailSamples, NonIpSourcesStayText) {
  const DecodedEvent& e = Get("ct-0016-assume-role-service");
  EXPECT_EQ(e.Str(FieldId::kSourceIp), "ec2.amazonaws.com");
  EXPECT_FALSE(e.source_addr.valid);
  EXPECT_EQ(e.Str(FieldId::kPrincipal), "ec2.amazonaws.com");  // invokedBy
  EXPECT_EQ(e.Str(FieldId::kPrincipalType), "AWSService");
  const DecodedEvent& login = Get("ct-0015-console-login");
  EXPECT_TRUE(login.source_addr.valid);
  EXPECT_FALSE(login.source_addr.is_v4);
  EXPECT_EQ(login.Str(FieldId::kPrincipal), "arn:aws:iam::111122223333:root");
}

// --- real data: Stratus Red Team detonation logs (JSON arrays, key-sorted, leading-zero IPs) ---

TEST(CloudTrailReal, StratusFilesDecodeCompletely) {
  Decoder decoder;
  size_t files = 0, records = 0;
  for (const auto& entry :
       std::filesystem::directory_iterator(TestData("real/stratus-detonation-logs"))) {
    if (entry.path().extension() != ".json") continue;
    ++files;
    CapturingHandler handler;
    std::string text = ReadFile(entry.path());
    Origin origin;
    origin.file = "stratus";
    origin.line = 1;
    records += decoder.DecodeDocument(text, Format::kAuto, origin, handler);
    EXPECT_TRUE(handler.errors.empty()) << entry.path() << ": " << handler.errors[0].message;
    for (const auto& e : handler.events) {
      EXPECT_EQ(e.format, Format::kCloudTrail);
      EXPECT_TRUE(e.Has(FieldId::kEventId));
      EXPECT_TRUE(e.Has(FieldId::kAction));
      EXPECT_TRUE(e.Has(FieldId::kEventTime));
      EXPECT_TRUE(e.Has(FieldId::kOutcome));
    }
  }
  EXPECT_EQ(files, 35u);
  EXPECT_GT(records, 300u);
}

TEST(CloudTrailReal, StratusUnusualInstancesLeadingZeroIp) {
  Decoder decoder;
  CapturingHandler handler;
  std::string text = ReadFile(
      TestData("real/stratus-detonation-logs/aws.execution.ec2-launch-unusual-instances.json"));
  Origin origin;
  origin.file = "x";
  origin.line = 1;
  EXPECT_EQ(decoder.DecodeDocument(text, Format::kCloudTrail, origin, handler), 3u);
  ASSERT_EQ(handler.events.size(), 3u);
  const DecodedEvent* e = handler.Find("1a4debbb-12e9-4bde-b8c7-ea29002bb2a7");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->Str(FieldId::kAction), "RunInstances");
  EXPECT_EQ(e->Str(FieldId::kInstanceType), "p2.xlarge");
  EXPECT_EQ(e->Str(FieldId::kOutcome), "failure");
  EXPECT_EQ(e->Str(FieldId::kErrorCode), "Client.UnauthorizedOperation");
  EXPECT_EQ(e->Str(FieldId::kSourceIp), "06.237.252.245");
  ASSERT_TRUE(e->source_addr.valid);
  EXPECT_EQ(e->source_addr.bytes[12], 6);
  EXPECT_EQ(e->source_addr.bytes[13], 237);
  EXPECT_EQ(e->Str(FieldId::kAccount), "900138736586");
  EXPECT_EQ(e->Str(FieldId::kRegion), "ca-south-3r");
  EXPECT_EQ(e->Str(FieldId::kPrincipalType), "AssumedRole");
  EXPECT_EQ(e->Num(FieldId::kEventTime), 1722511823000);
  EXPECT_EQ(e->origin.index, 0u);
  EXPECT_EQ(e->origin.line, 2u);  // pretty-printed: the record's '{' is on line 2
}

TEST(CloudTrailReal, StratusBedrock) {
  Decoder decoder;
  CapturingHandler handler;
  std::string text =
      ReadFile(TestData("real/stratus-detonation-logs/aws.impact.bedrock-invoke-model.json"));
  DecodeText(decoder, text, Format::kAuto, handler);
  ASSERT_EQ(handler.events.size(), 15u);
  const DecodedEvent& first = handler.events[0];
  EXPECT_EQ(first.Str(FieldId::kAction), "PutFoundationModelEntitlement");
  EXPECT_EQ(first.Str(FieldId::kModelId), "anthropic.claude-3-sonnet-20240229-v1:0");
  EXPECT_EQ(first.Str(FieldId::kSourceIp), "035.249.253.232");
  EXPECT_TRUE(first.source_addr.valid);
  EXPECT_EQ(first.Str(FieldId::kPrincipal), "arn:aws:sts::494659789341:assumed-role/test-role/cli");
  EXPECT_EQ(handler.events[2].Str(FieldId::kAction), "InvokeModel");
}

TEST(CloudTrailReal, InvictusRecordsEnvelopes) {
  Decoder decoder;
  size_t events = 0;
  for (const auto& entry :
       std::filesystem::directory_iterator(TestData("real/invictus-aws-cloudtrail"))) {
    if (entry.path().extension() != ".json") continue;
    CapturingHandler handler;
    std::string text = ReadFile(entry.path());
    Origin origin;
    origin.file = "invictus";
    origin.line = 1;
    size_t seen = decoder.DecodeDocument(text, Format::kCloudTrail, origin, handler);
    EXPECT_EQ(seen, handler.events.size());
    EXPECT_TRUE(handler.errors.empty()) << entry.path() << ": " << handler.errors[0].message;
    for (size_t i = 0; i < handler.events.size(); ++i) {
      EXPECT_EQ(handler.events[i].origin.index, i);
      EXPECT_EQ(handler.events[i].origin.line, 1u);  // the whole file is one line
    }
    events += handler.events.size();
  }
  EXPECT_GT(events, 700u);
}

TEST(CloudTrailReal, InvictusGpuLaunchAttempt) {
  Decoder decoder;
  CapturingHandler handler;
  std::string text =
      ReadFile(TestData("real/invictus-aws-cloudtrail/"
                        "218007301253_CloudTrail_us-east-1_20230710T1210Z_vj0QE0Tf5ZmzMsCo.json"));
  DecodeText(decoder, text, Format::kAuto, handler);
  const DecodedEvent* e = handler.Find("8e865acb-b1e1-41d1-bdf3-47462f79d24c");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->Str(FieldId::kAction), "RunInstances");
  EXPECT_EQ(e->Str(FieldId::kInstanceType), "p2.xlarge");
  EXPECT_EQ(e->Str(FieldId::kErrorCode), "Client.VcpuLimitExceeded");
  EXPECT_EQ(e->Str(FieldId::kSourceIp), "192.168.10.20");
  EXPECT_EQ(e->Str(FieldId::kAccount), "123837392027");
  EXPECT_EQ(e->origin.index, 25u);
}

// EventBridge delivers CloudTrail records in real time inside `detail`; each decodes exactly as the
// record on its own, in either format mode, whatever the order of the wrapper's keys.
TEST(CloudTrailEventBridge, DetailDecodesAsTheRecord) {
  const std::string record = ReadLines(TestData("samples/cloudtrail.jsonl"))[0];
  Decoder decoder;
  CapturingHandler plain;
  DecodeText(decoder, record, Format::kCloudTrail, plain);
  ASSERT_EQ(plain.events.size(), 1u);
  const std::string wrappers[] = {
      R"({"version":"0","id":"6a7e8feb","detail-type":"AWS API Call via CloudTrail",)"
      R"("source":"aws.ec2","account":"111122223333","time":"2024-05-05T01:00:00Z",)"
      R"("region":"us-east-1","resources":[],"detail":)" +
          record + "}",
      R"({"detail":)" + record +
          R"(,"source":"aws.ec2","detail-type":"AWS API Call via CloudTrail"})"};
  for (const std::string& wrapped : wrappers) {
    for (Format format : {Format::kCloudTrail, Format::kAuto}) {
      CapturingHandler handler;
      DecodeText(decoder, wrapped, format, handler);
      ASSERT_EQ(handler.events.size(), 1u) << handler.errors[0].message;
      EXPECT_EQ(handler.events[0].str, plain.events[0].str);
      EXPECT_EQ(handler.events[0].format, Format::kCloudTrail);
    }
  }
  EXPECT_EQ(decoder.Detect(wrappers[0]), Format::kCloudTrail);
}

TEST(CloudTrailEventBridge, OtherDetailTypesAreNamedInTheError) {
  Decoder decoder;
  CapturingHandler handler;
  DecodeText(decoder,
             R"({"version":"0","detail-type":"EC2 Instance State-change Notification",)"
             R"("source":"aws.ec2","detail":{"instance-id":"i-1","state":"running"}})",
             Format::kCloudTrail, handler);
  ASSERT_EQ(handler.errors.size(), 1u);
  EXPECT_EQ(handler.errors[0].reason, DecodeErrorReason::kWrongType);
  EXPECT_NE(handler.errors[0].message.find("EC2 Instance State-change Notification"),
            std::string::npos)
      << handler.errors[0].message;
  // Not a CloudTrail detail-type, so `auto` does not take it for CloudTrail either.
  EXPECT_EQ(decoder.Detect(R"({"detail-type":"EC2 Instance State-change Notification",)"
                           R"("detail":{}})"),
            std::nullopt);
}

}  // namespace
}  // namespace chipwatch::testing
