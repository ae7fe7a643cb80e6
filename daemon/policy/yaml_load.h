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
// The guard costs nothing on ordinary text: a line-local scan looks for a ',' that could be such a
// token (MayHoldStrayComma, a superset: one that starts a line or follows `"`, `'`, `]`, `}`, `:`,
// `-`, `?`, `.`, `|`, `>`, or an anchor, tag or alias, spaces apart). Only then is the text parsed
// once without building nodes, and a document that starts where the previous one started (no token
// consumed: the loop) is refused with a YAML::ParserException at the ','. So every file is refused
// or loaded in time and memory bounded by its size, with the ','s line and column.
//
// Thread contract: reentrant, no shared state. Include only from code that links yaml-cpp.
#pragma once

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <cstddef>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace chipwatch {

namespace yaml_load_internal {

inline bool IsBlank(char c) { return c == ' ' || c == '\t'; }

// True when some ',' in `text` could be a FLOW_ENTRY token at a document's root (see above). Never
// false when one is; often true for harmless text (a ',' after '"' inside a string).
inline bool MayHoldStrayComma(std::string_view text) {
  // A byte-order mark is skipped like the start of a line.
  size_t line_start = text.substr(0, 3) == "\xEF\xBB\xBF" ? 3 : 0;
  for (size_t i = line_start; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\n' || c == '\r') {
      line_start = i + 1;
      continue;
    }
    if (c != ',') continue;
    size_t p = i;
    while (p > line_start && IsBlank(text[p - 1])) --p;
    if (p == line_start) return true;  // first on its line
    const char before = text[p - 1];
    switch (before) {
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
    // The word before the ',' is an anchor, a tag or an alias.
    size_t word = p;
    while (word > line_start && !IsBlank(text[word - 1])) --word;
    if (text[word] == '&' || text[word] == '!' || text[word] == '*') return true;
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
