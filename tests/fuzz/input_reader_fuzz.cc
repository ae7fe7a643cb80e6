// libFuzzer target: replay's input framing (engine/input_reader.h) over JSON Lines, arrays,
// envelopes and pretty-printed values, from memory (as a mapped file is framed) and from a pipe (as
// stdin is), with a small document limit; each document is then decoded (format auto). Checks that
// the two framings agree, that documents stay inside the input and under the limit, and that lines
// only grow.
#include <fcntl.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "decode/decoder.h"
#include "engine/input_reader.h"
#include "fuzz_check.h"

namespace {

constexpr size_t kMaxDocument = 4096;

struct Framed {
  std::string text;
  uint64_t line;
  bool error;
};

class CountingHandler : public chipwatch::RecordHandler {
 public:
  void OnEvent(chipwatch::Event&) override { ++reports; }
  void OnError(const chipwatch::Origin&, chipwatch::Format, chipwatch::DecodeErrorReason,
               std::string_view) override {
    ++reports;
  }
  size_t reports = 0;
};

std::vector<Framed> Drain(chipwatch::InputReader& reader, const char* begin, const char* end,
                          chipwatch::Decoder& decoder) {
  std::vector<Framed> docs;
  chipwatch::InputDocument doc;
  uint64_t last_line = 0;
  while (reader.Next(doc)) {
    FUZZ_CHECK(doc.line >= last_line);
    last_line = doc.line;
    if (!doc.error.empty()) {
      FUZZ_CHECK(doc.text.empty());
      docs.push_back({"", doc.line, true});
      continue;
    }
    FUZZ_CHECK(doc.text.size() <= kMaxDocument);
    FUZZ_CHECK(doc.capacity >= doc.text.size() + chipwatch::kInputPadding);
    if (begin != nullptr && !doc.text.empty()) {
      FUZZ_CHECK(doc.text.data() >= begin && doc.text.data() + doc.text.size() <= end);
    }
    docs.push_back({std::string(doc.text), doc.line, false});
    chipwatch::Origin origin;
    origin.file = "fuzz";
    origin.line = doc.line;
    CountingHandler handler;
    const size_t seen =
        decoder.DecodeDocument(doc.text, doc.capacity, chipwatch::Format::kAuto, origin, handler);
    FUZZ_CHECK(seen == handler.reports);
  }
  return docs;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static chipwatch::Decoder* decoder = new chipwatch::Decoder();
  // In memory, framing decided from the input (json_lines = false), as a mapped file.
  std::string padded(reinterpret_cast<const char*>(data), size);
  padded.append(chipwatch::kInputPadding, '\0');
  chipwatch::InputReader memory(padded.data(), size, padded.size(), 1, kMaxDocument, false);
  const std::vector<Framed> from_memory =
      Drain(memory, padded.data(), padded.data() + size, *decoder);

  // Through a pipe, as stdin (one write: inputs are smaller than the pipe's buffer).
  if (size > 60000) return 0;
  int fds[2];
  if (pipe(fds) != 0) return 0;
  FUZZ_CHECK(write(fds[1], data, size) == static_cast<ssize_t>(size));
  close(fds[1]);
  chipwatch::InputReader pipe_reader(fds[0], true, kMaxDocument);
  const std::vector<Framed> from_pipe = Drain(pipe_reader, nullptr, nullptr, *decoder);
  if (!pipe_reader.status().ok()) return 0;  // compressed-input magic: refused, not framed
  FUZZ_CHECK(from_pipe.size() == from_memory.size());
  for (size_t i = 0; i < from_pipe.size(); ++i) {
    FUZZ_CHECK(from_pipe[i].text == from_memory[i].text);
    FUZZ_CHECK(from_pipe[i].line == from_memory[i].line);
    FUZZ_CHECK(from_pipe[i].error == from_memory[i].error);
  }
  return 0;
}
