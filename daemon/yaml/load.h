// LoadYamlDocuments: YAML::LoadAll for every YAML file chipwatch reads (rule files, the config,
// and both again on reload), guarded against a yaml-cpp bug.
//
// yaml-cpp before 0.8.0 (Debian 12 ships 0.7.0) loops forever, allocating a null document per
// turn, when a ',' outside any flow collection ('[...]', '{...}') stands where a document's root
// node would start: at the start of the text (`,` or `, `), after `---`, `...` or a root node's
// properties (`&a ,`, `!t ,`), or after a complete root node (`"x", "y"`, `[a],`, `- a` then a line
// `,`). The scanner makes that ',' a FLOW_ENTRY token that SingleDocParser::HandleNode does not
// consume, so Parser::HandleNextDocument starts a new document at the same token every time
// (upstream jbeder/yaml-cpp#1040, fixed by #1318/#1319). A ',' anywhere else outside a flow
// collection is an ordinary syntax error.
//
// The guard costs nothing on ordinary text: a scan looks for a ',' that could be such a token
// (MayHoldStrayComma, a superset: see there). Only then is the text parsed once without building
// nodes, and a document that starts where the previous one started (no token consumed: the loop)
// is refused with a YAML::ParserException at the ','. So every file is refused or loaded in time
// and memory bounded by its size, with the ','s line and column.
//
// Thread contract: reentrant, no shared state. Used through YamlWalker::Load (yaml/walker.h).
#pragma once

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <cctype>
#include <cstddef>
#include <cstring>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace chipwatch {

namespace yaml_load_internal {

inline bool IsBlank(char c) { return c == ' ' || c == '\t'; }

// The line-local test: some ',' on the line [begin, end) starts a line, or follows (blanks apart)
// '"', '\'', ']', '}', ':', '-', '?', '.', '|', '>', ',', or an anchor, tag or alias.
inline bool LineMayHoldStrayComma(std::string_view text, size_t begin, size_t end) {
  for (size_t i = begin; i < end; ++i) {
    if (text[i] != ',') continue;
    size_t p = i;
    while (p > begin && IsBlank(text[p - 1])) --p;
    if (p == begin) return true;
    switch (text[p - 1]) {
      case '"':
      case '\'':
      case ']':
      case '}':
      case ':':
      case '-':
      case '?':
      case '.':
      case '|':
      case '>':
      case ',':
        return true;
      default:
        break;
    }
    size_t word = p;
    while (word > begin && !IsBlank(text[word - 1])) --word;
    if (text[word] == '&' || text[word] == '!' || text[word] == '*') return true;
  }
  return false;
}

// A block sequence entry at column 0: "-" then a blank or the end of the line.
inline bool IsSequenceEntry(std::string_view line) {
  return !line.empty() && line[0] == '-' && (line.size() == 1 || IsBlank(line[1]));
}

// A simple block mapping key at column 0: a word character first, then ':' followed by a blank or
// the end of the line, with no flow, quote, comment or property character before it.
inline bool IsSimpleKey(std::string_view line) {
  if (line.empty() || !(std::isalnum(static_cast<unsigned char>(line[0])) || line[0] == '_')) {
    return false;
  }
  for (size_t i = 1; i < line.size(); ++i) {
    const char c = line[i];
    if (c == ':') return i + 1 == line.size() || IsBlank(line[i + 1]);
    if (std::strchr("\"'[]{},#&*!|>", c) != nullptr) return false;
  }
  return false;
}

// True when some ',' in `text` could be a FLOW_ENTRY token at a document's root (see above). Never
// false when one is. A root block sequence or mapping at column 0 (what rule files and configs
// are) holds every indented line below it and every column-0 line that continues it (an entry, a
// key): a ',' there is inside the root, where yaml-cpp reports it as an error. So only the lines
// before such a root, and every line from the first column-0 line that does not continue it, get
// the line-local test.
inline bool MayHoldStrayComma(std::string_view text) {
  // yaml-cpp reads a NUL byte as the end of a line or of the input (found by fuzz_config:
  // "\0&\0\0\0\0\0," loops): text that holds one always takes the checking parse.
  if (text.find('\0') != std::string_view::npos) return true;
  enum class Root { kNone, kSequence, kMapping, kEnded } root = Root::kNone;
  size_t begin = text.substr(0, 3) == "\xEF\xBB\xBF" ? 3 : 0;  // a byte-order mark
  while (begin <= text.size()) {
    size_t end = text.find_first_of("\r\n", begin);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view line = text.substr(begin, end - begin);
    size_t first = 0;
    while (first < line.size() && IsBlank(line[first])) ++first;
    // Blank and comment-only lines do not start or end the root.
    const bool empty = first == line.size() || line[first] == '#';
    if (!empty) {
      switch (root) {
        case Root::kNone:
          if (first == 0 && IsSequenceEntry(line)) {
            root = Root::kSequence;
          } else if (first == 0 && IsSimpleKey(line)) {
            root = Root::kMapping;
          } else if (first == 0 && (line[0] == '%' || line.substr(0, 3) == "---") &&
                     !LineMayHoldStrayComma(text, begin, end)) {
            // a directive or a document start: the root comes after
          } else {
            root = Root::kEnded;
          }
          break;
        case Root::kSequence:
          if (first == 0 && !IsSequenceEntry(line)) root = Root::kEnded;
          break;
        case Root::kMapping:
          if (first == 0 && !IsSimpleKey(line)) root = Root::kEnded;
          break;
        case Root::kEnded:
          break;
      }
    }
    // Once the root has ended, a line that looks like a comment may be the inside of a quoted
    // scalar an earlier line opened, its closing quote followed by the ',' (found by fuzz_config:
    // "'\n#'," loops), so it is tested too.
    if (root == Root::kEnded && LineMayHoldStrayComma(text, begin, end)) return true;
    begin = end + 1;
  }
  return false;
}

// Parses without building nodes; throws at the first document that starts where the previous one
// did (no progress: yaml-cpp 0.7.0 would loop there).
class ProgressCheck : public YAML::EventHandler {
 public:
  void OnDocumentStart(const YAML::Mark& mark) override {
    if (documents_++ > 0 && mark.pos == last_start_) {
      throw YAML::ParserException(mark,
                                  "unexpected ',' outside a flow collection ([...] or {...})");
    }
    last_start_ = mark.pos;
  }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}

 private:
  size_t documents_ = 0;
  int last_start_ = -1;
};

}  // namespace yaml_load_internal

// YAML::LoadAll(text), or a YAML::ParserException (with the offending mark) for text yaml-cpp
// would loop on. Throws what YAML::LoadAll throws.
inline std::vector<YAML::Node> LoadYamlDocuments(const std::string& text) {
  if (yaml_load_internal::MayHoldStrayComma(text)) {
    std::istringstream in(text);
    YAML::Parser parser(in);
    yaml_load_internal::ProgressCheck check;
    while (parser.HandleNextDocument(check)) {
    }
  }
  return YAML::LoadAll(text);
}

}  // namespace chipwatch
