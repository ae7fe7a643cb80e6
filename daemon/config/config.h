// Config: the daemon's typed configuration (`chipwatch run --config FILE`), read once from one YAML
// file into plain structs and validated as a whole.
//
// LoadConfig reports every problem at once into a Diagnostics, each with file:line:col and the key
// path (`sources[1].topics[0].format`): YAML syntax, unknown keys (naming the allowed ones), wrong
// types, missing required keys, unknown `type`/`format`, duplicate topics, malformed broker lists
// and listen addresses, missing rule/enrichment files, unwritable file sinks. Relative paths are
// resolved against the directory of the config file. A Config is only returned when it is valid, so
// its users need no further checks; positions are kept on the values a later stage (connecting to a
// broker, opening a file) may have to blame. The keys are documented in docs/configuration.md and
// in the reference config, config/chipwatch.yaml.
//
// Secrets: values of Kafka `properties` whose name looks secret (IsSecretPropertyName), and the
// SASL password of a `security` block (read from its file or environment variable at load time),
// are kept for the client but never appear in a diagnostic or in Redacted().
//
// Thread contract: the load functions are reentrant and share no state; a loaded Config is a plain
// value, safe to read from any number of threads. yaml-cpp stays inside config/*.cc.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/diagnostics.h"
#include "core/event.h"

namespace chipwatch {

// A filesystem path from the config, resolved (absolute, normalized) against the config's
// directory.
struct ConfigPath {
  std::string path;
  SourcePos pos;  // of the value as written
};

// One librdkafka property, passed to the client unchanged. Secret-looking values are never printed.
struct KafkaProperty {
  std::string name;
  std::string value;
  SourcePos pos;  // of the key
};

// True for property names whose values must never be printed: anything naming a password, secret,
// key, token, credential or JAAS/OAUTHBEARER config (sasl.password, ssl.key.pem, ...).
bool IsSecretPropertyName(std::string_view name);

// The `security` block of a Kafka source, sink or dead_letter: TLS and SASL. The loader checks it
// (files readable, the pieces a protocol needs present, no `properties` setting the same thing) and
// KafkaSecurityProperties() turns it into librdkafka properties.
enum class KafkaProtocol : uint8_t { kPlaintext, kSsl, kSaslPlaintext, kSaslSsl };
enum class SaslMechanism : uint8_t { kPlain, kScramSha256, kScramSha512 };

struct KafkaSaslConfig {
  SourcePos pos;  // of the `sasl` mapping
  SaslMechanism mechanism = SaslMechanism::kScramSha512;
  SourcePos mechanism_pos;
  std::string username;
  SourcePos username_pos;
  std::string password;                     // secret: never printed
  SourcePos password_pos;                   // of password_file or password_env
  std::optional<ConfigPath> password_file;  // where the password came from (one of these two)
  std::string password_env;
};

struct KafkaSecurityConfig {
  bool configured = false;  // a `security` block was given (else nothing is set)
  SourcePos pos;
  KafkaProtocol protocol = KafkaProtocol::kPlaintext;
  SourcePos protocol_pos;
  std::optional<ConfigPath> ca_file;    // broker verification; default: the system store
  std::optional<ConfigPath> cert_file;  // client certificate (mutual TLS), with key_file
  std::optional<ConfigPath> key_file;
  std::optional<KafkaSaslConfig> sasl;  // with protocol sasl_plaintext or sasl_ssl only
};

// The librdkafka properties the block stands for (security.protocol, ssl.ca.location,
// ssl.certificate.location, ssl.key.location, sasl.mechanisms, sasl.username, sasl.password), each
// positioned at the key it comes from; empty when no block was given.
std::vector<KafkaProperty> KafkaSecurityProperties(const KafkaSecurityConfig& security);

std::string_view KafkaProtocolName(KafkaProtocol p);  // "plaintext", ..., "sasl_ssl"
std::string_view SaslMechanismName(SaslMechanism m);  // "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"

struct KafkaTopicConfig {
  std::string topic;
  Format format = Format::kAuto;
  SourcePos pos;  // of the topic's mapping
};

// Where a new consumer group starts (librdkafka auto.offset.reset); committed offsets always win.
enum class StartFrom : uint8_t { kEarliest, kLatest };
// Where a file source starts reading the file it finds at start-up.
enum class StartAt : uint8_t { kBeginning, kEnd };

struct KafkaSourceConfig {
  SourcePos pos;        // of the source's mapping
  std::string brokers;  // "host:port[,host:port]", normalized (no spaces)
  SourcePos brokers_pos;
  std::string group;  // consumer group id
  SourcePos group_pos;
  std::vector<KafkaTopicConfig> topics;  // at least one, names unique
  StartFrom start_from = StartFrom::kEarliest;
  std::vector<KafkaProperty> properties;  // in file order, names unique
  KafkaSecurityConfig security;
};

struct FileSourceConfig {
  SourcePos pos;
  ConfigPath path;
  Format format = Format::kAuto;
  bool follow = false;                     // tail the file across rotation (like `tail -F`)
  StartAt start_at = StartAt::kBeginning;  // default: kEnd when follow, else kBeginning
  // Where the position reached (every line before it processed and its alerts acknowledged) is
  // kept across restarts; a valid checkpoint overrides start_at.
  std::optional<ConfigPath> checkpoint;
};

using SourceConfig = std::variant<KafkaSourceConfig, FileSourceConfig>;

struct KafkaSinkConfig {
  SourcePos pos;
  std::string brokers;
  SourcePos brokers_pos;
  std::string topic;
  SourcePos topic_pos;
  std::vector<KafkaProperty> properties;
  KafkaSecurityConfig security;
};

struct FileSinkConfig {
  SourcePos pos;
  ConfigPath path;  // appended to, one JSON document per line; its directory exists and is writable
  bool fsync = false;  // fsync after each write batch
};

struct StdoutSinkConfig {
  SourcePos pos;
};

using SinkConfig = std::variant<KafkaSinkConfig, FileSinkConfig, StdoutSinkConfig>;

// Where records that cannot be decoded go (with the reason); `type: kafka` or `type: file`.
using DeadLetterConfig = std::variant<KafkaSinkConfig, FileSinkConfig>;

struct MetricsConfig {
  bool enabled = true;
  std::string listen = "127.0.0.1:9464";  // host:port, host may be [IPv6]
  std::string host = "127.0.0.1";         // without brackets
  uint16_t port = 9464;
  SourcePos pos;  // of `listen` when given
};

struct LimitsConfig {
  uint32_t max_record_bytes = 1048576;  // larger records are dead-lettered, not decoded
};

// `state:` (issue 13, docs/stateful.md): where the stateful stage snapshots its windows, when an
// idle partition's suppression windows close, and the bound on groups per correlation.
struct StateConfig {
  // A directory for the snapshots (created at start when absent; its parent must exist). Without
  // it the state lives in memory only and is lost on restart (`check` says so).
  std::optional<ConfigPath> path;
  std::chrono::milliseconds idle_flush{30000};
  SourcePos idle_flush_pos;
  uint64_t max_groups = 1000000;  // per correlation (and open suppression windows per rule)
  SourcePos pos;                  // of the `state` mapping (or 0:0 when absent)
};

enum class LogLevel : uint8_t { kTrace, kDebug, kInfo, kWarn, kError };
enum class LogFormat : uint8_t { kText, kJson };

struct LogConfig {
  LogLevel level = LogLevel::kInfo;
  LogFormat format = LogFormat::kText;
};

struct Config {
  std::string file;                     // the config file as named to the loader
  std::vector<ConfigPath> rules;        // files or directories, loaded in this order
  std::optional<ConfigPath> geoip;      // enrich.geoip
  std::optional<ConfigPath> directory;  // enrich.directory
  std::vector<SourceConfig> sources;    // at least one
  std::vector<SinkConfig> sinks;        // at least one
  std::optional<DeadLetterConfig> dead_letter;
  MetricsConfig metrics;
  int workers = 1;  // default: std::thread::hardware_concurrency() (at least 1)
  LimitsConfig limits;
  StateConfig state;
  std::chrono::seconds shutdown_timeout{30};
  LogConfig log;

  // A multi-line, human-readable summary of every setting for the start-up log. Secret property
  // values are replaced by "<redacted>".
  std::string Redacted() const;
};

std::string_view StartFromName(StartFrom s);  // "earliest", "latest"
std::string_view StartAtName(StartAt s);      // "beginning", "end"
std::string_view LogLevelName(LogLevel l);    // "trace", ..., "error"
std::string_view LogFormatName(LogFormat f);  // "text", "json"

// Reads and validates the config file at `path`. Every problem goes into `diags`; returns the
// config when this call reported no error (warnings allowed), else null. Never throws.
std::unique_ptr<Config> LoadConfig(const std::string& path, Diagnostics& diags);

// Same, from text. `name` is used in positions and its directory is the base of relative paths
// ("" or a bare file name: the current directory).
std::unique_ptr<Config> LoadConfigFromString(std::string_view yaml, const std::string& name,
                                             Diagnostics& diags);

}  // namespace chipwatch
