// Subcommands. Each takes typed options (parsed by cli.cc), writes results to `out` and
// messages to `err`, and returns the process exit code:
//   0  everything fine
//   1  replay: some records could not be decoded; test: some rule tests failed
//   2  usage, configuration or rule errors
#pragma once

#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "config/config.h"
#include "core/event.h"
#include "core/exit_codes.h"
#include "engine/enrichment.h"

namespace chipwatch {

struct ReplayOptions {
  std::vector<std::string> rules;  // empty: DefaultRulePaths()
  EnrichOptions enrich;
  Format format = Format::kAuto;
  unsigned threads = 1;
  std::vector<std::string> inputs;  // files, "-" for stdin
  size_t max_record_bytes = 1 << 20;
  size_t max_document_bytes = 256u << 20;
  bool quiet = false;  // no summary line
};
int RunReplay(const ReplayOptions& options, std::FILE* out, std::FILE* err);

struct RunOptions {
  std::string config;                 // the daemon's YAML config
  std::optional<LogLevel> log_level;  // overrides log.level
};
int RunDaemon(const RunOptions& options);

struct CheckOptions {
  std::string config;  // when set: validate this daemon config and every rule file it names
  std::vector<std::string> rules;
  EnrichOptions enrich;
  bool json = false;  // diagnostics as JSON lines
};
// Every diagnostic (config, rules, enrichment data) and the summary go to `out`.
int RunCheck(const CheckOptions& options, std::FILE* out);

struct TestOptions {
  std::vector<std::string> rules;
  std::vector<std::string> only;  // rule ids to run; empty: all
  bool verbose = false;           // print every test, not only failures
};
int RunRuleTests(const TestOptions& options, std::FILE* out, std::FILE* err);

}  // namespace chipwatch
