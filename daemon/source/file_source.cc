#include "source/file_source.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

namespace chipwatch {

namespace {

constexpr size_t kMinBuffer = 64 << 10;
constexpr size_t kReadChunk = 1 << 20;
// Longest single wait, so that an absurd time-out cannot overflow the clock arithmetic.
constexpr std::chrono::hours kMaxTimeout{24};

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::string ErrnoText(int err) { return std::strerror(err); }

void Drain(int fd) {
  alignas(struct inotify_event) char buf[4096];
  while (::read(fd, buf, sizeof(buf)) > 0) {
  }
}

}  // namespace

FileFollower::FileFollower(const FileSourceConfig& config, size_t max_line_bytes,
                           FileFollowerOptions options)
    : path_(config.path.path),
      format_(config.format),
      follow_(config.follow),
      start_at_end_(config.start_at == StartAt::kEnd),
      max_line_(std::max<size_t>(max_line_bytes, 1)),
      options_(std::move(options)) {
  cap_ = std::min(kMinBuffer, max_line_ + 1);
  buf_ = std::make_unique<char[]>(cap_ + kLinePadding);
  std::memset(buf_.get() + cap_, 0, kLinePadding);
}

FileFollower::~FileFollower() {
  CloseFile();
  if (wake_fd_ >= 0) ::close(wake_fd_);
  if (inotify_fd_ >= 0) ::close(inotify_fd_);
}

Result<std::unique_ptr<FileFollower>> FileFollower::Open(const FileSourceConfig& config,
                                                         size_t max_line_bytes,
                                                         FileFollowerOptions options) {
  if (config.path.path.empty()) return Status::InvalidArgument("file source: empty path");
  std::unique_ptr<FileFollower> f(new FileFollower(config, max_line_bytes, std::move(options)));
  f->wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (f->wake_fd_ < 0) return Status::IoError("eventfd: " + ErrnoText(errno));
  if (f->follow_) {
    // Watching the directory covers appends, creation, renames and deletion of the file; without
    // inotify (or when the directory is missing) the poll interval alone drives the re-checks.
    f->inotify_fd_ = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (f->inotify_fd_ >= 0) {
      const size_t slash = f->path_.rfind('/');
      const std::string dir = slash == std::string::npos ? "."
                              : slash == 0               ? "/"
                                                         : f->path_.substr(0, slash);
      const uint32_t mask = IN_MODIFY | IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE |
                            IN_CLOSE_WRITE | IN_ATTRIB;
      if (::inotify_add_watch(f->inotify_fd_, dir.c_str(), mask) < 0) {
        ::close(f->inotify_fd_);
        f->inotify_fd_ = -1;
      }
    }
  }
  Status s = f->OpenFile(/*at_start=*/true);
  f->start_at_end_ = false;
  if (!s.ok() && (!f->follow_ || s.code() != Status::Code::kNotFound)) return s;
  return f;
}

Status FileFollower::OpenFile(bool at_start) {
  const int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    std::string message = path_ + ": cannot open: " + ErrnoText(err);
    return err == ENOENT ? Status::NotFound(std::move(message))
                         : Status::IoError(std::move(message));
  }
  struct stat st;
  if (::fstat(fd, &st) != 0 || S_ISDIR(st.st_mode)) {
    ::close(fd);
    return Status::IoError(path_ + ": not a readable file");
  }
  CloseFile();
  fd_ = fd;
  dev_ = st.st_dev;
  ino_ = st.st_ino;
  ++generation_;
  file_pos_ = 0;
  line_ = 1;
  begin_ = end_ = 0;
  skipping_ = false;
  if (at_start && options_.resume) {
    const FilePosition& r = *options_.resume;
    const uint64_t size = static_cast<uint64_t>(st.st_size);
    if (r.dev != static_cast<uint64_t>(st.st_dev) || r.inode != static_cast<uint64_t>(st.st_ino)) {
      Notice("the checkpoint is for another file (inode " + std::to_string(r.inode) + ", now " +
             std::to_string(ino_) +
             "): it was rotated or replaced while it was not read; reading it from its beginning");
    } else if (S_ISREG(st.st_mode) && size < r.offset) {
      Notice("shorter (" + std::to_string(size) + " bytes) than the checkpoint (" +
             std::to_string(r.offset) + " bytes): it was truncated; reading it from its beginning");
    } else if (::lseek(fd_, static_cast<off_t>(r.offset), SEEK_SET) < 0) {
      Notice("cannot seek to the checkpoint (" + std::to_string(r.offset) +
             " bytes): " + ErrnoText(errno) + "; reading it from its beginning");
    } else {
      file_pos_ = r.offset;
      line_ = r.line;
      Notice("resuming at line " + std::to_string(r.line) + " (byte " + std::to_string(r.offset) +
             ") from the checkpoint");
    }
    return Status::Ok();
  }
  if (at_start && start_at_end_ && S_ISREG(st.st_mode) && st.st_size > 0) {
    // Start after the last complete line; the line being written belongs to the past.
    char last = '\n';
    if (::pread(fd_, &last, 1, st.st_size - 1) == 1 && last != '\n') skipping_ = true;
    if (::lseek(fd_, st.st_size, SEEK_SET) >= 0) {
      file_pos_ = static_cast<uint64_t>(st.st_size);
    } else {
      skipping_ = false;
    }
    // An unfinished line at the end: the skip counts as its newline, so the next line is 1.
    if (skipping_) line_ = 0;
  }
  return Status::Ok();
}

void FileFollower::CloseFile() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

bool FileFollower::TryOpen() {
  Status s = OpenFile(/*at_start=*/false);
  if (s.ok()) {
    last_open_error_.clear();
    return true;
  }
  // Missing is the normal state while waiting; anything else is worth one notice per change.
  if (s.code() != Status::Code::kNotFound && s.message() != last_open_error_) {
    Notice(s.message() + "; will keep trying");
    last_open_error_ = s.message();
  }
  return false;
}

FileFollower::ReadResult FileFollower::Read() {
  if (skipping_) begin_ = end_;  // the rest of a dropped line need not be kept
  if (begin_ > 0) {
    std::memmove(buf_.get(), buf_.get() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }
  if (end_ == cap_) {
    // TakeLine reports a line as too long once it exceeds the limit, so the buffer never needs to
    // hold more than the limit plus its newline.
    const size_t new_cap = std::min(cap_ * 2, std::max(max_line_ + 1, kMinBuffer));
    auto bigger = std::make_unique<char[]>(new_cap + kLinePadding);
    std::memcpy(bigger.get(), buf_.get(), end_);
    std::memset(bigger.get() + new_cap, 0, kLinePadding);
    buf_ = std::move(bigger);
    cap_ = new_cap;
  }
  const size_t want = std::min(cap_ - end_, kReadChunk);
  for (;;) {
    const ssize_t n = ::read(fd_, buf_.get() + end_, want);
    if (n > 0) {
      end_ += static_cast<size_t>(n);
      file_pos_ += static_cast<uint64_t>(n);
      return ReadResult::kData;
    }
    if (n == 0) return ReadResult::kEof;
    if (errno == EINTR) continue;
    status_ = Status::IoError(path_ + ": read failed: " + ErrnoText(errno));
    Notice(status_.message());
    return ReadResult::kError;
  }
}

void FileFollower::SetPositions(Line& out, uint64_t number, uint64_t offset, uint64_t next_offset,
                                uint64_t next_line) {
  out.line = number;
  out.offset = offset;
  out.generation = generation_;
  out.inode = ino_;
  out.next = FilePosition{dev_, ino_, next_offset, next_line};
}

void FileFollower::Emit(Line& out, size_t begin, size_t end, uint64_t number, uint64_t offset,
                        uint64_t next_offset) {
  SetPositions(out, number, offset, next_offset, number + 1);
  while (begin < end && IsSpace(buf_[begin])) ++begin;
  while (end > begin && IsSpace(buf_[end - 1])) --end;
  out.text = std::string_view(buf_.get() + begin, end - begin);
  out.capacity = cap_ + kLinePadding - begin;
  out.error.clear();
}

// `next_*`: where the next line starts. Until an overlong line's newline is read, that is not
// known: the caller passes the line itself (a restart from there reports it again).
void FileFollower::EmitTooLong(Line& out, uint64_t number, uint64_t offset, uint64_t next_offset,
                               uint64_t next_line) {
  SetPositions(out, number, offset, next_offset, next_line);
  out.text = {};
  out.capacity = 0;
  out.error =
      "line exceeds the " + std::to_string(max_line_) + "-byte limit; skipped to the next line";
}

bool FileFollower::TakeLine(Line& out) {
  while (begin_ < end_) {
    const char* start = buf_.get() + begin_;
    const char* nl = static_cast<const char*>(std::memchr(start, '\n', end_ - begin_));
    if (skipping_) {
      if (nl == nullptr) {
        begin_ = end_;
        return false;
      }
      begin_ = static_cast<size_t>(nl - buf_.get()) + 1;
      ++line_;
      skipping_ = false;
      continue;
    }
    if (nl == nullptr) {
      if (end_ - begin_ <= max_line_) return false;  // wait for the rest
      EmitTooLong(out, line_, OffsetOf(begin_), OffsetOf(begin_), line_);
      skipping_ = true;
      begin_ = end_;
      return true;
    }
    const size_t line_begin = begin_;
    const size_t line_end = static_cast<size_t>(nl - buf_.get());
    const uint64_t number = line_++;
    const uint64_t offset = OffsetOf(line_begin);
    begin_ = line_end + 1;
    if (line_end - line_begin > max_line_) {
      EmitTooLong(out, number, offset, OffsetOf(begin_), number + 1);
      return true;
    }
    Emit(out, line_begin, line_end, number, offset, OffsetOf(begin_));
    if (!out.text.empty()) return true;  // else a blank line: skip it
  }
  return false;
}

bool FileFollower::TakeFinal(Line& out) {
  if (skipping_) {
    begin_ = end_;
    skipping_ = false;
    return false;
  }
  if (begin_ == end_) return false;
  const size_t line_begin = begin_;
  const uint64_t number = line_++;
  const uint64_t offset = OffsetOf(line_begin);
  begin_ = end_;
  Emit(out, line_begin, end_, number, offset, OffsetOf(end_));
  return !out.text.empty();
}

FileFollower::FileState FileFollower::Check() {
  struct stat st;
  if (::stat(path_.c_str(), &st) != 0) return FileState::kGone;
  if (static_cast<uint64_t>(st.st_dev) != dev_ || static_cast<uint64_t>(st.st_ino) != ino_) {
    return FileState::kRotated;
  }
  if (S_ISREG(st.st_mode) && static_cast<uint64_t>(st.st_size) < file_pos_) {
    return FileState::kTruncated;
  }
  return FileState::kSame;
}

bool FileFollower::Wait(std::chrono::steady_clock::time_point deadline) {
  const auto now = std::chrono::steady_clock::now();
  if (now >= deadline) return false;
  auto wait = std::chrono::ceil<std::chrono::milliseconds>(deadline - now);
  if (follow_)
    wait = std::min(wait, std::max(options_.poll_interval, std::chrono::milliseconds(1)));
  struct pollfd fds[2] = {{wake_fd_, POLLIN, 0}, {inotify_fd_, POLLIN, 0}};
  const int r = ::poll(fds, inotify_fd_ >= 0 ? 2 : 1, static_cast<int>(wait.count()));
  if (r <= 0) return true;  // time-out (the caller re-checks) or EINTR
  if (inotify_fd_ >= 0 && (fds[1].revents & POLLIN)) Drain(inotify_fd_);
  if (fds[0].revents & POLLIN) {
    Drain(wake_fd_);
    return false;
  }
  return true;
}

void FileFollower::Wake() {
  const uint64_t one = 1;
  // Cannot fail short of a counter overflow, which still leaves the eventfd readable.
  [[maybe_unused]] ssize_t n = ::write(wake_fd_, &one, sizeof(one));
}

void FileFollower::Notice(std::string_view message) {
  // Messages shared with status() start with the path; the owner of a notice knows it already.
  if (message.starts_with(path_ + ": ")) message.remove_prefix(path_.size() + 2);
  if (options_.on_notice) options_.on_notice(std::string(message));
}

bool FileFollower::Next(Line& out, std::chrono::milliseconds timeout) {
  out.error.clear();
  if (done_) return false;
  const auto deadline =
      std::chrono::steady_clock::now() +
      std::clamp<std::chrono::milliseconds>(timeout, std::chrono::milliseconds(0), kMaxTimeout);
  for (;;) {
    if (fd_ >= 0) {
      if (TakeLine(out)) return true;
      const ReadResult r = Read();
      if (r == ReadResult::kData) continue;
      if (r == ReadResult::kError) {
        done_ = true;
        return false;
      }
      if (!follow_) {
        if (TakeFinal(out)) return true;
        done_ = true;
        return false;
      }
      switch (Check()) {
        case FileState::kRotated:
          // The old file is read to its end: its unfinished last line is complete now.
          if (TakeFinal(out)) return true;
          {
            const uint64_t old_ino = ino_;
            const uint64_t lines = line_ - 1;
            if (TryOpen()) {
              Notice("rotated; " + std::to_string(lines) +
                     " lines read from the previous file (inode " + std::to_string(old_ino) +
                     "), reading the new one (inode " + std::to_string(ino_) +
                     ") from its beginning");
              continue;
            }
          }
          break;
        case FileState::kTruncated: {
          std::string message = "truncated (now shorter than the " + std::to_string(file_pos_) +
                                " bytes read); reading it again " + "from its beginning";
          if (begin_ < end_ && !skipping_) {
            message +=
                "; dropped an unfinished line of " + std::to_string(end_ - begin_) + " bytes";
          }
          Notice(message);
          CloseFile();
          TryOpen();
          continue;
        }
        case FileState::kSame:
        case FileState::kGone:
          break;
      }
    } else if (TryOpen()) {
      continue;
    }
    if (!Wait(deadline)) return false;
  }
}

}  // namespace chipwatch
