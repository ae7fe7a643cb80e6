// FileFollower: reads a JSON Lines log file line by line for `chipwatch run` (a `type: file`
// source), optionally following it like `tail -F`.
//
// Every line is one record: blank lines are skipped (but counted), surrounding white space and a
// CR before the newline are trimmed. A line longer than `max_line_bytes` is returned as an error
// item (Line::error set, text empty) and skipped up to its newline, so memory stays bounded.
// Returned text is followed by at least kLinePadding (= kInputPadding) readable bytes (as with
// InputDocument), which simdjson needs.
//
// Without `follow`, the file is read once to its end; a final line without a newline is returned,
// and then done() is true. A file that does not exist is an error from Open().
//
// With `follow`, at the end of the file the follower waits (inotify on the file's directory, plus
// a re-check every `poll_interval` in case inotify is unavailable or misses something) for:
//  - more data: an unfinished last line is held back until its newline arrives;
//  - rotation: `path` now names another file (rename + create, as logrotate does). The old
//    descriptor is read to its end first (its unfinished last line is then returned as is), then
//    the new file is read from its beginning: line numbers restart at 1 and `generation` grows.
//    While `path` names no file at all (renamed, not yet re-created), the old descriptor is kept;
//  - truncation (`copytruncate`: the file is now shorter than what was read): reported through
//    `on_notice`, and the file is read again from its beginning (an unfinished line held back is
//    dropped, and the notice says so);
//  - the file to appear, when it does not exist yet.
// Limits shared with every `tail -F`: data a writer still appends to the old file after the
// follower switched to the new one is not read (writers should reopen promptly, e.g. on
// logrotate's postrotate signal), and a file replaced again before the follower reached the end
// of the previous one is skipped.
//
// `start_at: end` applies to the file found at Open() only: reading starts at its end (after the
// line being written, if its last byte is not a newline) and line numbers count from there. A file
// created later, or found after a rotation, is always read from its beginning. Line::offset is the
// exact byte position in the file in every case.
//
// Thread contract: one consumer thread calls Next() (and the accessors); Wake() may be called from
// any thread. Never throws, never prints.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "config/config.h"
#include "core/event.h"
#include "core/status.h"

namespace chipwatch {

// Readable bytes after every returned line. Equal to kInputPadding (engine/input_reader.h, which
// this library does not depend on; a test checks they agree): simdjson needs 64.
inline constexpr size_t kLinePadding = 64;

// A position in one file: the byte offset of a line's first byte and that line's number.
struct FilePosition {
  uint64_t dev = 0;
  uint64_t inode = 0;
  uint64_t offset = 0;
  uint64_t line = 1;
  bool operator==(const FilePosition&) const = default;
};

struct FileFollowerOptions {
  // How often a following reader re-checks the file while waiting, even without an inotify event.
  std::chrono::milliseconds poll_interval{200};
  // Rotation, truncation and read problems worth a log line (without the path, which the owner
  // knows). Runs on the consumer thread.
  std::function<void(const std::string&)> on_notice;
  // Where to resume in the file found at Open() (a checkpoint), instead of start_at. Used when it
  // names that file (same device and inode) and the file is at least that long; otherwise the file
  // is read from its beginning (it was rotated, replaced or truncated while nobody read it), and a
  // notice says why.
  std::optional<FilePosition> resume;
};

class FileFollower {
 public:
  struct Line {
    std::string_view text;  // the record, trimmed; text.data() + capacity bytes are readable
    size_t capacity = 0;
    uint64_t line = 0;        // 1-based within the current file (see start_at above)
    uint64_t offset = 0;      // byte offset of the line's first byte in that file
    uint64_t generation = 0;  // 1 for the first file opened, +1 at every (re)open of `path`
    uint64_t inode = 0;       // of the file the line was read from
    // Where the next line starts: one past this line's newline (or its last byte, for a final
    // line without one), and the next line's number. A checkpoint after this line.
    FilePosition next;
    std::string error;  // set for a line over the limit: text is then empty
  };

  // Opens the file (when following, a missing file is fine: it is waited for). `max_line_bytes` is
  // LimitsConfig::max_record_bytes.
  static Result<std::unique_ptr<FileFollower>> Open(const FileSourceConfig& config,
                                                    size_t max_line_bytes,
                                                    FileFollowerOptions options = {});
  ~FileFollower();
  FileFollower(const FileFollower&) = delete;
  FileFollower& operator=(const FileFollower&) = delete;

  // The next line, waiting up to `timeout` for one when following. False on time-out, after
  // Wake(), or at the end of the file when not following (then done() is true), or after a read
  // error (done() is true and status() says why). The view stays valid until the next call.
  bool Next(Line& out, std::chrono::milliseconds timeout);
  // Makes a waiting Next() return false now (or the next one that would wait). Thread-safe.
  void Wake();

  bool done() const { return done_; }
  const Status& status() const { return status_; }
  const std::string& path() const { return path_; }
  Format format() const { return format_; }

 private:
  FileFollower(const FileSourceConfig& config, size_t max_line_bytes, FileFollowerOptions options);

  enum class ReadResult { kData, kEof, kError };
  enum class FileState { kSame, kRotated, kTruncated, kGone };

  Status OpenFile(bool at_start);  // opens `path_`; NotFound when it does not exist
  void CloseFile();
  bool TryOpen();             // when following and no file is open
  ReadResult Read();          // appends to the buffer
  bool TakeLine(Line& out);   // a complete line from the buffer
  bool TakeFinal(Line& out);  // the unfinished last line at the end of a file
  FileState Check();          // at the end of the file: did it change under us?
  bool Wait(std::chrono::steady_clock::time_point deadline);  // false: time-out or Wake()
  void Emit(Line& out, size_t begin, size_t end, uint64_t number, uint64_t offset,
            uint64_t next_offset);
  void EmitTooLong(Line& out, uint64_t number, uint64_t offset, uint64_t next_offset,
                   uint64_t next_line);
  void SetPositions(Line& out, uint64_t number, uint64_t offset, uint64_t next_offset,
                    uint64_t next_line);
  uint64_t OffsetOf(size_t buffer_index) const { return file_pos_ - (end_ - buffer_index); }
  void Notice(std::string_view message);

  const std::string path_;
  const Format format_;
  const bool follow_;
  bool start_at_end_;  // only for the file found at Open()
  const size_t max_line_;
  const FileFollowerOptions options_;

  int fd_ = -1;
  uint64_t dev_ = 0;
  uint64_t ino_ = 0;
  uint64_t generation_ = 0;
  uint64_t file_pos_ = 0;  // file offset of buf_[end_]
  uint64_t line_ = 1;      // number of the line starting at buf_[begin_]
  bool skipping_ = false;  // dropping the rest of an overlong line (or of a line we started in)

  std::unique_ptr<char[]> buf_;
  size_t cap_ = 0;  // usable bytes (padding excluded)
  size_t begin_ = 0;
  size_t end_ = 0;

  int wake_fd_ = -1;     // eventfd, written by Wake()
  int inotify_fd_ = -1;  // watches the file's directory; -1: polling only
  std::string last_open_error_;
  bool done_ = false;
  Status status_;
};

}  // namespace chipwatch
