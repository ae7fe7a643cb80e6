// The process exit codes of every subcommand (docs/operations.md, `chipwatch <command> --help`).
// In core/ so that the pipeline's start-up and shutdown return them without depending on app/.
#pragma once

namespace chipwatch {

inline constexpr int kExitOk = 0;
// `replay`: some records could not be decoded; `test`: some rule tests failed.
inline constexpr int kExitPartial = 1;
// `run`: stopped by anything but SIGTERM/SIGINT (a record delivered nowhere, a fatal Kafka error,
// a sink or source that cannot be opened); systemd's Restart=on-failure restarts it.
inline constexpr int kExitFailure = 1;
// Usage, configuration or rule errors.
inline constexpr int kExitUsage = 2;

}  // namespace chipwatch
