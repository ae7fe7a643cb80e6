// Logging for the daemon: spdlog to stderr, plain lines with levels (what journald expects under
// systemd) or one JSON object per line. Library code never logs by itself; the app layer does.
#pragma once

#include "config/config.h"

namespace chipwatch {

// Installs the process-wide logger. Called once by `chipwatch run` before any thread starts.
void SetupLogging(const LogConfig& config);

}  // namespace chipwatch
