// Command-line entry: parses the subcommand and its flags and runs it. Returns the exit code
// (0 ok, 1 some input records could not be decoded / some rule tests failed, 2 usage, config or
// rule errors).
#pragma once

namespace chipwatch {
int RunCli(int argc, char** argv);
}  // namespace chipwatch
