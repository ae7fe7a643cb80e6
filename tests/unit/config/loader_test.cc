// Tests for the config loader (config/config.h): values, defaults, paths, and every error path with
// its position and key path.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "config_test_util.h"

namespace chipwatch::config_test {
namespace {

TEST_F(ConfigTest, MinimalConfigGetsDefaults) {
  const Config& c = LoadOk(kMinimal);
  ASSERT_EQ(c.rules.size(), 1u);
  EXPECT_EQ(c.rules[0].path, dir_ + "/rules");
  EXPECT_EQ(c.rules[0].pos.line, 1);
  EXPECT_EQ(c.rules[0].pos.column, 9);
  EXPECT_FALSE(c.geoip);
  EXPECT_FALSE(c.directory);
  ASSERT_EQ(c.sources.size(), 1u);
  const auto& k = std::get<KafkaSourceConfig>(c.sources[0]);
  EXPECT_EQ(k.brokers, "127.0.0.1:9092");
  EXPECT_EQ(k.group, "g");
  ASSERT_EQ(k.topics.size(), 1u);
  EXPECT_EQ(k.topics[0].topic, "t");
  EXPECT_EQ(k.topics[0].format, Format::kAuto);
  EXPECT_EQ(k.start_from, StartFrom::kEarliest);
  EXPECT_TRUE(k.properties.empty());
  ASSERT_EQ(c.sinks.size(), 1u);
  EXPECT_TRUE(std::holds_alternative<StdoutSinkConfig>(c.sinks[0]));
  EXPECT_FALSE(c.dead_letter);
  EXPECT_TRUE(c.metrics.enabled);
  EXPECT_EQ(c.metrics.listen, "127.0.0.1:9464");
  EXPECT_EQ(c.metrics.host, "127.0.0.1");
  EXPECT_EQ(c.metrics.port, 9464);
  EXPECT_EQ(c.workers, static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
  EXPECT_EQ(c.limits.max_record_bytes, 1048576u);
  EXPECT_EQ(c.shutdown_timeout, std::chrono::seconds(30));
  EXPECT_EQ(c.log.level, LogLevel::kInfo);
  EXPECT_EQ(c.log.format, LogFormat::kText);
  EXPECT_EQ(c.file, Name());
  EXPECT_EQ(diags_.items().size(), 0u) << Dump(diags_);
}

TEST_F(ConfigTest, FullConfigReadsEveryKey) {
  const Config& c = LoadOk(R"(rules: [rules, rules/a.yaml]
enrich: {geoip: geo.mmdb, directory: dir.csv}
sources:
  - type: kafka
    brokers: k1:9092, k2:9093
    group: chipwatch
    topics: [{topic: cloudtrail, format: cloudtrail}, {topic: gpu-alloc, format: gpu_alloc}]
    start_from: latest
    properties: {security.protocol: SASL_SSL, fetch.max.bytes: 1048576}
  - type: file
    path: /var/log/gpu-alloc.jsonl
    format: auto
    follow: true
  - {type: file, path: /var/log/oci-audit.jsonl, format: oci_audit, follow: true}
sinks:
  - {type: kafka, brokers: 127.0.0.1:9092, topic: chipwatch-alerts, properties: {acks: all}}
  - {type: file, path: out/alerts.jsonl, fsync: true}
  - {type: stdout}
dead_letter: {type: kafka, brokers: 127.0.0.1:9092, topic: chipwatch-dead-letter}
metrics: {listen: "[::1]:9500"}
workers: 3
limits: {max_record_bytes: 65536}
shutdown_timeout: 5
log: {level: debug, format: json}
)");
  ASSERT_EQ(c.rules.size(), 2u);
  EXPECT_EQ(c.rules[1].path, dir_ + "/rules/a.yaml");
  ASSERT_TRUE(c.geoip && c.directory);
  EXPECT_EQ(c.geoip->path, dir_ + "/geo.mmdb");
  EXPECT_EQ(c.geoip->pos.line, 2);
  EXPECT_EQ(c.geoip->pos.column, 17);
  EXPECT_EQ(c.directory->path, dir_ + "/dir.csv");
  ASSERT_EQ(c.sources.size(), 3u);
  EXPECT_EQ(std::get<FileSourceConfig>(c.sources[2]).format, Format::kOciAudit);
  const auto& k = std::get<KafkaSourceConfig>(c.sources[0]);
  EXPECT_EQ(k.pos.line, 4);
  EXPECT_EQ(k.brokers, "k1:9092,k2:9093");
  EXPECT_EQ(k.brokers_pos.line, 5);
  EXPECT_EQ(k.brokers_pos.column, 14);
  EXPECT_EQ(k.start_from, StartFrom::kLatest);
  ASSERT_EQ(k.topics.size(), 2u);
  EXPECT_EQ(k.topics[1].topic, "gpu-alloc");
  EXPECT_EQ(k.topics[1].format, Format::kGpuAlloc);
  ASSERT_EQ(k.properties.size(), 2u);
  EXPECT_EQ(k.properties[0].name, "security.protocol");
  EXPECT_EQ(k.properties[0].value, "SASL_SSL");
  EXPECT_EQ(k.properties[1].value, "1048576");
  const auto& f = std::get<FileSourceConfig>(c.sources[1]);
  EXPECT_EQ(f.path.path, "/var/log/gpu-alloc.jsonl");
  EXPECT_TRUE(f.follow);
  EXPECT_EQ(f.start_at, StartAt::kEnd);
  ASSERT_EQ(c.sinks.size(), 3u);
  const auto& ks = std::get<KafkaSinkConfig>(c.sinks[0]);
  EXPECT_EQ(ks.topic, "chipwatch-alerts");
  ASSERT_EQ(ks.properties.size(), 1u);
  const auto& fs = std::get<FileSinkConfig>(c.sinks[1]);
  EXPECT_EQ(fs.path.path, dir_ + "/out/alerts.jsonl");
  EXPECT_TRUE(fs.fsync);
  ASSERT_TRUE(c.dead_letter);
  EXPECT_EQ(std::get<KafkaSinkConfig>(*c.dead_letter).topic, "chipwatch-dead-letter");
  EXPECT_EQ(c.metrics.host, "::1");
  EXPECT_EQ(c.metrics.port, 9500);
  EXPECT_EQ(c.workers, 3);
  EXPECT_EQ(c.limits.max_record_bytes, 65536u);
  EXPECT_EQ(c.shutdown_timeout, std::chrono::seconds(5));
  EXPECT_EQ(c.log.level, LogLevel::kDebug);
  EXPECT_EQ(c.log.format, LogFormat::kJson);
}

TEST_F(ConfigTest, RelativePathsResolveAgainstTheConfigDirectoryNotTheWorkingDirectory) {
  std::filesystem::create_directories(dir_ + "/etc");
  std::ofstream(dir_ + "/etc/chipwatch.yaml") << R"(rules: [../rules]
enrich: {directory: ../dir.csv}
sources: [{type: file, path: ../in.jsonl, follow: true}]
sinks: [{type: file, path: ../out/./alerts.jsonl}]
)";
  const auto cwd = std::filesystem::current_path();
  std::filesystem::current_path("/");
  Diagnostics diags;
  auto c = LoadConfig(dir_ + "/etc/chipwatch.yaml", diags);
  std::filesystem::current_path(cwd);
  ASSERT_NE(c, nullptr) << Dump(diags);
  EXPECT_EQ(c->rules[0].path, dir_ + "/rules");
  EXPECT_EQ(c->directory->path, dir_ + "/dir.csv");
  EXPECT_EQ(std::get<FileSourceConfig>(c->sources[0]).path.path, dir_ + "/in.jsonl");
  EXPECT_EQ(std::get<FileSinkConfig>(c->sinks[0]).path.path, dir_ + "/out/alerts.jsonl");
}

TEST_F(ConfigTest, YamlSyntaxErrorHasPosition) {
  EXPECT_EQ(Load("rules: [rules]\nsources:\n  - {type: kafka, brokers: [\n"), nullptr);
  ASSERT_EQ(diags_.error_count(), 1u) << Dump(diags_);
  const Diagnostic& d = Find("yaml-syntax");
  EXPECT_EQ(d.pos.file, Name());
  EXPECT_GT(d.pos.line, 0);
  EXPECT_GT(d.pos.column, 0);
}

// yaml-cpp 0.7.0 loops forever, allocating, on a stray ',' where a document starts
// (policy/yaml_load.h): the config loader refuses it with its position instead.
TEST_F(ConfigTest, StrayCommaIsASyntaxErrorNotAHang) {
  for (const std::string text : {",", ", ", ",,,,\n", "rules: [rules]\n---\n,\n"}) {
    SCOPED_TRACE(text);
    EXPECT_EQ(Load(text), nullptr);
    const Diagnostic& d = Find("yaml-syntax");
    EXPECT_EQ(d.pos.file, Name());
    EXPECT_GT(d.pos.line, 0);
    EXPECT_GT(d.pos.column, 0);
  }
}

TEST_F(ConfigTest, ReadErrorForMissingFile) {
  Diagnostics diags;
  EXPECT_EQ(LoadConfig(dir_ + "/nope.yaml", diags), nullptr);
  ASSERT_EQ(diags.error_count(), 1u);
  EXPECT_EQ(diags.items()[0].code, "read-error");
}

TEST_F(ConfigTest, EmptyAndMultiDocumentConfigs) {
  EXPECT_EQ(Load("# nothing\n"), nullptr);
  ExpectError("empty-config", 1, 1, "required: rules, sources, sinks");
  EXPECT_EQ(Load(std::string(kMinimal) + "---\nrules: [x]\n"), nullptr);
  ExpectError("multiple-documents", 7, 1, "single YAML document");
}

TEST_F(ConfigTest, UnknownKeysNameTheAllowedOnes) {
  EXPECT_EQ(Load(R"(rules: [rules]
sorces: []
sources:
  - type: kafka
    brokers: 127.0.0.1:9092
    grup: g
    group: g
    topics: [{topic: t, fromat: cloudtrail}]
sinks: [{type: stdout, path: x}]
metrics: {listen: 127.0.0.1:1, port: 2}
)"),
            nullptr);
  EXPECT_EQ(Count("unknown-key"), 5u) << Dump(diags_);
  ExpectError("unknown-key", 2, 1, "unknown key 'sorces' at the top level (allowed: rules, enrich");
  const auto& items = diags_.items();
  auto has = [&](int line, int col, const std::string& part) {
    for (const auto& d : items) {
      if (d.pos.line == line && d.pos.column == col && d.message.find(part) != std::string::npos) {
        return true;
      }
    }
    return false;
  };
  EXPECT_TRUE(has(6, 5,
                  "unknown key 'grup' in sources[0] (allowed: type, brokers, group, topics, "
                  "start_from, properties, security)"))
      << Dump(diags_);
  EXPECT_TRUE(has(8, 25, "unknown key 'fromat' in sources[0].topics[0] (allowed: topic, format)"))
      << Dump(diags_);
  EXPECT_TRUE(has(9, 24, "unknown key 'path' in sinks[0] (allowed: type)")) << Dump(diags_);
  EXPECT_TRUE(has(10, 32, "unknown key 'port' in metrics (allowed: enabled, listen)"))
      << Dump(diags_);
}

TEST_F(ConfigTest, DuplicateKey) {
  EXPECT_EQ(Load(std::string(kMinimal) + "workers: 2\nworkers: 3\n"), nullptr);
  ExpectError("duplicate-key", 7, 1, "duplicate key workers");
}

TEST_F(ConfigTest, WrongTypes) {
  EXPECT_EQ(Load(R"(rules: {a: b}
sources:
  - type: file
    path: [a]
    follow: yes
  - {type: kafka, brokers: 127.0.0.1:9092, group: g, topics: cloudtrail}
sinks: stdout
workers: many
enrich: [geo.mmdb]
)"),
            nullptr);
  ExpectError("wrong-type", 1, 8, "rules must be a sequence of paths, got a mapping");
  const auto& items = diags_.items();
  std::vector<std::string> got;
  for (const auto& d : items)
    got.push_back(d.pos.ToString().substr(Name().size()) + " " + d.message);
  const std::vector<std::string> want = {
      ":1:8 rules must be a sequence of paths, got a mapping",
      ":4:11 sources[0].path must be a string, got a sequence",
      ":5:13 sources[0].follow must be true or false",
      ":6:62 sources[1].topics must be a sequence, got a scalar",
      ":7:8 sinks must be a sequence, got a scalar",
      ":8:10 workers must be an integer",
      ":9:9 enrich must be a mapping, got a sequence",
  };
  EXPECT_EQ(got, want) << Dump(diags_);
}

TEST_F(ConfigTest, MissingRequiredKeys) {
  EXPECT_EQ(Load(R"(sources:
  - type: kafka
    topics: [{format: cloudtrail}]
  - {path: x}
sinks:
  - {type: kafka, brokers: 127.0.0.1:9092}
  - {type: file}
dead_letter: {type: kafka, topic: dl}
)"),
            nullptr);
  std::vector<std::string> got;
  for (const auto& d : diags_.items()) {
    EXPECT_EQ(d.code, "missing-key") << d.ToString();
    got.push_back(d.pos.ToString().substr(Name().size()) + " " + d.message);
  }
  const std::vector<std::string> want = {
      ":1:1 missing required key rules",
      ":2:5 missing required key sources[0].brokers",
      ":2:5 missing required key sources[0].group",
      ":3:14 missing required key sources[0].topics[0].topic",
      ":4:5 missing required key sources[1].type (one of: kafka, file)",
      ":6:5 missing required key sinks[0].topic",
      ":7:5 missing required key sinks[1].path",
      ":8:14 missing required key dead_letter.brokers",
  };
  EXPECT_EQ(got, want) << Dump(diags_);
}

TEST_F(ConfigTest, EmptyRequiredValuePointsAtItsKey) {
  EXPECT_EQ(Load(R"(rules: [rules]
sources:
  - type: kafka
    brokers: 127.0.0.1:9092
    group:
    topics: [{topic: t}]
sinks: [{type: stdout}]
)"),
            nullptr);
  ExpectError("wrong-type", 5, 5, "sources[0].group must be a string, got nothing");
  EXPECT_EQ(Load(std::string(kMinimal) + "log: {level: ''}\n"), nullptr);
  ExpectError("empty-value", 6, 14, "log.level must not be empty");
}

TEST_F(ConfigTest, NoSourcesNoSinksNoRules) {
  EXPECT_EQ(Load("rules: []\nsources: []\nsinks: []\n"), nullptr);
  ExpectError("no-rules", 1, 8, "at least one");
  ExpectError("no-sources", 2, 10, "at least one source");
  ExpectError("no-sinks", 3, 8, "at least one sink");
  EXPECT_EQ(Load("rules: [rules]\n"), nullptr);
  EXPECT_EQ(Count("missing-key"), 2u) << Dump(diags_);
  ExpectError("missing-key", 1, 1, "missing required key sources");
}

TEST_F(ConfigTest, UnknownTypeAndFormat) {
  EXPECT_EQ(Load(R"(rules: [rules]
sources:
  - {type: kafka, brokers: 127.0.0.1:9092, group: g, topics: [{topic: a}, {topic: b, format: jsn}]}
  - {type: syslog, path: /dev/log}
  - {type: file, path: /dev/null, format: CloudTrail}
sinks: [{type: stdout}]
dead_letter: {type: stdout}
log: {level: verbose, format: xml}
)"),
            nullptr);
  ExpectError("unknown-format", 3, 94,
              "sources[0].topics[1].format: unknown format 'jsn' (allowed: auto, cloudtrail, "
              "gcp_audit, azure_activity, k8s_audit, gpu_alloc, oci_audit)");
  ExpectError("unknown-type", 4, 12,
              "sources[1].type: unknown type 'syslog' (allowed: kafka, file)");
  EXPECT_EQ(Count("unknown-format"), 2u);
  EXPECT_EQ(Count("unknown-type"), 2u);
  EXPECT_NE(diags_.items().back().message.find("unknown value 'xml' (allowed: text, json)"),
            std::string::npos)
      << Dump(diags_);
  EXPECT_EQ(Count("unknown-value"), 2u) << Dump(diags_);
}

TEST_F(ConfigTest, DuplicateAndInvalidTopics) {
  EXPECT_EQ(Load(R"(rules: [rules]
sources:
  - type: kafka
    brokers: 127.0.0.1:9092
    group: g
    topics:
      - {topic: cloudtrail, format: cloudtrail}
      - {topic: gpu-alloc}
      - {topic: cloudtrail, format: auto}
      - {topic: "bad topic"}
sinks: [{type: kafka, brokers: 127.0.0.1:9092, topic: "alerts/x"}]
)"),
            nullptr);
  ExpectError("duplicate-topic", 9, 17,
              "sources[0].topics[2].topic: topic 'cloudtrail' is already listed at "
              "sources[0].topics[0] (line 7)");
  ExpectError("invalid-topic", 10, 17, "sources[0].topics[3].topic: 'bad topic' is not a Kafka");
  EXPECT_EQ(Count("invalid-topic"), 2u) << Dump(diags_);
}

TEST_F(ConfigTest, BrokerLists) {
  auto source = [](const std::string& brokers) {
    return "rules: [rules]\nsources: [{type: kafka, group: g, topics: [{topic: t}], brokers: '" +
           brokers + "'}]\nsinks: [{type: stdout}]\n";
  };
  for (const char* good : {"k:9092", "k1:9092,k2:9092", "10.0.0.1:9092, 10.0.0.2:9093",
                           "[2001:db8::1]:9092", "SSL://kafka.example.com:9093"}) {
    Load(source(good));
    EXPECT_FALSE(diags_.has_errors()) << good << "\n" << Dump(diags_);
  }
  EXPECT_EQ(std::get<KafkaSourceConfig>(Load(source("a:1 , b:2"))->sources[0]).brokers, "a:1,b:2");
  for (const char* bad : {"kafka", "kafka:", "kafka:0", "kafka:65536", "k:1,,k:2", "k:1,", ":9092",
                          "2001:db8::1:9092", "ka fka:9092"}) {
    EXPECT_EQ(Load(source(bad)), nullptr) << bad;
    ExpectError("invalid-brokers", 2, 66, "is not host:port");
  }
}

TEST_F(ConfigTest, MetricsListenAddress) {
  for (const char* good : {"0.0.0.0:9464", "localhost:1", "[::]:9464"}) {
    Load(std::string(kMinimal) + "metrics: {listen: '" + good + "'}\n");
    EXPECT_FALSE(diags_.has_errors()) << good << "\n" << Dump(diags_);
  }
  for (const char* bad :
       {"9464", "localhost", "127.0.0.1:http", "::1:9464", "[1.2.3.4]:1", "h:0"}) {
    EXPECT_EQ(Load(std::string(kMinimal) + "metrics: {listen: '" + bad + "'}\n"), nullptr) << bad;
    ExpectError("invalid-listen", 6, 19,
                "metrics.listen: '" + std::string(bad) + "' is not host:port");
  }
  const Config& c = LoadOk(std::string(kMinimal) + "metrics: {enabled: false}\n");
  EXPECT_FALSE(c.metrics.enabled);
}

TEST_F(ConfigTest, MissingRulesAndEnrichmentFiles) {
  EXPECT_EQ(Load(R"(rules:
  - rules
  - /nonexistent/rules.d
enrich:
  geoip: missing.mmdb
  directory: rules
sources: [{type: kafka, brokers: 127.0.0.1:9092, group: g, topics: [{topic: t}]}]
sinks: [{type: stdout}]
)"),
            nullptr);
  ExpectError("missing-file", 3, 5, "rules[1]: /nonexistent/rules.d does not exist");
  EXPECT_EQ(diags_.items()[1].pos.line, 5);
  EXPECT_EQ(diags_.items()[1].pos.column, 10);
  EXPECT_EQ(diags_.items()[1].message, "enrich.geoip: " + dir_ + "/missing.mmdb does not exist");
  ExpectError("not-a-file", 6, 14, "enrich.directory: " + dir_ + "/rules is not a regular file");
  EXPECT_EQ(diags_.error_count(), 3u) << Dump(diags_);
}

TEST_F(ConfigTest, FileSinkDirectoryMustExistAndBeWritable) {
  EXPECT_EQ(Load(R"(rules: [rules]
sources: [{type: kafka, brokers: 127.0.0.1:9092, group: g, topics: [{topic: t}]}]
sinks:
  - {type: file, path: nodir/alerts.jsonl}
  - {type: file, path: dir.csv/alerts.jsonl}
  - {type: file, path: out}
dead_letter: {type: file, path: /nonexistent/dead.jsonl}
)"),
            nullptr);
  ExpectError("missing-directory", 4, 24,
              "sinks[0].path: directory " + dir_ + "/nodir does not exist");
  EXPECT_EQ(Count("missing-directory"), 3u) << Dump(diags_);
  ExpectError("not-a-file", 6, 24, "sinks[2].path: " + dir_ + "/out is a directory");
  EXPECT_EQ(diags_.items().back().message,
            "dead_letter.path: directory /nonexistent does not exist");
}

TEST_F(ConfigTest, FileSinkInUnwritableDirectory) {
  if (geteuid() == 0) GTEST_SKIP() << "root may write anywhere: no permission check to test";
  std::filesystem::permissions(
      dir_ + "/out", std::filesystem::perms::owner_read | std::filesystem::perms::owner_exec);
  EXPECT_EQ(Load(std::string(kMinimal) + "  - {type: file, path: out/a.jsonl}\n"), nullptr);
  ExpectError("not-writable", 6, 24, "sinks[1].path: directory " + dir_ + "/out is not writable");
}

TEST_F(ConfigTest, FileSourceCheckpoint) {
  WriteFile("in.jsonl", "{}\n");
  const Config& c = LoadOk(R"(rules: [rules]
sources:
  - {type: file, path: in.jsonl, follow: true, checkpoint: out/in.pos}
  - {type: file, path: in.jsonl}
sinks: [{type: stdout}]
)");
  const auto& f = std::get<FileSourceConfig>(c.sources[0]);
  ASSERT_TRUE(f.checkpoint);
  EXPECT_EQ(f.checkpoint->path, dir_ + "/out/in.pos");
  EXPECT_FALSE(std::get<FileSourceConfig>(c.sources[1]).checkpoint);
  EXPECT_NE(c.Redacted().find("checkpoint=" + dir_ + "/out/in.pos"), std::string::npos);

  EXPECT_EQ(Load(R"(rules: [rules]
sources:
  - {type: file, path: in.jsonl, checkpoint: nodir/in.pos}
  - {type: file, path: in.jsonl, checkpoint: out/a.pos}
  - {type: file, path: in.jsonl, follow: true, checkpoint: out/a.pos}
  - {type: file, path: in.jsonl, checkpoint: out}
sinks: [{type: stdout}]
)"),
            nullptr);
  ExpectError("missing-directory", 3, 46,
              "sources[0].checkpoint: directory " + dir_ + "/nodir does not exist");
  ExpectError("duplicate-checkpoint", 5, 60,
              "sources[2].checkpoint: " + dir_ + "/out/a.pos is already the checkpoint");
  ExpectError("not-a-file", 6, 46, "sources[3].checkpoint: " + dir_ + "/out is a directory");
}

TEST_F(ConfigTest, FileSourceStartAtDependsOnFollow) {
  WriteFile("in.jsonl", "{}\n");
  const Config& c = LoadOk(R"(rules: [rules]
sources:
  - {type: file, path: in.jsonl}
  - {type: file, path: in.jsonl, follow: true}
  - {type: file, path: not-yet.jsonl, follow: true, start_at: beginning}
sinks: [{type: stdout}]
)");
  ASSERT_EQ(c.sources.size(), 3u);
  EXPECT_EQ(std::get<FileSourceConfig>(c.sources[0]).start_at, StartAt::kBeginning);
  EXPECT_EQ(std::get<FileSourceConfig>(c.sources[1]).start_at, StartAt::kEnd);
  EXPECT_EQ(std::get<FileSourceConfig>(c.sources[2]).start_at, StartAt::kBeginning);

  EXPECT_EQ(Load(R"(rules: [rules]
sources:
  - {type: file, path: in.jsonl, start_at: end}
  - {type: file, path: gone.jsonl}
  - {type: file, path: /nonexistent/x.jsonl, follow: true}
sinks: [{type: stdout}]
)"),
            nullptr);
  ExpectError("invalid-value", 3, 44, "sources[0].start_at: 'end' needs follow: true");
  ExpectError("missing-file", 4, 24, "sources[1].path: " + dir_ + "/gone.jsonl does not exist");
  const Diagnostic& w = Find("missing-directory");
  EXPECT_EQ(w.level, Diagnostic::Level::kWarning);
  EXPECT_EQ(w.pos.line, 5);
}

TEST_F(ConfigTest, NumericRanges) {
  EXPECT_EQ(
      Load(std::string(kMinimal) +
           "workers: 0\nlimits: {max_record_bytes: 10}\nshutdown_timeout: 99999999999999999999\n"),
      nullptr);
  ExpectError("out-of-range", 6, 10, "workers must be between 1 and 1024, got 0");
  EXPECT_EQ(Count("out-of-range"), 3u) << Dump(diags_);
  EXPECT_NE(diags_.items()[1].message.find("limits.max_record_bytes must be between 1024 and"),
            std::string::npos);
  EXPECT_EQ(Load(std::string(kMinimal) + "shutdown_timeout: 1.5\n"), nullptr);
  ExpectError("wrong-type", 6, 19, "shutdown_timeout must be an integer");
}

TEST_F(ConfigTest, ReservedKafkaProperties) {
  EXPECT_EQ(Load(R"(rules: [rules]
sources:
  - type: kafka
    brokers: 127.0.0.1:9092
    group: g
    topics: [{topic: t}]
    properties: {group.id: other, auto.offset.reset: latest, client.id: cw}
sinks: [{type: kafka, brokers: a:1, topic: t, properties: {bootstrap.servers: b:2}}]
)"),
            nullptr);
  ExpectError("reserved-property", 7, 18, "sources[0].properties.group.id is set by chipwatch");
  EXPECT_EQ(Count("reserved-property"), 3u) << Dump(diags_);
}

TEST_F(ConfigTest, AllProblemsReportedAtOnce) {
  EXPECT_EQ(Load(R"(rules: [missing]
sources:
  - {type: kafka, brokers: nohost, group: g, topics: [{topic: t, format: x}, {topic: t}]}
sinks: [{type: teletype}]
metrics: {listen: nowhere}
workers: -1
log: {colour: true}
)"),
            nullptr);
  for (const char* code : {"missing-file", "invalid-brokers", "unknown-format", "duplicate-topic",
                           "unknown-type", "invalid-listen", "out-of-range", "unknown-key"}) {
    EXPECT_EQ(Count(code), 1u) << code << "\n" << Dump(diags_);
  }
  EXPECT_EQ(diags_.error_count(), 8u) << Dump(diags_);
  for (const auto& d : diags_.items()) {
    EXPECT_GT(d.pos.line, 0) << d.ToString();
    EXPECT_GT(d.pos.column, 0) << d.ToString();
  }
}

TEST_F(ConfigTest, ErrorsAlreadyInDiagnosticsDoNotFailALaterLoad) {
  diags_.Error({"other.yaml", 1, 1}, "x", "from an earlier stage");
  auto c = LoadConfigFromString(kMinimal, Name(), diags_);
  EXPECT_NE(c, nullptr) << Dump(diags_);
}

}  // namespace
}  // namespace chipwatch::config_test
