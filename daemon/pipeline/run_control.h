// RunControl: the flags that stop, fail and reload a running daemon.
//
// The signal thread sets `stop` (SIGTERM/SIGINT, with `stop_signal`) and `reload` (SIGHUP); any
// stage that meets a failure the daemon cannot go on from (a record delivered nowhere, a fatal
// Kafka client error, a followed file that cannot be read) calls StopFailed(), and the process then
// exits 1 so that systemd restarts it (Restart=on-failure) and the "daemon down" alert fires.
// `chipwatch run` uses the one ProcessRunControl() (signals.h); tests make their own.
// Thread contract: every member is an atomic; any thread may read or set them.
#pragma once

#include <atomic>

namespace chipwatch {

struct RunControl {
  std::atomic<bool> stop{false};
  std::atomic<int> stop_signal{0};  // the signal that set `stop`, if one did (logged by main)
  std::atomic<bool> reload{false};
  std::atomic<bool> failed{false};

  void StopFailed() {
    failed.store(true);
    stop.store(true);
  }
  bool stopping() const { return stop.load(std::memory_order_relaxed); }
};

}  // namespace chipwatch
