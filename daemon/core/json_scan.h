// JsonStringState: which bytes of JSON text are inside strings (brackets, commas and quotes there
// are not structure). BracketScanner: finds where a top-level JSON value ends, across buffer
// refills, on top of it.
//
// String-aware (brackets inside strings and escaped quotes are skipped) and resumable: feed it
// consecutive byte ranges and it keeps its state between calls. It does not validate JSON; it only
// frames values so a parser can report what is wrong with them. Plain value type, not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>

namespace chipwatch {

class JsonStringState {
 public:
  // Feed every byte in order. True when `c` is outside any string and is not a quote.
  bool Outside(char c) {
    if (in_string_) {
      if (escaped_) {
        escaped_ = false;
      } else if (c == '\\') {
        escaped_ = true;
      } else if (c == '"') {
        in_string_ = false;
      }
      return false;
    }
    if (c == '"') {
      in_string_ = true;
      return false;
    }
    return true;
  }
  bool in_string() const { return in_string_; }

 private:
  bool in_string_ = false;
  bool escaped_ = false;
};

class BracketScanner {
 public:
  // Scans data[pos, end). Returns true when the value closed; `pos` is then one past its last
  // byte. Otherwise `pos` == end. Newlines seen are added to `newlines`.
  bool Feed(const char* data, size_t& pos, size_t end, uint64_t& newlines) {
    for (; pos < end; ++pos) {
      const char c = data[pos];
      if (c == '\n') ++newlines;
      if (!strings_.Outside(c)) continue;
      if (c == '{' || c == '[') {
        ++depth_;
      } else if ((c == '}' || c == ']') && --depth_ == 0) {
        ++pos;
        return true;
      }
    }
    return false;
  }

  enum class Stop { kClosed, kLineBreak, kEnd };
  // As Feed, but also stops right after each line break inside the value (kLineBreak: `pos` is
  // one past the '\n'), so that the caller can check that the value may go on there.
  Stop FeedToLineBreak(const char* data, size_t& pos, size_t end, uint64_t& newlines) {
    for (; pos < end; ++pos) {
      const char c = data[pos];
      const bool outside = strings_.Outside(c);
      if (c == '\n') {
        ++newlines;
        ++pos;
        return Stop::kLineBreak;
      }
      if (!outside) continue;
      if (c == '{' || c == '[') {
        ++depth_;
      } else if ((c == '}' || c == ']') && --depth_ == 0) {
        ++pos;
        return Stop::kClosed;
      }
    }
    return Stop::kEnd;
  }
  // True when the bytes fed so far end inside a string.
  bool in_string() const { return strings_.in_string(); }

 private:
  int64_t depth_ = 0;
  JsonStringState strings_;
};

}  // namespace chipwatch
