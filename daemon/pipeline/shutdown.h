// Shutdown: stop fetching, finish what is in flight, flush the sinks, commit, leave the groups,
// all within `timeout`; then the exit status: kExitFailure when the daemon stopped on a failure
// (RunControl::failed), kExitOk otherwise (a time-out only loses time: whatever was not
// acknowledged is consumed again after the restart).
//   sources: Wake, Join -> work queue: Close, workers drain -> sources: WaitAcknowledged
//   -> sinks: Flush -> sources: SavePosition, CommitAndClose -> metrics endpoint down
// Thread contract: the main thread, once the stop flag is set.
#pragma once

#include <chrono>

#include "pipeline/run_state.h"

namespace chipwatch {

int Shutdown(RunState& state, std::chrono::seconds timeout);

}  // namespace chipwatch
