// StdoutSink: writes alert lines to standard output (or to a descriptor it is given, for tests).
//
// It is the FileSink writer (file_sink.h) on a borrowed descriptor: the same bounded queue,
// batching, ordering, backpressure and acknowledgement rules. A record is acknowledged once it is
// written to the descriptor (into the pipe or terminal, or the page cache when stdout is redirected
// to a file); there is no fsync. The descriptor is never closed or reopened by the sink.
//
// Failures. A closed pipe (EPIPE, e.g. `chipwatch run | head -1`) or descriptor (EBADF) is
// permanent: retrying cannot help. The sink then reports it once through `on_error` and
// acknowledges the failed batch and every later record with that non-OK status, so the daemon
// decides what to do (the contract in sink.h: log, count, stop). SIGPIPE is blocked on the writer
// thread, so such a write fails with EPIPE instead of killing the process. Other errors (ENOSPC
// when redirected to a full disk, EIO) are retried with backoff, keeping the records, like a file
// sink's. The sink is named "stdout".
//
// Thread contract: as FileSink. Destroying the sink waits for a write in progress: with a pipe
// whose reader stopped reading (but did not close it) a batch already being written blocks that,
// so call Flush() with a time-out first.
#pragma once

#include <unistd.h>

#include <functional>
#include <memory>
#include <string>

#include "sink/file_sink.h"
#include "sink/sink.h"

namespace chipwatch {

std::unique_ptr<Sink> CreateStdoutSink(int fd = STDOUT_FILENO,
                                       std::function<void(const std::string&)> on_error = {});
// With all writer options (queue size, batch size, backoff, injected I/O); `options.mode` applies.
std::unique_ptr<Sink> CreateStdoutSink(int fd, FileSinkOptions options);

}  // namespace chipwatch
