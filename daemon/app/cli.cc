#include "app/cli.h"

#include <hs/hs.h>
#include <librdkafka/rdkafka.h>
#include <maxminddb.h>
#include <simdjson.h>
#include <spdlog/version.h>

#include <charconv>
#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "app/commands.h"
#include "core/status.h"
#include "core/version.h"

namespace chipwatch {

namespace {

constexpr char kUsage[] =
    "usage: chipwatch <command> [options]\n"
    "\n"
    "commands:\n"
    "  run      the daemon: consume Kafka topics and files, deliver alerts to the sinks\n"
    "  replay   evaluate log files (or stdin) against the policy, print alerts as JSON lines\n"
    "  check    validate rule files (and enrichment data) without running\n"
    "  test     run the test events carried by the rules\n"
    "  version  print the version and library versions\n"
    "\n"
    "Run 'chipwatch <command> --help' for the options of a command.\n";

constexpr char kReplayUsage[] =
    "usage: chipwatch replay [--rules PATH]... [--geoip FILE] [--directory FILE]\n"
    "                        [--format F] [--threads N] [--max-record-bytes N] [--quiet]\n"
    "                        FILE...|-\n"
    "\n"
    "  --rules PATH         rule file or directory, repeatable, loaded in order\n"
    "                       (default: ./rules, else /usr/share/chipwatch/rules)\n"
    "  --geoip FILE         MaxMind-format country database for source IPs\n"
    "  --directory FILE     tenant directory CSV: tenant,org,country,kyc_status\n"
    "  --format F           auto (default), cloudtrail, gcp_audit, azure_activity, k8s_audit,\n"
    "                       gpu_alloc, oci_audit\n"
    "  --threads N          worker threads (default 1; 0 = all cores)\n"
    "  --max-record-bytes N largest accepted record (default 1048576)\n"
    "  --quiet              no summary line on stderr\n"
    "\n"
    "Alerts go to stdout, one JSON document per line (docs/alerts.md). Exit 0 when every record\n"
    "decoded, 1 when some did not (each reported on stderr with file:line), 2 on usage, config or\n"
    "rule errors, or when an input could not be read (missing, a directory, compressed: the other\n"
    "inputs are still replayed).\n";

constexpr char kCheckUsage[] =
    "usage: chipwatch check [--config FILE] [--rules PATH]... [--geoip FILE] [--directory FILE]\n"
    "                       [--json]\n"
    "\n"
    "Loads and compiles the rules, lists and catalogs and reports every error and warning with\n"
    "file:line:col. With --config, validates the daemon's config file first, then the rules and\n"
    "enrichment data it names. Exit 0 when there is no error, 2 otherwise.\n";

constexpr char kRunUsage[] =
    "usage: chipwatch run --config FILE [--log-level trace|debug|info|warn|error]\n"
    "\n"
    "Runs the daemon as configured (config/chipwatch.yaml documents every key): consumes the\n"
    "Kafka topics and files, evaluates the policy and delivers every alert to every sink at least\n"
    "once. SIGTERM or SIGINT stops it cleanly: it finishes what is in flight, flushes the sinks,\n"
    "commits and exits 0. Exit 2 on configuration or rule errors.\n";

constexpr char kTestUsage[] =
    "usage: chipwatch test [--rules PATH]... [--rule ID]... [--verbose]\n"
    "\n"
    "Runs the test events that rules carry (`tests:`) through the decoders, enrichment and the\n"
    "whole policy; reports pass/fail per rule. Exit 0 when all pass, 1 when some fail, 2 on rule\n"
    "errors.\n";

// A tiny flag parser: --name value, --name=value, boolean --name; positionals collected.
class Args {
 public:
  using Handler = std::function<bool(std::string_view value)>;

  void Value(std::string name, Handler h) { values_[std::move(name)] = std::move(h); }
  void Flag(std::string name, std::function<void()> h) { flags_[std::move(name)] = std::move(h); }

  struct Parsed {
    std::vector<std::string> positional;
    bool help = false;  // --help or -h: the rest is not parsed
  };

  // Runs the handlers; an InvalidArgument status names an unknown flag, a missing value or a
  // rejected value.
  Result<Parsed> Parse(int argc, char** argv, int first) {
    Parsed parsed;
    std::vector<std::string>& positional = parsed.positional;
    for (int i = first; i < argc; ++i) {
      std::string_view arg = argv[i];
      if (arg == "--help" || arg == "-h") {
        parsed.help = true;
        return parsed;
      }
      if (arg == "-" || arg.substr(0, 1) != "-") {
        positional.emplace_back(arg);
        continue;
      }
      if (arg == "--") {
        for (++i; i < argc; ++i) positional.emplace_back(argv[i]);
        break;
      }
      std::string name(arg);
      std::optional<std::string> inline_value;
      if (auto eq = name.find('='); eq != std::string::npos) {
        inline_value = name.substr(eq + 1);
        name.resize(eq);
      }
      if (auto it = flags_.find(name); it != flags_.end() && !inline_value) {
        it->second();
        continue;
      }
      auto it = values_.find(name);
      if (it == values_.end()) {
        return Status::InvalidArgument("unknown option " + name);
      }
      std::string value;
      if (inline_value) {
        value = *inline_value;
      } else if (i + 1 < argc) {
        value = argv[++i];
      } else {
        return Status::InvalidArgument("option " + name + " needs a value");
      }
      if (!it->second(value)) {
        return Status::InvalidArgument("invalid value for " + name + ": '" + value + "'");
      }
    }
    return parsed;
  }

 private:
  std::map<std::string, Handler> values_;
  std::map<std::string, std::function<void()>> flags_;
};

bool ParseUnsigned(std::string_view s, uint64_t& out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

void AddPolicyFlags(Args& args, std::vector<std::string>& rules) {
  args.Value("--rules", [&](std::string_view v) {
    rules.emplace_back(v);
    return !v.empty();
  });
}

void AddEnrichFlags(Args& args, EnrichOptions& enrich) {
  args.Value("--geoip", [&](std::string_view v) {
    enrich.geoip = v;
    return !v.empty();
  });
  args.Value("--directory", [&](std::string_view v) {
    enrich.directory = v;
    return !v.empty();
  });
}

int UsageError(const char* command, const std::string& error, const char* usage) {
  std::fprintf(stderr, "chipwatch %s: %s\n\n%s", command, error.c_str(), usage);
  return kExitUsage;
}

int Replay(int argc, char** argv) {
  ReplayOptions options;
  Args args;
  AddPolicyFlags(args, options.rules);
  AddEnrichFlags(args, options.enrich);
  args.Value("--format", [&](std::string_view v) {
    auto f = ParseFormat(v);
    if (f) options.format = *f;
    return f.has_value();
  });
  args.Value("--threads", [&](std::string_view v) {
    uint64_t n = 0;
    if (!ParseUnsigned(v, n) || n > 256) return false;
    options.threads =
        n == 0 ? std::max(1u, std::thread::hardware_concurrency()) : static_cast<unsigned>(n);
    return true;
  });
  args.Value("--max-record-bytes", [&](std::string_view v) {
    uint64_t n = 0;
    if (!ParseUnsigned(v, n) || n < 64 || n > (1ull << 30)) return false;
    options.max_record_bytes = n;
    return true;
  });
  args.Flag("--quiet", [&] { options.quiet = true; });
  auto parsed = args.Parse(argc, argv, 2);
  if (!parsed.ok()) return UsageError("replay", parsed.status().message(), kReplayUsage);
  if (parsed->help) {
    std::fputs(kReplayUsage, stdout);
    return kExitOk;
  }
  options.inputs = std::move(parsed->positional);
  if (options.inputs.empty()) return UsageError("replay", "no input given", kReplayUsage);
  return RunReplay(options, stdout, stderr);
}

int Check(int argc, char** argv) {
  CheckOptions options;
  Args args;
  AddPolicyFlags(args, options.rules);
  AddEnrichFlags(args, options.enrich);
  args.Flag("--json", [&] { options.json = true; });
  args.Value("--config", [&](std::string_view v) {
    options.config = v;
    return !v.empty();
  });
  auto parsed = args.Parse(argc, argv, 2);
  if (!parsed.ok()) return UsageError("check", parsed.status().message(), kCheckUsage);
  if (parsed->help) {
    std::fputs(kCheckUsage, stdout);
    return kExitOk;
  }
  // `chipwatch check rules/` reads naturally too.
  for (auto& p : parsed->positional) options.rules.push_back(std::move(p));
  return RunCheck(options, stdout);
}

int Test(int argc, char** argv) {
  TestOptions options;
  Args args;
  AddPolicyFlags(args, options.rules);
  args.Value("--rule", [&](std::string_view v) {
    options.only.emplace_back(v);
    return !v.empty();
  });
  args.Flag("--verbose", [&] { options.verbose = true; });
  args.Flag("-v", [&] { options.verbose = true; });
  auto parsed = args.Parse(argc, argv, 2);
  if (!parsed.ok()) return UsageError("test", parsed.status().message(), kTestUsage);
  if (parsed->help) {
    std::fputs(kTestUsage, stdout);
    return kExitOk;
  }
  for (auto& p : parsed->positional) options.rules.push_back(std::move(p));
  return RunRuleTests(options, stdout, stderr);
}

int Run(int argc, char** argv) {
  RunOptions options;
  Args args;
  args.Value("--config", [&](std::string_view v) {
    options.config = v;
    return !v.empty();
  });
  args.Value("--log-level", [&](std::string_view v) {
    static constexpr std::pair<std::string_view, LogLevel> kLevels[] = {
        {"trace", LogLevel::kTrace},
        {"debug", LogLevel::kDebug},
        {"info", LogLevel::kInfo},
        {"warn", LogLevel::kWarn},
        {"error", LogLevel::kError}};
    for (const auto& [name, level] : kLevels) {
      if (v == name) {
        options.log_level = level;
        return true;
      }
    }
    return false;
  });
  auto parsed = args.Parse(argc, argv, 2);
  if (!parsed.ok()) return UsageError("run", parsed.status().message(), kRunUsage);
  if (parsed->help) {
    std::fputs(kRunUsage, stdout);
    return kExitOk;
  }
  if (!parsed->positional.empty()) {
    return UsageError("run", "unexpected argument " + parsed->positional[0], kRunUsage);
  }
  if (options.config.empty()) return UsageError("run", "--config FILE is required", kRunUsage);
  return RunDaemon(options);
}

int Version() {
  std::printf("chipwatch %s\n", CHIPWATCH_VERSION);
  std::printf("  simdjson %d.%d.%d (%s)\n", simdjson::SIMDJSON_VERSION_MAJOR,
              simdjson::SIMDJSON_VERSION_MINOR, simdjson::SIMDJSON_VERSION_REVISION,
              simdjson::get_active_implementation()->name().c_str());
  std::printf("  hyperscan %s\n", hs_version());
  std::printf("  librdkafka %s\n", rd_kafka_version_str());
  std::printf("  libmaxminddb %s\n", MMDB_lib_version());
  std::printf("  spdlog %d.%d.%d\n", SPDLOG_VER_MAJOR, SPDLOG_VER_MINOR, SPDLOG_VER_PATCH);
  return kExitOk;
}

}  // namespace

int RunCli(int argc, char** argv) {
  if (argc < 2) {
    std::fputs(kUsage, stderr);
    return kExitUsage;
  }
  std::string_view command = argv[1];
  if (command == "run") return Run(argc, argv);
  if (command == "replay") return Replay(argc, argv);
  if (command == "check") return Check(argc, argv);
  if (command == "test") return Test(argc, argv);
  if (command == "version" || command == "--version") return Version();
  if (command == "help" || command == "--help" || command == "-h") {
    std::fputs(kUsage, stdout);
    return kExitOk;
  }
  std::fprintf(stderr, "chipwatch: unknown command '%.*s'\n\n%s", static_cast<int>(command.size()),
               command.data(), kUsage);
  return kExitUsage;
}

}  // namespace chipwatch
