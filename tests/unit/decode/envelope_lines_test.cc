// Regression tests for record positions inside envelopes: when the fast path stops inside an
// envelope, the byte splitter starts again from its beginning and can report a position before the
// fast path's last one (issue 10, section 0: a 20-byte input made DocumentDecoder::LineOf count
// newlines with first > last, reading out of bounds). Lines must stay right in both directions.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "decode_test_util.h"

namespace chipwatch::testing {
namespace {

// Every report of `handler` has a line inside [first, last] and the count invariant holds.
void ExpectBounded(const CapturingHandler& handler, size_t seen, uint64_t first, uint64_t last) {
  EXPECT_EQ(seen, handler.events.size() + handler.errors.size());
  for (const auto& e : handler.events) {
    EXPECT_GE(e.origin.line, first);
    EXPECT_LE(e.origin.line, last);
  }
  for (const auto& e : handler.errors) {
    EXPECT_GE(e.origin.line, first) << e.message;
    EXPECT_LE(e.origin.line, last) << e.message;
  }
}

TEST(EnvelopeLines, TwentyByteInputFromTheFuzzer) {
  // The fast path reports `""` at byte 17 (index 1), then the byte splitter, restarting from the
  // beginning, reports the stray '}' at byte 15: a position before the last one.
  const std::string doc = R"({"Records":["":},""})";
  ASSERT_EQ(doc.size(), 20u);
  Decoder decoder;
  CapturingHandler handler;
  const size_t seen = DecodeText(decoder, doc, Format::kAuto, handler, 7);
  EXPECT_TRUE(handler.events.empty());
  ASSERT_FALSE(handler.errors.empty());
  ExpectBounded(handler, seen, 7, 7);

  // The same on lines of their own: each report carries the line of its own byte.
  const std::string lines = "{\"Records\":[\n\"\"\n:\n}\n,\n\"\"\n}";
  CapturingHandler line_handler;
  const size_t line_seen = DecodeText(decoder, lines, Format::kAuto, line_handler, 10);
  ASSERT_FALSE(line_handler.errors.empty());
  ExpectBounded(line_handler, line_seen, 10, 16);
  for (const auto& e : line_handler.errors) {
    if (e.message.find("unexpected '}'") != std::string::npos) {
      EXPECT_EQ(e.origin.line, 13u) << e.message;
    }
  }
}

// A real CloudTrail S3 object, re-printed one record per line inside its envelope, with one record
// damaged in several ways: the records the damage leaves separable decode with their own file:line
// and index, whatever the fast path and the byte splitter disagree on.
class DamagedRealEnvelope : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string path = TestData(
        "real/invictus-aws-cloudtrail/"
        "218007301253_CloudTrail_us-east-1_20230710T1205Z_SjF3IkuNXJkoHyar.json");
    simdjson::dom::parser parser;
    simdjson::dom::element root;
    ASSERT_EQ(parser.load(path).get(root), simdjson::SUCCESS);
    simdjson::dom::array records;
    ASSERT_EQ(root["Records"].get_array().get(records), simdjson::SUCCESS);
    for (simdjson::dom::element record : records) {
      records_.push_back(simdjson::minify(record));
      std::string_view id;
      ASSERT_EQ(record["eventID"].get_string().get(id), simdjson::SUCCESS);
      ids_.emplace_back(id);
    }
    ASSERT_GE(records_.size(), 8u);
  }

  // The envelope with record `k` replaced by `damaged`: record i on line 2 + i.
  std::string Envelope(size_t k, const std::string& damaged) const {
    std::string doc = "{\"Records\": [\n";
    for (size_t i = 0; i < records_.size(); ++i) {
      doc += i == k ? damaged : records_[i];
      doc += i + 1 < records_.size() ? ",\n" : "\n";
    }
    return doc + "]}\n";
  }

  // Decodes `doc` (first line 1): every event is a record of the file, on that record's line
  // (and, before the damage, with its index); the records in `expected` all decode; an error is
  // reported on the damaged line.
  void Check(const std::string& doc, size_t k, const std::set<size_t>& expected) {
    Decoder decoder;
    CapturingHandler handler;
    Origin origin;
    origin.file = "s3-object.json";
    origin.line = 1;
    const size_t seen = decoder.DecodeDocument(doc, Format::kAuto, origin, handler);
    ExpectBounded(handler, seen, 1, records_.size() + 2);
    std::set<size_t> decoded;
    for (const auto& e : handler.events) {
      const auto id = std::find(ids_.begin(), ids_.end(), e.Str(FieldId::kEventId));
      ASSERT_NE(id, ids_.end()) << e.Str(FieldId::kEventId) << " on line " << e.origin.line;
      const size_t i = static_cast<size_t>(id - ids_.begin());
      EXPECT_EQ(e.origin_file, "s3-object.json");
      EXPECT_EQ(e.origin.line, 2 + i) << "record " << i;
      if (i < k) {
        EXPECT_EQ(e.origin.index, i) << "record " << i;
      }
      decoded.insert(i);
    }
    for (size_t i : expected) EXPECT_TRUE(decoded.count(i)) << "record " << i << " was lost";
    bool reported = false;
    for (const auto& e : handler.errors) reported |= e.origin.line == 2 + k;
    EXPECT_TRUE(reported) << "no error on line " << 2 + k;
  }

  std::set<size_t> AllBut(size_t k) const {
    std::set<size_t> s;
    for (size_t i = 0; i < records_.size(); ++i) {
      if (i != k) s.insert(i);
    }
    return s;
  }
  std::set<size_t> Before(size_t k) const {
    std::set<size_t> s;
    for (size_t i = 0; i < k; ++i) s.insert(i);
    return s;
  }

  std::vector<std::string> records_;
  std::vector<std::string> ids_;
};

TEST_F(DamagedRealEnvelope, OneDamagedRecordKeepsTheOthersAndTheirLines) {
  for (size_t k : {size_t{0}, size_t{3}, records_.size() - 1}) {
    SCOPED_TRACE("damaged record " + std::to_string(k));
    const std::string& r = records_[k];
    // The 20-byte input's shape inside a real envelope: a stray '}' ends the array for the byte
    // splitter, so only the records before it decode; with '"":},""' the fast path has gone
    // further than where the splitter reports the '}' (the position moves back).
    Check(Envelope(k, "\"\":}"), k, Before(k));
    Check(Envelope(k, "\"\":},\"\""), k, Before(k));
    // A ':' where a ',' separates two fields.
    std::string colon = r;
    colon[colon.find(",\"")] = ':';
    Check(Envelope(k, colon), k, AllBut(k));
    // Two ',' in a row.
    std::string commas = r;
    commas.insert(commas.find(",\""), ",");
    Check(Envelope(k, commas), k, AllBut(k));
    // Invalid UTF-8 inside a string (simdjson rejects the whole envelope up front).
    std::string utf8 = r;
    utf8.insert(utf8.find("\"eventName\":\"") + 13, "\xff\xfe");
    Check(Envelope(k, utf8), k, AllBut(k));
    // A bare word instead of the record.
    Check(Envelope(k, "damaged"), k, AllBut(k));
  }
}

}  // namespace
}  // namespace chipwatch::testing
