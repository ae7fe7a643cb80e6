// Helpers for the sink tests: a temporary directory, file reading, an acknowledgement recorder and
// a SinkIo whose failures a test switches on and off.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "../common/temp_dir.h"
#include "sink/file_sink.h"
#include "sink/sink.h"

namespace chipwatch::testing {

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t nl = text.find('\n', start);
    if (nl == std::string::npos) nl = text.size();
    lines.push_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  return lines;
}

inline std::string Value(int i) { return "{\"n\":" + std::to_string(i) + "}"; }

inline SinkRecord Record(int i) { return SinkRecord{"key" + std::to_string(i), Value(i), {}}; }

// Records every acknowledgement: which record, in which order, with which status.
class AckLog {
 public:
  SinkCallback For(std::string value) {
    return [this, value = std::move(value)](const Status& s) {
      std::lock_guard lock(mu_);
      values_.push_back(value);
      statuses_.push_back(s);
      cv_.notify_all();
    };
  }
  size_t size() const {
    std::lock_guard lock(mu_);
    return values_.size();
  }
  std::vector<std::string> values() const {
    std::lock_guard lock(mu_);
    return values_;
  }
  std::vector<Status> statuses() const {
    std::lock_guard lock(mu_);
    return statuses_;
  }
  bool WaitFor(size_t n, std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return values_.size() >= n; });
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> values_;
  std::vector<Status> statuses_;
};

// Collects on_error messages.
class ErrorLog {
 public:
  std::function<void(const std::string&)> Callback() {
    return [this](const std::string& m) {
      std::lock_guard lock(mu_);
      messages_.push_back(m);
      cv_.notify_all();
    };
  }
  std::vector<std::string> messages() const {
    std::lock_guard lock(mu_);
    return messages_;
  }
  bool WaitFor(size_t n, std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return messages_.size() >= n; });
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> messages_;
};

// The real system calls, with switchable faults and a log of what happened ("W" write, "S" sync).
class FaultyIo : public SinkIo {
 public:
  std::atomic<int> write_errno{0};                  // != 0: every write fails with it
  std::atomic<int> fail_next_writes{0};             // that many writes fail with ENOSPC
  std::atomic<int> fail_next_syncs{0};              // that many syncs fail with EIO
  std::atomic<bool> fail_every_other_write{false};  // with ENOSPC
  std::atomic<bool> fail_opens{false};
  std::atomic<size_t> max_write_bytes{0};  // != 0: writes are cut to this many bytes
  std::atomic<int> writes{0};
  std::atomic<int> syncs{0};

  // While closed, writes wait (the writer thread is then "inside the disk").
  void CloseGate() {
    std::lock_guard lock(gate_mu_);
    gate_open_ = false;
  }
  void OpenGate() {
    std::lock_guard lock(gate_mu_);
    gate_open_ = true;
    gate_cv_.notify_all();
  }
  bool WaitUntilBlocked(std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    std::unique_lock lock(gate_mu_);
    return gate_cv_.wait_for(lock, timeout, [&] { return blocked_; });
  }

  void Log(const std::string& event) {
    std::lock_guard lock(log_mu_);
    log_.push_back(event);
  }
  std::vector<std::string> log() const {
    std::lock_guard lock(log_mu_);
    return log_;
  }

  int Open(const std::string& path, int flags, mode_t mode) override {
    if (fail_opens) {
      errno = EACCES;
      return -1;
    }
    return SinkIo::Open(path, flags, mode);
  }

  ssize_t Writev(int fd, const struct iovec* iov, int count) override {
    {
      std::unique_lock lock(gate_mu_);
      blocked_ = !gate_open_;
      gate_cv_.notify_all();
      gate_cv_.wait(lock, [&] { return gate_open_; });
      blocked_ = false;
    }
    const int count_so_far = ++writes;
    if (fail_every_other_write && count_so_far % 2 == 0) {
      errno = ENOSPC;
      return -1;
    }
    if (write_errno != 0) {
      errno = write_errno;
      return -1;
    }
    if (fail_next_writes > 0) {
      --fail_next_writes;
      errno = ENOSPC;
      return -1;
    }
    Log("W");
    const size_t limit = max_write_bytes;
    if (limit == 0) return SinkIo::Writev(fd, iov, count);
    // Write only the first `limit` bytes.
    std::vector<struct iovec> cut;
    size_t left = limit;
    for (int i = 0; i < count && left > 0; ++i) {
      const size_t n = std::min(left, iov[i].iov_len);
      cut.push_back({iov[i].iov_base, n});
      left -= n;
    }
    return SinkIo::Writev(fd, cut.data(), static_cast<int>(cut.size()));
  }

  int Sync(int fd) override {
    ++syncs;
    if (fail_next_syncs > 0) {
      --fail_next_syncs;
      errno = EIO;
      return -1;
    }
    Log("S");
    return SinkIo::Sync(fd);
  }

 private:
  std::mutex gate_mu_;
  std::condition_variable gate_cv_;
  bool gate_open_ = true;
  bool blocked_ = false;
  mutable std::mutex log_mu_;
  std::vector<std::string> log_;
};

inline FileSinkConfig FileConfig(const std::string& path, bool fsync = false) {
  FileSinkConfig config;
  config.path.path = path;
  config.fsync = fsync;
  return config;
}

// Fast retries and rotation checks, so that every test takes milliseconds.
// A clock for the file sink's rotation check that moves only when a test says so.
class ManualClock {
 public:
  std::chrono::steady_clock::time_point Now() const {
    return std::chrono::steady_clock::time_point(std::chrono::nanoseconds(ns_.load()));
  }
  void Advance(std::chrono::nanoseconds by) { ns_ += by.count(); }
  // For FileSinkOptions::clock; the clock must outlive the sink.
  std::function<std::chrono::steady_clock::time_point()> Function() {
    return [this] { return Now(); };
  }

 private:
  std::atomic<int64_t> ns_{1'000'000'000};
};

inline FileSinkOptions FastOptions() {
  FileSinkOptions options;
  options.retry_initial = std::chrono::milliseconds(2);
  options.retry_max = std::chrono::milliseconds(20);
  options.rotation_check_interval = std::chrono::milliseconds(10);
  return options;
}

}  // namespace chipwatch::testing
