// `state:` (issue 13): the stateful stage's snapshot directory, idle flush and group bound.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "config_test_util.h"

namespace chipwatch::config_test {
namespace {

TEST_F(ConfigTest, StateDefaultsToMemoryOnly) {
  const Config& c = LoadOk(kMinimal);
  EXPECT_FALSE(c.state.path);
  EXPECT_EQ(c.state.idle_flush, std::chrono::milliseconds(30000));
  EXPECT_EQ(c.state.max_groups, 1000000u);
  EXPECT_NE(c.Redacted().find("state: in memory only idle_flush=30000ms max_groups=1000000"),
            std::string::npos)
      << c.Redacted();
}

TEST_F(ConfigTest, StateReadsEveryKey) {
  const Config& c =
      LoadOk(std::string(kMinimal) + "state: {path: state, idle_flush: 5m, max_groups: 2000}\n");
  ASSERT_TRUE(c.state.path);
  EXPECT_EQ(c.state.path->path, dir_ + "/state");  // absent: created at start
  EXPECT_EQ(c.state.idle_flush, std::chrono::milliseconds(300000));
  EXPECT_EQ(c.state.max_groups, 2000u);
  EXPECT_NE(c.Redacted().find("state: path=" + dir_ + "/state idle_flush=300000ms"),
            std::string::npos);
}

TEST_F(ConfigTest, StateRejectsBadValuesWithPositions) {
  const int line = 1 + static_cast<int>(std::count(kMinimal, kMinimal + sizeof(kMinimal), '\n'));
  EXPECT_EQ(Load(std::string(kMinimal) + "state: {idle_flush: 30}\n"), nullptr);
  ExpectError("invalid-value", line, 21, "not a duration");
  EXPECT_EQ(Load(std::string(kMinimal) + "state: {idle_flush: 2d}\n"), nullptr);
  ExpectError("invalid-value", line, 21, "not a duration");
  EXPECT_EQ(Load(std::string(kMinimal) + "state: {idle_flush: 25h}\n"), nullptr);
  ExpectError("invalid-value", line, 21, "1s to 24h");
  EXPECT_EQ(Load(std::string(kMinimal) + "state: {max_groups: 0}\n"), nullptr);
  ExpectError("out-of-range", line, 21, "max_groups");
  EXPECT_EQ(Load(std::string(kMinimal) + "state: {path: missing/state}\n"), nullptr);
  ExpectError("missing-directory", line, 15, "does not exist");
  WriteFile("afile", "x");
  EXPECT_EQ(Load(std::string(kMinimal) + "state: {path: afile}\n"), nullptr);
  ExpectError("missing-directory", line, 15, "is not a directory");
  EXPECT_EQ(Load(std::string(kMinimal) + "state: {paths: x}\n"), nullptr);
  ExpectError("unknown-key", line, 9, "paths");
}

TEST_F(ConfigTest, StateDirectoryMustBeWritable) {
  if (geteuid() == 0) GTEST_SKIP() << "root writes anywhere";
  std::filesystem::create_directories(dir_ + "/ro");
  ASSERT_EQ(chmod((dir_ + "/ro").c_str(), 0555), 0);
  const int line = 1 + static_cast<int>(std::count(kMinimal, kMinimal + sizeof(kMinimal), '\n'));
  EXPECT_EQ(Load(std::string(kMinimal) + "state: {path: ro}\n"), nullptr);
  ExpectError("not-writable", line, 15, "not writable");
  EXPECT_EQ(Load(std::string(kMinimal) + "state: {path: ro/state}\n"), nullptr);
  ExpectError("not-writable", line, 15, "not writable");
  chmod((dir_ + "/ro").c_str(), 0755);
}

}  // namespace
}  // namespace chipwatch::config_test
