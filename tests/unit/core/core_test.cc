#include <gtest/gtest.h>

#include <chrono>
#include <thread>
#include <vector>

#include "core/arena.h"
#include "core/bounded_queue.h"
#include "core/diagnostics.h"
#include "core/event.h"
#include "core/json_scan.h"

namespace chipwatch {
namespace {

TEST(FieldsTest, EveryFieldResolvesByNameToItself) {
  for (const FieldSpec& spec : FieldSpecs()) {
    auto id = FieldByName(spec.name);
    ASSERT_TRUE(id.has_value()) << spec.name;
    EXPECT_EQ(*id, spec.id);
  }
  EXPECT_FALSE(FieldByName("no.such.field").has_value());
  EXPECT_EQ(TypeOf(FieldId::kSourceIp), FieldType::kIp);
  EXPECT_EQ(TypeOf(FieldId::kAcceleratorCount), FieldType::kNumber);
  EXPECT_EQ(TypeOf(FieldId::kModelFrontier), FieldType::kBool);
}

TEST(FormatTest, NamesRoundTrip) {
  for (Format f : {Format::kAuto, Format::kCloudTrail, Format::kGcpAudit, Format::kAzureActivity,
                   Format::kK8sAudit, Format::kGpuAlloc, Format::kOciAudit}) {
    EXPECT_EQ(ParseFormat(FormatName(f)), f);
  }
  EXPECT_FALSE(ParseFormat("syslog").has_value());
}

TEST(ParseIpTest, Ipv4IncludingLeadingZeros) {
  IpAddress a = ParseIp("36.110.12.7");
  ASSERT_TRUE(a.valid);
  EXPECT_TRUE(a.is_v4);
  EXPECT_EQ(a.bytes[12], 36);
  EXPECT_EQ(a.bytes[15], 7);
  IpAddress b = ParseIp("036.110.012.007");  // anonymized captures write IPs like this
  ASSERT_TRUE(b.valid);
  EXPECT_EQ(a.bytes, b.bytes);
}

TEST(ParseIpTest, Ipv6AndMappedIpv4) {
  IpAddress a = ParseIp("2001:db8::1");
  ASSERT_TRUE(a.valid);
  EXPECT_FALSE(a.is_v4);
  EXPECT_EQ(a.bytes[0], 0x20);
  IpAddress m = ParseIp("::ffff:1.2.3.4");
  ASSERT_TRUE(m.valid);
  EXPECT_TRUE(m.is_v4);
  EXPECT_EQ(m.bytes, ParseIp("1.2.3.4").bytes);
}

TEST(ParseIpTest, NonAddressesAreInvalidNotFatal) {
  for (const char* s :
       {"", "AWS Internal", "ec2.amazonaws.com", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1..2.3",
        "1.2.3.4 ", "0001.2.3.4", "2001:db8::zz", "1.2.3.4.", ".1.2.3.4", "1.2.3.-4", "1.2.3.4:80",
        "1.2.3.4/32", "1.2.3.1000", "1111:2222:3333:4444:5555:6666:7777:8888:9999:0000:1111"}) {
    EXPECT_FALSE(ParseIp(s).valid) << s;
  }
}

TEST(TimestampTest, Rfc3339Variants) {
  EXPECT_EQ(ParseTimestampMs("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(ParseTimestampMs("2023-07-10T11:42:36Z"), 1688989356000);
  EXPECT_EQ(ParseTimestampMs("2023-07-10T11:42:36.5Z"), 1688989356500);
  EXPECT_EQ(ParseTimestampMs("2023-07-10T11:42:36.123456789Z"), 1688989356123);
  EXPECT_EQ(ParseTimestampMs("2023-07-10T13:42:36+02:00"), 1688989356000);
  EXPECT_EQ(ParseTimestampMs("2023-07-10T06:42:36-05:00"), 1688989356000);
  EXPECT_EQ(ParseTimestampMs("2024-02-29T00:00:00Z"), 1709164800000);
}

TEST(TimestampTest, MalformedIsNullopt) {
  for (const char* s :
       {"", "2023-07-10", "2023-13-10T00:00:00Z", "2023-02-29T00:00:00Z", "2023-07-10T25:00:00Z",
        "2023-07-10T11:42:36X", "yesterday", "2023-07-10T11:42:36.Z", "2023-07-10T11:42:36+0200"}) {
    EXPECT_FALSE(ParseTimestampMs(s).has_value()) << s;
  }
  EXPECT_EQ(ParseDateMs("2023-11-17"), 1700179200000);
  EXPECT_FALSE(ParseDateMs("2023-11-31").has_value());
}

// ParseTimestampMs keeps the last parsed date per thread: a cached date must not let a bad time
// through, and a rejected date must not be cached.
TEST(TimestampTest, ResultsDoNotDependOnThePreviousCall) {
  EXPECT_EQ(ParseTimestampMs("2023-07-10T11:42:36Z"), 1688989356000);
  EXPECT_EQ(ParseTimestampMs("2023-07-10T11:42:37Z"), 1688989357000);
  EXPECT_FALSE(ParseTimestampMs("2023-07-10T25:00:00Z").has_value());
  EXPECT_FALSE(ParseTimestampMs("2023-07-10X11:42:36Z").has_value());
  EXPECT_EQ(ParseTimestampMs("2023-07-11T00:00:00Z"), 1689033600000);
  EXPECT_FALSE(ParseTimestampMs("2023-02-29T00:00:00Z").has_value());
  EXPECT_FALSE(ParseTimestampMs("2023-02-29T00:00:00Z").has_value());
  EXPECT_EQ(ParseTimestampMs("2023-07-10T11:42:36Z"), 1688989356000);
}

TEST(ArenaTest, ViewsSurviveGrowthUntilReset) {
  Arena arena(16);
  std::vector<std::string_view> views;
  for (int i = 0; i < 100; ++i) views.push_back(arena.Copy("value-" + std::to_string(i)));
  for (int i = 0; i < 100; ++i) EXPECT_EQ(views[i], "value-" + std::to_string(i));
  EXPECT_EQ(arena.Concat({"pods", ".", "create"}), "pods.create");
  arena.Reset();
  EXPECT_EQ(arena.Copy("again"), "again");
  EXPECT_TRUE(arena.Copy("").empty());
}

TEST(EventTest, ClearForgetsFieldsAndEntries) {
  Event e;
  e.SetStr(FieldId::kAction, "RunInstances");
  e.SetNum(FieldId::kAcceleratorCount, 8);
  EXPECT_TRUE(e.Has(FieldId::kAction));
  EXPECT_EQ(e.Num(FieldId::kAcceleratorCount), 8);
  e.Clear();
  EXPECT_FALSE(e.Has(FieldId::kAction));
  EXPECT_EQ(e.Str(FieldId::kAction), "");
  EXPECT_EQ(e.Num(FieldId::kAcceleratorCount), 0);
}

TEST(DiagnosticsTest, TextAndJsonCarryPosition) {
  Diagnostics diags;
  diags.Error({"rules/a.yaml", 12, 5}, "unknown-field", "unknown field \"sorce.ip\"");
  diags.Warning({"rules/a.yaml", 3, 1}, "no-tests", "rule CW-X has no tests");
  EXPECT_TRUE(diags.has_errors());
  EXPECT_EQ(diags.error_count(), 1u);
  EXPECT_EQ(diags.warning_count(), 1u);
  EXPECT_EQ(diags.items()[0].ToString(),
            "rules/a.yaml:12:5: error: unknown field \"sorce.ip\" [unknown-field]");
  EXPECT_EQ(diags.items()[0].ToJson(),
            "{\"level\":\"error\",\"code\":\"unknown-field\",\"file\":\"rules/a.yaml\",\"line\":12,"
            "\"column\":5,\"message\":\"unknown field \\\"sorce.ip\\\"\"}");
}

TEST(JsonEscapeTest, ControlCharactersAndInvalidUtf8) {
  std::string out;
  AppendJsonEscaped(out, std::string_view("a\"b\\c\n\x01\0z", 9));
  EXPECT_EQ(out, "a\\\"b\\\\c\\n\\u0001\\u0000z");
  out.clear();
  AppendJsonEscaped(out, "caf\xc3\xa9 \xff \xe2\x82");  // valid é, invalid byte, truncated seq
  EXPECT_EQ(out, "caf\xc3\xa9 \xef\xbf\xbd \xef\xbf\xbd\xef\xbf\xbd");
  out.clear();
  AppendJsonEscaped(out, "\xed\xa0\x80");  // UTF-16 surrogate encoded in UTF-8 is invalid
  EXPECT_EQ(out, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
}

TEST(BoundedQueueTest, BlocksProducersInsteadOfDropping) {
  BoundedQueue<int> q(2);
  std::thread producer([&] {
    for (int i = 0; i < 1000; ++i) ASSERT_TRUE(q.Push(i));
    q.Close();
  });
  int expected = 0;
  while (auto v = q.Pop()) EXPECT_EQ(*v, expected++);
  producer.join();
  EXPECT_EQ(expected, 1000);
  EXPECT_FALSE(q.Push(1));
}

TEST(BoundedQueueTest, WaitForRoomHoldsAProducerBelowTheLimitUntilHalfIsDrained) {
  BoundedQueue<int> q(100);
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(q.Push(i));
  EXPECT_TRUE(q.WaitForRoom(5, std::chrono::milliseconds(0)));   // 4 < 5: at once
  EXPECT_FALSE(q.WaitForRoom(4, std::chrono::milliseconds(1)));  // full, nobody drains
  std::thread consumer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    q.Pop();
    q.Pop();  // 2 left: at most half of 4
  });
  EXPECT_TRUE(q.WaitForRoom(4, std::chrono::seconds(30)));
  consumer.join();
  EXPECT_EQ(q.size(), 2u);
  q.Close();
  EXPECT_TRUE(q.WaitForRoom(1, std::chrono::seconds(30)));  // closed: never waits
}

TEST(JsonStringStateTest, OnlyBytesOutsideStringsAreStructure) {
  const std::string text = R"({"a\"]":[1,"x\\"],"b":"{"})";
  JsonStringState strings;
  std::string structure;
  for (char c : text) {
    if (strings.Outside(c)) structure += c;
  }
  EXPECT_EQ(structure, "{:[1,],:}");
  EXPECT_FALSE(strings.in_string());
  EXPECT_FALSE(strings.Outside('"'));
  EXPECT_TRUE(strings.in_string());
}

TEST(BracketScannerTest, FindsTheEndAcrossFeedsIgnoringStrings) {
  const std::string text = "{\"a\": \"}]\\\"{\",\n \"b\": [1, {\"c\": 2}]\n} tail";
  BracketScanner scanner;
  uint64_t newlines = 0;
  size_t pos = 0;
  EXPECT_FALSE(scanner.Feed(text.data(), pos, 10, newlines));  // stops mid-string
  EXPECT_EQ(pos, 10u);
  ASSERT_TRUE(scanner.Feed(text.data(), pos, text.size(), newlines));
  EXPECT_EQ(text.substr(pos), " tail");
  EXPECT_EQ(newlines, 2u);
}

TEST(DiagnosticsTest, JoinNamesListsAllowedValues) {
  EXPECT_EQ(JoinNames({"kafka", "file", "stdout"}), "kafka, file, stdout");
  EXPECT_EQ(JoinNames({}), "");
}

}  // namespace
}  // namespace chipwatch
