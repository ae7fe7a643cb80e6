// Decoder's claim (decoder.h): once warm, decoding allocates nothing per event. Counted with a
// replaced global operator new (this binary only; it forwards to malloc), over every bundled
// sample line of every format and a real CloudTrail envelope, decoded a second time.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "../common/counting_new.h"
#include "decode/decoder.h"
#include "decode_test_util.h"

using counting_new::allocations;
using counting_new::counting;

namespace chipwatch {
namespace {

// Counts what it receives and keeps nothing (the views die with the call).
class CountingHandler : public RecordHandler {
 public:
  void OnEvent(Event& event) override {
    ++events;
    bytes += event.Str(FieldId::kAction).size();
  }
  void OnError(const Origin&, Format, DecodeErrorReason, std::string_view) override { ++errors; }
  long events = 0, errors = 0;
  size_t bytes = 0;
};

TEST(NoAllocationTest, DecodingDoesNotAllocateWhenWarm) {
  std::vector<std::pair<std::string, Format>> documents;
  for (const char* file : {"cloudtrail", "gcp_audit", "azure_activity", "k8s_audit", "gpu_alloc",
                           "oci_audit", "bad"}) {
    for (const std::string& line :
         testing::ReadLines(testing::TestData(std::string("samples/") + file + ".jsonl"))) {
      documents.emplace_back(line, Format::kAuto);
    }
  }
  // A real CloudTrail S3 object: an envelope of many records.
  for (const auto& entry :
       std::filesystem::recursive_directory_iterator(testing::TestData("real"))) {
    if (entry.path().extension() == ".json" && entry.file_size() < 200'000) {
      documents.emplace_back(testing::ReadFile(entry.path().string()), Format::kCloudTrail);
      break;
    }
  }
  ASSERT_GT(documents.size(), 50u);

  Decoder decoder;
  CountingHandler handler;
  auto decode_all = [&] {
    for (size_t i = 0; i < documents.size(); ++i) {
      Origin origin;
      origin.file = "test";
      origin.line = i + 1;
      decoder.DecodeDocument(documents[i].first, documents[i].second, origin, handler);
    }
  };
  decode_all();  // warm-up: parsers, buffers and arena blocks grow to their working size
  const long warm_events = handler.events;
  ASSERT_GT(warm_events, 50);
  ASSERT_GT(handler.errors, 0);  // bad.jsonl: the error path is measured too

  allocations = 0;
  counting = true;
  std::string culprits;
  for (size_t i = 0; i < documents.size(); ++i) {
    const long before = allocations.load();
    Origin origin;
    origin.file = "test";
    origin.line = i + 1;
    decoder.DecodeDocument(documents[i].first, documents[i].second, origin, handler);
    if (allocations.load() != before) {
      counting = false;
      culprits += std::to_string(allocations.load() - before) +
                  " in: " + documents[i].first.substr(0, 160) + "\n";
      counting = true;
    }
  }
  counting = false;
  EXPECT_EQ(handler.events, 2 * warm_events);
  EXPECT_EQ(allocations.load(), 0) << "decoding allocated after warm-up:\n" << culprits;
}

}  // namespace
}  // namespace chipwatch
