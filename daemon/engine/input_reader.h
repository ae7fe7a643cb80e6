// InputReader: splits a byte stream (file or stdin) into top-level JSON documents with line
// numbers.
//
// Handles JSON Lines (one record per line, the fast path: memchr for newlines), pretty-printed or
// concatenated JSON values spanning lines (a string-aware bracket scanner), and whole-file
// envelopes such as CloudTrail's S3 `{"Records":[...]}`. A regular file is mapped whole (no copy,
// no read() per chunk; the mapping is followed by zeroed padding pages) and its documents are views
// into the mapping, valid while the reader lives; other inputs (stdin, pipes) are read in chunks,
// so memory stays flat in the input size. A single document may not exceed `max_document_bytes`.
// Lines that are not JSON at all are returned as documents too, so that the decoder reports them
// with their line. A value that was cut short (a truncated line, even the input's first) ends at
// the line break where valid JSON could not go on, so the records after it are framed as usual.
// Never throws. Not thread-safe: one reader per input.
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace chipwatch {

class BracketScanner;

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

  // Frames documents already in memory: `size` bytes at `data`, `readable` >= size +
  // kInputPadding bytes readable from it, its first line numbered `first_line`. With
  // `json_lines`, every line is a document, as after the first one-line document of a file
  // (lines_mode()); without, the framing mode is found as for a file (JSON Lines, or values
  // spanning lines).
  InputReader(const char* data, size_t size, size_t readable, uint64_t first_line,
              size_t max_document_bytes, bool json_lines = true);

  // Opens a path ("-" is stdin).
  static Result<std::unique_ptr<InputReader>> Open(const std::string& path,
                                                   size_t max_document_bytes);

  // Next document, or false at end of input (check status() for a read error). The returned view is
  // valid until the next call, or while the reader lives when mapped().
  bool Next(InputDocument& doc);
  // True when the input is a mapped regular file (or in memory): documents stay valid until the
  // reader is gone, or until Release()d.
  bool mapped() const { return in_memory_; }
  // Mapped input: the caller is done with every document before `upto`. Their pages are dropped
  // from the process (MADV_DONTNEED, in steps of a few MB), so the resident set stays flat however
  // large the file.
  void Release(const char* upto);
  // Drops the whole pages inside [begin, end) of a mapped input that no document still in use
  // shares. Safe from any thread on disjoint ranges.
  static void ReleaseRange(const char* begin, const char* end);
  // True once framing is by lines only (JSON Lines): the rest of the input can then be split at
  // any newline and framed in pieces (see the constructor above).
  bool lines_mode() const { return mode_ == Mode::kLines; }
  // Mapped input only: the bytes not framed yet, the line number of their first byte, and how
  // many bytes are readable from their start (with padding).
  std::string_view rest() const { return {data_ + begin_, end_ - begin_}; }
  uint64_t line() const { return line_; }
  size_t readable_from_rest() const { return cap_ + kInputPadding - begin_; }
  const Status& status() const { return status_; }
  uint64_t bytes_read() const { return bytes_read_; }

 private:
  bool Fill();                        // reads more input; false at EOF or error
  void Compact();                     // moves unconsumed bytes to the buffer's start
  bool EnsureCapacity(size_t bytes);  // grows the buffer up to the document limit
  bool Map();                         // maps a regular file; false when it is not one
  bool TooLarge(InputDocument& doc, size_t size, const char* skipped);
  bool SkipBlank();  // skips blank space between documents; false at the end of the input
  // Reports a line above the limit as `doc` and drops bytes up to (and with) its newline.
  void SkipLongLine(InputDocument& doc);
  // A document that is the rest of its line: hands out data_[begin_, trimmed) (or a too-large
  // error), then moves past the line (ending at line_end, with a newline when `has_nl`).
  void TakeLine(InputDocument& doc, size_t trimmed, size_t line_end, bool has_nl);
  // A value spanning lines: hands it out (or the part before a line break where it was cut short).
  void ScanValue(InputDocument& doc);
  // A value spanning lines grew above the limit at `pos` (`newlines` in): reports it as `doc`
  // and discards the rest of it.
  void SkipLargeValue(InputDocument& doc, BracketScanner& scanner, size_t pos, uint64_t newlines);
  // A value spanning lines: hands out data_[begin_, text_end) (or a too-large error), then moves to
  // `next`, `newlines` lines further on.
  void HandOut(InputDocument& doc, size_t text_end, size_t next, uint64_t newlines);
  // Compressed input (gzip, zstd, xz, bzip2 magic at the start) is an error in status(), not a
  // stream of undecodable lines.
  bool CheckNotCompressed();
  // At a line break inside a value spanning lines (pos: the next line's first byte): kYes when
  // valid JSON cannot go on there, so the value was cut short (typically a truncated line at the
  // start of a JSON Lines file) and must not swallow the records after it. That is when the next
  // line is a complete object on its own, followed by another object or by the end of input: an
  // element inside a value is followed by `,`, `]` or `}`. (A line break inside a string, which
  // JSON cannot hold either, is checked by the caller.) kNeedMore: read more input first.
  enum class Cut { kNo, kYes, kNeedMore };
  Cut CutsValue(size_t pos) const;

  int fd_;
  bool owns_fd_;
  size_t max_document_bytes_;
  std::unique_ptr<char[]> buf_;
  char* data_ = nullptr;    // buf_ or the mapping
  void* map_ = nullptr;     // the mapping (file, then zero pages), when mapped
  bool in_memory_ = false;  // mapped, or framing memory the caller owns
  size_t released_ = 0;     // mapped: bytes before this were Release()d
  size_t map_size_ = 0;
  size_t cap_ = 0;    // usable bytes in data_ (padding excluded)
  size_t begin_ = 0;  // first unconsumed byte
  size_t end_ = 0;    // one past the last valid byte
  bool eof_ = false;
  bool checked_start_ = false;  // CheckNotCompressed() done
  uint64_t line_ = 1;           // line number at begin_
  uint64_t bytes_read_ = 0;
  // Decided by the first document that opens with '{' or '[': JSON Lines (every line is a
  // document, even a broken one) or multi-line values (a bracket scanner finds each end).
  enum class Mode { kUnknown, kLines, kMultiLine } mode_ = Mode::kUnknown;
  Status status_;
};

}  // namespace chipwatch
