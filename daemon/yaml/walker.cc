#include "yaml/walker.h"

#include <algorithm>
#include <charconv>

#include "yaml/load.h"

namespace chipwatch::yaml {

const MapEntry* Find(const std::vector<MapEntry>& entries, std::string_view key) {
  for (const auto& e : entries) {
    if (e.key == key) return &e;
  }
  return nullptr;
}

std::string KindName(const YAML::Node& n) {
  if (!n.IsDefined() || n.IsNull()) return "nothing";
  if (n.IsScalar()) return "a scalar";
  if (n.IsSequence()) return "a sequence";
  if (n.IsMap()) return "a mapping";
  return "an unknown node";
}

bool IsPlain(const YAML::Node& n) { return n.Tag() == "?"; }

std::optional<bool> ParseBool(std::string_view s) {
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  return std::nullopt;
}

std::optional<std::vector<YAML::Node>> YamlWalker::Load(const std::string& text) {
  try {
    return LoadYamlDocuments(text);
  } catch (const YAML::Exception& e) {
    diags_.Error(MarkPos(e.mark), DiagCode::kYamlSyntax, "YAML syntax error: " + e.msg);
  } catch (const std::exception& e) {
    diags_.Error({file_, 0, 0}, DiagCode::kYamlSyntax, std::string("YAML error: ") + e.what());
  }
  return std::nullopt;
}

SourcePos YamlWalker::MarkPos(const YAML::Mark& m) const {
  return {file_, m.line >= 0 ? m.line + 1 : 0, m.column >= 0 ? m.column + 1 : 0};
}

SourcePos YamlWalker::ValuePos(const MapEntry& e) const {
  return e.value.IsDefined() && !e.value.IsNull() ? Pos(e.value) : Pos(e.key_node);
}

bool YamlWalker::ReadMap(const YAML::Node& n, std::string_view what,
                         std::initializer_list<std::string_view> allowed,
                         std::vector<MapEntry>& out) {
  out.clear();
  if (!n.IsMap()) {
    Error(n, DiagCode::kWrongType, wording_.not_a_mapping(what, KindName(n)));
    return false;
  }
  for (auto it = n.begin(); it != n.end(); ++it) {
    const YAML::Node key = it->first;  // it-> yields a temporary pair: copy the handles
    const YAML::Node value = it->second;
    if (!key.IsScalar()) {
      Error(key, DiagCode::kWrongType, wording_.key_not_scalar(what, KindName(key)));
      continue;
    }
    const std::string& name = key.Scalar();
    if (std::find(allowed.begin(), allowed.end(), name) == allowed.end()) {
      Error(key, DiagCode::kUnknownKey, wording_.unknown_key(what, name, JoinNames(allowed)));
      continue;
    }
    if (Find(out, name)) {
      Error(key, DiagCode::kDuplicateKey, wording_.duplicate_key(what, name));
      continue;
    }
    out.push_back({name, key, value});
  }
  return true;
}

bool YamlWalker::RequireKeys(const YAML::Node& n, const std::vector<MapEntry>& entries,
                             std::string_view what, std::initializer_list<std::string_view> keys) {
  bool ok = true;
  for (auto key : keys) {
    if (!Find(entries, key)) {
      Error(n.IsDefined() ? Pos(n) : SourcePos{file_, 1, 1}, DiagCode::kMissingKey,
            wording_.missing_key(what, key));
      ok = false;
    }
  }
  return ok;
}

bool YamlWalker::GetScalar(const MapEntry& e, std::string_view name, std::string& out) {
  if (!e.value.IsScalar()) {
    Error(ValuePos(e), DiagCode::kWrongType,
          std::string(name) + " must be a string, got " + KindName(e.value));
    return false;
  }
  out = e.value.Scalar();
  return true;
}

bool YamlWalker::GetBool(const MapEntry& e, std::string_view name, bool& out) {
  std::optional<bool> b;
  if (e.value.IsScalar()) b = ParseBool(e.value.Scalar());
  if (!b) {
    Error(ValuePos(e), DiagCode::kWrongType, std::string(name) + " must be true or false");
    return false;
  }
  out = *b;
  return true;
}

bool YamlWalker::GetInt(const MapEntry& e, std::string_view name, int64_t min, int64_t max,
                        int64_t& out) {
  int64_t value = 0;
  bool ok = e.value.IsScalar() && !e.value.Scalar().empty();
  if (ok) {
    const std::string& s = e.value.Scalar();
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
    ok = ec == std::errc() && end == s.data() + s.size();
    if (ec == std::errc::result_out_of_range) {
      ok = true;
      value = s[0] == '-' ? min - 1 : max + 1;
    }
  }
  if (!ok) {
    Error(ValuePos(e), DiagCode::kWrongType, std::string(name) + " must be an integer");
    return false;
  }
  if (value < min || value > max) {
    Error(ValuePos(e), DiagCode::kOutOfRange,
          std::string(name) + " must be between " + std::to_string(min) + " and " +
              std::to_string(max) + ", got " + e.value.Scalar());
    return false;
  }
  out = value;
  return true;
}

bool YamlWalker::GetStringList(const MapEntry& e, std::string_view name,
                               std::vector<std::string>& out, std::vector<SourcePos>* pos,
                               bool allow_scalar) {
  out.clear();
  if (pos) pos->clear();
  if (allow_scalar && e.value.IsScalar()) {
    out.push_back(e.value.Scalar());
    if (pos) pos->push_back(Pos(e.value));
    return true;
  }
  if (!e.value.IsSequence()) {
    Error(ValuePos(e), DiagCode::kWrongType,
          std::string(name) + " must be a sequence of strings, got " + KindName(e.value));
    return false;
  }
  bool ok = true;
  for (const auto& item : e.value) {
    if (!item.IsScalar()) {
      Error(item, DiagCode::kWrongType,
            "items of " + std::string(name) + " must be strings, got " + KindName(item));
      ok = false;
      continue;
    }
    out.push_back(item.Scalar());
    if (pos) pos->push_back(Pos(item));
  }
  return ok;
}

}  // namespace chipwatch::yaml
