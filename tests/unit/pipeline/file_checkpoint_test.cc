#include "pipeline/file_checkpoint.h"

#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "../common/temp_dir.h"

namespace chipwatch {
namespace {

using testing::TempDir;

FilePosition After(uint64_t line) { return FilePosition{7, 42, line * 10, line + 1}; }

std::string Read(const std::string& path) {
  std::ifstream in(path);
  std::string text;
  std::getline(in, text);
  return text;
}

TEST(FileCheckpointTest, SavesThePositionAfterTheLastLineBelowWhichAllAreDone) {
  TempDir dir;
  const std::string path = dir.File("gpu.pos");
  FileCheckpoint checkpoint(path, "/var/log/gpu.jsonl");
  auto none = checkpoint.Load();
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none.value());  // first start

  auto t1 = checkpoint.Begin(After(1));
  auto t2 = checkpoint.Begin(After(2));
  auto t3 = checkpoint.Begin(After(3));
  EXPECT_EQ(checkpoint.in_flight(), 3u);
  checkpoint.tracker().Done(t2);  // line 1 still unacknowledged: nothing to save
  ASSERT_TRUE(checkpoint.Save().ok());
  EXPECT_FALSE(std::filesystem::exists(path));
  checkpoint.tracker().Done(t1);
  ASSERT_TRUE(checkpoint.Save().ok());
  auto saved = checkpoint.Load();
  ASSERT_TRUE(saved.ok());
  ASSERT_TRUE(saved.value());
  EXPECT_EQ(*saved.value(), After(2));
  EXPECT_EQ(Read(path), "chipwatch-file-checkpoint 1 7 42 20 3 /var/log/gpu.jsonl");
  checkpoint.tracker().Done(t3);
  ASSERT_TRUE(checkpoint.Save().ok());
  EXPECT_EQ(*checkpoint.Load().value(), After(3));
  EXPECT_EQ(checkpoint.in_flight(), 0u);
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
}

TEST(FileCheckpointTest, BadOrForeignCheckpointsAreErrorsThatSayWhere) {
  TempDir dir;
  const std::string path = dir.File("gpu.pos");
  std::ofstream(path) << "garbage\n";
  auto bad = FileCheckpoint(path, "/var/log/gpu.jsonl").Load();
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find(path + ":1: not a chipwatch file checkpoint"),
            std::string::npos)
      << bad.status().message();
  std::ofstream(path) << "chipwatch-file-checkpoint 1 7 42 20 3 /var/log/other.jsonl\n";
  auto foreign = FileCheckpoint(path, "/var/log/gpu.jsonl").Load();
  ASSERT_FALSE(foreign.ok());
  EXPECT_NE(foreign.status().message().find("is for /var/log/other.jsonl"), std::string::npos)
      << foreign.status().message();
}

TEST(FileCheckpointTest, AFailedWriteIsRetriedAtTheNextSave) {
  TempDir dir;
  const std::string path = dir.File("sub/gpu.pos");  // the directory does not exist yet
  FileCheckpoint checkpoint(path, "/var/log/gpu.jsonl");
  checkpoint.tracker().Done(checkpoint.Begin(After(1)));
  Status st = checkpoint.Save();
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find(path), std::string::npos) << st.message();
  std::filesystem::create_directory(dir.File("sub"));
  ASSERT_TRUE(checkpoint.Save().ok());
  EXPECT_EQ(*checkpoint.Load().value(), After(1));
}

}  // namespace
}  // namespace chipwatch
