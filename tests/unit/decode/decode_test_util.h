// Test helpers for the decoders: a RecordHandler that copies what it receives (events are views
// valid only during OnEvent) and small file readers. Single-threaded test use only.
#pragma once

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "core/event.h"
#include "decode/decoder.h"

namespace chipwatch::testing {

// An Event copied out of OnEvent.
struct DecodedEvent {
  std::map<FieldId, std::string> str;
  std::map<FieldId, int64_t> num;
  IpAddress source_addr;
  Format format = Format::kAuto;
  Origin origin;
  std::string origin_file;
  uint8_t repairs = 0;                      // Event::repairs (lenient decoding)
  std::vector<std::string> instance_types;  // Event::instance_types

  bool Has(FieldId f) const { return str.count(f) || num.count(f); }
  std::string Str(FieldId f) const {
    auto it = str.find(f);
    return it == str.end() ? std::string("<unset>") : it->second;
  }
  int64_t Num(FieldId f) const {
    auto it = num.find(f);
    return it == num.end() ? -1 : it->second;
  }
};

struct DecodedError {
  Origin origin;
  Format format;
  DecodeErrorReason reason;
  std::string message;
};

class CapturingHandler : public RecordHandler {
 public:
  void OnEvent(Event& event) override {
    DecodedEvent e;
    for (size_t i = 0; i < kFieldCount; ++i) {
      auto id = static_cast<FieldId>(i);
      if (!event.Has(id)) continue;
      FieldType type = TypeOf(id);
      if (id == FieldId::kEventTime) {
        e.str[id] = std::string(event.str[i]);
        e.num[id] = event.num[i];
      } else if (type == FieldType::kNumber || type == FieldType::kBool) {
        e.num[id] = event.num[i];
      } else {
        e.str[id] = std::string(event.str[i]);
      }
    }
    e.source_addr = event.source_addr;
    e.format = event.format;
    e.origin = event.origin;
    e.repairs = event.repairs;
    for (size_t i = 0; i < event.instance_type_count; ++i) {
      e.instance_types.emplace_back(event.instance_types[i]);
    }
    e.origin_file = std::string(event.origin.file);
    events.push_back(std::move(e));
  }
  void OnError(const Origin& origin, Format format, DecodeErrorReason reason,
               std::string_view message) override {
    errors.push_back({origin, format, reason, std::string(message)});
  }

  const DecodedEvent* Find(std::string_view id) const {
    for (const auto& e : events) {
      if (e.Str(FieldId::kEventId) == id) return &e;
    }
    return nullptr;
  }

  std::vector<DecodedEvent> events;
  std::vector<DecodedError> errors;
};

inline std::string TestData(const std::string& relative) {
  return std::string(CHIPWATCH_TEST_DATA) + "/" + relative;
}

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot open " << path;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline std::vector<std::string> ReadLines(const std::string& path) {
  std::vector<std::string> lines;
  std::istringstream in(ReadFile(path));
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

// Decodes a JSONL file line by line, as the file source does.
inline void DecodeJsonl(Decoder& decoder, const std::string& path, Format format,
                        CapturingHandler& handler) {
  uint64_t line_number = 0;
  for (const std::string& line : ReadLines(path)) {
    Origin origin;
    origin.file = path;
    origin.line = ++line_number;
    decoder.DecodeDocument(line, format, origin, handler);
  }
}

inline size_t DecodeText(Decoder& decoder, std::string_view text, Format format,
                         CapturingHandler& handler, uint64_t line = 1) {
  Origin origin;
  origin.file = "test";
  origin.line = line;
  return decoder.DecodeDocument(text, format, origin, handler);
}

// A fixture over the decoded events of tests/data/samples files.
class SamplesFixture : public ::testing::Test {
 protected:
  // Decodes samples/<file>, which must decode completely.
  void Load(const std::string& file, Format format) {
    DecodeJsonl(decoder_, TestData("samples/" + file), format, handler_);
    EXPECT_TRUE(handler_.errors.empty()) << handler_.errors[0].message;
    EXPECT_EQ(handler_.events.size(), ReadLines(TestData("samples/" + file)).size());
  }
  // The event with that event id (a test failure and an empty event when there is none).
  const DecodedEvent& Get(std::string_view id) {
    const DecodedEvent* e = handler_.Find(id);
    EXPECT_NE(e, nullptr) << id;
    static DecodedEvent empty;
    return e ? *e : empty;
  }
  Decoder decoder_;
  CapturingHandler handler_;
};

}  // namespace chipwatch::testing
