// libFuzzer target: one document through Decoder::DecodeDocument in one format (FUZZ_FORMAT,
// set per target by tests/fuzz/CMakeLists.txt: kCloudTrail, kGcpAudit, ..., kAuto). Checks that
// every record gives exactly one report, that records' lines stay inside the document, and that
// events carry their format's essentials.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "decode/decoder.h"
#include "fuzz_check.h"

namespace {

class CheckingHandler : public chipwatch::RecordHandler {
 public:
  explicit CheckingHandler(uint64_t last_line) : last_line_(last_line) {}
  void OnEvent(chipwatch::Event& event) override {
    ++reports;
    CheckLine(event.origin);
    FUZZ_CHECK(event.format != chipwatch::Format::kAuto);
  }
  void OnError(const chipwatch::Origin& origin, chipwatch::Format, chipwatch::DecodeErrorReason,
               std::string_view message) override {
    ++reports;
    CheckLine(origin);
    FUZZ_CHECK(!message.empty());
  }
  size_t reports = 0;

 private:
  void CheckLine(const chipwatch::Origin& origin) {
    FUZZ_CHECK(origin.line >= 1 && origin.line <= last_line_);
  }
  uint64_t last_line_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static chipwatch::Decoder* decoder = [] {
    chipwatch::DecoderOptions options;
    options.max_record_bytes = 64 << 10;  // small limits: the size checks are reachable
    options.max_depth = 16;
    return new chipwatch::Decoder(options);
  }();
  const std::string_view doc(reinterpret_cast<const char*>(data), size);
  uint64_t newlines = 0;
  for (char c : doc) newlines += c == '\n';
  chipwatch::Origin origin;
  origin.file = "fuzz";
  origin.line = 1;
  CheckingHandler handler(1 + newlines);
  // `size` as capacity: the decoder copies into its own padded buffer, so ASan sees every byte
  // read past the document.
  const size_t seen = decoder->DecodeDocument(doc, size, FUZZ_FORMAT, origin, handler);
  FUZZ_CHECK(seen == handler.reports);
  return 0;
}
