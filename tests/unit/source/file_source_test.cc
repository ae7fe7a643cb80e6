#include "source/file_source.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "../common/temp_dir.h"
#include "engine/input_reader.h"  // kInputPadding, only to check that the constants agree

namespace chipwatch {
namespace {

using testing::TempDir;

using namespace std::chrono_literals;

static_assert(kLinePadding == kInputPadding);

void Append(const std::string& path, const std::string& text) {
  const int fd = open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write(fd, text.data(), text.size()), static_cast<ssize_t>(text.size()));
  close(fd);
}

void Rewrite(const std::string& path, const std::string& text) {
  const int fd = open(path.c_str(), O_WRONLY | O_TRUNC | O_CREAT | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write(fd, text.data(), text.size()), static_cast<ssize_t>(text.size()));
  close(fd);
}

FileSourceConfig Config(const std::string& path, bool follow, StartAt start = StartAt::kBeginning) {
  FileSourceConfig config;
  config.path.path = path;
  config.follow = follow;
  config.start_at = start;
  config.format = Format::kCloudTrail;
  return config;
}

struct Got {
  std::string text;
  uint64_t line = 0;
  uint64_t offset = 0;
  uint64_t generation = 0;
  std::string error;
  FilePosition next;
};

// The follower under test, with fast re-checks and the notices it gave.
struct Follower {
  explicit Follower(const FileSourceConfig& config, size_t max_line = 1 << 20,
                    std::optional<FilePosition> resume = std::nullopt) {
    FileFollowerOptions options;
    options.resume = resume;
    options.poll_interval = 10ms;
    options.on_notice = [this](const std::string& m) {
      std::lock_guard lock(mu);
      notices.push_back(m);
    };
    auto opened = FileFollower::Open(config, max_line, options);
    EXPECT_TRUE(opened.ok()) << opened.status().ToString();
    if (opened.ok()) f = std::move(*opened);
  }

  // The next line, waiting up to `timeout`; nullopt when there is none.
  std::optional<Got> Next(std::chrono::milliseconds timeout = 2s) {
    FileFollower::Line line;
    if (!f->Next(line, timeout)) return std::nullopt;
    if (line.error.empty()) {
      EXPECT_GE(line.capacity, line.text.size() + kInputPadding);
    } else {
      EXPECT_TRUE(line.text.empty());
    }
    return Got{std::string(line.text), line.line,  line.offset,
               line.generation,        line.error, line.next};
  }

  std::vector<std::string> Notices() {
    std::lock_guard lock(mu);
    return notices;
  }

  std::unique_ptr<FileFollower> f;
  std::mutex mu;
  std::vector<std::string> notices;
};

TEST(FileFollowerTest, ReadsLinesWithNumbersOffsetsAndPadding) {
  TempDir dir;
  const std::string path = dir.File("log.jsonl");
  Rewrite(path, "a\n\n  {\"x\":1}  \r\n{\"y\":2}\n");
  Follower r(Config(path, /*follow=*/false));
  ASSERT_TRUE(r.f);
  EXPECT_EQ(r.f->path(), path);
  EXPECT_EQ(r.f->format(), Format::kCloudTrail);
  auto a = r.Next();
  ASSERT_TRUE(a);
  EXPECT_EQ(a->text, "a");
  EXPECT_EQ(a->line, 1u);
  EXPECT_EQ(a->offset, 0u);
  EXPECT_EQ(a->generation, 1u);
  auto x = r.Next();
  ASSERT_TRUE(x);
  EXPECT_EQ(x->text, "{\"x\":1}");  // blank line skipped, white space and CR trimmed
  EXPECT_EQ(x->line, 3u);
  EXPECT_EQ(x->offset, 3u);
  auto y = r.Next();
  ASSERT_TRUE(y);
  EXPECT_EQ(y->text, "{\"y\":2}");
  EXPECT_EQ(y->line, 4u);
  EXPECT_FALSE(r.Next());
  EXPECT_TRUE(r.f->done());
  EXPECT_TRUE(r.f->status().ok());
  EXPECT_FALSE(r.Next());  // stays done
}

TEST(FileFollowerTest, ReturnsTheFinalLineWithoutNewlineWhenNotFollowing) {
  TempDir dir;
  const std::string path = dir.File("log.jsonl");
  Rewrite(path, "{\"a\":1}\n{\"b\":2}");
  Follower r(Config(path, false));
  ASSERT_TRUE(r.f);
  ASSERT_EQ(r.Next()->text, "{\"a\":1}");
  auto last = r.Next();
  ASSERT_TRUE(last);
  EXPECT_EQ(last->text, "{\"b\":2}");
  EXPECT_EQ(last->line, 2u);
  EXPECT_FALSE(r.Next());
  EXPECT_TRUE(r.f->done());
}

TEST(FileFollowerTest, MissingFileIsAnErrorOnlyWhenNotFollowing) {
  TempDir dir;
  auto missing = FileFollower::Open(Config(dir.File("nope"), false), 1024);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("nope"), std::string::npos);
  EXPECT_TRUE(FileFollower::Open(Config(dir.File("nope"), true), 1024).ok());
  EXPECT_FALSE(FileFollower::Open(Config(dir.File(""), false), 1024).ok());  // a directory
}

TEST(FileFollowerTest, ManyLinesAcrossBufferRefills) {
  TempDir dir;
  const std::string path = dir.File("big.jsonl");
  std::string content;
  constexpr int kLines = 200000;
  for (int i = 0; i < kLines; ++i) content += "{\"n\":" + std::to_string(i) + "}\n";
  Rewrite(path, content);
  Follower r(Config(path, false));
  ASSERT_TRUE(r.f);
  for (int i = 0; i < kLines; ++i) {
    auto got = r.Next();
    ASSERT_TRUE(got) << i;
    ASSERT_EQ(got->text, "{\"n\":" + std::to_string(i) + "}");
    ASSERT_EQ(got->line, static_cast<uint64_t>(i + 1));
  }
  EXPECT_FALSE(r.Next());
}

TEST(FileFollowerTest, FollowingReturnsAppendedLinesAndHoldsBackAnUnfinishedOne) {
  TempDir dir;
  const std::string path = dir.File("log.jsonl");
  Rewrite(path, "1\n");
  Follower r(Config(path, /*follow=*/true));
  ASSERT_TRUE(r.f);
  EXPECT_EQ(r.Next()->text, "1");
  const auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(r.Next(50ms));  // time-out
  EXPECT_GE(std::chrono::steady_clock::now() - start, 45ms);
  EXPECT_FALSE(r.f->done());
  Append(path, "2\n3");
  auto two = r.Next();
  ASSERT_TRUE(two);
  EXPECT_EQ(two->text, "2");
  EXPECT_EQ(two->line, 2u);
  EXPECT_FALSE(r.Next(50ms));  // "3" is still being written
  Append(path, "33\n");
  auto three = r.Next();
  ASSERT_TRUE(three);
  EXPECT_EQ(three->text, "333");
  EXPECT_EQ(three->line, 3u);
  EXPECT_EQ(three->offset, 4u);
}

TEST(FileFollowerTest, RotationByRenameAndCreateLosesAndDuplicatesNothing) {
  TempDir dir;
  const std::string path = dir.File("log.jsonl");
  Rewrite(path, "a1\na2\n");
  Follower r(Config(path, true));
  ASSERT_TRUE(r.f);
  EXPECT_EQ(r.Next()->text, "a1");
  ASSERT_EQ(std::rename(path.c_str(), dir.File("log.jsonl.1").c_str()), 0);
  Append(dir.File("log.jsonl.1"), "a3\na4");  // still written after the rename, unfinished
  Rewrite(path, "b1\nb2\n");
  std::vector<std::string> texts;
  std::vector<uint64_t> numbers, generations;
  while (auto got = r.Next(200ms)) {
    texts.push_back(got->text);
    numbers.push_back(got->line);
    generations.push_back(got->generation);
  }
  EXPECT_EQ(texts, (std::vector<std::string>{"a2", "a3", "a4", "b1", "b2"}));
  EXPECT_EQ(numbers, (std::vector<uint64_t>{2, 3, 4, 1, 2}));
  EXPECT_EQ(generations, (std::vector<uint64_t>{1, 1, 1, 2, 2}));
  auto notices = r.Notices();
  ASSERT_EQ(notices.size(), 1u);
  EXPECT_NE(notices[0].find("rotated"), std::string::npos);
}

TEST(FileFollowerTest, DeletedFileIsWaitedForUntilItIsCreatedAgain) {
  TempDir dir;
  const std::string path = dir.File("log.jsonl");
  Rewrite(path, "a\n");
  Follower r(Config(path, true));
  ASSERT_TRUE(r.f);
  EXPECT_EQ(r.Next()->text, "a");
  ASSERT_EQ(unlink(path.c_str()), 0);
  EXPECT_FALSE(r.Next(50ms));
  Append(path, "b\n");
  auto b = r.Next();
  ASSERT_TRUE(b);
  EXPECT_EQ(b->text, "b");
  EXPECT_EQ(b->line, 1u);
  EXPECT_EQ(b->generation, 2u);
}

TEST(FileFollowerTest, WriterRotatingWhileFollowedLosesAndDuplicatesNothing) {
  TempDir dir;
  const std::string path = dir.File("log.jsonl");
  constexpr int kLines = 5000, kPerFile = 1000;
  std::atomic<int> read{0};
  std::thread writer([&] {
    int fd = -1;
    for (int i = 0; i < kLines; ++i) {
      if (i % kPerFile == 0) {
        if (fd >= 0) {
          close(fd);
          // tail -F cannot see a file that lived shorter than one check: wait until the follower
          // is into the current file before replacing it.
          while (read.load() <= i - kPerFile) std::this_thread::sleep_for(1ms);
          const std::string old = path + "." + std::to_string(i / kPerFile);
          ASSERT_EQ(std::rename(path.c_str(), old.c_str()), 0);
        }
        fd = open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        ASSERT_GE(fd, 0);
      }
      const std::string line = "{\"n\":" + std::to_string(i) + "}\n";
      // Some lines reach the file in two writes, like a writer's buffer flushing mid-line.
      const size_t split = i % 7 == 0 ? line.size() / 2 : line.size();
      ASSERT_EQ(write(fd, line.data(), split), static_cast<ssize_t>(split));
      if (split < line.size()) {
        ASSERT_EQ(write(fd, line.data() + split, line.size() - split),
                  static_cast<ssize_t>(line.size() - split));
      }
      if (i % 250 == 0) std::this_thread::sleep_for(2ms);
    }
    close(fd);
  });
  Follower r(Config(path, true));
  ASSERT_TRUE(r.f);
  std::vector<int> seen;
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (seen.size() < static_cast<size_t>(kLines) && std::chrono::steady_clock::now() < deadline) {
    auto got = r.Next(100ms);
    if (!got) continue;
    ASSERT_TRUE(got->error.empty());
    seen.push_back(std::stoi(got->text.substr(5)));
    EXPECT_EQ(got->line, static_cast<uint64_t>(seen.back() % kPerFile + 1));
    read = static_cast<int>(seen.size());
  }
  writer.join();
  ASSERT_EQ(seen.size(), static_cast<size_t>(kLines));
  for (int i = 0; i < kLines; ++i) ASSERT_EQ(seen[i], i);
  EXPECT_FALSE(r.Next(30ms));  // nothing extra
}

TEST(FileFollowerTest, TruncationRereadsFromTheBeginningAndIsReported) {
  TempDir dir;
  const std::string path = dir.File("log.jsonl");
  Rewrite(path, "first\nsecond\n");
  Follower r(Config(path, true));
  ASSERT_TRUE(r.f);
  EXPECT_EQ(r.Next()->text, "first");
  EXPECT_EQ(r.Next()->text, "second");
  EXPECT_FALSE(r.Next(30ms));
  Rewrite(path, "new\n");  // copytruncate: same file, now shorter
  auto got = r.Next();
  ASSERT_TRUE(got);
  EXPECT_EQ(got->text, "new");
  EXPECT_EQ(got->line, 1u);
  EXPECT_EQ(got->offset, 0u);
  EXPECT_EQ(got->generation, 2u);
  auto notices = r.Notices();
  ASSERT_EQ(notices.size(), 1u);
  EXPECT_NE(notices[0].find("truncated"), std::string::npos);
}

TEST(FileFollowerTest, WaitsForAFileThatDoesNotExistYet) {
  TempDir dir;
  const std::string path = dir.File("later.jsonl");
  Follower r(Config(path, true, StartAt::kEnd));
  ASSERT_TRUE(r.f);
  EXPECT_FALSE(r.Next(30ms));
  EXPECT_FALSE(r.f->done());
  Append(path, "{\"hello\":1}\n");  // created after start: read from its beginning
  auto got = r.Next();
  ASSERT_TRUE(got);
  EXPECT_EQ(got->text, "{\"hello\":1}");
  EXPECT_EQ(got->line, 1u);
  EXPECT_EQ(got->generation, 1u);
  EXPECT_TRUE(r.Notices().empty());
}

TEST(FileFollowerTest, StartAtEndSkipsExistingContentOfTheFirstFileOnly) {
  TempDir dir;
  const std::string path = dir.File("log.jsonl");
  const std::string existing = "old1\nold2\npart";
  Rewrite(path, existing);
  Follower r(Config(path, true, StartAt::kEnd));
  ASSERT_TRUE(r.f);
  EXPECT_FALSE(r.Next(30ms));
  Append(path, "ial\nnew1\n");  // the rest of the line being written at start-up is skipped too
  auto got = r.Next();
  ASSERT_TRUE(got);
  EXPECT_EQ(got->text, "new1");
  EXPECT_EQ(got->line, 1u);  // counted from the start position
  EXPECT_EQ(got->offset, existing.size() + 4);
  // After a rotation the new file is read from its beginning.
  ASSERT_EQ(std::rename(path.c_str(), dir.File("log.1").c_str()), 0);
  Rewrite(path, "r1\n");
  got = r.Next();
  ASSERT_TRUE(got);
  EXPECT_EQ(got->text, "r1");
  EXPECT_EQ(got->line, 1u);
  EXPECT_EQ(got->generation, 2u);
}

TEST(FileFollowerTest, ResumesAtACheckpointOfTheSameFileOnly) {
  TempDir dir;
  const std::string path = dir.File("log.jsonl");
  Rewrite(path, "one\ntwo\nthree\n");
  FilePosition after_one;
  {
    Follower r(Config(path, true, StartAt::kBeginning));
    ASSERT_TRUE(r.f);
    auto one = r.Next();
    ASSERT_TRUE(one);
    after_one = one->next;
    EXPECT_EQ(after_one.offset, 4u);
    EXPECT_EQ(after_one.line, 2u);
    EXPECT_NE(after_one.inode, 0u);
  }
  Append(path, "four\n");
  // The first line read when resuming at `at` (start_at: end, which the checkpoint overrides), and
  // the notice that explains it.
  auto resume = [&](const FilePosition& at, const std::string& notice) -> std::optional<Got> {
    Follower r(Config(path, true, StartAt::kEnd), 1 << 20, at);
    auto got = r.Next();
    const auto notices = r.Notices();
    EXPECT_TRUE(!notices.empty() && notices[0].find(notice) != std::string::npos)
        << (notices.empty() ? "no notice" : notices[0]);
    return got;
  };
  auto two = resume(after_one, "resuming at line 2");
  ASSERT_TRUE(two);
  EXPECT_EQ(two->text, "two");
  EXPECT_EQ(two->line, 2u);
  EXPECT_EQ(two->offset, 4u);
  EXPECT_EQ(two->next.offset, 8u);
  // Truncated below the checkpoint while nobody read it: from the beginning.
  FilePosition far = after_one;
  far.offset = 1000;
  auto first = resume(far, "truncated");
  ASSERT_TRUE(first);
  EXPECT_EQ(first->text, "one");
  // Rotated while stopped: another inode, read from its beginning.
  ASSERT_EQ(std::rename(path.c_str(), dir.File("log.1").c_str()), 0);
  Rewrite(path, "new1\n");
  first = resume(after_one, "another file");
  ASSERT_TRUE(first);
  EXPECT_EQ(first->text, "new1");
  EXPECT_EQ(first->line, 1u);
}

TEST(FileFollowerTest, PositionAfterAnOverlongLineIsTheLineUntilItsNewlineIsRead) {
  TempDir dir;
  const std::string path = dir.File("log.jsonl");
  Rewrite(path, std::string(100, 'x') + "\nok\n");
  Follower r(Config(path, false), 10);
  auto skipped = r.Next();
  ASSERT_TRUE(skipped);
  EXPECT_FALSE(skipped->error.empty());
  // Reported before its end was read: a restart from here reports it again.
  EXPECT_EQ(skipped->next.offset, 0u);
  EXPECT_EQ(skipped->next.line, 1u);
  auto ok = r.Next();
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->text, "ok");
  EXPECT_EQ(ok->next.offset, 104u);
  EXPECT_EQ(ok->next.line, 3u);
}

TEST(FileFollowerTest, StartAtEndOnACompleteLastLineStartsRightAfterIt) {
  TempDir dir;
  const std::string path = dir.File("log.jsonl");
  Rewrite(path, "old\n");
  Follower r(Config(path, true, StartAt::kEnd));
  ASSERT_TRUE(r.f);
  EXPECT_FALSE(r.Next(30ms));
  Append(path, "new\n");
  auto got = r.Next();
  ASSERT_TRUE(got);
  EXPECT_EQ(got->text, "new");
  EXPECT_EQ(got->offset, 4u);
}

TEST(FileFollowerTest, OverlongLinesAreReportedAndSkippedToTheNextNewline) {
  TempDir dir;
  const std::string path = dir.File("log.jsonl");
  Rewrite(path, "short\n" + std::string(30, 'x') + "\nafter\n0123456789\n0123456789A\nend");
  Follower r(Config(path, false), /*max_line=*/10);
  ASSERT_TRUE(r.f);
  std::vector<std::pair<std::string, uint64_t>> got;
  std::vector<bool> errors;
  while (auto line = r.Next()) {
    got.emplace_back(line->text, line->line);
    errors.push_back(!line->error.empty());
    if (!line->error.empty()) {
      EXPECT_NE(line->error.find("10-byte limit"), std::string::npos);
    }
  }
  EXPECT_EQ(got, (std::vector<std::pair<std::string, uint64_t>>{
                     {"short", 1}, {"", 2}, {"after", 3}, {"0123456789", 4}, {"", 5}, {"end", 6}}));
  EXPECT_EQ(errors, (std::vector<bool>{false, true, false, false, true, false}));
}

TEST(FileFollowerTest, OverlongLineArrivingInPiecesWhileFollowing) {
  TempDir dir;
  const std::string path = dir.File("log.jsonl");
  Rewrite(path, "");
  Follower r(Config(path, true), /*max_line=*/10);
  ASSERT_TRUE(r.f);
  Append(path, std::string(8, 'x'));
  EXPECT_FALSE(r.Next(30ms));  // could still end in time
  Append(path, std::string(8, 'x'));
  auto error = r.Next();
  ASSERT_TRUE(error);
  EXPECT_FALSE(error->error.empty());
  EXPECT_EQ(error->line, 1u);
  Append(path, std::string(5000, 'x'));  // more of it: dropped without growing the buffer
  EXPECT_FALSE(r.Next(30ms));
  Append(path, "xx\nok\n");
  auto ok = r.Next();
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->text, "ok");
  EXPECT_EQ(ok->line, 2u);
  EXPECT_TRUE(ok->error.empty());
}

TEST(FileFollowerTest, WakeUnblocksAWaitingNext) {
  TempDir dir;
  const std::string path = dir.File("log.jsonl");
  Rewrite(path, "");
  Follower r(Config(path, true));
  ASSERT_TRUE(r.f);
  std::thread waker([&] {
    std::this_thread::sleep_for(50ms);
    r.f->Wake();
  });
  const auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(r.Next(10s));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);
  waker.join();
  // A Wake() before Next() makes that Next() return at once too; it is consumed.
  r.f->Wake();
  const auto again = std::chrono::steady_clock::now();
  EXPECT_FALSE(r.Next(10s));
  EXPECT_LT(std::chrono::steady_clock::now() - again, 3s);
  Append(path, "x\n");
  EXPECT_EQ(r.Next()->text, "x");
}

}  // namespace
}  // namespace chipwatch
