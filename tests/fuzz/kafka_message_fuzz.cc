// libFuzzer target: one Kafka message through the daemon's worker path (engine/processor.h): a
// message of several lines is framed as a file is (ProcessLines), otherwise decoded whole; then
// enrichment from the catalogs and the default rule pack (rules/, loaded once) and alert JSON.
// Checks that every failure names a record of the message.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "engine/policy.h"
#include "engine/processor.h"
#include "fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static chipwatch::EventProcessor* processor = [] {
    chipwatch::Diagnostics diags;
    auto policy = chipwatch::LoadPolicy({CHIPWATCH_SOURCE_DIR "/rules"}, diags);
    if (!policy) {
      std::fprintf(stderr, "kafka_message_fuzz: cannot load %s/rules\n", CHIPWATCH_SOURCE_DIR);
      std::abort();
    }
    chipwatch::DecoderOptions options;
    options.max_document_bytes = 16 << 10;
    return new chipwatch::EventProcessor(policy, nullptr, options);
  }();
  static chipwatch::ProcessorOutput* out = new chipwatch::ProcessorOutput();
  static std::string* padded = new std::string();
  const std::string_view payload(reinterpret_cast<const char*>(data), size);
  chipwatch::Origin origin;
  origin.file = "fuzz-topic";
  origin.partition = 3;
  origin.offset = 42;
  out->Clear();
  chipwatch::DecoderOptions options;
  options.max_document_bytes = 16 << 10;
  if (chipwatch::HasSeveralLines(payload)) {
    chipwatch::ProcessLines(*processor, payload, chipwatch::Format::kAuto, origin, options, *padded,
                            *out);
  } else {
    processor->Process(payload, size, chipwatch::Format::kAuto, origin, *out);
  }
  for (const auto& failure : out->failures) {
    FUZZ_CHECK(failure.origin.offset == 42 && failure.origin.partition == 3);
    FUZZ_CHECK(!failure.message.empty());
  }
  FUZZ_CHECK(out->refs.size() == out->alert_count);
  for (const auto& ref : out->refs) FUZZ_CHECK(ref.begin + ref.length < out->alerts.size() + 1);
  return 0;
}
