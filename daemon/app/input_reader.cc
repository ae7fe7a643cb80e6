#include "app/input_reader.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace chipwatch {

namespace {
constexpr size_t kInitialBuffer = 1 << 20;
constexpr size_t kReadChunk = 1 << 20;

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
}  // namespace

InputReader::InputReader(int fd, bool owns_fd, size_t max_document_bytes)
    : fd_(fd), owns_fd_(owns_fd), max_document_bytes_(max_document_bytes) {
  cap_ = kInitialBuffer;
  buf_ = std::make_unique<char[]>(cap_ + kInputPadding);
  std::memset(buf_.get() + cap_, 0, kInputPadding);
}

InputReader::~InputReader() {
  if (owns_fd_ && fd_ >= 0) ::close(fd_);
}

Result<std::unique_ptr<InputReader>> InputReader::Open(const std::string& path,
                                                       size_t max_document_bytes) {
  if (path == "-") return std::make_unique<InputReader>(0, false, max_document_bytes);
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::IoError(path + ": cannot open: " + std::strerror(errno));
  return std::make_unique<InputReader>(fd, true, max_document_bytes);
}

void InputReader::Compact() {
  if (begin_ == 0) return;
  std::memmove(buf_.get(), buf_.get() + begin_, end_ - begin_);
  end_ -= begin_;
  begin_ = 0;
}

bool InputReader::EnsureCapacity(size_t bytes) {
  if (bytes <= cap_) return true;
  size_t new_cap = cap_;
  while (new_cap < bytes) new_cap *= 2;
  auto bigger = std::make_unique<char[]>(new_cap + kInputPadding);
  std::memcpy(bigger.get(), buf_.get() + begin_, end_ - begin_);
  std::memset(bigger.get() + new_cap, 0, kInputPadding);
  end_ -= begin_;
  begin_ = 0;
  buf_ = std::move(bigger);
  cap_ = new_cap;
  return true;
}

bool InputReader::Fill() {
  if (eof_) return false;
  Compact();
  if (end_ == cap_) EnsureCapacity(cap_ * 2);
  size_t want = cap_ - end_;
  if (want > kReadChunk) want = kReadChunk;
  for (;;) {
    ssize_t n = ::read(fd_, buf_.get() + end_, want);
    if (n > 0) {
      end_ += static_cast<size_t>(n);
      bytes_read_ += static_cast<uint64_t>(n);
      return true;
    }
    if (n == 0) {
      eof_ = true;
      return false;
    }
    if (errno == EINTR) continue;
    status_ = Status::IoError(std::string("read failed: ") + std::strerror(errno));
    eof_ = true;
    return false;
  }
}

bool InputReader::Next(InputDocument& doc) {
  doc.error.clear();
  for (;;) {
    // Skip blank space between documents.
    while (begin_ < end_ && IsSpace(buf_[begin_])) {
      if (buf_[begin_] == '\n') ++line_;
      ++begin_;
    }
    if (begin_ == end_) {
      if (!Fill()) return false;
      continue;
    }

    const char first = buf_[begin_];
    const bool opens = first == '{' || first == '[';
    // Find the end of the current line; read more until we have it, or the line is too long.
    const char* start = buf_.get() + begin_;
    const char* nl = static_cast<const char*>(std::memchr(start, '\n', end_ - begin_));
    if (nl == nullptr && !eof_) {
      if (end_ - begin_ > max_document_bytes_) {
        // Too long a line: report it, then drop bytes up to its newline.
        doc.text = {};
        doc.capacity = 0;
        doc.line = line_;
        doc.error = "document exceeds the " + std::to_string(max_document_bytes_) +
                    "-byte limit; skipped to the next line";
        for (;;) {
          const char* p =
              static_cast<const char*>(std::memchr(buf_.get() + begin_, '\n', end_ - begin_));
          if (p != nullptr) {
            begin_ = static_cast<size_t>(p - buf_.get()) + 1;
            ++line_;
            break;
          }
          begin_ = end_;
          if (!Fill()) break;
        }
        return true;
      }
      Fill();
      continue;
    }
    const size_t line_end = nl ? static_cast<size_t>(nl - buf_.get()) : end_;
    size_t trimmed = line_end;
    while (trimmed > begin_ && IsSpace(buf_[trimmed - 1])) --trimmed;
    const char last = buf_[trimmed - 1];
    const bool one_line = !opens || (first == '{' && last == '}') || (first == '[' && last == ']');
    if (one_line || mode_ == Mode::kLines) {
      if (mode_ == Mode::kUnknown && opens) mode_ = Mode::kLines;
      doc.text = std::string_view(buf_.get() + begin_, trimmed - begin_);
      doc.capacity = cap_ + kInputPadding - begin_;
      doc.line = line_;
      begin_ = nl ? line_end + 1 : end_;
      if (nl) ++line_;
      return true;
    }

    // A value spanning lines: scan brackets outside strings until it closes.
    mode_ = Mode::kMultiLine;
    size_t pos = begin_;
    int depth = 0;
    bool in_string = false, escaped = false;
    uint64_t newlines = 0;
    for (;;) {
      bool closed = false;
      for (; pos < end_; ++pos) {
        const char c = buf_[pos];
        if (c == '\n') ++newlines;
        if (in_string) {
          if (escaped) {
            escaped = false;
          } else if (c == '\\') {
            escaped = true;
          } else if (c == '"') {
            in_string = false;
          }
          continue;
        }
        if (c == '"') {
          in_string = true;
        } else if (c == '{' || c == '[') {
          ++depth;
        } else if (c == '}' || c == ']') {
          if (--depth == 0) {
            ++pos;
            closed = true;
            break;
          }
        }
      }
      if (closed || eof_) break;
      if (pos - begin_ > max_document_bytes_) {
        doc.text = {};
        doc.capacity = 0;
        doc.line = line_;
        doc.error = "document exceeds the " + std::to_string(max_document_bytes_) +
                    "-byte limit; skipped it";
        // Keep scanning (discarding) until the value closes.
        line_ += newlines;
        newlines = 0;
        begin_ = pos;
        while (!closed) {
          if (!Fill()) break;
          pos = begin_;
          for (; pos < end_; ++pos) {
            const char c = buf_[pos];
            if (c == '\n') ++line_;
            if (in_string) {
              if (escaped)
                escaped = false;
              else if (c == '\\')
                escaped = true;
              else if (c == '"')
                in_string = false;
              continue;
            }
            if (c == '"')
              in_string = true;
            else if (c == '{' || c == '[')
              ++depth;
            else if ((c == '}' || c == ']') && --depth == 0) {
              ++pos;
              closed = true;
              break;
            }
          }
          begin_ = pos;
        }
        return true;
      }
      // Need more bytes: keep the scan position relative to the document start.
      const size_t scanned = pos - begin_;
      Compact();
      if (end_ == cap_) EnsureCapacity(cap_ * 2);
      Fill();
      pos = begin_ + scanned;
    }
    doc.text = std::string_view(buf_.get() + begin_, pos - begin_);
    doc.capacity = cap_ + kInputPadding - begin_;
    doc.line = line_;
    line_ += newlines;
    begin_ = pos;
    return true;
  }
}

}  // namespace chipwatch
