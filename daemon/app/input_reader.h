// InputReader: splits a byte stream (file or stdin) into top-level JSON documents with line
// numbers.
//
// Handles JSON Lines (one record per line, the fast path: memchr for newlines), pretty-printed or
// concatenated JSON values spanning lines (a string-aware bracket scanner), and whole-file
// envelopes such as CloudTrail's S3 `{"Records":[...]}`. Reads in chunks, so memory stays flat in
// the input size; a single document may not exceed `max_document_bytes`. Lines that are not JSON at
// all are returned as documents too, so that the decoder reports them with their line. Never
// throws. Not thread-safe: one reader per input.
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace chipwatch {

// Bytes readable after every document handed out (simdjson needs padding past the end).
inline constexpr size_t kInputPadding = 64;

struct InputDocument {
  std::string_view text;  // the document; text.data() + capacity bytes are readable
  size_t capacity = 0;
  uint64_t line = 0;  // 1-based line of the document's first byte
  // Set when the document could not be framed (too large); text is then empty and `error` says why.
  std::string error;
};

class InputReader {
 public:
  // `fd` is read until EOF; the reader does not close it unless `owns_fd`.
  InputReader(int fd, bool owns_fd, size_t max_document_bytes);
  ~InputReader();
  InputReader(const InputReader&) = delete;
  InputReader& operator=(const InputReader&) = delete;

  // Opens a path ("-" is stdin).
  static Result<std::unique_ptr<InputReader>> Open(const std::string& path,
                                                   size_t max_document_bytes);

  // Next document, or false at end of input (check status() for a read error). The returned view is
  // valid until the next call.
  bool Next(InputDocument& doc);
  const Status& status() const { return status_; }
  uint64_t bytes_read() const { return bytes_read_; }

 private:
  bool Fill();                        // reads more input; false at EOF or error
  void Compact();                     // moves unconsumed bytes to the buffer's start
  bool EnsureCapacity(size_t bytes);  // grows the buffer up to the document limit

  int fd_;
  bool owns_fd_;
  size_t max_document_bytes_;
  std::unique_ptr<char[]> buf_;
  size_t cap_ = 0;    // usable bytes in buf_ (padding excluded)
  size_t begin_ = 0;  // first unconsumed byte
  size_t end_ = 0;    // one past the last valid byte
  bool eof_ = false;
  uint64_t line_ = 1;  // line number at begin_
  uint64_t bytes_read_ = 0;
  // Decided by the first document that opens with '{' or '[': JSON Lines (every line is a
  // document, even a broken one) or multi-line values (a bracket scanner finds each end).
  enum class Mode { kUnknown, kLines, kMultiLine } mode_ = Mode::kUnknown;
  Status status_;
};

}  // namespace chipwatch
