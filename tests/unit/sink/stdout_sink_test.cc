#include "sink/stdout_sink.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "sink_test_util.h"

namespace chipwatch {
namespace {

using namespace std::chrono_literals;
using testing::AckLog;
using testing::ErrorLog;
using testing::Lines;
using testing::Record;
using testing::Value;

class Pipe {
 public:
  Pipe() { EXPECT_EQ(pipe2(fds_, O_CLOEXEC), 0); }
  ~Pipe() {
    CloseRead();
    CloseWrite();
  }
  int read_fd() const { return fds_[0]; }
  int write_fd() const { return fds_[1]; }
  void CloseRead() {
    if (fds_[0] >= 0) close(fds_[0]);
    fds_[0] = -1;
  }
  void CloseWrite() {
    if (fds_[1] >= 0) close(fds_[1]);
    fds_[1] = -1;
  }
  // Reads until end of file (the write end closed).
  std::string ReadAll() {
    std::string out;
    char buf[65536];
    ssize_t n;
    while ((n = read(fds_[0], buf, sizeof(buf))) > 0) out.append(buf, static_cast<size_t>(n));
    return out;
  }

 private:
  int fds_[2] = {-1, -1};
};

TEST(StdoutSinkTest, WritesLinesToTheDescriptorInOrder) {
  Pipe pipe;
  std::string received;
  std::thread reader([&] { received = pipe.ReadAll(); });
  AckLog acks;
  std::string expected;
  {
    auto sink = CreateStdoutSink(pipe.write_fd());
    EXPECT_EQ(sink->name(), "stdout");
    for (int i = 0; i < 500; ++i) {
      ASSERT_TRUE(sink->Deliver(Record(i), acks.For(Value(i))).ok());
      expected += Value(i) + "\n";
    }
    ASSERT_TRUE(sink->Flush(5s));
    EXPECT_EQ(sink->pending(), 0u);
  }
  pipe.CloseWrite();  // the sink never closes a borrowed descriptor
  reader.join();
  EXPECT_EQ(received, expected);
  EXPECT_EQ(acks.size(), 500u);
  for (const Status& s : acks.statuses()) EXPECT_TRUE(s.ok());
}

TEST(StdoutSinkTest, BlocksOnAPipeNobodyReadsThenDeliversEverything) {
  Pipe pipe;
  FileSinkOptions options;
  options.queue_capacity = 8;
  auto sink = CreateStdoutSink(pipe.write_fd(), options);
  AckLog acks;
  const std::string padding(1000, 'x');
  constexpr int kRecords = 500;  // ~500 KB: far more than the pipe's 64 KB buffer
  std::atomic<int> delivered{0};
  std::thread producer([&] {
    for (int i = 0; i < kRecords; ++i) {
      SinkRecord r = Record(i);
      r.value += padding;
      EXPECT_TRUE(sink->Deliver(std::move(r), acks.For(Value(i))).ok());
      ++delivered;
    }
  });
  std::this_thread::sleep_for(200ms);
  EXPECT_LT(delivered.load(), kRecords);  // Deliver() blocks: backpressure, not loss
  EXPECT_FALSE(sink->Flush(10ms));
  EXPECT_LE(sink->pending(), 16u);  // a full queue plus the batch in the pipe
  EXPECT_EQ(sink->pending() + acks.size(), static_cast<size_t>(delivered.load()));

  std::string received;
  std::thread reader([&] { received = pipe.ReadAll(); });
  producer.join();
  ASSERT_TRUE(sink->Flush(5s));
  sink.reset();
  pipe.CloseWrite();
  reader.join();
  std::vector<std::string> lines = Lines(received);
  ASSERT_EQ(lines.size(), size_t{kRecords});
  for (int i = 0; i < kRecords; ++i) EXPECT_EQ(lines[i], Value(i) + padding);
  ASSERT_EQ(acks.size(), size_t{kRecords});
  std::vector<std::string> values = acks.values();
  for (int i = 0; i < kRecords; ++i) EXPECT_EQ(values[i], Value(i));
}

TEST(StdoutSinkTest, ClosedPipeIsAPermanentFailureAckedWithAnError) {
  Pipe pipe;
  pipe.CloseRead();  // `chipwatch run | head -1` after head exited
  ErrorLog errors;
  auto sink = CreateStdoutSink(pipe.write_fd(), errors.Callback());
  AckLog acks;
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(sink->Deliver(Record(i), acks.For(Value(i))).ok());
  ASSERT_TRUE(sink->Flush(5s));  // completed (with an error), not stuck retrying
  for (int i = 3; i < 6; ++i) ASSERT_TRUE(sink->Deliver(Record(i), acks.For(Value(i))).ok());
  ASSERT_TRUE(sink->Flush(5s));
  // The process is still alive: SIGPIPE did not kill it.
  ASSERT_EQ(acks.size(), 6u);
  std::vector<std::string> expected;
  for (int i = 0; i < 6; ++i) expected.push_back(Value(i));
  EXPECT_EQ(acks.values(), expected);
  for (const Status& s : acks.statuses()) {
    EXPECT_FALSE(s.ok());
    EXPECT_NE(s.message().find("Broken pipe"), std::string::npos) << s.message();
  }
  ASSERT_EQ(errors.messages().size(), 1u);  // reported once, not per record
  EXPECT_NE(errors.messages()[0].find("stdout"), std::string::npos);
}

TEST(StdoutSinkTest, DestroyingASinkBlockedOnAFullPipeReturns) {
  Pipe pipe;
  // Fill the pipe so that the writer cannot make progress.
  fcntl(pipe.write_fd(), F_SETFL, O_NONBLOCK);
  const std::string chunk(4096, 'f');
  while (write(pipe.write_fd(), chunk.data(), chunk.size()) > 0) {
  }
  fcntl(pipe.write_fd(), F_SETFL, 0);
  AckLog acks;
  const auto start = std::chrono::steady_clock::now();
  {
    auto sink = CreateStdoutSink(pipe.write_fd());
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(sink->Deliver(Record(i), acks.For(Value(i))).ok());
    EXPECT_FALSE(sink->Flush(50ms));
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
  ASSERT_EQ(acks.size(), 3u);
  for (const Status& s : acks.statuses()) EXPECT_FALSE(s.ok());
}

}  // namespace
}  // namespace chipwatch
