// The table of diagnostic codes (core/diagnostic_codes.h) against the docs' tables of codes:
// docs/rules.md lists the rule packs' codes, docs/configuration.md the config's, each row a code
// and its meaning verbatim. Checked both ways: a code the loaders report is documented, a
// documented code exists.
#include "core/diagnostic_codes.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>

#include "core/diagnostics.h"

namespace chipwatch {
namespace {

// code -> meaning, from the rows of the "| code | meaning |" table in `doc`.
std::map<std::string, std::string> DocsTable(const std::string& doc) {
  std::ifstream in(std::string(CHIPWATCH_SOURCE_DIR) + "/" + doc);
  EXPECT_TRUE(in) << doc;
  std::map<std::string, std::string> rows;
  std::string line;
  bool in_table = false;
  while (std::getline(in, line)) {
    if (line == "| code | meaning |") {
      EXPECT_FALSE(in_table) << doc << ": two tables of codes";
      in_table = true;
      continue;
    }
    if (!in_table) continue;
    if (line.rfind("|---", 0) == 0) continue;
    if (line.rfind("| `", 0) != 0) break;  // the end of the table
    const size_t code_end = line.find("` | ", 3);
    if (code_end == std::string::npos || line.size() < code_end + 6 ||
        line.compare(line.size() - 2, 2, " |") != 0) {
      ADD_FAILURE() << doc << ": a row that is not | `code` | meaning |: " << line;
      continue;
    }
    const std::string code = line.substr(3, code_end - 3);
    const std::string meaning = line.substr(code_end + 4, line.size() - 2 - (code_end + 4));
    EXPECT_TRUE(rows.emplace(code, meaning).second) << doc << ": " << code << " listed twice";
  }
  EXPECT_FALSE(rows.empty()) << doc << " has no | code | meaning | table";
  return rows;
}

void ExpectDocsMatch(const std::string& doc, uint8_t scope) {
  std::map<std::string, std::string> docs = DocsTable(doc);
  for (const DiagCodeInfo& info : kDiagCodes) {
    if ((info.scopes & scope) == 0) continue;
    const std::string name(info.name);
    auto it = docs.find(name);
    if (it == docs.end()) {
      ADD_FAILURE() << doc << " does not list `" << name << "`; add the row\n| `" << name << "` | "
                    << info.meaning << " |";
      continue;
    }
    EXPECT_EQ(it->second, info.meaning) << doc << ": the meaning of `" << name << "`";
    docs.erase(it);
  }
  for (const auto& [code, meaning] : docs) {
    ADD_FAILURE() << doc << " lists `" << code
                  << "`, which core/diagnostic_codes.h does not have for this loader";
  }
}

TEST(DiagnosticCodesTest, RulesDocsListTheRuleCodes) {
  ExpectDocsMatch("docs/rules.md", kRulesScope);
}

TEST(DiagnosticCodesTest, ConfigurationDocsListTheConfigCodes) {
  ExpectDocsMatch("docs/configuration.md", kConfigScope);
}

// The codes written as text in `file`: the second argument of a call to Error, Warning or error
// when it is a string literal (stages not yet switched to DiagCode).
std::set<std::string> CodesWrittenAsText(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::stringstream text;
  text << in.rdbuf();
  const std::string s = text.str();
  // No std::regex here: GCC 12 warns (-Wmaybe-uninitialized, an error with -Werror) inside
  // <regex> when the ASan build optimizes this file.
  auto is_word = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  };
  std::set<std::string> codes;
  for (std::string_view call : {"Error(", "Warning(", "error("}) {
    for (size_t at = s.find(call); at != std::string::npos; at = s.find(call, at + 1)) {
      if (at > 0 && is_word(s[at - 1])) continue;  // \bError(
      size_t i = at + call.size();
      int depth = 0;
      for (; i < s.size(); ++i) {  // to the end of the first argument
        const char c = s[i];
        if (c == '"') {
          i = s.find('"', i + 1);
          if (i == std::string::npos) break;
        } else if (c == '(' || c == '{' || c == '[') {
          ++depth;
        } else if (c == ')' || c == '}' || c == ']') {
          if (depth-- == 0) break;
        } else if (c == ',' && depth == 0) {
          break;
        }
      }
      if (i >= s.size() || s[i] != ',') continue;
      // The second argument, when it is a literal "lower-case-words" followed by a comma.
      size_t j = i + 1;
      while (j < s.size() && (s[j] == ' ' || s[j] == '\n' || s[j] == '\t')) ++j;
      if (j >= s.size() || s[j] != '"') continue;
      const size_t end = s.find('"', j + 1);
      if (end == std::string::npos) continue;
      const std::string code = s.substr(j + 1, end - j - 1);
      size_t k = end + 1;
      while (k < s.size() && (s[k] == ' ' || s[k] == '\n' || s[k] == '\t')) ++k;
      bool shape = !code.empty() && code.front() != '-' && code.back() != '-' &&
                   code.find("--") == std::string::npos;
      for (char c : code) shape = shape && ((c >= 'a' && c <= 'z') || c == '-');
      if (shape && k < s.size() && s[k] == ',') codes.insert(code);
    }
  }
  return codes;
}

// The compiler (match/) and the catalog index (enrich/) still write their codes as text: each must
// be in the table, so that the docs list it.
TEST(DiagnosticCodesTest, CodesWrittenAsTextAreInTheTable) {
  std::set<std::string_view> known;
  for (const DiagCodeInfo& info : kDiagCodes) known.insert(info.name);
  const std::filesystem::path daemon = std::filesystem::path(CHIPWATCH_SOURCE_DIR) / "daemon";
  size_t found = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(daemon)) {
    if (entry.path().extension() != ".cc") continue;
    for (const std::string& code : CodesWrittenAsText(entry.path())) {
      ++found;
      EXPECT_TRUE(known.count(code)) << entry.path() << " reports [" << code
                                     << "], which core/diagnostic_codes.h does not list";
    }
  }
  EXPECT_GT(found, 0u) << "the scan found no code at all: has the call syntax changed?";
}

TEST(DiagnosticCodesTest, NamesAreUniqueLowercaseWordsWithHyphens) {
  std::set<std::string_view> names;
  for (const DiagCodeInfo& info : kDiagCodes) {
    EXPECT_TRUE(names.insert(info.name).second) << info.name;
    EXPECT_FALSE(info.name.empty());
    EXPECT_FALSE(info.meaning.empty()) << info.name;
    EXPECT_NE(info.scopes & kBothScopes, 0) << info.name;
    for (char c : info.name) EXPECT_TRUE((c >= 'a' && c <= 'z') || c == '-') << info.name;
    EXPECT_NE(info.name.front(), '-');
    EXPECT_NE(info.name.back(), '-');
  }
}

TEST(DiagnosticCodesTest, DiagnosticsStoreTheCodesName) {
  Diagnostics diags;
  diags.Error({"f.yaml", 2, 3}, DiagCode::kWrongType, "x must be a string");
  diags.Warning({"f.yaml", 4, 1}, DiagCode::kRuleWithoutTests, "rule 'r' has no tests");
  ASSERT_EQ(diags.items().size(), 2u);
  EXPECT_EQ(diags.items()[0].ToString(), "f.yaml:2:3: error: x must be a string [wrong-type]");
  EXPECT_EQ(diags.items()[1].code, "rule-without-tests");
  EXPECT_EQ(diags.error_count(), 1u);
  EXPECT_EQ(DiagCodeName(DiagCode::kInsecureSasl), "insecure-sasl");
}

}  // namespace
}  // namespace chipwatch
