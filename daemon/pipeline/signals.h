// Signals: SIGTERM/SIGINT stop the daemon, SIGHUP reloads it, a second stop signal exits at once.
//
// StartSignalThread blocks the daemon's signals in the calling thread (call it before any other
// thread starts, so that every thread inherits the mask: the rule compiler's, librdkafka's, the
// workers') and starts a thread that waits for them with sigwait and sets the flags of
// ProcessRunControl(), the process's one RunControl (the only global: signal flags).
// Thread contract: StartSignalThread once, from the main thread, first.
#pragma once

#include <thread>

#include "pipeline/run_control.h"

namespace chipwatch {

RunControl& ProcessRunControl();
std::thread StartSignalThread(RunControl& control);
// "SIGTERM received: stopping", if a signal set the stop flag (the signal thread does not log:
// it may run before the logger is set up).
void LogStopSignal(const RunControl& control);

}  // namespace chipwatch
