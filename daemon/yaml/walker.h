// YamlWalker: the one yaml-cpp walker behind every YAML file chipwatch reads (rule files and the
// config), like Falco's yaml_helper.
//
// It loads a file's documents (through the LoadYamlDocuments guard, yaml/load.h) and reports what
// is wrong with them as Diagnostics with file:line:col: syntax errors, exceptions from yaml-cpp,
// mappings with unknown, duplicate or missing keys, and scalars of the wrong type. The loaders keep
// their own wording (the rule reader says "unknown key 'x' in a rule", the config "unknown key 'x'
// in sources[0]"): a Wording passed in at construction words the mapping messages, and the typed
// getters take the name a message gives the value. The codes are DiagCode's.
//
// Thread contract: one walker per file and thread; the free functions are reentrant.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <exception>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/diagnostic_codes.h"
#include "core/diagnostics.h"

namespace chipwatch::yaml {

// One key of a mapping, in document order. The nodes are handles into the loaded document.
struct MapEntry {
  std::string key;
  YAML::Node key_node;
  YAML::Node value;
};

// The entry for `key`, or nullptr.
const MapEntry* Find(const std::vector<MapEntry>& entries, std::string_view key);

// "nothing", "a scalar", "a sequence", "a mapping": a node's kind as messages name it.
std::string KindName(const YAML::Node& n);

// True for a plain (untagged, unquoted) scalar: one YAML's core schema may read as a bool, a
// number or null.
bool IsPlain(const YAML::Node& n);

// The core schema's booleans: true/True/TRUE, false/False/FALSE.
std::optional<bool> ParseBool(std::string_view s);

// The messages ReadMap and RequireKeys report; each loader words them its own way. `what` is what
// the caller passed (a description such as "a rule", or a key path such as "sources[0]"), `kind`
// a KindName and `allowed` the allowed keys joined by JoinNames.
struct Wording {
  std::string (*not_a_mapping)(std::string_view what, std::string_view kind);
  std::string (*key_not_scalar)(std::string_view what, std::string_view kind);
  std::string (*unknown_key)(std::string_view what, const std::string& key,
                             std::string_view allowed);
  std::string (*duplicate_key)(std::string_view what, const std::string& key);
  std::string (*missing_key)(std::string_view what, std::string_view key);
};

class YamlWalker {
 public:
  YamlWalker(std::string file, Diagnostics& diags, const Wording& wording)
      : file_(std::move(file)), diags_(diags), wording_(wording) {}

  const std::string& file() const { return file_; }
  Diagnostics& diags() { return diags_; }

  // Every document of `text`; nullopt after reporting a `yaml-syntax` error.
  std::optional<std::vector<YAML::Node>> Load(const std::string& text);

  // Runs `read()`. An exception escaping it (yaml-cpp's accessors may throw) is reported as
  // `internal` at the file instead.
  template <typename Read>
  void Guard(Read&& read) {
    try {
      read();
    } catch (const std::exception& e) {
      diags_.Error({file_, 0, 0}, DiagCode::kInternal,
                   std::string("unexpected YAML error: ") + e.what());
    }
  }

  // 1-based positions in the file; 0 where yaml-cpp has none.
  SourcePos MarkPos(const YAML::Mark& m) const;
  SourcePos Pos(const YAML::Node& n) const { return MarkPos(n.Mark()); }
  // The value's position, or its key's when the value is empty (`group:` with nothing after it).
  SourcePos ValuePos(const MapEntry& e) const;

  void Error(const YAML::Node& at, DiagCode code, std::string message) {
    diags_.Error(Pos(at), code, std::move(message));
  }
  void Error(SourcePos pos, DiagCode code, std::string message) {
    diags_.Error(std::move(pos), code, std::move(message));
  }

  // Reads a mapping's entries in order, reporting keys that are not scalars, not `allowed` or
  // given twice (those are left out). Returns false (after an error) when `n` is not a mapping.
  bool ReadMap(const YAML::Node& n, std::string_view what,
               std::initializer_list<std::string_view> allowed, std::vector<MapEntry>& out);

  // Reports each of `keys` missing from `entries` (the mapping `n`). True when none is missing.
  bool RequireKeys(const YAML::Node& n, const std::vector<MapEntry>& entries, std::string_view what,
                   std::initializer_list<std::string_view> keys);

  // Typed getters. `name` is how messages name the value ("'id'", "sources[0].group"); each
  // reports `wrong-type` (or `out-of-range`) at the value and returns false when it does not fit.
  bool GetScalar(const MapEntry& e, std::string_view name, std::string& out);
  bool GetBool(const MapEntry& e, std::string_view name, bool& out);
  bool GetInt(const MapEntry& e, std::string_view name, int64_t min, int64_t max, int64_t& out);
  // A sequence of scalars (or, when `allow_scalar`, one scalar); `pos` gets their positions.
  bool GetStringList(const MapEntry& e, std::string_view name, std::vector<std::string>& out,
                     std::vector<SourcePos>* pos = nullptr, bool allow_scalar = false);

 private:
  const std::string file_;
  Diagnostics& diags_;
  const Wording& wording_;
};

}  // namespace chipwatch::yaml
