// FileSink: appends records as lines to a file (the `file` sink and the file dead-letter
// destination). The same batching writer, on a borrowed descriptor, is the stdout sink
// (stdout_sink.h): one class, two openers.
//
// Design. Deliver() formats the record's line on the caller's thread and queues it; the queue is
// bounded (FileSinkOptions::queue_capacity) and Deliver() blocks while it is full, which is how
// backpressure reaches the consumer. One writer thread takes the queued lines in batches, writes a
// batch with one writev(2) (continuing after partial writes), fdatasync(2)s it when the config asks
// for `fsync`, and only then calls the `done` of every record of the batch, in delivery order,
// exactly once.
//
// Durability. Without `fsync`, an acknowledged record is in the kernel's page cache: it survives a
// crash or kill of the daemon, not a power loss or kernel crash. With `fsync`, it is on disk; after
// creating or reopening the file the directory is synced too, so the file's name is durable.
//
// Failures. A failed write or sync (ENOSPC, EIO, EDQUOT, ...) is reported through `on_error` and
// retried with exponential backoff, forever: the records stay queued, nothing is dropped, nothing
// is acknowledged before it is written. A batch whose sync failed is written again in full (Linux
// may have dropped the unsynced pages and will not report that twice), so a record can appear twice
// in the file: delivery is at-least-once. Only a borrowed descriptor can fail permanently
// (stdout_sink.h).
//
// Rotation. The file is opened O_WRONLY|O_APPEND|O_CREAT|O_CLOEXEC, mode 0640 (less the umask).
// Reopen() (the daemon calls it on SIGHUP) makes the writer open `path` again before its next
// write; the writer also compares the inode of its descriptor with the file now at `path` every
// `rotation_check_interval` and reopens when the file was renamed or deleted, so `logrotate` with
// `create` or without works without a signal. `copytruncate` works as well thanks to O_APPEND.
// A record is never split across two files: after a reopen in the middle of a record, the record is
// written again, whole, to the new file.
//
// Thread contract: Deliver(), Flush(), pending(), Reopen() and name() may be called from any
// thread. `done` and `on_error` run on the writer thread and must be cheap and must not call back
// into the sink. Destroying the sink stops the writer (waiting for a write in progress): records
// not yet written are then completed with a non-OK status ("sink closed"), so call Flush() first.
#pragma once

#include <sys/types.h>
#include <sys/uio.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "config/config.h"
#include "core/status.h"
#include "sink/sink.h"

namespace chipwatch {

// What a FileSink writes for each record.
enum class FileSinkMode : uint8_t {
  // The record's value and a newline; the key and headers are not written. The value is written as
  // is and must not contain a newline (alert JSON never does).
  kAlerts,
  // One JSON object per record (FormatDeadLetterLine below), for the file dead-letter destination.
  kDeadLetter,
};

// The dead-letter line for `record`, without the newline:
//   {"reason":"...","source":"...","headers":{"name":"value",...},"original_base64":"..."}
// `reason` is the value of the header named kDeadLetterReasonHeader (or "reason"); `source` says
// where the record came from: the value of a header named "source" if there is one, else built
// from the daemon's headers: "<file>:<line>" (chipwatch.source.file/.line) or
// "<topic>/<partition>@<offset>" (chipwatch.source.topic/.partition/.offset); "" when unknown.
// `headers` holds every header, in order (a repeated name keeps its last value when parsed);
// `original_base64` is the value in base64 (RFC 4648, padded). Strings are JSON-escaped with
// invalid UTF-8 replaced by U+FFFD, so the line is always valid JSON.
inline constexpr char kDeadLetterReasonHeader[] = "chipwatch.reason";
std::string FormatDeadLetterLine(const SinkRecord& record);

// The system calls the writer makes, so that tests can inject failures (LevelDB's Env idea). The
// default implementations are the real calls; each returns what the call returns, with errno set.
class SinkIo {
 public:
  virtual ~SinkIo() = default;
  virtual int Open(const std::string& path, int flags, mode_t mode);
  virtual ssize_t Writev(int fd, const struct iovec* iov, int count);
  virtual int Sync(int fd);  // fdatasync(2)
  virtual int Close(int fd);

  // The real system calls (stateless, shared).
  static SinkIo* Default();
};

struct FileSinkOptions {
  FileSinkMode mode = FileSinkMode::kAlerts;
  // Errors worth a log line (write failures and retries, failed reopens). Runs on the writer
  // thread.
  std::function<void(const std::string&)> on_error;
  size_t queue_capacity = 10000;      // records queued before Deliver() blocks
  size_t max_batch_records = 1024;    // per writev (at most IOV_MAX)
  size_t max_batch_bytes = 4u << 20;  // per writev, unless a single record is larger
  std::chrono::milliseconds rotation_check_interval{1000};
  // The clock of the rotation check; null: std::chrono::steady_clock::now. With an injected clock
  // (tests) the writer no longer wakes by itself for a check: it checks, when the check is due by
  // that clock, each time a record, a reopen request or a stop wakes it.
  std::function<std::chrono::steady_clock::time_point()> clock;
  std::chrono::milliseconds retry_initial{100};  // first backoff after a failure; doubles
  std::chrono::milliseconds retry_max{5000};
  SinkIo* io = nullptr;  // null: SinkIo::Default(); else not owned, must outlive the sink
};

class FileSink : public Sink {
 public:
  // Asks the writer to open the path again before its next write (after an operator rotated the
  // file). Returns at once; a failed reopen is reported through on_error and the writer keeps the
  // old descriptor (and tries again at the next rotation check). No-op on a borrowed descriptor.
  virtual void Reopen() = 0;
};

// Opens `config.path` for appending and starts the writer. Fails only when the file cannot be
// opened now. The sink is named "file:<path>". OpenFileSink returns the type with Reopen() (keep it
// to reopen on SIGHUP); CreateFileSink the plain Sink.
Result<std::unique_ptr<FileSink>> OpenFileSink(const FileSinkConfig& config,
                                               FileSinkOptions options);
Result<std::unique_ptr<Sink>> CreateFileSink(const FileSinkConfig& config,
                                             FileSinkMode mode = FileSinkMode::kAlerts,
                                             std::function<void(const std::string&)> on_error = {});
Result<std::unique_ptr<Sink>> CreateFileSink(const FileSinkConfig& config, FileSinkOptions options);

// The same writer on a descriptor it does not own and never reopens or closes (stdout_sink.h).
// EPIPE and EBADF are permanent there: the failed batch and every later record are acknowledged
// with that error. `sync` fdatasyncs after each batch.
std::unique_ptr<FileSink> CreateFdSink(int fd, std::string name, bool sync,
                                       FileSinkOptions options);

}  // namespace chipwatch
