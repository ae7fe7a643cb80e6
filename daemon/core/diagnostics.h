// Diagnostics: load-time problems (rules, catalogs, config) collected, not thrown one at a time.
//
// Every diagnostic has a severity, a short stable code, a message and a file:line:col position so
// that `chipwatch check` can print all of them at once. Not thread-safe.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "core/diagnostic_codes.h"

namespace chipwatch {

struct SourcePos {
  std::string file;
  int line = 0;                  // 1-based; 0 when unknown
  int column = 0;                // 1-based; 0 when unknown
  std::string ToString() const;  // "file:line:col"
};

struct Diagnostic {
  enum class Level { kError, kWarning };
  Level level = Level::kError;
  std::string code;     // a DiagCode's name: "unknown-field", "yaml-syntax", "duplicate-rule-id"
  std::string message;  // one line, says what is wrong and, where it helps, what was expected
  SourcePos pos;
  std::string ToString() const;  // "file:line:col: error: message [code]"
  std::string ToJson() const;
};

class Diagnostics {
 public:
  void Error(SourcePos pos, std::string code, std::string message) {
    items_.push_back(
        {Diagnostic::Level::kError, std::move(code), std::move(message), std::move(pos)});
    ++errors_;
  }
  void Warning(SourcePos pos, std::string code, std::string message) {
    items_.push_back(
        {Diagnostic::Level::kWarning, std::move(code), std::move(message), std::move(pos)});
  }
  // The same with a code from the table (core/diagnostic_codes.h).
  void Error(SourcePos pos, DiagCode code, std::string message) {
    Error(std::move(pos), CodeString(code), std::move(message));
  }
  void Warning(SourcePos pos, DiagCode code, std::string message) {
    Warning(std::move(pos), CodeString(code), std::move(message));
  }
  bool has_errors() const { return errors_ > 0; }
  size_t error_count() const { return errors_; }
  size_t warning_count() const { return items_.size() - errors_; }
  const std::vector<Diagnostic>& items() const { return items_; }
  void Append(const Diagnostics& other) {
    for (const auto& d : other.items_) items_.push_back(d);
    errors_ += other.errors_;
  }

 private:
  std::vector<Diagnostic> items_;
  size_t errors_ = 0;
};

// "a, b, c": the allowed keys or values a diagnostic lists.
std::string JoinNames(std::initializer_list<std::string_view> names);

// Escapes `s` as the contents of a JSON string (no surrounding quotes), replacing invalid UTF-8
// with U+FFFD. Appends to `out`.
void AppendJsonEscaped(std::string& out, std::string_view s);

}  // namespace chipwatch
