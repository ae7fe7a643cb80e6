#include "engine/input_reader.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/json_scan.h"

namespace chipwatch {

namespace {
constexpr size_t kInitialBuffer = 1 << 20;
constexpr size_t kReadChunk = 1 << 20;
// Mapped input: pages behind the reader are dropped in 4 MB steps.
constexpr size_t kReleaseStep = 4 << 20;

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

struct Compression {
  std::string_view magic;
  const char* name;
  const char* tool;
};

// The compression format whose magic number `head` starts with, or null.
const Compression* CompressionOf(std::string_view head) {
  static constexpr Compression kFormats[] = {{"\x1f\x8b", "gzip", "zcat"},
                                             {"\x28\xb5\x2f\xfd", "zstd", "zstdcat"},
                                             {"\xfd\x37\x7a\x58\x5a\x00", "xz", "xzcat"}};
  for (const auto& f : kFormats) {
    if (head.starts_with(f.magic)) return &f;
  }
  // "BZh" could start a (non-JSON) text line; bzip2 follows it with the block size, '1'..'9'.
  static constexpr Compression kBzip2{"BZh", "bzip2", "bzcat"};
  if (head.size() >= 4 && head.starts_with(kBzip2.magic) && head[3] >= '1' && head[3] <= '9') {
    return &kBzip2;
  }
  return nullptr;
}
}  // namespace

InputReader::InputReader(int fd, bool owns_fd, size_t max_document_bytes)
    : fd_(fd), owns_fd_(owns_fd), max_document_bytes_(max_document_bytes) {
  if (Map()) return;
  cap_ = kInitialBuffer;
  buf_ = std::make_unique<char[]>(cap_ + kInputPadding);
  data_ = buf_.get();
  std::memset(buf_.get() + cap_, 0, kInputPadding);
}

InputReader::InputReader(const char* data, size_t size, size_t readable, uint64_t first_line,
                         size_t max_document_bytes, bool json_lines)
    : fd_(-1), owns_fd_(false), max_document_bytes_(max_document_bytes) {
  data_ = const_cast<char*>(data);  // only read
  cap_ = readable - kInputPadding;
  end_ = size;
  eof_ = true;
  in_memory_ = true;
  line_ = first_line;
  mode_ = json_lines ? Mode::kLines : Mode::kUnknown;
  checked_start_ = true;  // a piece of a file, or a message: not a file's start
}

InputReader::~InputReader() {
  if (map_ != nullptr) ::munmap(map_, map_size_);
  if (owns_fd_ && fd_ >= 0) ::close(fd_);
}

bool InputReader::Map() {
  struct stat st;
  if (::fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size <= 0) return false;
  const size_t size = static_cast<size_t>(st.st_size);
  const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  const size_t total = (size + kInputPadding + page - 1) / page * page;
  // Zero pages first, then the file over their start: the padding after the file's last byte is
  // readable zeros whether or not it falls in the file's last page.
  void* base = ::mmap(nullptr, total, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (base == MAP_FAILED) return false;
  if (::mmap(base, size, PROT_READ, MAP_PRIVATE | MAP_FIXED, fd_, 0) == MAP_FAILED) {
    ::munmap(base, total);
    return false;
  }
  ::madvise(base, size, MADV_SEQUENTIAL);
  map_ = base;
  map_size_ = total;
  in_memory_ = true;
  data_ = static_cast<char*>(base);
  cap_ = size;
  end_ = size;
  eof_ = true;
  bytes_read_ = size;
  return true;
}

void InputReader::Release(const char* upto) {
  if (map_ == nullptr || upto < data_) return;
  const size_t offset = static_cast<size_t>(upto - data_);
  if (offset < released_ + kReleaseStep) return;
  ReleaseRange(data_ + released_, upto);
  released_ = offset;
}

void InputReader::ReleaseRange(const char* begin, const char* end) {
  static const uintptr_t page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  const uintptr_t first = (reinterpret_cast<uintptr_t>(begin) + page - 1) & ~(page - 1);
  const uintptr_t last = reinterpret_cast<uintptr_t>(end) & ~(page - 1);
  if (last > first) {
    ::madvise(reinterpret_cast<void*>(first), last - first, MADV_DONTNEED);
  }
}

bool InputReader::TooLarge(InputDocument& doc, size_t size, const char* skipped) {
  if (size <= max_document_bytes_) return false;
  doc.text = {};
  doc.capacity = 0;
  doc.line = line_;
  doc.error =
      "document exceeds the " + std::to_string(max_document_bytes_) + "-byte limit; " + skipped;
  return true;
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
  std::memmove(data_, data_ + begin_, end_ - begin_);
  end_ -= begin_;
  begin_ = 0;
}

bool InputReader::EnsureCapacity(size_t bytes) {
  if (bytes <= cap_) return true;
  size_t new_cap = cap_;
  while (new_cap < bytes) new_cap *= 2;
  auto bigger = std::make_unique<char[]>(new_cap + kInputPadding);
  std::memcpy(bigger.get(), data_ + begin_, end_ - begin_);
  std::memset(bigger.get() + new_cap, 0, kInputPadding);
  end_ -= begin_;
  begin_ = 0;
  buf_ = std::move(bigger);
  data_ = buf_.get();
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
    ssize_t n = ::read(fd_, data_ + end_, want);
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

InputReader::Cut InputReader::CutsValue(size_t pos) const {
  // The line starting at pos: a complete object on its own?
  if (pos >= end_) return eof_ ? Cut::kNo : Cut::kNeedMore;
  if (data_[pos] != '{') return Cut::kNo;
  const char* nl = static_cast<const char*>(std::memchr(data_ + pos, '\n', end_ - pos));
  if (nl == nullptr && !eof_) {
    return end_ - pos > max_document_bytes_ ? Cut::kNo : Cut::kNeedMore;
  }
  const size_t line_end = nl ? static_cast<size_t>(nl - data_) : end_;
  size_t trimmed = line_end;
  while (trimmed > pos && IsSpace(data_[trimmed - 1])) --trimmed;
  if (data_[trimmed - 1] != '}') return Cut::kNo;
  BracketScanner object;
  size_t p = pos;
  uint64_t newlines = 0;
  if (!object.Feed(data_, p, trimmed, newlines) || p != trimmed) return Cut::kNo;
  // ... followed by another object or by the end of input, never by `,`, `]` or `}`?
  size_t next = line_end;
  while (next < end_ && IsSpace(data_[next])) ++next;
  if (next == end_) return eof_ ? Cut::kYes : Cut::kNeedMore;
  return data_[next] == '{' ? Cut::kYes : Cut::kNo;
}

bool InputReader::CheckNotCompressed() {
  checked_start_ = true;
  while (end_ - begin_ < 6 && Fill()) {
  }
  const Compression* format = CompressionOf(std::string_view(data_ + begin_, end_ - begin_));
  if (format == nullptr) return true;
  status_ = Status::InvalidArgument(std::string("the input is ") + format->name +
                                    "-compressed; chipwatch reads JSON text: decompress it first, "
                                    "for example `" +
                                    format->tool + " FILE | chipwatch replay -`");
  return false;
}

bool InputReader::Next(InputDocument& doc) {
  doc.error.clear();
  if (!checked_start_ && !CheckNotCompressed()) return false;
  for (;;) {
    if (!SkipBlank()) return false;
    const char first = data_[begin_];
    const bool opens = first == '{' || first == '[';
    // Find the end of the current line; read more until we have it, or the line is too long.
    const char* start = data_ + begin_;
    const char* nl = static_cast<const char*>(std::memchr(start, '\n', end_ - begin_));
    // A line above the limit that opens a value, unless the input is JSON Lines: the value may
    // close before the line ends (`{...},{...` on one long line), so the value scan below decides,
    // with its own limit, rather than the line's length. Decided on the length alone, which a pipe
    // knows before it has the line's end, so that a pipe frames the input as a file does.
    const bool may_scan = opens && mode_ != Mode::kLines;
    bool scan_long_value = false;
    if (nl == nullptr && !eof_) {
      if (end_ - begin_ > max_document_bytes_ && may_scan) {
        scan_long_value = true;
      } else if (end_ - begin_ > max_document_bytes_) {
        SkipLongLine(doc);
        return true;
      } else {
        Fill();
        continue;
      }
    }
    const size_t line_end = nl ? static_cast<size_t>(nl - data_) : end_;
    size_t trimmed = line_end;
    while (trimmed > begin_ && IsSpace(data_[trimmed - 1])) --trimmed;
    const char last = data_[trimmed - 1];
    const bool one_line = !opens || (first == '{' && last == '}') || (first == '[' && last == ']');
    if (may_scan && trimmed - begin_ > max_document_bytes_) scan_long_value = true;
    if (!scan_long_value && (one_line || mode_ == Mode::kLines)) {
      if (mode_ == Mode::kUnknown && opens) mode_ = Mode::kLines;
      TakeLine(doc, trimmed, line_end, nl != nullptr);
      return true;
    }
    ScanValue(doc);
    return true;
  }
}

bool InputReader::SkipBlank() {
  for (;;) {
    while (begin_ < end_ && IsSpace(data_[begin_])) {
      if (data_[begin_] == '\n') ++line_;
      ++begin_;
    }
    if (begin_ < end_) return true;
    if (!Fill()) return false;
  }
}

void InputReader::SkipLongLine(InputDocument& doc) {
  doc.text = {};
  doc.capacity = 0;
  doc.line = line_;
  doc.error = "document exceeds the " + std::to_string(max_document_bytes_) +
              "-byte limit; skipped to the next line";
  for (;;) {
    const char* p = static_cast<const char*>(std::memchr(data_ + begin_, '\n', end_ - begin_));
    if (p != nullptr) {
      begin_ = static_cast<size_t>(p - data_) + 1;
      ++line_;
      return;
    }
    begin_ = end_;
    if (!Fill()) return;
  }
}

void InputReader::TakeLine(InputDocument& doc, size_t trimmed, size_t line_end, bool has_nl) {
  // Checked for every input: a pipe's first read can hold a whole line above the limit.
  if (!TooLarge(doc, trimmed - begin_, "skipped to the next line")) {
    doc.text = std::string_view(data_ + begin_, trimmed - begin_);
    doc.capacity = cap_ + kInputPadding - begin_;
    doc.line = line_;
  }
  begin_ = has_nl ? line_end + 1 : end_;
  if (has_nl) ++line_;
}

// A value spanning lines: scan brackets outside strings until it closes, or until a line break
// where the value cannot go on (CutsValue): then it was cut short, and framing resumes on the next
// line.
void InputReader::ScanValue(InputDocument& doc) {
  const bool first_document = mode_ == Mode::kUnknown;
  mode_ = Mode::kMultiLine;
  size_t pos = begin_;
  BracketScanner scanner;
  uint64_t newlines = 0;
  bool cut = false;
  bool check_line = false;  // a line break at pos - 1 awaits CutsValue
  for (;;) {
    if (check_line) {
      const Cut c = scanner.in_string() ? Cut::kYes : CutsValue(pos);
      if (c == Cut::kYes) {
        cut = true;
        break;
      }
      check_line = c == Cut::kNeedMore;
    }
    if (!check_line) {
      const auto stop = scanner.FeedToLineBreak(data_, pos, end_, newlines);
      if (stop == BracketScanner::Stop::kClosed) break;
      if (stop == BracketScanner::Stop::kLineBreak) {
        check_line = true;
        continue;
      }
    }
    if (eof_) break;
    // Over the limit, unless a line break awaits more input to tell whether the value was cut
    // there (CutsValue bounds what it waits for): a mapped file would be cut there too.
    if (pos - begin_ > max_document_bytes_ && !check_line) {
      SkipLargeValue(doc, scanner, pos, newlines);
      return;
    }
    // Need more bytes: keep the scan position relative to the document start.
    const size_t scanned = pos - begin_;
    Compact();
    if (end_ == cap_) EnsureCapacity(cap_ * 2);
    Fill();
    pos = begin_ + scanned;
  }
  if (!cut) {
    HandOut(doc, pos, pos, newlines);
    return;
  }
  // The document is its lines up to the break (reported by the decoder as truncated). When it
  // was the input's first, the next document decides the framing mode afresh.
  size_t text_end = pos - 1;
  while (text_end > begin_ && IsSpace(data_[text_end - 1])) --text_end;
  HandOut(doc, text_end, pos, newlines);
  if (first_document) mode_ = Mode::kUnknown;
}

void InputReader::SkipLargeValue(InputDocument& doc, BracketScanner& scanner, size_t pos,
                                 uint64_t newlines) {
  doc.text = {};
  doc.capacity = 0;
  doc.line = line_;
  doc.error =
      "document exceeds the " + std::to_string(max_document_bytes_) + "-byte limit; skipped it";
  // Keep scanning (discarding) until the value closes.
  line_ += newlines;
  begin_ = pos;
  // The bytes already read after the scan position belong to the value too: scanned first
  // (else, at the end of the input, they were framed as a document of their own).
  for (;;) {
    pos = begin_;
    const bool closed = scanner.Feed(data_, pos, end_, line_);
    begin_ = pos;
    if (closed || !Fill()) break;
  }
}

void InputReader::HandOut(InputDocument& doc, size_t text_end, size_t next, uint64_t newlines) {
  if (!TooLarge(doc, text_end - begin_, "skipped it")) {
    doc.text = std::string_view(data_ + begin_, text_end - begin_);
    doc.capacity = cap_ + kInputPadding - begin_;
    doc.line = line_;
  }
  line_ += newlines;
  begin_ = next;
}

}  // namespace chipwatch
