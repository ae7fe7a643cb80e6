// FileCheckpoint: the position of a `type: file` source that survives a restart.
//
// The file thread registers every line it hands on (Begin, with the position after that line) and
// the last acknowledgement of the line's alerts (and dead letter) marks it done, through the same
// OffsetTracker the Kafka sources use: the checkpoint is the position after the last line below
// which every line is done, so a crash or restart never skips an unacknowledged alert
// (at-least-once: lines after the checkpoint are read again, and may alert again).
//
// The file holds one line of text, `chipwatch-file-checkpoint 1 <dev> <inode> <offset> <line>
// <source path>`, replaced atomically (written to a temporary file, fsynced, renamed). Thread
// contract: Begin and Save from one thread at a time (the file thread, then, once it has been
// joined, the shutdown path); Done through the tickets from any thread.
#pragma once

#include <deque>
#include <optional>
#include <string>
#include <utility>

#include "core/status.h"
#include "pipeline/offset_tracker.h"
#include "source/file_source.h"

namespace chipwatch {

class FileCheckpoint {
 public:
  // `path`: the checkpoint file; `source`: the followed file's path (written for the operator, and
  // checked on load).
  FileCheckpoint(std::string path, std::string source);

  // The saved position: nullopt when there is none (first start). A file that cannot be read or
  // parsed, or that belongs to another source path, is an error that says which and why.
  Result<std::optional<FilePosition>> Load() const;

  // Registers a line handed on, with the position after it; Done(ticket) when it is processed.
  OffsetTracker::Ticket Begin(const FilePosition& after);
  OffsetTracker& tracker() { return tracker_; }

  // Writes the position after the done lines, if it moved since the last save. OK when there was
  // nothing to write.
  Status Save();
  // Lines registered and not done.
  size_t in_flight() const { return tracker_.in_flight(); }
  const std::string& path() const { return path_; }

 private:
  const std::string path_;
  const std::string source_;
  OffsetTracker tracker_;
  int64_t next_seq_ = 0;
  std::deque<std::pair<int64_t, FilePosition>> after_;  // registered, not yet committable
  std::optional<FilePosition> latest_;                  // after every done line
  std::optional<FilePosition> saved_;                   // in the file
};

}  // namespace chipwatch
