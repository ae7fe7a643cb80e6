// OCI Audit decoding (docs/formats/oci_audit.md): the sample fixture, the three envelopes
// (Audit API v2, OCI Logging's CloudEvents 1.0, a Logging search result's logContent), regions,
// outcomes, lenient decoding and auto-detection against the other formats.
#include <gtest/gtest.h>

#include "decode_test_util.h"

namespace chipwatch::testing {
namespace {

using Samples = SamplesFixture;

constexpr const char* kTenancy = "ocid1.tenancy.oc1..aaaaaaaaexampletenancy";
constexpr const char* kCompartment = "ocid1.compartment.oc1..aaaaaaaaexamplecompartment";

TEST_F(Samples, OciDocumentationExample) {
  Load("oci_audit.jsonl", Format::kOciAudit);
  const DecodedEvent& e = Get("oci-0001-getinstance");
  EXPECT_EQ(e.format, Format::kOciAudit);
  EXPECT_EQ(e.Str(FieldId::kFormat), "oci_audit");
  EXPECT_EQ(e.Str(FieldId::kProvider), "oci");
  EXPECT_EQ(e.Str(FieldId::kEventSource), "ComputeApi");
  EXPECT_EQ(e.Str(FieldId::kAction), "GetInstance");
  EXPECT_EQ(e.Str(FieldId::kEventTime), "2019-09-18T00:10:59.252Z");
  EXPECT_EQ(e.Num(FieldId::kEventTime), 1568765459252);
  EXPECT_EQ(e.Str(FieldId::kPrincipal), "ExampleName");
  EXPECT_EQ(e.Str(FieldId::kPrincipalType), "natv");
  EXPECT_EQ(e.Str(FieldId::kSourceIp), "172.24.80.88");
  EXPECT_TRUE(e.source_addr.valid);
  EXPECT_EQ(e.Str(FieldId::kUserAgent), "Jersey/2.23 (HttpUrlConnection 1.8.0_212)");
  EXPECT_EQ(e.Str(FieldId::kAccount), kTenancy);
  EXPECT_EQ(e.Str(FieldId::kTenant), kTenancy);  // the docs' example: the root compartment
  EXPECT_EQ(e.Str(FieldId::kZone), "Uocm:PHX-AD-1");
  EXPECT_EQ(e.Str(FieldId::kRegion), "us-phoenix-1");  // from the resource OCID's "phx"
  EXPECT_EQ(e.Str(FieldId::kResourceName), "my_instance");
  EXPECT_EQ(e.Str(FieldId::kOutcome), "success");
  EXPECT_FALSE(e.Has(FieldId::kInstanceType));
  EXPECT_EQ(e.repairs, 0);
}

TEST_F(Samples, OciLaunchAndShapeChange) {
  Load("oci_audit.jsonl", Format::kOciAudit);
  const DecodedEvent& h100 = Get("oci-0002-launch-h100");
  EXPECT_EQ(h100.Str(FieldId::kAction), "LaunchInstance");
  EXPECT_EQ(h100.Str(FieldId::kInstanceType), "BM.GPU.H100.8");
  EXPECT_EQ(h100.Str(FieldId::kSourceIp), "1.202.77.20");
  EXPECT_EQ(h100.Str(FieldId::kTenant), kCompartment);
  EXPECT_EQ(h100.Str(FieldId::kAccount), kTenancy);
  EXPECT_EQ(h100.Str(FieldId::kPrincipal), "li.wei@example.cn");
  EXPECT_EQ(h100.Str(FieldId::kRegion), "us-phoenix-1");  // Instance.region "phx"
  EXPECT_EQ(h100.Str(FieldId::kResourceName), "h100-trainer-0");
  EXPECT_EQ(Get("oci-0003-launch-e4flex").Str(FieldId::kInstanceType), "VM.Standard.E4.Flex");
  // The new shape (stateChange.current), not the old one (stateChange.previous).
  const DecodedEvent& update = Get("oci-0004-update-shape-dubai");
  EXPECT_EQ(update.Str(FieldId::kAction), "UpdateInstance");
  EXPECT_EQ(update.Str(FieldId::kInstanceType), "BM.GPU.A100-v2.8");
  EXPECT_EQ(update.Str(FieldId::kRegion), "me-dubai-1");
  EXPECT_EQ(update.Str(FieldId::kZone), "Uocm:ME-DUBAI-1-AD-1");
}

TEST_F(Samples, OciFailureKeepsTheShapeAndTheRegionOfTheDomain) {
  Load("oci_audit.jsonl", Format::kOciAudit);
  const DecodedEvent& denied = Get("oci-0005-launch-denied");
  EXPECT_EQ(denied.Str(FieldId::kOutcome), "failure");
  EXPECT_EQ(denied.Str(FieldId::kErrorCode), "404");
  EXPECT_EQ(denied.Str(FieldId::kErrorMessage),
            "Authorization failed or requested resource not found.");
  EXPECT_EQ(denied.Str(FieldId::kInstanceType), "BM.GPU.H100.8");  // additionalDetails.shape
  EXPECT_EQ(denied.Str(FieldId::kRegion), "us-ashburn-1");         // "US-ASHBURN-AD-1"
  EXPECT_FALSE(denied.Has(FieldId::kResourceName));
}

TEST_F(Samples, OciPoolsClustersAndReservations) {
  Load("oci_audit.jsonl", Format::kOciAudit);
  const DecodedEvent& pool = Get("oci-0006-create-pool");
  EXPECT_EQ(pool.Str(FieldId::kAction), "CreateInstancePool");
  EXPECT_EQ(pool.Str(FieldId::kEventSource), "computeManagement");
  EXPECT_EQ(pool.Str(FieldId::kInstanceType), "BM.GPU.H100.8");
  // OCI Logging's CloudEvents 1.0 form: id, time, type; the compartment from `oracle`.
  const DecodedEvent& cluster = Get("oci-0007-cluster-network-logging");
  EXPECT_EQ(cluster.Str(FieldId::kAction), "CreateClusterNetwork");
  EXPECT_EQ(cluster.Str(FieldId::kInstanceType), "BM.GPU.H100.8");
  EXPECT_EQ(cluster.Str(FieldId::kTenant), kCompartment);
  EXPECT_EQ(cluster.Num(FieldId::kEventTime), 1748860200000);
  EXPECT_EQ(cluster.Str(FieldId::kRegion), "us-phoenix-1");
  // A Logging search result: the event inside `logContent`.
  const DecodedEvent& wrapped = Get("oci-0008-launch-logcontent");
  EXPECT_EQ(wrapped.Str(FieldId::kAction), "LaunchInstance");
  EXPECT_EQ(wrapped.Str(FieldId::kInstanceType), "BM.GPU.H100.8");
  EXPECT_EQ(wrapped.Str(FieldId::kRegion), "us-ashburn-1");
  EXPECT_EQ(wrapped.Str(FieldId::kSourceIp), "81.23.4.5");
  const DecodedEvent& reservation = Get("oci-0009-capacity-reservation");
  EXPECT_EQ(reservation.Str(FieldId::kInstanceType), "BM.GPU.H200.8");
}

TEST(OciAudit, ActionFromTheEventTypeWithoutEventName) {
  Decoder decoder;
  CapturingHandler handler;
  DecodeText(decoder,
             R"({"eventType":"com.oraclecloud.computeapi.launchinstance.end","eventId":"e1",)"
             R"("eventTime":"2025-06-02T08:14:21Z","data":{"additionalDetails":)"
             R"({"shape":"BM.GPU.H100.8"},"availabilityDomain":"kIdk:AP-TOKYO-1-AD-1"}})",
             Format::kAuto, handler);
  ASSERT_EQ(handler.events.size(), 1u) << handler.errors[0].message;
  const DecodedEvent& e = handler.events[0];
  EXPECT_EQ(e.format, Format::kOciAudit);
  EXPECT_EQ(e.Str(FieldId::kAction), "launchinstance");  // the .end phase dropped
  EXPECT_EQ(e.Str(FieldId::kInstanceType), "BM.GPU.H100.8");
  EXPECT_EQ(e.Str(FieldId::kRegion), "ap-tokyo-1");
}

TEST(OciAudit, MissingActionIsAnError) {
  Decoder decoder;
  CapturingHandler handler;
  DecodeText(decoder, R"({"cloudEventsVersion":"0.1","eventId":"e2","data":{}})", Format::kAuto,
             handler);
  ASSERT_EQ(handler.errors.size(), 1u);
  EXPECT_EQ(handler.errors[0].format, Format::kOciAudit);
  EXPECT_EQ(handler.errors[0].reason, DecodeErrorReason::kMissingField);
  EXPECT_EQ(handler.errors[0].message, "missing required field 'eventType'");
}

TEST(OciAudit, LenientWithoutIdAndTime) {
  Decoder decoder;
  CapturingHandler handler;
  const std::string record =
      R"({"eventType":"com.oraclecloud.ComputeApi.LaunchInstance","eventTime":"REDACTED",)"
      R"("data":{"eventName":"LaunchInstance","response":{"status":500}}})";
  DecodeText(decoder, record, Format::kOciAudit, handler);
  ASSERT_EQ(handler.events.size(), 1u) << handler.errors[0].message;
  const DecodedEvent& e = handler.events[0];
  EXPECT_TRUE(HasRepair(e.repairs, DecodeWarning::kMissingId));
  EXPECT_TRUE(HasRepair(e.repairs, DecodeWarning::kInvalidTime));
  EXPECT_EQ(e.Str(FieldId::kEventId).rfind("cw-", 0), 0u);
  EXPECT_EQ(e.Str(FieldId::kOutcome), "failure");  // a numeric status
  EXPECT_EQ(e.Str(FieldId::kErrorCode), "500");
}

TEST(OciAudit, OtherTypesAreIgnored) {
  Decoder decoder;
  CapturingHandler handler;
  DecodeText(decoder,
             R"({"eventType":"com.oraclecloud.ComputeApi.LaunchInstance","eventId":5,)"
             R"("data":{"identity":{"ipAddress":7},"stateChange":{"current":{"shape":1}},)"
             R"("resourceName":null},"logContent":{"data":1}})",
             Format::kOciAudit, handler);
  // A `logContent` that is not an event adds nothing.
  ASSERT_EQ(handler.events.size(), 1u) << handler.errors[0].message;
  const DecodedEvent& e = handler.events[0];
  EXPECT_EQ(e.Str(FieldId::kAction), "LaunchInstance");
  EXPECT_FALSE(e.Has(FieldId::kInstanceType));
  EXPECT_FALSE(e.Has(FieldId::kSourceIp));
  EXPECT_TRUE(HasRepair(e.repairs, DecodeWarning::kMissingId));
}

TEST(OciAudit, DetectionDoesNotTakeOtherFormats) {
  Decoder decoder;
  EXPECT_EQ(decoder.Detect(R"({"eventType":"com.oraclecloud.ComputeApi.GetInstance"})"),
            Format::kOciAudit);
  EXPECT_EQ(decoder.Detect(R"({"type":"com.oraclecloud.ComputeApi.GetInstance","id":"x"})"),
            Format::kOciAudit);
  EXPECT_EQ(decoder.Detect(R"({"cloudEventsVersion":"0.1","eventId":"x"})"), Format::kOciAudit);
  EXPECT_EQ(decoder.Detect(R"({"datetime":1,"logContent":{"type":"x"}})"), Format::kOciAudit);
  // Other CloudEvents are not OCI Audit events.
  EXPECT_EQ(decoder.Detect(R"({"type":"com.example.object.created","specversion":"1.0"})"),
            std::nullopt);
  EXPECT_EQ(decoder.Detect(R"({"eventType":"Microsoft.Storage.BlobCreated"})"), std::nullopt);
  // The other formats keep their records, whatever else they carry.
  EXPECT_EQ(decoder.Detect(R"({"eventVersion":"1.08","eventType":"com.oraclecloud.x"})"),
            Format::kCloudTrail);
  EXPECT_EQ(decoder.Detect(R"({"type":"com.oraclecloud.x","protoPayload":{}})"), Format::kGcpAudit);
  EXPECT_EQ(decoder.Detect(R"({"kind":"Event","apiVersion":"audit.k8s.io/v1",)"
                           R"("type":"com.oraclecloud.x"})"),
            Format::kK8sAudit);
  EXPECT_EQ(decoder.Detect(R"({"schema":"gpu-alloc/v1","eventType":"com.oraclecloud.x"})"),
            Format::kGpuAlloc);
  EXPECT_EQ(decoder.Detect(R"({"operationName":"x","correlationId":"c",)"
                           R"("eventType":"com.oraclecloud.x"})"),
            Format::kAzureActivity);
  EXPECT_EQ(DetectFormat(kShapeOciAudit), Format::kOciAudit);
  EXPECT_EQ(DetectFormat(kShapeOciAudit | kShapeEventVersion), Format::kCloudTrail);
}

TEST(OciAudit, FormatNameRoundTrips) {
  EXPECT_EQ(FormatName(Format::kOciAudit), "oci_audit");
  EXPECT_EQ(ParseFormat("oci_audit"), Format::kOciAudit);
}

}  // namespace
}  // namespace chipwatch::testing
