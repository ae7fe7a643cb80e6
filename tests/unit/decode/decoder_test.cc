// Envelopes, error reasons and hostile input.
#include <gtest/gtest.h>

#include <random>

#include "decode_test_util.h"

namespace chipwatch::testing {
namespace {

constexpr std::string_view kGoodA =
    R"({"eventVersion":"1.09","eventID":"a","eventName":"RunInstances","eventSource":"ec2.amazonaws.com","eventTime":"2024-01-01T00:00:00Z","requestParameters":{"instanceType":"p5.48xlarge"}})";
constexpr std::string_view kGoodB =
    R"({"eventVersion":"1.09","eventID":"b","eventName":"DescribeInstances","eventSource":"ec2.amazonaws.com","eventTime":"2024-01-01T00:00:01Z"})";

TEST(DecodeErrorReason, MetricLabelNames) {
  const char* expected[] = {"invalid_json",  "invalid_utf8",   "too_large",     "too_deep",
                            "not_an_object", "unknown_format", "missing_field", "wrong_type"};
  for (int i = 0; i < kDecodeErrorReasonCount; ++i) {
    EXPECT_EQ(DecodeErrorReasonName(static_cast<DecodeErrorReason>(i)), expected[i]);
  }
}

TEST(Decoder, BadFixtureGivesOneErrorPerBadLine) {
  // (line, reason) of every line that cannot be evaluated. The other lines of bad.jsonl lack only
  // an id or a usable time: they are evaluated after a repair (LenientFixtureLines below).
  const std::pair<uint64_t, DecodeErrorReason> kExpected[] = {
      {1, DecodeErrorReason::kInvalidJson},     // truncated
      {2, DecodeErrorReason::kInvalidUtf8},     // \xff\xfe
      {3, DecodeErrorReason::kInvalidJson},     // NUL inside a string
      {4, DecodeErrorReason::kWrongType},       // "eventName": 5
      {5, DecodeErrorReason::kWrongType},       // {"Records": "x"}
      {6, DecodeErrorReason::kNotAnObject},     // [1]
      {7, DecodeErrorReason::kNotAnObject},     // 42
      {8, DecodeErrorReason::kUnknownFormat},   // {"hello": ...}
      {10, DecodeErrorReason::kWrongType},      // gpu-alloc/v2
      {11, DecodeErrorReason::kMissingField},   // no gpu_count
      {12, DecodeErrorReason::kWrongType},      // gpu_count "eight"
      {13, DecodeErrorReason::kInvalidJson},    // trailing content
      {14, DecodeErrorReason::kUnknownFormat},  // {}
      {15, DecodeErrorReason::kWrongType},      // protoPayload.@type not AuditLog
      {16, DecodeErrorReason::kWrongType},      // k8s kind Pod
      {18, DecodeErrorReason::kInvalidJson},    // bad escape in eventName
      {19, DecodeErrorReason::kTooDeep},        // 200 nested arrays
      {20, DecodeErrorReason::kInvalidJson},    // broken quoting
  };
  Decoder decoder;
  CapturingHandler handler;
  DecodeJsonl(decoder, TestData("samples/bad.jsonl"), Format::kAuto, handler);
  ASSERT_EQ(handler.errors.size(), std::size(kExpected));
  for (size_t i = 0; i < std::size(kExpected); ++i) {
    EXPECT_EQ(handler.errors[i].reason, kExpected[i].second)
        << "line " << kExpected[i].first << ": " << DecodeErrorReasonName(handler.errors[i].reason)
        << " " << handler.errors[i].message;
    EXPECT_EQ(handler.errors[i].origin.line, kExpected[i].first);
    EXPECT_FALSE(handler.errors[i].message.empty());
  }
  EXPECT_NE(handler.errors[3].message.find("eventName"), std::string::npos);
  EXPECT_NE(handler.errors[9].message.find("gpu_count"), std::string::npos);
  EXPECT_NE(handler.errors[7].message.find("expected cloudtrail"), std::string::npos);
  EXPECT_EQ(handler.errors[7].format, Format::kAuto);
  EXPECT_EQ(handler.errors[3].format, Format::kCloudTrail);
}

uint8_t Bit(DecodeWarning w) { return static_cast<uint8_t>(1u << static_cast<unsigned>(w)); }

TEST(LenientDecoding, FixtureLinesWithoutIdOrUsableTimeAreEvaluated) {
  Decoder decoder;
  CapturingHandler handler;
  DecodeJsonl(decoder, TestData("samples/bad.jsonl"), Format::kAuto, handler);
  ASSERT_EQ(handler.events.size(), 4u);
  // Line 9: CloudTrail without eventID (and without eventTime).
  EXPECT_EQ(handler.events[0].origin.line, 9u);
  EXPECT_EQ(handler.events[0].Str(FieldId::kAction), "RunInstances");
  EXPECT_EQ(handler.events[0].repairs,
            Bit(DecodeWarning::kMissingId) | Bit(DecodeWarning::kMissingTime));
  // Line 17: eventTime 12345 (a number).
  EXPECT_EQ(handler.events[1].Str(FieldId::kEventId), "bad-time");
  EXPECT_EQ(handler.events[1].repairs, Bit(DecodeWarning::kInvalidTime));
  // Line 21: Azure without correlationId (or time).
  EXPECT_EQ(handler.events[2].format, Format::kAzureActivity);
  EXPECT_EQ(handler.events[2].repairs,
            Bit(DecodeWarning::kMissingId) | Bit(DecodeWarning::kMissingTime));
  // Line 22: gpu_alloc time "yesterday".
  EXPECT_EQ(handler.events[3].Str(FieldId::kEventId), "bad-ga-4");
  EXPECT_EQ(handler.events[3].repairs, Bit(DecodeWarning::kInvalidTime));
}

TEST(LenientDecoding, DerivedIdIsStablePrefixedAndDependsOnTheBytes) {
  const std::string a =
      R"({"eventVersion":"1.08","eventName":"RunInstances","eventSource":"ec2.amazonaws.com","eventTime":"2025-01-01T00:00:00Z"})";
  const std::string b =
      R"({"eventVersion":"1.08","eventName":"RunInstances","eventSource":"ec2.amazonaws.com","eventTime":"2025-01-01T00:00:01Z"})";
  Decoder decoder;
  CapturingHandler handler;
  DecodeText(decoder, a, Format::kAuto, handler);
  DecodeText(decoder, a, Format::kCloudTrail, handler);
  DecodeText(decoder, b, Format::kAuto, handler);
  // The same record inside an envelope: its own bytes give the same id.
  DecodeText(decoder, "{\"Records\":[" + b + "," + a + "]}", Format::kAuto, handler);
  ASSERT_EQ(handler.events.size(), 5u);
  const std::string id = handler.events[0].Str(FieldId::kEventId);
  EXPECT_EQ(id.rfind(std::string(kDerivedIdPrefix), 0), 0u) << id;
  EXPECT_EQ(id.size(), kDerivedIdPrefix.size() + 16);
  EXPECT_EQ(handler.events[1].Str(FieldId::kEventId), id);
  EXPECT_NE(handler.events[2].Str(FieldId::kEventId), id);
  EXPECT_EQ(handler.events[3].Str(FieldId::kEventId), handler.events[2].Str(FieldId::kEventId));
  EXPECT_EQ(handler.events[4].Str(FieldId::kEventId), id);
  for (const auto& e : handler.events) {
    EXPECT_EQ(e.repairs, Bit(DecodeWarning::kMissingId));
    EXPECT_TRUE(e.Has(FieldId::kEventTime));
  }
}

TEST(LenientDecoding, ReadTimeStandsInForMissingOrUnparseableTime) {
  Decoder decoder;
  CapturingHandler handler;
  Origin origin;
  origin.file = "x";
  origin.read_time_ms = 1733329548123;  // 2024-12-04T16:25:48.123Z
  const std::string records[] = {
      R"({"eventVersion":"1.08","eventID":"t1","eventName":"RunInstances"})",
      R"({"eventVersion":"1.08","eventID":"t2","eventName":"RunInstances","eventTime":"redacted"})",
      R"({"eventVersion":"1.08","eventID":"t3","eventName":"RunInstances","eventTime":null})",
      R"({"insertId":"g1","protoPayload":{"@type":"type.googleapis.com/google.cloud.audit.AuditLog","methodName":"v1.compute.instances.insert"},"timestamp":"-"})",
      R"({"apiVersion":"audit.k8s.io/v1","kind":"Event","auditID":"k1","verb":"create","objectRef":{"resource":"pods"}})",
  };
  for (const std::string& r : records) decoder.DecodeDocument(r, Format::kAuto, origin, handler);
  ASSERT_TRUE(handler.errors.empty()) << handler.errors[0].message;
  ASSERT_EQ(handler.events.size(), std::size(records));
  const uint8_t expected[] = {Bit(DecodeWarning::kMissingTime), Bit(DecodeWarning::kInvalidTime),
                              Bit(DecodeWarning::kInvalidTime), Bit(DecodeWarning::kInvalidTime),
                              Bit(DecodeWarning::kMissingTime)};
  for (size_t i = 0; i < std::size(records); ++i) {
    EXPECT_EQ(handler.events[i].repairs, expected[i]) << records[i];
    EXPECT_EQ(handler.events[i].Num(FieldId::kEventTime), origin.read_time_ms);
    EXPECT_EQ(handler.events[i].Str(FieldId::kEventTime), "2024-12-04T16:25:48.123Z");
  }
  // A record with a good time and id needs no repair.
  handler.events.clear();
  decoder.DecodeDocument(
      R"({"eventVersion":"1.08","eventID":"ok","eventName":"RunInstances","eventTime":"2025-01-01T00:00:00Z"})",
      Format::kAuto, origin, handler);
  ASSERT_EQ(handler.events.size(), 1u);
  EXPECT_EQ(handler.events[0].repairs, 0);
}

TEST(LenientDecoding, RecordsWithoutActionStayUndecodable) {
  Decoder decoder;
  CapturingHandler handler;
  DecodeText(decoder, R"({"eventVersion":"1.08","eventID":"x","eventSource":"ec2.amazonaws.com"})",
             Format::kAuto, handler);
  DecodeText(decoder, R"({"apiVersion":"audit.k8s.io/v1","kind":"Event","auditID":"k"})",
             Format::kAuto, handler);
  ASSERT_EQ(handler.errors.size(), 2u);
  EXPECT_EQ(handler.errors[0].reason, DecodeErrorReason::kMissingField);
  EXPECT_NE(handler.errors[0].message.find("eventName"), std::string::npos);
  EXPECT_NE(handler.errors[1].message.find("verb"), std::string::npos);
}

TEST(LenientDecoding, AutoDetectsRecordsWithoutTheirId) {
  const std::pair<std::string, Format> records[] = {
      {R"({"eventTime":"2024-05-02T08:15:03Z","eventSource":"ec2.amazonaws.com","eventName":"RunInstances"})",
       Format::kCloudTrail},
      {R"({"time":"2024-05-04T01:02:03Z","operationName":"MICROSOFT.COMPUTE/VIRTUALMACHINES/WRITE","callerIpAddress":"203.0.113.30"})",
       Format::kAzureActivity},
      {R"({"OperationName":"MICROSOFT.COMPUTE/VIRTUALMACHINES/WRITE","ResultType":"Start"})",
       Format::kAzureActivity},
      {R"({"verb":"create","objectRef":{"resource":"pods"},"stageTimestamp":"2024-05-05T01:00:00Z"})",
       Format::kK8sAudit},
      {R"({"verb":"get","requestURI":"/healthz"})", Format::kK8sAudit},
  };
  Decoder decoder;
  for (const auto& [text, format] : records) {
    CapturingHandler handler;
    DecodeText(decoder, text, Format::kAuto, handler);
    ASSERT_EQ(handler.events.size(), 1u) << text << ": " << handler.errors[0].message;
    EXPECT_EQ(handler.events[0].format, format) << text;
    EXPECT_TRUE(HasRepair(handler.events[0].repairs, DecodeWarning::kMissingId)) << text;
  }
  // stageTimestamp is the Kubernetes time when requestReceivedTimestamp is absent.
  CapturingHandler handler;
  DecodeText(decoder, records[3].first, Format::kAuto, handler);
  EXPECT_EQ(handler.events[0].Str(FieldId::kEventTime), "2024-05-05T01:00:00Z");
  EXPECT_FALSE(HasRepair(handler.events[0].repairs, DecodeWarning::kMissingTime));
  // A redacted requestReceivedTimestamp: stageTimestamp is used.
  handler.events.clear();
  DecodeText(
      decoder,
      R"({"auditID":"k2","verb":"create","requestReceivedTimestamp":"REDACTED","stageTimestamp":"2024-05-05T01:00:01Z"})",
      Format::kAuto, handler);
  ASSERT_EQ(handler.events.size(), 1u);
  EXPECT_EQ(handler.events[0].Str(FieldId::kEventTime), "2024-05-05T01:00:01Z");
  EXPECT_EQ(handler.events[0].repairs, 0);
  // A verb alone, or an operationName alone, is no format.
  DecodeText(decoder, R"({"verb":"create"})", Format::kAuto, handler);
  DecodeText(decoder, R"({"operationName":"x"})", Format::kAuto, handler);
  ASSERT_EQ(handler.errors.size(), 2u);
  EXPECT_EQ(handler.errors[0].reason, DecodeErrorReason::kUnknownFormat);
}

TEST(DecodeWarning, MetricLabelNames) {
  const char* expected[] = {"missing_id", "missing_time", "invalid_time"};
  for (int i = 0; i < kDecodeWarningCount; ++i) {
    EXPECT_EQ(DecodeWarningName(static_cast<DecodeWarning>(i)), expected[i]);
  }
}

TEST(Decoder, RecordTooLarge) {
  std::string big =
      std::string(R"({"eventVersion":"1.09","eventID":"big","eventName":"x","pad":")") +
      std::string(1100000, 'a') + "\"}";
  Decoder decoder;
  CapturingHandler handler;
  EXPECT_EQ(DecodeText(decoder, big, Format::kAuto, handler), 1u);
  ASSERT_EQ(handler.errors.size(), 1u);
  EXPECT_EQ(handler.errors[0].reason, DecodeErrorReason::kTooLarge);
  EXPECT_NE(handler.errors[0].message.find(std::to_string(big.size())), std::string::npos);
  EXPECT_NE(handler.errors[0].message.find("1048576"), std::string::npos);
  // Inside an envelope only that record is lost.
  std::string envelope =
      "{\"Records\":[" + std::string(kGoodA) + "," + big + "," + std::string(kGoodB) + "]}";
  CapturingHandler envelope_handler;
  EXPECT_EQ(DecodeText(decoder, envelope, Format::kCloudTrail, envelope_handler), 3u);
  EXPECT_EQ(envelope_handler.events.size(), 2u);
  ASSERT_EQ(envelope_handler.errors.size(), 1u);
  EXPECT_EQ(envelope_handler.errors[0].reason, DecodeErrorReason::kTooLarge);
  EXPECT_EQ(envelope_handler.errors[0].origin.index, 1u);
}

TEST(Decoder, DocumentTooLarge) {
  DecoderOptions options;
  options.max_document_bytes = 1000;
  Decoder decoder(options);
  std::string envelope = "[" + std::string(kGoodA);
  for (int i = 0; i < 10; ++i) envelope += "," + std::string(kGoodB);
  envelope += "]";
  CapturingHandler handler;
  EXPECT_EQ(DecodeText(decoder, envelope, Format::kAuto, handler), 1u);
  ASSERT_EQ(handler.errors.size(), 1u);
  EXPECT_EQ(handler.errors[0].reason, DecodeErrorReason::kTooLarge);
  EXPECT_NE(handler.errors[0].message.find("max_document_bytes"), std::string::npos);
}

TEST(Decoder, HundredThousandDeepNestingIsTooDeep) {
  std::string deep = R"({"eventVersion":"1.09","eventID":"deep","eventName":"x","p":)" +
                     std::string(100000, '[') + std::string(100000, ']') + "}";
  Decoder decoder;
  CapturingHandler handler;
  DecodeText(decoder, deep, Format::kAuto, handler);
  ASSERT_EQ(handler.errors.size(), 1u);
  EXPECT_EQ(handler.errors[0].reason, DecodeErrorReason::kTooDeep);
  // Unbalanced and inside an envelope: the neighbours survive.
  std::string envelope = "[" + std::string(kGoodA) + "," +
                         R"({"eventVersion":"1.09","eventID":"deep2","eventName":"x","p":)" +
                         std::string(100000, '{') + "}," + std::string(kGoodB) + "]";
  CapturingHandler envelope_handler;
  DecodeText(decoder, envelope, Format::kAuto, envelope_handler);
  EXPECT_EQ(envelope_handler.events.size(), 1u);  // kGoodA; the rest is one unclosed element
  EXPECT_FALSE(envelope_handler.errors.empty());
  // Brackets inside strings do not count.
  std::string strings = R"({"eventVersion":"1.09","eventID":"s","eventName":"x","p":")" +
                        std::string(5000, '[') + "\"}";
  CapturingHandler string_handler;
  DecodeText(decoder, strings, Format::kAuto, string_handler);
  EXPECT_EQ(string_handler.events.size(), 1u);
}

TEST(Decoder, ManyShallowContainersAreNotTooDeep) {
  std::string wide = R"({"eventVersion":"1.09","eventID":"wide","eventName":"x","p":[)";
  for (int i = 0; i < 500; ++i) wide += std::string(i ? "," : "") + R"({"a":[1]})";
  wide += "]}";
  Decoder decoder;
  CapturingHandler handler;
  DecodeText(decoder, wide, Format::kAuto, handler);
  EXPECT_EQ(handler.events.size(), 1u);
}

TEST(Decoder, DepthLimitIsConfigurable) {
  DecoderOptions options;
  options.max_depth = 2;
  Decoder decoder(options);
  CapturingHandler handler;
  DecodeText(decoder, kGoodB, Format::kAuto, handler);  // depth 1
  DecodeText(decoder, kGoodA, Format::kAuto, handler);  // depth 2
  DecodeText(decoder, R"({"eventID":"x","eventSource":"s","eventName":"n","a":{"b":[1]}})",
             Format::kAuto, handler);  // depth 3
  EXPECT_EQ(handler.events.size(), 2u);
  ASSERT_EQ(handler.errors.size(), 1u);
  EXPECT_EQ(handler.errors[0].reason, DecodeErrorReason::kTooDeep);
}

TEST(Envelope, BadRecordInTheMiddleKeepsTheOthers) {
  std::string doc = "{\"Records\": [\n  " + std::string(kGoodA) +
                    ",\n  {\"eventVersion\":\"1.09\",\"eventID\":\"bad\",\"eventName\":5},\n  " +
                    std::string(kGoodB) +
                    ",\n  {\"eventVersion\":\"1.09\",\"eventID\":\"no-name\"}\n]}";
  Decoder decoder;
  CapturingHandler handler;
  Origin origin;
  origin.file = "f.json";
  origin.line = 100;
  EXPECT_EQ(decoder.DecodeDocument(doc, Format::kAuto, origin, handler), 4u);
  ASSERT_EQ(handler.events.size(), 2u);
  EXPECT_EQ(handler.events[0].Str(FieldId::kEventId), "a");
  EXPECT_EQ(handler.events[0].origin.line, 101u);
  EXPECT_EQ(handler.events[0].origin.index, 0u);
  EXPECT_EQ(handler.events[0].origin_file, "f.json");
  EXPECT_EQ(handler.events[1].Str(FieldId::kEventId), "b");
  EXPECT_EQ(handler.events[1].origin.line, 103u);
  EXPECT_EQ(handler.events[1].origin.index, 2u);
  ASSERT_EQ(handler.errors.size(), 2u);
  EXPECT_EQ(handler.errors[0].reason, DecodeErrorReason::kWrongType);
  EXPECT_EQ(handler.errors[0].origin.line, 102u);
  EXPECT_EQ(handler.errors[0].origin.index, 1u);
  EXPECT_EQ(handler.errors[1].reason, DecodeErrorReason::kMissingField);
  EXPECT_EQ(handler.errors[1].origin.line, 104u);
  EXPECT_EQ(handler.errors[1].origin.index, 3u);
}

TEST(Envelope, InvalidUtf8AndNulInOneRecordKeepTheOthers) {
  std::string bad_utf8 = R"({"eventVersion":"1.09","eventID":"u","eventName":"x","userAgent":")" +
                         std::string("\xff\xfe") + "\"}";
  std::string nul = R"({"eventVersion":"1.09","eventID":"n","eventName":"x","userAgent":")" +
                    std::string(1, '\0') + "\"}";
  std::string doc = "[\n" + std::string(kGoodA) + ",\n" + bad_utf8 + ",\n" + nul + ",\n" +
                    std::string(kGoodB) + "\n]";
  Decoder decoder;
  CapturingHandler handler;
  EXPECT_EQ(DecodeText(decoder, doc, Format::kAuto, handler), 4u);
  ASSERT_EQ(handler.events.size(), 2u);
  EXPECT_EQ(handler.events[0].Str(FieldId::kEventId), "a");
  EXPECT_EQ(handler.events[1].Str(FieldId::kEventId), "b");
  EXPECT_EQ(handler.events[1].origin.line, 5u);
  EXPECT_EQ(handler.events[1].origin.index, 3u);
  ASSERT_EQ(handler.errors.size(), 2u);
  EXPECT_EQ(handler.errors[0].reason, DecodeErrorReason::kInvalidUtf8);
  EXPECT_EQ(handler.errors[0].origin.line, 3u);
  EXPECT_EQ(handler.errors[1].reason, DecodeErrorReason::kInvalidJson);
  EXPECT_EQ(handler.errors[1].origin.index, 2u);
}

TEST(Envelope, ArrayWithNonObjectsAndTruncation) {
  std::string doc = "[" + std::string(kGoodA) + ", 7, \"x\", null, " + std::string(kGoodB) + "]";
  Decoder decoder;
  CapturingHandler handler;
  EXPECT_EQ(DecodeText(decoder, doc, Format::kCloudTrail, handler), 5u);
  EXPECT_EQ(handler.events.size(), 2u);
  ASSERT_EQ(handler.errors.size(), 3u);
  for (const auto& e : handler.errors) EXPECT_EQ(e.reason, DecodeErrorReason::kNotAnObject);
  EXPECT_EQ(handler.errors[1].origin.index, 2u);

  // A document cut short: the complete records decode, the cut one is one kInvalidJson error.
  auto expect_cut = [&](const std::string& text, size_t events, size_t index) {
    CapturingHandler cut_handler;
    DecodeText(decoder, text, Format::kAuto, cut_handler);
    EXPECT_EQ(cut_handler.events.size(), events) << text;
    ASSERT_EQ(cut_handler.errors.size(), 1u) << text;
    EXPECT_EQ(cut_handler.errors[0].reason, DecodeErrorReason::kInvalidJson) << text;
    EXPECT_EQ(cut_handler.errors[0].origin.index, index) << text;
  };
  expect_cut("{\"Records\":[" + std::string(kGoodA) + "," + std::string(kGoodB) +
                 ",{\"eventVersion\":\"1.09\",\"eventID\":\"c\"",
             2, 2);
  // Cut inside a string whose brackets and escaped quote must not count as structure.
  expect_cut("[" + std::string(kGoodA) + ",{\"eventID\":\"x]}\\\"", 1, 1);

  CapturingHandler empty_handler;
  EXPECT_EQ(DecodeText(decoder, "{\"Records\": []}", Format::kAuto, empty_handler), 0u);
  EXPECT_EQ(DecodeText(decoder, "[]", Format::kAuto, empty_handler), 0u);
  EXPECT_TRUE(empty_handler.errors.empty());
}

// The Kubernetes audit webhook posts batches: {"kind":"EventList", ..., "items":[...]}.
TEST(Envelope, KubernetesEventList) {
  const std::vector<std::string> k8s = ReadLines(TestData("samples/k8s_audit.jsonl"));
  const std::string head = R"({"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{},)";
  Decoder decoder;
  {
    CapturingHandler handler;
    const std::string doc =
        head + "\"items\":[\n" + k8s[0] + ",\n{\"kind\":\"Event\"},\n" + k8s[1] + "\n]}";
    EXPECT_EQ(DecodeText(decoder, doc, Format::kAuto, handler), 3u);
    ASSERT_EQ(handler.events.size(), 2u);
    EXPECT_EQ(handler.events[0].format, Format::kK8sAudit);
    EXPECT_EQ(handler.events[1].origin.index, 2u);
    EXPECT_EQ(handler.events[1].origin.line, 4u);
    ASSERT_EQ(handler.errors.size(), 1u);
    EXPECT_EQ(handler.errors[0].origin.index, 1u);
  }
  {
    // Invalid UTF-8 in one item: simdjson rejects the batch as a whole, the byte splitter finds
    // "items" (after a metadata object holding an "items" key of its own) and keeps the others.
    CapturingHandler handler;
    const std::string doc = R"({"kind":"EventList","metadata":{"items":"no"},"items":[)" + k8s[0] +
                            R"(,{"kind":"Event","auditID":")" + "\xff\xfe" + R"("},)" + k8s[1] +
                            "]}";
    EXPECT_EQ(DecodeText(decoder, doc, Format::kK8sAudit, handler), 3u);
    EXPECT_EQ(handler.events.size(), 2u);
    ASSERT_EQ(handler.errors.size(), 1u);
    EXPECT_EQ(handler.errors[0].reason, DecodeErrorReason::kInvalidUtf8);
    EXPECT_EQ(handler.errors[0].origin.index, 1u);
  }
  {
    CapturingHandler handler;
    EXPECT_EQ(DecodeText(decoder, head + R"("items":[]})", Format::kAuto, handler), 0u);
    EXPECT_TRUE(handler.errors.empty());
    DecodeText(decoder, R"({"kind":"EventList","metadata":{}})", Format::kAuto, handler);
    DecodeText(decoder, R"({"kind":"EventList","items":{"a":1}})", Format::kAuto, handler);
    ASSERT_EQ(handler.errors.size(), 2u);
    EXPECT_EQ(handler.errors[0].reason, DecodeErrorReason::kMissingField);
    EXPECT_NE(handler.errors[0].message.find("items"), std::string::npos);
    EXPECT_EQ(handler.errors[1].reason, DecodeErrorReason::kWrongType);
    EXPECT_NE(handler.errors[1].message.find("'items' must be an array"), std::string::npos);
  }
}

TEST(Envelope, KafkaOriginKeepsOffsetsAndLineZero) {
  std::string doc = "[" + std::string(kGoodA) + ",\n" + std::string(kGoodB) + "]";
  Decoder decoder;
  CapturingHandler handler;
  Origin origin;
  origin.file = "cloudtrail-topic";
  origin.partition = 3;
  origin.offset = 12345;
  decoder.DecodeDocument(doc, Format::kAuto, origin, handler);
  ASSERT_EQ(handler.events.size(), 2u);
  EXPECT_EQ(handler.events[1].origin.line, 0u);
  EXPECT_EQ(handler.events[1].origin.partition, 3);
  EXPECT_EQ(handler.events[1].origin.offset, 12345);
  EXPECT_EQ(handler.events[1].origin.index, 1u);
  EXPECT_EQ(handler.events[1].origin_file, "cloudtrail-topic");
}

TEST(Decoder, PaddedInputIsReadInPlaceAndUnpaddedIsCopied) {
  std::string buffer(kGoodA);
  buffer.append(64, ' ');  // padding: the decoder may read it
  Decoder decoder;
  CapturingHandler handler;
  Origin origin;
  decoder.DecodeDocument(std::string_view(buffer.data(), kGoodA.size()), buffer.size(),
                         Format::kCloudTrail, origin, handler);
  // Unpadded: a string_view into a longer string, no capacity beyond its size.
  std::string joined = std::string(kGoodB) + "GARBAGE";
  decoder.DecodeDocument(std::string_view(joined.data(), kGoodB.size()), kGoodB.size(),
                         Format::kCloudTrail, origin, handler);
  ASSERT_EQ(handler.events.size(), 2u);
  EXPECT_EQ(handler.events[0].Str(FieldId::kInstanceType), "p5.48xlarge");
  EXPECT_EQ(handler.events[1].Str(FieldId::kEventId), "b");
}

TEST(Decoder, FixedFormatDoesNotGuess) {
  Decoder decoder;
  CapturingHandler handler;
  DecodeText(decoder, kGoodA, Format::kGcpAudit, handler);
  DecodeText(decoder, kGoodA, Format::kGpuAlloc, handler);
  DecodeText(decoder, kGoodA, Format::kK8sAudit, handler);
  ASSERT_EQ(handler.errors.size(), 3u);
  EXPECT_EQ(handler.errors[0].reason, DecodeErrorReason::kMissingField);
  EXPECT_EQ(handler.errors[0].format, Format::kGcpAudit);
  // The action is what a record cannot do without (lenient decoding repairs a missing id).
  EXPECT_NE(handler.errors[0].message.find("protoPayload"), std::string::npos);
  EXPECT_NE(handler.errors[1].message.find("schema"), std::string::npos);
  EXPECT_NE(handler.errors[2].message.find("verb"), std::string::npos);
}

TEST(Decoder, EmptyAndWhitespaceDocuments) {
  Decoder decoder;
  CapturingHandler handler;
  DecodeText(decoder, "", Format::kAuto, handler);
  DecodeText(decoder, "   \t ", Format::kAuto, handler);
  DecodeText(decoder, "\xEF\xBB\xBF", Format::kAuto, handler);  // BOM only
  ASSERT_EQ(handler.errors.size(), 3u);
  for (const auto& e : handler.errors) EXPECT_EQ(e.reason, DecodeErrorReason::kInvalidJson);
  DecodeText(decoder, "\xEF\xBB\xBF" + std::string(kGoodB), Format::kAuto, handler);
  DecodeText(decoder, std::string(kGoodB) + "\r", Format::kAuto, handler);  // CRLF file
  DecodeText(decoder, "  " + std::string(kGoodB) + " \t\n", Format::kAuto, handler);
  EXPECT_EQ(handler.errors.size(), 3u);
  EXPECT_EQ(handler.events.size(), 3u);
}

TEST(Decoder, TextThatIsNotJsonIsInvalidJsonNotAScalar) {
  Decoder decoder;
  CapturingHandler handler;
  for (const char* text : {"not json at all", "nulx", "trouble", "fals", "-x", "\"open"}) {
    DecodeText(decoder, text, Format::kAuto, handler);
  }
  ASSERT_EQ(handler.errors.size(), 6u);
  for (const auto& e : handler.errors) {
    EXPECT_EQ(e.reason, DecodeErrorReason::kInvalidJson) << e.message;
  }
  // Well-formed scalars are JSON, just not records.
  for (const char* text : {"null", "true", "12.5", "\"s\""}) {
    DecodeText(decoder, text, Format::kAuto, handler);
  }
  ASSERT_EQ(handler.errors.size(), 10u);
  for (size_t i = 6; i < 10; ++i) {
    EXPECT_EQ(handler.errors[i].reason, DecodeErrorReason::kNotAnObject)
        << handler.errors[i].message;
  }
}

TEST(Decoder, NonEssentialWrongTypesAreIgnored) {
  Decoder decoder;
  CapturingHandler handler;
  DecodeText(decoder,
             R"({"eventVersion":"1.09","eventID":"w","eventName":"RunInstances","awsRegion":7,)"
             R"("sourceIPAddress":["1.2.3.4"],"userIdentity":"root","requestParameters":"x",)"
             R"("responseElements":{"instancesSet":{"items":"none"}},"errorCode":false})",
             Format::kAuto, handler);
  ASSERT_EQ(handler.events.size(), 1u) << handler.errors[0].message;
  const DecodedEvent& e = handler.events[0];
  EXPECT_FALSE(e.Has(FieldId::kRegion));
  EXPECT_FALSE(e.Has(FieldId::kSourceIp));
  EXPECT_FALSE(e.Has(FieldId::kPrincipal));
  EXPECT_FALSE(e.Has(FieldId::kInstanceType));
  EXPECT_EQ(e.Str(FieldId::kOutcome), "success");
}

TEST(Decoder, EscapedKeysAndValues) {
  Decoder decoder;
  CapturingHandler handler;
  DecodeText(decoder,
             R"({"eventVersion":"1.09","event\u0049D":"esc","eventName":"Run\u0049nstances",)"
             R"("requestParameters":{"instanceType":"p5.48xlarge","note":"a\"b"}})",
             Format::kAuto, handler);
  ASSERT_EQ(handler.events.size(), 1u) << handler.errors[0].message;
  EXPECT_EQ(handler.events[0].Str(FieldId::kEventId), "esc");
  EXPECT_EQ(handler.events[0].Str(FieldId::kAction), "RunInstances");
}

// Every prefix and many byte-flipped variants of real records: never a crash, and exactly one
// callback per single-record document.
TEST(Hostile, TruncationsAndMutationsNeverCrash) {
  std::vector<std::string> seeds;
  for (const char* file : {"cloudtrail.jsonl", "gcp_audit.jsonl", "azure_activity.jsonl",
                           "k8s_audit.jsonl", "gpu_alloc.jsonl", "oci_audit.jsonl"}) {
    auto lines = ReadLines(TestData(std::string("samples/") + file));
    seeds.push_back(lines[0]);
    seeds.push_back(lines.back());
  }
  Decoder decoder;
  std::mt19937 rng(42);
  size_t documents = 0;
  for (const std::string& seed : seeds) {
    for (size_t n = 0; n < seed.size(); n += 7) {
      CapturingHandler handler;
      std::string prefix = seed.substr(0, n);
      size_t seen = DecodeText(decoder, prefix, Format::kAuto, handler);
      EXPECT_EQ(seen, handler.events.size() + handler.errors.size());
      ++documents;
    }
    for (int round = 0; round < 200; ++round) {
      std::string mutated = seed;
      for (int k = 0; k < 3; ++k) {
        mutated[rng() % mutated.size()] = static_cast<char>(rng() % 256);
      }
      CapturingHandler handler;
      size_t seen = DecodeText(decoder, mutated, Format::kAuto, handler);
      EXPECT_EQ(seen, handler.events.size() + handler.errors.size());
      EXPECT_GE(seen, 1u);
      ++documents;
    }
  }
  EXPECT_GT(documents, 2000u);
}

TEST(Hostile, EnvelopeMutationsKeepTheCountInvariant) {
  std::string doc = ReadFile(
      TestData("real/stratus-detonation-logs/aws.execution.ec2-launch-unusual-instances.json"));
  Decoder decoder;
  std::mt19937 rng(7);
  for (int round = 0; round < 300; ++round) {
    std::string mutated = doc;
    for (int k = 0; k < 2; ++k) mutated[rng() % mutated.size()] = static_cast<char>(rng() % 256);
    if (round % 3 == 0) mutated.resize(rng() % mutated.size());
    CapturingHandler handler;
    size_t seen = DecodeText(decoder, mutated, Format::kAuto, handler);
    EXPECT_EQ(seen, handler.events.size() + handler.errors.size());
  }
}

}  // namespace
}  // namespace chipwatch::testing
