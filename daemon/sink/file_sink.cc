#include "sink/file_sink.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "core/diagnostics.h"

namespace chipwatch {

int SinkIo::Open(const std::string& path, int flags, mode_t mode) {
  return ::open(path.c_str(), flags, mode);
}
ssize_t SinkIo::Writev(int fd, const struct iovec* iov, int count) {
  return ::writev(fd, iov, count);
}
int SinkIo::Sync(int fd) { return ::fdatasync(fd); }
int SinkIo::Close(int fd) { return ::close(fd); }
SinkIo* SinkIo::Default() {
  static SinkIo io;
  return &io;
}

namespace {

constexpr int kOpenFlags = O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC;
constexpr mode_t kFileMode = 0640;
// How often a writer blocked on a borrowed descriptor (a full pipe) checks whether to stop.
constexpr int kWritablePollMs = 100;

void AppendBase64(std::string& out, std::string_view in) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  out.reserve(out.size() + (in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= in.size(); i += 3) {
    const uint32_t v = static_cast<uint32_t>(static_cast<unsigned char>(in[i])) << 16 |
                       static_cast<uint32_t>(static_cast<unsigned char>(in[i + 1])) << 8 |
                       static_cast<uint32_t>(static_cast<unsigned char>(in[i + 2]));
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  const size_t rest = in.size() - i;
  if (rest == 0) return;
  uint32_t v = static_cast<uint32_t>(static_cast<unsigned char>(in[i])) << 16;
  if (rest == 2) v |= static_cast<uint32_t>(static_cast<unsigned char>(in[i + 1])) << 8;
  out += kAlphabet[v >> 18];
  out += kAlphabet[(v >> 12) & 63];
  out += rest == 2 ? kAlphabet[(v >> 6) & 63] : '=';
  out += '=';
}

std::string ErrnoText(int err) { return std::strerror(err); }

std::string Millis(std::chrono::milliseconds d) { return std::to_string(d.count()) + " ms"; }

struct Entry {
  std::string line;  // with its newline
  SinkCallback done;
};

// The one batching writer behind the file and stdout sinks (see file_sink.h).
class LineSink final : public FileSink {
 public:
  // `path` empty: `fd` is borrowed and never reopened or closed.
  LineSink(std::string name, std::string path, int fd, bool sync, FileSinkOptions options)
      : name_(std::move(name)),
        path_(std::move(path)),
        owns_fd_(!path_.empty()),
        sync_(sync),
        options_(Normalize(std::move(options))),
        io_(options_.io != nullptr ? options_.io : SinkIo::Default()),
        fd_(fd) {
    if (owns_fd_) {
      RememberIdentity();
      if (sync_) SyncDirectory();
    }
    writer_ = std::thread([this] { Run(); });
  }

  ~LineSink() override {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    not_full_.notify_all();
    work_.notify_all();
    writer_.join();
    if (owns_fd_) io_->Close(fd_);
  }

  const std::string& name() const override { return name_; }

  Status Deliver(SinkRecord record, SinkCallback done) override {
    Entry entry;
    if (options_.mode == FileSinkMode::kDeadLetter) {
      entry.line = FormatDeadLetterLine(record);
    } else {
      entry.line = std::move(record.value);
    }
    entry.line += '\n';
    entry.done = std::move(done);
    std::unique_lock lock(mu_);
    not_full_.wait(lock, [&] { return stop_ || queue_.size() < options_.queue_capacity; });
    if (stop_) return Status::Cancelled(name_ + ": the sink is closed");
    queue_.push_back(std::move(entry));
    ++pending_;
    work_.notify_one();
    return Status::Ok();
  }

  bool Flush(std::chrono::milliseconds timeout) override {
    std::unique_lock lock(mu_);
    return idle_.wait_for(lock, timeout, [&] { return pending_ == 0; });
  }

  size_t pending() const override {
    std::lock_guard lock(mu_);
    return pending_;
  }

  void Reopen() override {
    if (!owns_fd_) return;
    {
      std::lock_guard lock(mu_);
      reopen_requested_ = true;
    }
    work_.notify_all();
  }

 private:
  static FileSinkOptions Normalize(FileSinkOptions o) {
    o.queue_capacity = std::max<size_t>(o.queue_capacity, 1);
    o.max_batch_records = std::clamp<size_t>(o.max_batch_records, 1, IOV_MAX);
    o.max_batch_bytes = std::max<size_t>(o.max_batch_bytes, 1);
    o.retry_initial = std::max(o.retry_initial, std::chrono::milliseconds(1));
    o.retry_max = std::max(o.retry_max, o.retry_initial);
    o.rotation_check_interval = std::max(o.rotation_check_interval, std::chrono::milliseconds(1));
    return o;
  }

  void Run() {
    // A write to a closed pipe must fail with EPIPE, not kill the process: SIGPIPE raised by our
    // own writes is directed at this thread, so blocking it here is enough (and leaves the rest of
    // the process alone).
    sigset_t pipe_set;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, nullptr);

    using Clock = std::chrono::steady_clock;
    auto now = [this] { return options_.clock ? options_.clock() : Clock::now(); };
    std::vector<Entry> batch;
    auto next_check = now() + options_.rotation_check_interval;
    for (;;) {
      bool reopen = false;
      {
        std::unique_lock lock(mu_);
        auto ready = [&] { return stop_ || reopen_requested_ || !queue_.empty(); };
        if (owns_fd_ && !options_.clock) {
          work_.wait_until(lock, next_check, ready);
        } else {
          work_.wait(lock, ready);
        }
        if (stop_) break;
        reopen = std::exchange(reopen_requested_, false);
        size_t bytes = 0;
        while (!queue_.empty() && batch.size() < options_.max_batch_records) {
          const size_t size = queue_.front().line.size();
          if (!batch.empty() && bytes + size > options_.max_batch_bytes) break;
          bytes += size;
          batch.push_back(std::move(queue_.front()));
          queue_.pop_front();
        }
        if (!batch.empty()) not_full_.notify_all();
      }
      if (reopen) ReopenFile("reopen requested");
      if (owns_fd_ && now() >= next_check) {
        CheckRotation();
        next_check = now() + options_.rotation_check_interval;
      }
      if (batch.empty()) continue;
      bool stopped = false;
      Status status = WriteBatch(batch, stopped);
      if (stopped) break;
      Complete(batch, status);
    }
    // Stopping: whatever is not written by now is completed as not delivered.
    std::deque<Entry> rest;
    {
      std::lock_guard lock(mu_);
      rest.swap(queue_);
    }
    for (auto& entry : rest) batch.push_back(std::move(entry));
    Complete(batch,
             Status::Cancelled(name_ + ": the sink was closed before the record was written"));
  }

  // Writes (and syncs) the whole batch, retrying until it succeeds. Returns OK, or the permanent
  // error of a borrowed descriptor; sets `stopped` when the sink is being destroyed meanwhile.
  Status WriteBatch(const std::vector<Entry>& batch, bool& stopped) {
    if (!permanent_.ok()) return permanent_;
    size_t record = 0;  // first record not completely written
    size_t offset = 0;  // bytes of batch[record] already written
    auto delay = options_.retry_initial;
    std::vector<struct iovec> iov;
    iov.reserve(batch.size());
    for (;;) {
      int err = 0;
      bool sync_failed = false;
      const size_t record_before = record, offset_before = offset;
      while (record < batch.size()) {
        if (!owns_fd_ && !WaitWritable()) {
          stopped = true;
          return Status::Ok();
        }
        iov.clear();
        for (size_t i = record; i < batch.size(); ++i) {
          const std::string& line = batch[i].line;
          const size_t skip = i == record ? offset : 0;
          iov.push_back({const_cast<char*>(line.data()) + skip, line.size() - skip});
        }
        const ssize_t n = io_->Writev(fd_, iov.data(), static_cast<int>(iov.size()));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
          err = n < 0 ? errno : EIO;
          break;
        }
        size_t left = static_cast<size_t>(n);
        while (left > 0) {
          const size_t remaining = batch[record].line.size() - offset;
          if (left < remaining) {
            offset += left;
            break;
          }
          left -= remaining;
          ++record;
          offset = 0;
        }
      }
      if (err == 0 && sync_ && io_->Sync(fd_) != 0) {
        err = errno;
        sync_failed = true;
      }
      if (err == 0) return Status::Ok();

      const char* what = sync_failed ? "sync" : "write";
      if (!owns_fd_ && (err == EPIPE || err == EBADF)) {
        if (err == EPIPE) ConsumePendingSigpipe();
        permanent_ = Status::IoError(name_ + ": " + what + " failed: " + ErrnoText(err));
        ReportError(permanent_.message() +
                    "; this and every later record are acknowledged with this error");
        return permanent_;
      }
      // Back off harder only while nothing gets through (a failing sync never counts as progress:
      // each retry rewrites the batch).
      if (!sync_failed && (record != record_before || offset != offset_before)) {
        delay = options_.retry_initial;
      }
      ReportError(name_ + ": " + what + " failed: " + ErrnoText(err) + "; keeping " +
                  std::to_string(batch.size() - (sync_failed ? 0 : record)) +
                  " records, retrying in " + Millis(delay));
      if (!WaitBeforeRetry(delay)) {
        stopped = true;
        return Status::Ok();
      }
      delay = std::min(delay * 2, options_.retry_max);
      // The kernel may have dropped unsynced pages after a failed sync: write everything again.
      if (sync_failed) record = offset = 0;
      if (owns_fd_) {
        const bool reopened =
            TakeReopenRequest() ? ReopenFile("reopen requested") : CheckRotation();
        // Never split a record across files: a partly written one is written whole again.
        if (reopened) offset = 0;
      }
    }
  }

  // Waits until the borrowed descriptor can take data; false when the sink is stopping. Errors and
  // hang-ups count as writable: the write then reports them.
  bool WaitWritable() {
    for (;;) {
      struct pollfd p = {fd_, POLLOUT, 0};
      const int r = ::poll(&p, 1, kWritablePollMs);
      if (r > 0 || (r < 0 && errno != EINTR)) return true;
      std::lock_guard lock(mu_);
      if (stop_) return false;
    }
  }

  // Sleeps `delay` unless the sink is stopping (false) or a reopen is requested.
  bool WaitBeforeRetry(std::chrono::milliseconds delay) {
    std::unique_lock lock(mu_);
    work_.wait_for(lock, delay, [&] { return stop_ || reopen_requested_; });
    return !stop_;
  }

  bool TakeReopenRequest() {
    std::lock_guard lock(mu_);
    return std::exchange(reopen_requested_, false);
  }

  // Opens the path again and switches to it; false (reported, old descriptor kept) on failure.
  bool ReopenFile(const char* why) {
    if (!owns_fd_) return false;
    const int fd = io_->Open(path_, kOpenFlags, kFileMode);
    if (fd < 0) {
      std::string message = name_ + ": cannot reopen (" + why + "): " + ErrnoText(errno) +
                            "; still writing to the previous file";
      // A missing directory would otherwise repeat this every rotation check.
      if (message != last_reopen_error_) ReportError(message);
      last_reopen_error_ = std::move(message);
      return false;
    }
    last_reopen_error_.clear();
    io_->Close(fd_);
    fd_ = fd;
    RememberIdentity();
    if (sync_) SyncDirectory();
    return true;
  }

  // Reopens when `path` no longer names the open file (renamed or deleted). True if it did.
  bool CheckRotation() {
    struct stat st;
    if (::stat(path_.c_str(), &st) == 0 && have_identity_ && st.st_dev == dev_ &&
        st.st_ino == ino_) {
      return false;
    }
    return ReopenFile("the file was moved or deleted");
  }

  void RememberIdentity() {
    struct stat st;
    have_identity_ = ::fstat(fd_, &st) == 0;
    if (have_identity_) {
      dev_ = st.st_dev;
      ino_ = st.st_ino;
    }
  }

  // Makes a newly created file's directory entry durable.
  void SyncDirectory() {
    const size_t slash = path_.rfind('/');
    const std::string dir =
        slash == std::string::npos ? "." : (slash == 0 ? "/" : path_.substr(0, slash));
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || ::fsync(fd) != 0) {
      ReportError(name_ + ": cannot sync directory " + dir + ": " + ErrnoText(errno));
    }
    if (fd >= 0) ::close(fd);
  }

  static void ConsumePendingSigpipe() {
    sigset_t pipe_set;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    const struct timespec zero = {0, 0};
    while (sigtimedwait(&pipe_set, nullptr, &zero) == SIGPIPE) {
    }
  }

  void Complete(std::vector<Entry>& batch, const Status& status) {
    if (batch.empty()) return;
    for (Entry& entry : batch) {
      if (entry.done) entry.done(status);
    }
    const size_t n = batch.size();
    batch.clear();
    std::lock_guard lock(mu_);
    pending_ -= n;
    if (pending_ == 0) idle_.notify_all();
  }

  void ReportError(const std::string& message) {
    if (options_.on_error) options_.on_error(message);
  }

  const std::string name_;
  const std::string path_;  // empty for a borrowed descriptor
  const bool owns_fd_;
  const bool sync_;
  const FileSinkOptions options_;
  SinkIo* const io_;

  // Used by the writer thread only (and the constructor/destructor).
  int fd_;
  bool have_identity_ = false;
  dev_t dev_ = 0;
  ino_t ino_ = 0;
  Status permanent_;               // a borrowed descriptor's permanent failure
  std::string last_reopen_error_;  // not repeated while it stays the same

  mutable std::mutex mu_;
  std::condition_variable not_full_;  // queue_ has room, or stop_
  std::condition_variable work_;      // queue_ has records, a reopen is requested, or stop_
  std::condition_variable idle_;      // pending_ dropped to 0
  std::deque<Entry> queue_;           // guarded by mu_
  size_t pending_ = 0;                // guarded by mu_: queued plus being written
  bool stop_ = false;                 // guarded by mu_
  bool reopen_requested_ = false;     // guarded by mu_
  std::thread writer_;                // started last, in the constructor
};

}  // namespace

std::string FormatDeadLetterLine(const SinkRecord& record) {
  auto header = [&](std::string_view name) -> const std::string* {
    for (auto it = record.headers.rbegin(); it != record.headers.rend(); ++it) {
      if (it->name == name) return &it->value;
    }
    return nullptr;
  };
  const std::string* reason = header(kDeadLetterReasonHeader);
  if (reason == nullptr) reason = header("reason");
  std::string source;
  if (const std::string* s = header("source")) {
    source = *s;
  } else if (const std::string* file = header("chipwatch.source.file")) {
    source = *file;
    if (const std::string* line = header("chipwatch.source.line")) source += ":" + *line;
  } else if (const std::string* topic = header("chipwatch.source.topic")) {
    source = *topic;
    if (const std::string* partition = header("chipwatch.source.partition")) {
      source += "/" + *partition;
    }
    if (const std::string* offset = header("chipwatch.source.offset")) source += "@" + *offset;
  }

  std::string out;
  out.reserve(96 + source.size() + record.value.size() * 4 / 3);
  out += "{\"reason\":\"";
  if (reason != nullptr) AppendJsonEscaped(out, *reason);
  out += "\",\"source\":\"";
  AppendJsonEscaped(out, source);
  out += "\",\"headers\":{";
  bool first = true;
  for (const SinkHeader& h : record.headers) {
    if (!first) out += ',';
    first = false;
    out += '"';
    AppendJsonEscaped(out, h.name);
    out += "\":\"";
    AppendJsonEscaped(out, h.value);
    out += '"';
  }
  out += "},\"original_base64\":\"";
  AppendBase64(out, record.value);
  out += "\"}";
  return out;
}

Result<std::unique_ptr<FileSink>> OpenFileSink(const FileSinkConfig& config,
                                               FileSinkOptions options) {
  const std::string& path = config.path.path;
  if (path.empty()) return Status::InvalidArgument("file sink: empty path");
  SinkIo* io = options.io != nullptr ? options.io : SinkIo::Default();
  const int fd = io->Open(path, kOpenFlags, kFileMode);
  if (fd < 0) {
    return Status::IoError(path + ": cannot open for appending: " + ErrnoText(errno));
  }
  return std::unique_ptr<FileSink>(
      std::make_unique<LineSink>("file:" + path, path, fd, config.fsync, std::move(options)));
}

Result<std::unique_ptr<Sink>> CreateFileSink(const FileSinkConfig& config,
                                             FileSinkOptions options) {
  auto sink = OpenFileSink(config, std::move(options));
  if (!sink.ok()) return sink.status();
  return std::unique_ptr<Sink>(std::move(sink).value());
}

Result<std::unique_ptr<Sink>> CreateFileSink(const FileSinkConfig& config, FileSinkMode mode,
                                             std::function<void(const std::string&)> on_error) {
  FileSinkOptions options;
  options.mode = mode;
  options.on_error = std::move(on_error);
  return CreateFileSink(config, std::move(options));
}

std::unique_ptr<FileSink> CreateFdSink(int fd, std::string name, bool sync,
                                       FileSinkOptions options) {
  return std::make_unique<LineSink>(std::move(name), std::string(), fd, sync, std::move(options));
}

}  // namespace chipwatch
