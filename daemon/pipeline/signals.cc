#include "pipeline/signals.h"

#include <pthread.h>
#include <signal.h>
#include <spdlog/spdlog.h>

#include <cstdlib>

#include "core/exit_codes.h"

namespace chipwatch {

RunControl& ProcessRunControl() {
  static RunControl control;
  return control;
}

std::thread StartSignalThread(RunControl& control) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  return std::thread([set, &control] {
    int sig = 0;
    while (sigwait(&set, &sig) == 0) {
      if (sig == SIGHUP) {
        control.reload.store(true);
        continue;
      }
      if (control.stop.exchange(true)) {
        // A second stop signal while shutting down: the operator wants out now. Nothing is lost:
        // unacknowledged messages are simply consumed again after the restart.
        spdlog::warn("second stop signal: exiting without waiting");
        std::_Exit(kExitPartial);
      }
      // Logged by the main thread: this one may run before the logger is set up.
      control.stop_signal.store(sig);
    }
  });
}

void LogStopSignal(const RunControl& control) {
  const int sig = control.stop_signal.load();
  if (sig != 0) spdlog::info("{} received: stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
}

}  // namespace chipwatch
