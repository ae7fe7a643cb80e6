// The state snapshot file (state/snapshot_file.h): round trip, atomic replacement, and an error
// naming the path and the problem for every kind of bad file.
#include "state/snapshot_file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "state/bytes.h"
#include "state/crc32c.h"

namespace chipwatch {
namespace {

class SnapshotFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = ::testing::TempDir() + "/cw-snapshot-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/state.snapshot";
  }
  void TearDown() override { std::system(("rm -rf '" + dir_ + "'").c_str()); }

  static std::string Slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  static void Spill(const std::string& path, const std::string& bytes) {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
  }

  std::string dir_, path_;
};

// The sections view `a` and `b`, which must outlive the snapshot.
StateSnapshot Sample(std::string_view a, std::string_view b) {
  StateSnapshot s;
  s.positions = {{"cloudtrail/0", 1842}, {"cloudtrail/1", -1}};
  s.source_data = std::string("file\0checkpoint", 15);
  s.sections = {{"CW-CORR-001", "fp-1", a}, {"CW-HW-001", "fp-2", b}};
  return s;
}

void ExpectSame(const StateSnapshot& got, const StateSnapshot& want) {
  EXPECT_EQ(got.positions, want.positions);
  EXPECT_EQ(got.source_data, want.source_data);
  ASSERT_EQ(got.sections.size(), want.sections.size());
  for (size_t i = 0; i < got.sections.size(); ++i) {
    EXPECT_EQ(got.sections[i].name, want.sections[i].name);
    EXPECT_EQ(got.sections[i].fingerprint, want.sections[i].fingerprint);
    EXPECT_EQ(got.sections[i].data, want.sections[i].data);
  }
}

TEST(Crc32cTest, KnownValuesAndContinuation) {
  EXPECT_EQ(Crc32c("123456789"), 0xE3069283u);
  EXPECT_EQ(Crc32c(""), 0u);
  const std::string text = "The quick brown fox jumps over the lazy dog, twice over. 0123456789";
  for (size_t cut = 0; cut <= text.size(); ++cut) {
    EXPECT_EQ(Crc32c(text.substr(cut), Crc32c(text.substr(0, cut))), Crc32c(text));
  }
}

TEST_F(SnapshotFileTest, WhatIsWrittenIsReadBack) {
  const std::string big(300 * 1024, 'x');  // written straight from the caller's memory
  const StateSnapshot s = Sample("state-a", big);
  ASSERT_TRUE(WriteStateSnapshot(path_, s).ok());
  Result<StateSnapshot> read = ReadStateSnapshot(path_);
  ASSERT_TRUE(read.ok()) << read.status().message();
  ExpectSame(*read, s);
  EXPECT_EQ(Slurp(path_), EncodeStateSnapshot(s));
  EXPECT_FALSE(std::ifstream(path_ + ".tmp").good());
  // A copy keeps the bytes its views point into.
  StateSnapshot copy = *read;
  read = Status::Internal("gone");
  EXPECT_EQ(copy.sections[1].data, big);
}

TEST_F(SnapshotFileTest, AnEmptySnapshotRoundTrips) {
  ASSERT_TRUE(WriteStateSnapshot(path_, StateSnapshot()).ok());
  Result<StateSnapshot> read = ReadStateSnapshot(path_);
  ASSERT_TRUE(read.ok()) << read.status().message();
  EXPECT_TRUE(read->positions.empty());
  EXPECT_TRUE(read->sections.empty());
}

TEST_F(SnapshotFileTest, MatchingDropsASectionWhoseDefinitionChanged) {
  const StateSnapshot s = Sample("a", "b");
  EXPECT_EQ(s.Matching("CW-CORR-001", "fp-1"), std::optional<std::string_view>("a"));
  EXPECT_EQ(s.Matching("CW-CORR-001", "fp-other"), std::nullopt);
  EXPECT_EQ(s.Matching("CW-CORR-404", "fp-1"), std::nullopt);
  ASSERT_NE(s.Find("CW-HW-001"), nullptr);
  EXPECT_EQ(s.Find("CW-HW-001")->fingerprint, "fp-2");
  EXPECT_EQ(s.Find("nope"), nullptr);
}

TEST_F(SnapshotFileTest, NoFileIsNotFound) {
  Result<StateSnapshot> read = ReadStateSnapshot(path_);
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.status().code(), Status::Code::kNotFound);
  EXPECT_EQ(read.status().message(), path_ + ": no state snapshot");
}

TEST_F(SnapshotFileTest, EveryTruncationAndEveryFlippedByteIsAnError) {
  const std::string bytes = EncodeStateSnapshot(Sample("state-a", "state-b"));
  for (size_t n = 0; n < bytes.size(); ++n) {
    Result<StateSnapshot> got = DecodeStateSnapshot(bytes.substr(0, n), "f");
    ASSERT_FALSE(got.ok()) << n;
    EXPECT_EQ(got.status().code(), Status::Code::kParseError);
    EXPECT_EQ(got.status().message().rfind("f: ", 0), 0u);
  }
  for (size_t i = 0; i < bytes.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string damaged = bytes;
      damaged[i] = static_cast<char>(damaged[i] ^ (1 << bit));
      ASSERT_FALSE(DecodeStateSnapshot(damaged, "f").ok()) << "byte " << i << " bit " << bit;
    }
  }
}

TEST_F(SnapshotFileTest, ErrorsNameThePathAndTheProblem) {
  const std::string bytes = EncodeStateSnapshot(Sample("state-a", "state-b"));
  auto error = [&](const std::string& content) {
    Spill(path_, content);
    Result<StateSnapshot> got = ReadStateSnapshot(path_);
    EXPECT_FALSE(got.ok());
    return got.status().message();
  };
  EXPECT_EQ(error("{\"not\": \"a snapshot\"}\n"),
            path_ + ": not a chipwatch state snapshot (bad magic)");
  std::string v2 = bytes;
  v2[8] = 2;
  EXPECT_EQ(error(v2), path_ + ": state snapshot version 2, this build reads version 1");
  EXPECT_EQ(error(bytes.substr(0, 50)),
            path_ + ": truncated at byte 50 (the header says the content has " +
                std::to_string(bytes.size() - 28) + " bytes, the file has room for 22)");
  EXPECT_EQ(error(bytes + "zz"), path_ + ": unexpected bytes after byte " +
                                     std::to_string(bytes.size()) +
                                     " (the header says the content has " +
                                     std::to_string(bytes.size() - 28) + " bytes)");
  std::string flipped = bytes;
  flipped[30] ^= 1;
  EXPECT_NE(error(flipped).find(path_ + ": checksum mismatch (stored 0x"), std::string::npos);
  EXPECT_EQ(error(""), path_ + ": truncated at byte 0 (a state snapshot has at least 28)");
}

TEST_F(SnapshotFileTest, BadContentUnderAGoodChecksumIsReportedWithItsByte) {
  // Two sections with one name (the writer refuses that): renamed in the bytes, checksum redone.
  StateSnapshot s = Sample("state-a", "state-b");
  s.sections[0].name = "CW-A";
  s.sections[1].name = "CW-B";
  std::string bytes = EncodeStateSnapshot(s);
  const size_t second = bytes.find("CW-B");
  bytes[second + 3] = 'A';
  bytes.resize(bytes.size() - 4);
  PutU32(bytes, Crc32c(bytes));
  Result<StateSnapshot> got = DecodeStateSnapshot(bytes, "f");
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().message(), "f: corrupt content: a second section named 'CW-A' at byte " +
                                        std::to_string(second - 1) + " of " +
                                        std::to_string(bytes.size() - 4));
}

TEST_F(SnapshotFileTest, TwoSectionsWithOneNameAreRefused) {
  StateSnapshot s = Sample("a", "b");
  s.sections[1].name = s.sections[0].name;
  Status st = WriteStateSnapshot(path_, s);
  EXPECT_EQ(st.code(), Status::Code::kInvalidArgument);
  EXPECT_FALSE(std::ifstream(path_).good());
}

// Crash safety: the new file is complete before it replaces the old one, so a write that fails
// at any step leaves the old file as it was (and no temporary file behind).
TEST_F(SnapshotFileTest, AFailedWriteLeavesTheOldFileIntact) {
  const StateSnapshot old_state = Sample("old-a", "old-b");
  ASSERT_TRUE(WriteStateSnapshot(path_, old_state).ok());
  const std::string old_bytes = Slurp(path_);
  const std::string big(200 * 1024, 'n');
  const StateSnapshot new_state = Sample("new-a", big);

  // The temporary file cannot be created (a directory is in the way).
  ASSERT_EQ(::mkdir((path_ + ".tmp").c_str(), 0700), 0);
  Status st = WriteStateSnapshot(path_, new_state);
  EXPECT_EQ(st.code(), Status::Code::kIoError);
  EXPECT_EQ(st.message().rfind(
                path_ + ": cannot write the state snapshot: creating " + path_ + ".tmp: ", 0),
            0u)
      << st.message();
  EXPECT_EQ(Slurp(path_), old_bytes);
  ASSERT_EQ(::rmdir((path_ + ".tmp").c_str()), 0);

  // The disk fills up half way (the temporary file is /dev/full).
  ASSERT_EQ(::symlink("/dev/full", (path_ + ".tmp").c_str()), 0);
  st = WriteStateSnapshot(path_, new_state);
  EXPECT_EQ(st.code(), Status::Code::kIoError);
  EXPECT_NE(st.message().find("writing " + path_ + ".tmp: No space left on device"),
            std::string::npos)
      << st.message();
  EXPECT_EQ(Slurp(path_), old_bytes);
  struct stat ignored {};
  EXPECT_NE(::lstat((path_ + ".tmp").c_str(), &ignored), 0);  // removed

  // The directory does not exist.
  st = WriteStateSnapshot(dir_ + "/missing/state.snapshot", new_state);
  EXPECT_EQ(st.code(), Status::Code::kIoError);
  EXPECT_NE(st.message().find(dir_ + "/missing/state.snapshot: cannot write the state snapshot"),
            std::string::npos);

  // And then it works, replacing the old file whole.
  ASSERT_TRUE(WriteStateSnapshot(path_, new_state).ok());
  Result<StateSnapshot> read = ReadStateSnapshot(path_);
  ASSERT_TRUE(read.ok()) << read.status().message();
  ExpectSame(*read, new_state);
}

}  // namespace
}  // namespace chipwatch
