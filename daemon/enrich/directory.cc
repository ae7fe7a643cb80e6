#include "enrich/directory.h"

#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <vector>

#include "core/ascii.h"
#include "enrich/country_code.h"

namespace chipwatch {

namespace {

bool IsBlank(char c) { return c == ' ' || c == '\t'; }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (IsBlank(s.front()) || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (IsBlank(s.back()) || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// An RFC 4180 reader over the whole text that tracks line numbers.
class CsvReader {
 public:
  explicit CsvReader(std::string_view text) : text_(text) {
    if (text_.substr(0, 3) == "\xEF\xBB\xBF") pos_ = 3;  // UTF-8 byte order mark
  }

  // Skips blank lines and `#` comment lines. Returns false at the end of the text.
  bool NextRecordStart() {
    while (pos_ < text_.size()) {
      size_t end = text_.find('\n', pos_);
      if (end == std::string_view::npos) end = text_.size();
      std::string_view line = Trim(text_.substr(pos_, end - pos_));
      if (!line.empty() && line.front() != '#') return true;
      pos_ = end + 1;
      ++line_;
    }
    return false;
  }

  int line() const { return line_; }

  // Reads one record into `fields`. On a syntax error returns the message (and the line it is
  // on), having skipped to the next line so that reading can go on.
  std::optional<std::pair<int, std::string>> ReadRecord(std::vector<std::string>& fields) {
    fields.clear();
    while (true) {
      std::string& field = fields.emplace_back();
      while (pos_ < text_.size() && IsBlank(text_[pos_])) ++pos_;
      if (pos_ < text_.size() && text_[pos_] == '"') {
        const int start_line = line_;
        ++pos_;
        bool closed = false;
        while (pos_ < text_.size()) {
          char c = text_[pos_++];
          if (c == '"') {
            if (pos_ < text_.size() && text_[pos_] == '"') {
              field.push_back('"');
              ++pos_;
              continue;
            }
            closed = true;
            break;
          }
          if (c == '\n') ++line_;
          field.push_back(c);
        }
        if (!closed) {
          return std::make_pair(start_line, std::string("unterminated quoted field"));
        }
        while (pos_ < text_.size() && (IsBlank(text_[pos_]) || text_[pos_] == '\r')) ++pos_;
        if (pos_ < text_.size() && text_[pos_] != ',' && text_[pos_] != '\n') {
          return SkipLine("unexpected character '" + std::string(1, text_[pos_]) +
                          "' after a closing quote");
        }
      } else {
        size_t start = pos_;
        while (pos_ < text_.size() && text_[pos_] != ',' && text_[pos_] != '\n') {
          if (text_[pos_] == '"') {
            return SkipLine("quote inside an unquoted field (quote the whole field)");
          }
          ++pos_;
        }
        field = Trim(text_.substr(start, pos_ - start));
      }
      if (pos_ >= text_.size()) return std::nullopt;
      if (text_[pos_++] == '\n') {
        ++line_;
        return std::nullopt;
      }
      // A ',': another field follows.
    }
  }

 private:
  std::optional<std::pair<int, std::string>> SkipLine(std::string message) {
    int line = line_;
    size_t end = text_.find('\n', pos_);
    if (end == std::string_view::npos) {
      pos_ = text_.size();
    } else {
      pos_ = end + 1;
      ++line_;
    }
    return std::make_pair(line, std::move(message));
  }

  std::string_view text_;
  size_t pos_ = 0;
  int line_ = 1;
};

// Columns 0..3 are required; the others are optional (a four-column file from before the ownership
// columns keeps working).
constexpr std::array<std::string_view, 6> kColumns = {"tenant",     "org",        "country",
                                                      "kyc_status", "parent_org", "parent_country"};
constexpr size_t kRequiredColumns = 4;
constexpr size_t kParentOrg = 4, kParentCountry = 5;

// An ISO alpha-2 code (upper-cased, interned) or empty; false when `value` is neither.
bool NormalizeCountry(std::string& value) {
  if (value.empty()) return true;
  std::string_view code = enrich_internal::InternCountryCode(value);
  if (code.empty()) return false;
  value = code;
  return true;
}

// The field index of each of kColumns in the header row, -1 when it has no such column.
using ColumnMap = std::array<int, kColumns.size()>;

// Maps the header's fields to columns; false after reporting a column named twice.
bool MapColumns(const std::vector<std::string>& fields, ColumnMap& column, const SourcePos& pos,
                Diagnostics& diags) {
  column.fill(-1);
  for (size_t i = 0; i < fields.size(); ++i) {
    std::string key = AsciiLowered(fields[i]);
    for (size_t c = 0; c < kColumns.size(); ++c) {
      if (key != kColumns[c]) continue;
      if (column[c] >= 0) {
        diags.Error(pos, DiagCode::kDirectoryHeader,
                    "column '" + key + "' appears twice in the header");
        return false;
      }
      column[c] = static_cast<int>(i);
    }
  }
  return true;
}

// Reads the header, the first record that is not blank or a comment, into `fields`; its columns,
// or nullopt after reporting why it is not usable.
std::optional<ColumnMap> ReadHeader(CsvReader& reader, std::vector<std::string>& fields,
                                    const std::string& name, Diagnostics& diags) {
  if (!reader.NextRecordStart()) {
    diags.Error(SourcePos{name, 0, 0}, DiagCode::kDirectoryHeader,
                "empty directory file: expected a header row 'tenant,org,country,kyc_status'");
    return std::nullopt;
  }
  const SourcePos header_pos{name, reader.line(), 0};
  if (auto error = reader.ReadRecord(fields)) {
    diags.Error(SourcePos{name, error->first, 0}, DiagCode::kCsvSyntax,
                "header row: " + error->second);
    return std::nullopt;
  }
  ColumnMap column;
  if (!MapColumns(fields, column, header_pos, diags)) return std::nullopt;
  std::string missing;
  for (size_t c = 0; c < kRequiredColumns; ++c) {
    if (column[c] >= 0) continue;
    if (!missing.empty()) missing += ", ";
    missing += kColumns[c];
  }
  if (!missing.empty()) {
    diags.Error(header_pos, DiagCode::kDirectoryHeader,
                "header row lacks column(s) " + missing +
                    " (expected tenant,org,country,kyc_status in any order, optionally "
                    "parent_org,parent_country)");
    return std::nullopt;
  }
  return column;
}

// The entry of one row of `width` fields at `line`, or nullopt after reporting why it is bad.
std::optional<DirectoryEntry> ReadEntry(const std::vector<std::string>& fields,
                                        const ColumnMap& column, size_t width,
                                        const std::string& name, int line, Diagnostics& diags) {
  auto at = [&] { return SourcePos{name, line, 0}; };  // built only for an error
  if (fields.size() != width) {
    diags.Error(at(), DiagCode::kDirectoryRow,
                "row has " + std::to_string(fields.size()) + " field(s), the header has " +
                    std::to_string(width));
    return std::nullopt;
  }
  DirectoryEntry entry;
  entry.tenant = fields[column[0]];
  entry.org = fields[column[1]];
  entry.country = fields[column[2]];
  entry.kyc_status = AsciiLowered(fields[column[3]]);
  if (column[kParentOrg] >= 0) entry.parent_org = fields[column[kParentOrg]];
  if (column[kParentCountry] >= 0) entry.parent_country = fields[column[kParentCountry]];
  if (entry.tenant.empty()) {
    diags.Error(at(), DiagCode::kDirectoryRow, "empty tenant");
    return std::nullopt;
  }
  if (!NormalizeCountry(entry.country)) {
    diags.Error(at(), DiagCode::kDirectoryRow,
                "country '" + entry.country + "' of tenant '" + entry.tenant +
                    "' is not an ISO 3166 alpha-2 code (e.g. CN)");
    return std::nullopt;
  }
  if (!NormalizeCountry(entry.parent_country)) {
    diags.Error(at(), DiagCode::kDirectoryRow,
                "parent_country '" + entry.parent_country + "' of tenant '" + entry.tenant +
                    "' is not an ISO 3166 alpha-2 code (e.g. CN)");
    return std::nullopt;
  }
  return entry;
}

}  // namespace

std::unique_ptr<Directory> Directory::Load(const std::string& path, Diagnostics& diags) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    int err = errno;
    diags.Error(SourcePos{path, 0, 0}, DiagCode::kDirectoryIo,
                std::string("cannot read the directory file: ") +
                    (err != 0 ? std::strerror(err) : "open failed"));
    return nullptr;
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    diags.Error(SourcePos{path, 0, 0}, DiagCode::kDirectoryIo, "error reading the directory file");
    return nullptr;
  }
  return LoadFromString(text.str(), path, diags);
}

std::unique_ptr<Directory> Directory::LoadFromString(std::string_view csv, const std::string& name,
                                                     Diagnostics& diags) {
  CsvReader reader(csv);
  std::vector<std::string> fields;
  const std::optional<ColumnMap> column = ReadHeader(reader, fields, name, diags);
  if (!column) return nullptr;
  const size_t width = fields.size();

  std::unique_ptr<Directory> directory(new Directory());
  StringMap<int> first_line;
  while (reader.NextRecordStart()) {
    const int line = reader.line();
    if (auto error = reader.ReadRecord(fields)) {
      diags.Error(SourcePos{name, error->first, 0}, DiagCode::kCsvSyntax, error->second);
      continue;
    }
    std::optional<DirectoryEntry> entry = ReadEntry(fields, *column, width, name, line, diags);
    if (!entry) continue;
    auto [it, inserted] = first_line.emplace(entry->tenant, line);
    if (!inserted) {
      diags.Error(SourcePos{name, line, 0}, DiagCode::kDirectoryDuplicate,
                  "tenant '" + entry->tenant + "' is already defined at " + name + ":" +
                      std::to_string(it->second) + " (the first entry is kept)");
      continue;
    }
    std::string key = entry->tenant;
    directory->entries_.emplace(std::move(key), std::move(*entry));
  }
  return directory;
}

const DirectoryEntry* Directory::Find(std::string_view key) const {
  auto it = entries_.find(key);
  return it == entries_.end() ? nullptr : &it->second;
}

}  // namespace chipwatch
