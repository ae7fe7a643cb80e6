// The configs shipped in config/ load: local.yaml as is, from a checkout; the packaged reference
// chipwatch.yaml fails only on the install paths that do not exist here, and loads cleanly once
// those paths are pointed at this checkout.
#include <filesystem>
#include <fstream>
#include <sstream>

#include "config_test_util.h"

namespace chipwatch::config_test {
namespace {

const std::string kSourceDir = CHIPWATCH_SOURCE_DIR;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

void ReplaceAll(std::string& s, const std::string& from, const std::string& to) {
  for (size_t pos = s.find(from); pos != std::string::npos; pos = s.find(from, pos + to.size())) {
    s.replace(pos, from.size(), to);
  }
}

// The demo's Kafka source: five topics with their formats.
void ExpectDemoKafkaSource(const Config& c) {
  ASSERT_EQ(c.sources.size(), 1u);
  const auto& k = std::get<KafkaSourceConfig>(c.sources[0]);
  EXPECT_EQ(k.brokers, "127.0.0.1:19092");
  EXPECT_EQ(k.group, "chipwatch");
  EXPECT_EQ(k.start_from, StartFrom::kEarliest);
  ASSERT_EQ(k.topics.size(), 5u);
  const std::vector<std::pair<std::string, Format>> want = {
      {"cloudtrail", Format::kCloudTrail},
      {"gcp-audit", Format::kGcpAudit},
      {"azure-activity", Format::kAzureActivity},
      {"k8s-audit", Format::kK8sAudit},
      {"gpu-alloc", Format::kGpuAlloc}};
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(k.topics[i].topic, want[i].first);
    EXPECT_EQ(k.topics[i].format, want[i].second);
  }
  ASSERT_TRUE(c.dead_letter);
  EXPECT_EQ(std::get<KafkaSinkConfig>(*c.dead_letter).topic, "chipwatch-dead-letter");
  EXPECT_TRUE(c.metrics.enabled);
  EXPECT_EQ(c.metrics.listen, "127.0.0.1:9464");
}

TEST(ShippedConfigs, LocalConfigLoadsFromTheCheckout) {
  Diagnostics diags;
  auto c = LoadConfig(kSourceDir + "/config/local.yaml", diags);
  ASSERT_NE(c, nullptr) << Dump(diags);
  EXPECT_EQ(diags.items().size(), 0u) << Dump(diags);
  ASSERT_EQ(c->rules.size(), 1u);
  EXPECT_EQ(std::filesystem::path(c->rules[0].path),
            std::filesystem::path(kSourceDir + "/rules").lexically_normal());
  ASSERT_TRUE(c->directory);
  EXPECT_EQ(std::filesystem::path(c->directory->path).filename(), "directory.example.csv");
  ExpectDemoKafkaSource(*c);
  ASSERT_EQ(c->sinks.size(), 3u);
  EXPECT_EQ(std::get<KafkaSinkConfig>(c->sinks[0]).topic, "chipwatch-alerts");
  EXPECT_TRUE(std::holds_alternative<FileSinkConfig>(c->sinks[1]));
  EXPECT_TRUE(std::holds_alternative<StdoutSinkConfig>(c->sinks[2]));
}

TEST(ShippedConfigs, PackagedConfigFailsOnlyOnInstallPathsMissingHere) {
  const std::string path = kSourceDir + "/config/chipwatch.yaml";
  Diagnostics diags;
  auto c = LoadConfig(path, diags);
  for (const auto& d : diags.items()) {
    // Each error names one of the three install locations the package creates.
    EXPECT_TRUE(d.code == "missing-file" || d.code == "missing-directory") << d.ToString();
    const bool install_path = d.message.find(" /usr/share/chipwatch/rules ") != std::string::npos ||
                              d.message.find(" /etc/chipwatch/rules.d ") != std::string::npos ||
                              d.message.find(" /var/log/chipwatch ") != std::string::npos;
    EXPECT_TRUE(install_path) << d.ToString();
    EXPECT_EQ(d.pos.file, path);
    EXPECT_GT(d.pos.line, 0);
  }
  if (!std::filesystem::exists("/usr/share/chipwatch/rules")) {
    EXPECT_EQ(c, nullptr);
    EXPECT_GE(diags.error_count(), 1u);
  }
}

TEST_F(ConfigTest, PackagedConfigLoadsWithInstallPathsPointedHere) {
  std::string text = ReadFile(kSourceDir + "/config/chipwatch.yaml");
  ASSERT_FALSE(text.empty());
  std::filesystem::create_directories(dir_ + "/rules.d");
  ReplaceAll(text, "/usr/share/chipwatch/rules", kSourceDir + "/rules");
  ReplaceAll(text, "/etc/chipwatch/rules.d", dir_ + "/rules.d");
  ReplaceAll(text, "/var/log/chipwatch/", dir_ + "/out/");
  const Config& c = LoadOk(text);
  EXPECT_EQ(diags_.items().size(), 0u) << Dump(diags_);
  ASSERT_EQ(c.rules.size(), 2u);
  EXPECT_FALSE(c.geoip);
  EXPECT_FALSE(c.directory);
  ExpectDemoKafkaSource(c);
  ASSERT_EQ(c.sinks.size(), 3u);
  EXPECT_EQ(std::get<KafkaSinkConfig>(c.sinks[0]).topic, "chipwatch-alerts");
  EXPECT_EQ(std::get<FileSinkConfig>(c.sinks[1]).path.path, dir_ + "/out/alerts.jsonl");
  EXPECT_FALSE(std::get<FileSinkConfig>(c.sinks[1]).fsync);
  EXPECT_TRUE(std::holds_alternative<StdoutSinkConfig>(c.sinks[2]));
  EXPECT_EQ(c.limits.max_record_bytes, 1048576u);
  EXPECT_EQ(c.shutdown_timeout, std::chrono::seconds(30));
  EXPECT_EQ(c.log.level, LogLevel::kInfo);
  EXPECT_EQ(c.log.format, LogFormat::kText);
}

// The commented-out examples in the reference config are valid when uncommented.
TEST_F(ConfigTest, PackagedConfigExamplesAreValidWhenUncommented) {
  std::string text = ReadFile(kSourceDir + "/config/chipwatch.yaml");
  std::filesystem::create_directories(dir_ + "/rules.d");
  ReplaceAll(text, "/usr/share/chipwatch/rules", kSourceDir + "/rules");
  ReplaceAll(text, "/etc/chipwatch/rules.d", dir_ + "/rules.d");
  ReplaceAll(text, "/var/log/chipwatch/", dir_ + "/out/");
  ReplaceAll(text, "  # geoip: /var/lib/chipwatch/GeoLite2-Country.mmdb", "  geoip: geo.mmdb");
  ReplaceAll(text, "  # directory: /etc/chipwatch/directory.csv", "  directory: dir.csv");
  ReplaceAll(text, "# workers: 4", "workers: 4");
  // The file source block: drop the leading "  # " of each line (its comments become comments).
  std::string block_start = "  # - type: file\n";
  size_t begin = text.find(block_start);
  ASSERT_NE(begin, std::string::npos);
  size_t end = text.find("\n\n", begin);
  std::string block = text.substr(begin, end - begin);
  ReplaceAll(block, "\n  # ", "\n  ");
  block.replace(0, 4, "  ");
  ReplaceAll(block, "/var/log/gpu-alloc.jsonl", dir_ + "/gpu-alloc.jsonl");
  ReplaceAll(block, "/var/lib/chipwatch/gpu-alloc.pos", dir_ + "/out/gpu-alloc.pos");
  text.replace(begin, end - begin, block);
  const Config& c = LoadOk(text);
  ASSERT_EQ(c.sources.size(), 2u) << text;
  const auto& f = std::get<FileSourceConfig>(c.sources[1]);
  EXPECT_EQ(f.format, Format::kGpuAlloc);
  EXPECT_TRUE(f.follow);
  EXPECT_EQ(f.start_at, StartAt::kEnd);
  ASSERT_TRUE(f.checkpoint);
  EXPECT_EQ(f.checkpoint->path, dir_ + "/out/gpu-alloc.pos");
  EXPECT_TRUE(c.geoip && c.directory);
  EXPECT_EQ(c.workers, 4);
}

}  // namespace
}  // namespace chipwatch::config_test
