// BracketScanner: finds where a top-level JSON value ends, across buffer refills.
//
// String-aware (brackets inside strings and escaped quotes are skipped) and resumable: feed it
// consecutive byte ranges and it keeps its state between calls. It does not validate JSON; it only
// frames values so a parser can report what is wrong with them. Plain value type, not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>

namespace chipwatch {

class BracketScanner {
 public:
  // Scans data[pos, end). Returns true when the value closed; `pos` is then one past its last
  // byte. Otherwise `pos` == end. Newlines seen are added to `newlines`.
  bool Feed(const char* data, size_t& pos, size_t end, uint64_t& newlines) {
    for (; pos < end; ++pos) {
      const char c = data[pos];
      if (c == '\n') ++newlines;
      if (in_string_) {
        if (escaped_) {
          escaped_ = false;
        } else if (c == '\\') {
          escaped_ = true;
        } else if (c == '"') {
          in_string_ = false;
        }
        continue;
      }
      if (c == '"') {
        in_string_ = true;
      } else if (c == '{' || c == '[') {
        ++depth_;
      } else if ((c == '}' || c == ']') && --depth_ == 0) {
        ++pos;
        return true;
      }
    }
    return false;
  }

 private:
  int64_t depth_ = 0;
  bool in_string_ = false;
  bool escaped_ = false;
};

}  // namespace chipwatch
