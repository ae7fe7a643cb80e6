// Test helpers for config/config.h: a scratch directory holding the files a config refers to, and
// lookups of diagnostics by code.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "config/config.h"

namespace chipwatch::config_test {

inline std::string Dump(const Diagnostics& diags) {
  std::string out;
  for (const auto& d : diags.items()) out += d.ToString() + "\n";
  return out;
}

class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/chipwatch-config-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    std::filesystem::create_directories(dir_ + "/rules");
    std::filesystem::create_directories(dir_ + "/out");
    WriteFile("rules/a.yaml", "rules: []\n");
    WriteFile("geo.mmdb", "not really a database; the loader only checks it exists\n");
    WriteFile("dir.csv", "tenant,org,country,kyc_status\n");
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  void WriteFile(const std::string& rel, const std::string& text) {
    std::ofstream(dir_ + "/" + rel) << text;
  }

  // Loads `yaml` as if it were the file <dir>/chipwatch.yaml.
  const Config* Load(const std::string& yaml) {
    diags_ = Diagnostics();
    config_ = LoadConfigFromString(yaml, Name(), diags_);
    return config_.get();
  }
  const Config& LoadOk(const std::string& yaml) {
    const Config* c = Load(yaml);
    EXPECT_NE(c, nullptr) << Dump(diags_);
    EXPECT_FALSE(diags_.has_errors()) << Dump(diags_);
    static const Config kEmpty;
    return c ? *c : kEmpty;
  }
  std::string Name() const { return dir_ + "/chipwatch.yaml"; }

  // The first diagnostic with `code`; fails the test when there is none.
  const Diagnostic& Find(const std::string& code) {
    for (const auto& d : diags_.items()) {
      if (d.code == code) return d;
    }
    ADD_FAILURE() << "no diagnostic " << code << " in:\n" << Dump(diags_);
    static const Diagnostic kNone;
    return kNone;
  }
  size_t Count(const std::string& code) const {
    size_t n = 0;
    for (const auto& d : diags_.items()) n += d.code == code;
    return n;
  }
  // Expects an error `code` at line:col of the config whose message contains `message_part`.
  void ExpectError(const std::string& code, int line, int col, const std::string& message_part) {
    const Diagnostic& d = Find(code);
    EXPECT_EQ(d.level, Diagnostic::Level::kError) << d.ToString();
    EXPECT_EQ(d.pos.file, Name()) << d.ToString();
    EXPECT_EQ(d.pos.line, line) << d.ToString();
    EXPECT_EQ(d.pos.column, col) << d.ToString();
    EXPECT_NE(d.message.find(message_part), std::string::npos) << d.ToString();
  }

  std::string dir_;
  Diagnostics diags_;
  std::unique_ptr<Config> config_;
};

// A valid config, for tests that change one part of it.
inline constexpr char kMinimal[] = R"(rules: [rules]
sources:
  - {type: kafka, brokers: 127.0.0.1:9092, group: g, topics: [{topic: t}]}
sinks:
  - {type: stdout}
)";

}  // namespace chipwatch::config_test
