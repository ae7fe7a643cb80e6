#include "sink/file_sink.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "sink_test_util.h"

namespace chipwatch {
namespace {

using namespace std::chrono_literals;
using testing::AckLog;
using testing::ErrorLog;
using testing::FastOptions;
using testing::FaultyIo;
using testing::FileConfig;
using testing::Lines;
using testing::ManualClock;
using testing::ReadFile;
using testing::Record;
using testing::TempDir;
using testing::Value;

std::unique_ptr<FileSink> MustCreate(const FileSinkConfig& config, FileSinkOptions options) {
  auto sink = OpenFileSink(config, std::move(options));
  EXPECT_TRUE(sink.ok()) << sink.status().ToString();
  return sink.ok() ? std::move(*sink) : nullptr;
}

TEST(FileSinkTest, WritesOneValuePerLineAndAcksEachRecordOnceInOrder) {
  TempDir dir;
  const std::string path = dir.File("alerts.jsonl");
  auto sink = MustCreate(FileConfig(path), FastOptions());
  ASSERT_TRUE(sink);
  EXPECT_EQ(sink->name(), "file:" + path);
  AckLog acks;
  std::vector<std::string> expected;
  for (int i = 0; i < 3000; ++i) {
    expected.push_back(Value(i));
    ASSERT_TRUE(sink->Deliver(Record(i), acks.For(Value(i))).ok());
  }
  ASSERT_TRUE(sink->Flush(5s));
  EXPECT_EQ(sink->pending(), 0u);
  EXPECT_EQ(acks.values(), expected);  // exactly once each, in delivery order
  for (const Status& s : acks.statuses()) EXPECT_TRUE(s.ok());
  // Only the value is written: no key, no headers.
  EXPECT_EQ(Lines(ReadFile(path)), expected);
}

TEST(FileSinkTest, ConcurrentDeliverersKeepTheirOrderAndAckOrderMatchesFileOrder) {
  TempDir dir;
  const std::string path = dir.File("alerts.jsonl");
  FileSinkOptions options = FastOptions();
  options.queue_capacity = 64;  // force Deliver() to block now and then
  options.max_batch_records = 16;
  auto sink = MustCreate(FileConfig(path), options);
  ASSERT_TRUE(sink);
  AckLog acks;
  constexpr int kThreads = 4, kPerThread = 1000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const int n = t * kPerThread + i;
        EXPECT_TRUE(sink->Deliver(Record(n), acks.For(Value(n))).ok());
      }
    });
  }
  for (auto& th : threads) th.join();
  ASSERT_TRUE(sink->Flush(5s));
  const std::vector<std::string> lines = Lines(ReadFile(path));
  ASSERT_EQ(lines.size(), size_t{kThreads * kPerThread});
  EXPECT_EQ(acks.values(), lines);
  std::set<std::string> unique(lines.begin(), lines.end());
  EXPECT_EQ(unique.size(), lines.size());
  std::map<int, int> last_per_thread;
  for (const std::string& line : lines) {
    const int n = std::stoi(line.substr(5));
    auto [it, inserted] = last_per_thread.emplace(n / kPerThread, n);
    if (!inserted) {
      EXPECT_GT(n, it->second);
      it->second = n;
    }
  }
}

TEST(FileSinkTest, AppendsToAnExistingFileAndCreatesNewOnesWithMode0640) {
  TempDir dir;
  const std::string existing = dir.File("existing.jsonl");
  {
    std::FILE* f = std::fopen(existing.c_str(), "w");
    std::fputs("old line\n", f);
    std::fclose(f);
  }
  auto sink = MustCreate(FileConfig(existing), FastOptions());
  ASSERT_TRUE(sink);
  ASSERT_TRUE(sink->Deliver(Record(1), nullptr).ok());
  ASSERT_TRUE(sink->Flush(5s));
  EXPECT_EQ(ReadFile(existing), "old line\n" + Value(1) + "\n");

  const mode_t old_mask = umask(022);
  const std::string fresh = dir.File("fresh.jsonl");
  auto fresh_sink = MustCreate(FileConfig(fresh), FastOptions());
  umask(old_mask);
  ASSERT_TRUE(fresh_sink);
  struct stat st;
  ASSERT_EQ(stat(fresh.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0640u);
}

TEST(FileSinkTest, OpenFailsWhenTheDirectoryDoesNotExist) {
  TempDir dir;
  auto sink = CreateFileSink(FileConfig(dir.File("missing/alerts.jsonl")));
  ASSERT_FALSE(sink.ok());
  EXPECT_EQ(sink.status().code(), Status::Code::kIoError);
  EXPECT_NE(sink.status().message().find("missing/alerts.jsonl"), std::string::npos);
}

TEST(FileSinkTest, FsyncModeSyncsEveryBatchBeforeAcknowledging) {
  TempDir dir;
  FaultyIo io;
  FileSinkOptions options = FastOptions();
  options.io = &io;
  options.max_batch_records = 7;
  auto sink = MustCreate(FileConfig(dir.File("a.jsonl"), /*fsync=*/true), options);
  ASSERT_TRUE(sink);
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(sink->Deliver(Record(i),
                              [&io](const Status& s) {
                                EXPECT_TRUE(s.ok());
                                io.Log("A");
                              })
                    .ok());
  }
  ASSERT_TRUE(sink->Flush(5s));
  EXPECT_GE(io.syncs.load(), 50 / 7);
  // Every acknowledgement follows a sync that follows the last write.
  bool synced = false;
  int acked = 0;
  for (const std::string& e : io.log()) {
    if (e == "W") synced = false;
    if (e == "S") synced = true;
    if (e == "A") {
      EXPECT_TRUE(synced) << "ack " << acked << " before its batch was synced";
      ++acked;
    }
  }
  EXPECT_EQ(acked, 50);
}

TEST(FileSinkTest, DoesNotSyncUnlessConfigured) {
  TempDir dir;
  FaultyIo io;
  FileSinkOptions options = FastOptions();
  options.io = &io;
  auto sink = MustCreate(FileConfig(dir.File("a.jsonl")), options);
  ASSERT_TRUE(sink);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(sink->Deliver(Record(i), nullptr).ok());
  ASSERT_TRUE(sink->Flush(5s));
  EXPECT_EQ(io.syncs.load(), 0);
  EXPECT_GE(io.writes.load(), 1);
}

TEST(FileSinkTest, WriteFailuresAreRetriedAndNothingIsAckedUntilWritten) {
  TempDir dir;
  const std::string path = dir.File("a.jsonl");
  FaultyIo io;
  ErrorLog errors;
  FileSinkOptions options = FastOptions();
  options.io = &io;
  options.on_error = errors.Callback();
  auto sink = MustCreate(FileConfig(path), options);
  ASSERT_TRUE(sink);
  io.write_errno = ENOSPC;  // disk full
  AckLog acks;
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(sink->Deliver(Record(i), acks.For(Value(i))).ok());
  ASSERT_TRUE(errors.WaitFor(3));  // several retries reported
  EXPECT_FALSE(sink->Flush(20ms));
  EXPECT_EQ(sink->pending(), 10u);
  EXPECT_EQ(acks.size(), 0u);
  EXPECT_EQ(ReadFile(path), "");
  EXPECT_NE(errors.messages()[0].find("No space left on device"), std::string::npos);
  EXPECT_NE(errors.messages()[0].find("retrying"), std::string::npos);

  io.write_errno = 0;  // space freed
  ASSERT_TRUE(sink->Flush(5s));
  std::vector<std::string> expected;
  for (int i = 0; i < 10; ++i) expected.push_back(Value(i));
  EXPECT_EQ(acks.values(), expected);
  for (const Status& s : acks.statuses()) EXPECT_TRUE(s.ok());
  EXPECT_EQ(Lines(ReadFile(path)), expected);
}

TEST(FileSinkTest, PartialWritesAreContinuedWithoutLossOrDuplication) {
  TempDir dir;
  const std::string path = dir.File("a.jsonl");
  FaultyIo io;
  io.max_write_bytes = 7;
  FileSinkOptions options = FastOptions();
  options.io = &io;
  auto sink = MustCreate(FileConfig(path), options);
  ASSERT_TRUE(sink);
  std::string expected;
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(sink->Deliver(Record(i), nullptr).ok());
    expected += Value(i) + "\n";
  }
  ASSERT_TRUE(sink->Flush(5s));
  EXPECT_EQ(ReadFile(path), expected);
  EXPECT_GT(io.writes.load(), 100);
}

TEST(FileSinkTest, FailureAfterAPartialWriteResumesWhereItStopped) {
  TempDir dir;
  const std::string path = dir.File("a.jsonl");
  FaultyIo io;
  ErrorLog errors;
  FileSinkOptions options = FastOptions();
  options.io = &io;
  options.on_error = errors.Callback();
  auto sink = MustCreate(FileConfig(path), options);
  ASSERT_TRUE(sink);
  // Writes are cut to 5 bytes and every other one fails: each record is written in pieces
  // separated by failures.
  io.max_write_bytes = 5;
  io.fail_every_other_write = true;
  std::string expected;
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(sink->Deliver(Record(i), nullptr).ok());
    expected += Value(i) + "\n";
  }
  ASSERT_TRUE(sink->Flush(5s));
  EXPECT_EQ(ReadFile(path), expected);
  EXPECT_GE(errors.messages().size(), expected.size() / 5 - 1);
}

TEST(FileSinkTest, FailedSyncWritesTheBatchAgainBeforeAcknowledging) {
  TempDir dir;
  const std::string path = dir.File("a.jsonl");
  FaultyIo io;
  io.fail_next_syncs = 1;
  ErrorLog errors;
  FileSinkOptions options = FastOptions();
  options.io = &io;
  options.on_error = errors.Callback();
  auto sink = MustCreate(FileConfig(path, /*fsync=*/true), options);
  ASSERT_TRUE(sink);
  AckLog acks;
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(sink->Deliver(Record(i), acks.For(Value(i))).ok());
  ASSERT_TRUE(sink->Flush(5s));
  for (const Status& s : acks.statuses()) EXPECT_TRUE(s.ok());
  ASSERT_EQ(errors.messages().size(), 1u);
  EXPECT_NE(errors.messages()[0].find("sync failed"), std::string::npos);
  // At-least-once: every record is present, whole; the rewritten ones may appear twice.
  std::multiset<std::string> lines;
  for (const std::string& l : Lines(ReadFile(path))) lines.insert(l);
  for (int i = 0; i < 5; ++i) EXPECT_GE(lines.count(Value(i)), 1u);
  EXPECT_GE(io.syncs.load(), 2);
}

TEST(FileSinkTest, DestroyingTheSinkCompletesUnwrittenRecordsOnceWithAnError) {
  TempDir dir;
  FaultyIo io;
  io.write_errno = EIO;
  FileSinkOptions options = FastOptions();
  options.io = &io;
  AckLog acks;
  {
    auto sink = MustCreate(FileConfig(dir.File("a.jsonl")), options);
    ASSERT_TRUE(sink);
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(sink->Deliver(Record(i), acks.For(Value(i))).ok());
    EXPECT_FALSE(sink->Flush(30ms));
  }
  ASSERT_EQ(acks.size(), 5u);
  for (const Status& s : acks.statuses()) {
    EXPECT_FALSE(s.ok());
    EXPECT_NE(s.message().find("closed before the record was written"), std::string::npos);
  }
}

TEST(FileSinkTest, DeliverBlocksWhileTheQueueIsFullAndDropsNothing) {
  TempDir dir;
  const std::string path = dir.File("a.jsonl");
  FaultyIo io;
  FileSinkOptions options = FastOptions();
  options.io = &io;
  options.queue_capacity = 4;
  auto sink = MustCreate(FileConfig(path), options);
  ASSERT_TRUE(sink);
  io.CloseGate();  // the disk stalls
  AckLog acks;
  std::atomic<int> delivered{0};
  std::thread producer([&] {
    for (int i = 0; i < 20; ++i) {
      EXPECT_TRUE(sink->Deliver(Record(i), acks.For(Value(i))).ok());
      ++delivered;
    }
  });
  ASSERT_TRUE(io.WaitUntilBlocked());
  std::this_thread::sleep_for(50ms);
  // One batch (at most the queue's capacity) is being written, the queue is full, and the
  // producer waits.
  EXPECT_LE(delivered.load(), 8);
  EXPECT_GE(delivered.load(), 4);
  EXPECT_EQ(sink->pending(), static_cast<size_t>(delivered.load()));
  EXPECT_EQ(acks.size(), 0u);
  io.OpenGate();
  producer.join();
  ASSERT_TRUE(sink->Flush(5s));
  std::vector<std::string> expected;
  for (int i = 0; i < 20; ++i) expected.push_back(Value(i));
  EXPECT_EQ(acks.values(), expected);
  EXPECT_EQ(Lines(ReadFile(path)), expected);
}

// Rotation checks run on an injected clock: a test moves it past the interval instead of sleeping.
FileSinkOptions ManualClockOptions(ManualClock& clock) {
  FileSinkOptions options = FastOptions();
  options.rotation_check_interval = std::chrono::seconds(1);
  options.clock = clock.Function();
  return options;
}

TEST(FileSinkTest, FileRenamedAwayIsRecreatedAtThePath) {
  TempDir dir;
  const std::string path = dir.File("alerts.jsonl");
  const std::string rotated = dir.File("alerts.jsonl.1");
  ManualClock clock;
  auto sink = MustCreate(FileConfig(path), ManualClockOptions(clock));
  ASSERT_TRUE(sink);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(sink->Deliver(Record(i), nullptr).ok());
  ASSERT_TRUE(sink->Flush(5s));
  ASSERT_EQ(std::rename(path.c_str(), rotated.c_str()), 0);  // logrotate without `create`
  clock.Advance(2s);                                         // the next write checks first
  for (int i = 3; i < 6; ++i) ASSERT_TRUE(sink->Deliver(Record(i), nullptr).ok());
  ASSERT_TRUE(sink->Flush(5s));
  EXPECT_EQ(Lines(ReadFile(rotated)), (std::vector<std::string>{Value(0), Value(1), Value(2)}));
  EXPECT_EQ(Lines(ReadFile(path)), (std::vector<std::string>{Value(3), Value(4), Value(5)}));
}

TEST(FileSinkTest, FileDeletedIsRecreatedAndACreatedReplacementIsUsed) {
  TempDir dir;
  const std::string path = dir.File("alerts.jsonl");
  ManualClock clock;
  auto sink = MustCreate(FileConfig(path), ManualClockOptions(clock));
  ASSERT_TRUE(sink);
  ASSERT_TRUE(sink->Deliver(Record(0), nullptr).ok());
  ASSERT_TRUE(sink->Flush(5s));
  ASSERT_EQ(unlink(path.c_str()), 0);
  clock.Advance(2s);
  ASSERT_TRUE(sink->Deliver(Record(1), nullptr).ok());
  ASSERT_TRUE(sink->Flush(5s));
  EXPECT_EQ(ReadFile(path), Value(1) + "\n");

  // logrotate with `create`: rename, then an empty file at the path.
  ASSERT_EQ(std::rename(path.c_str(), dir.File("old").c_str()), 0);
  std::FILE* f = std::fopen(path.c_str(), "w");
  std::fclose(f);
  clock.Advance(2s);
  ASSERT_TRUE(sink->Deliver(Record(2), nullptr).ok());
  ASSERT_TRUE(sink->Flush(5s));
  EXPECT_EQ(ReadFile(path), Value(2) + "\n");
  EXPECT_EQ(ReadFile(dir.File("old")), Value(1) + "\n");
}

TEST(FileSinkTest, ReopenSwitchesToTheNewFileWithoutWaitingForTheCheck) {
  TempDir dir;
  const std::string path = dir.File("alerts.jsonl");
  FileSinkOptions options = FastOptions();
  options.rotation_check_interval = std::chrono::hours(1);
  auto sink = MustCreate(FileConfig(path), options);
  ASSERT_TRUE(sink);
  ASSERT_TRUE(sink->Deliver(Record(0), nullptr).ok());
  ASSERT_TRUE(sink->Flush(5s));
  ASSERT_EQ(std::rename(path.c_str(), dir.File("old").c_str()), 0);
  sink->Reopen();  // SIGHUP
  ASSERT_TRUE(sink->Deliver(Record(1), nullptr).ok());
  ASSERT_TRUE(sink->Flush(5s));
  EXPECT_EQ(ReadFile(path), Value(1) + "\n");
  EXPECT_EQ(ReadFile(dir.File("old")), Value(0) + "\n");
}

TEST(FileSinkTest, FailedReopenIsReportedOnceAndKeepsWritingToTheOldFile) {
  TempDir dir;
  const std::string path = dir.File("alerts.jsonl");
  FaultyIo io;
  ErrorLog errors;
  ManualClock clock;
  FileSinkOptions options = ManualClockOptions(clock);
  options.io = &io;
  options.on_error = errors.Callback();
  auto sink = MustCreate(FileConfig(path), options);
  ASSERT_TRUE(sink);
  ASSERT_EQ(std::rename(path.c_str(), dir.File("old").c_str()), 0);
  io.fail_opens = true;
  sink->Reopen();
  AckLog acks;
  // Three writes, each after a due rotation check that fails the same way.
  for (int i = 0; i < 3; ++i) {
    clock.Advance(2s);
    ASSERT_TRUE(sink->Deliver(Record(i), acks.For(Value(i))).ok());
    ASSERT_TRUE(sink->Flush(5s));
  }
  ASSERT_EQ(acks.statuses().size(), 3u);
  for (const Status& status : acks.statuses()) EXPECT_TRUE(status.ok());
  EXPECT_EQ(ReadFile(dir.File("old")), Value(0) + "\n" + Value(1) + "\n" + Value(2) + "\n");
  ASSERT_GE(errors.messages().size(), 1u);
  EXPECT_LE(errors.messages().size(), 2u);  // the reopen request, then the first check at most
  EXPECT_NE(errors.messages()[0].find("cannot reopen"), std::string::npos);

  io.fail_opens = false;
  clock.Advance(2s);
  ASSERT_TRUE(sink->Deliver(Record(3), nullptr).ok());
  ASSERT_TRUE(sink->Flush(5s));
  EXPECT_EQ(ReadFile(path), Value(3) + "\n");
}

TEST(FileSinkTest, DeadLetterModeWritesOneJsonObjectPerRecord) {
  TempDir dir;
  const std::string path = dir.File("dead.jsonl");
  auto sink = CreateFileSink(FileConfig(path), FileSinkMode::kDeadLetter);
  ASSERT_TRUE(sink.ok());
  SinkRecord record;
  record.key = "ignored";
  record.value = std::string("\x00\xff{\"a\":\n", 8);
  record.headers = {{"chipwatch.source.topic", "audit"},
                    {"chipwatch.source.partition", "3"},
                    {"chipwatch.source.offset", "42"},
                    {"chipwatch.reason", "invalid_json"},
                    {"chipwatch.error", "we\"ird \xff"}};
  ASSERT_TRUE((*sink)->Deliver(record, nullptr).ok());
  record.value = "{}";
  record.headers = {{"chipwatch.source.file", "/var/log/a.jsonl"},
                    {"chipwatch.source.line", "7"},
                    {"chipwatch.reason", "too_large"}};
  ASSERT_TRUE((*sink)->Deliver(record, nullptr).ok());
  ASSERT_TRUE((*sink)->Flush(5s));
  EXPECT_EQ(
      ReadFile(path),
      "{\"reason\":\"invalid_json\",\"source\":\"audit/3@42\",\"headers\":{"
      "\"chipwatch.source.topic\":\"audit\",\"chipwatch.source.partition\":\"3\","
      "\"chipwatch.source.offset\":\"42\",\"chipwatch.reason\":\"invalid_json\","
      "\"chipwatch.error\":\"we\\\"ird \xef\xbf\xbd\"},\"original_base64\":\"AP97ImEiOgo=\"}\n"
      "{\"reason\":\"too_large\",\"source\":\"/var/log/a.jsonl:7\",\"headers\":{"
      "\"chipwatch.source.file\":\"/var/log/a.jsonl\",\"chipwatch.source.line\":\"7\","
      "\"chipwatch.reason\":\"too_large\"},\"original_base64\":\"e30=\"}\n");
}

TEST(FileSinkTest, DeadLetterLineEncodesBase64AndAcceptsPlainHeaderNames) {
  const std::pair<const char*, const char*> cases[] = {
      {"", ""},
      {"f", "Zg=="},
      {"fo", "Zm8="},
      {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="},
      {"fooba", "Zm9vYmE="},
      {"foobar", "Zm9vYmFy"},
  };
  for (const auto& [in, out] : cases) {
    SinkRecord r;
    r.value = in;
    r.headers = {{"source", "s"}, {"reason", "r"}};
    EXPECT_EQ(FormatDeadLetterLine(r),
              std::string("{\"reason\":\"r\",\"source\":\"s\",\"headers\":{"
                          "\"source\":\"s\",\"reason\":\"r\"},"
                          "\"original_base64\":\"") +
                  out + "\"}");
  }
}

}  // namespace
}  // namespace chipwatch

namespace chipwatch {
namespace {

TEST(FileSinkTest, DeadLetterLineWithoutHeadersHasEmptyReasonAndSource) {
  SinkRecord r;
  r.value = "x";
  EXPECT_EQ(FormatDeadLetterLine(r),
            "{\"reason\":\"\",\"source\":\"\",\"headers\":{},\"original_base64\":\"eA==\"}");
}

}  // namespace
}  // namespace chipwatch
