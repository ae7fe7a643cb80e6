// Reload (SIGHUP): re-reads the config, rules and enrichment data off the hot path and publishes
// them as a new snapshot, which each worker picks up between two messages; or keeps the old ones
// when anything is wrong (logged with file:line:col, counted in
// chipwatch_rules_reload_total{result="failure"}). Sources, sinks and workers stay as they are
// (changing them needs a restart); file sinks are reopened, for log rotation.
// Thread contract: the main thread (the supervisor), while the pipeline runs.
#pragma once

#include "pipeline/run_state.h"

namespace chipwatch {

void Reload(RunState& state);

}  // namespace chipwatch
