// The config loader: YAML -> Config, every problem reported with its position and key path.
#include "config/config.h"

#include <sys/stat.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <sstream>
#include <thread>

#include "yaml/walker.h"

namespace chipwatch {

namespace {

namespace fs = std::filesystem;

const std::initializer_list<std::string_view> kTopKeys = {
    "rules",   "enrich", "sources",          "sinks", "dead_letter", "metrics",
    "workers", "limits", "shutdown_timeout", "log",   "state"};
const std::initializer_list<std::string_view> kKafkaSourceKeys = {
    "type", "brokers", "group", "topics", "start_from", "properties", "security"};
const std::initializer_list<std::string_view> kFileSourceKeys = {
    "type", "path", "format", "follow", "start_at", "checkpoint"};
const std::initializer_list<std::string_view> kKafkaSinkKeys = {"type", "brokers", "topic",
                                                                "properties", "security"};
const std::initializer_list<std::string_view> kSecurityKeys = {"protocol", "ca_file", "cert_file",
                                                               "key_file", "sasl"};
const std::initializer_list<std::string_view> kSaslKeys = {"mechanism", "username", "password_file",
                                                           "password_env"};
const std::initializer_list<std::string_view> kProtocolNames = {"plaintext", "ssl",
                                                                "sasl_plaintext", "sasl_ssl"};
const std::initializer_list<std::string_view> kMechanismNames = {"PLAIN", "SCRAM-SHA-256",
                                                                 "SCRAM-SHA-512"};
const std::initializer_list<std::string_view> kFileSinkKeys = {"type", "path", "fsync"};
const std::initializer_list<std::string_view> kStdoutSinkKeys = {"type"};

// Properties chipwatch sets itself from its own keys; setting them twice would be ambiguous.
const std::initializer_list<std::string_view> kSourceReservedProperties = {
    "bootstrap.servers", "metadata.broker.list", "group.id", "auto.offset.reset"};
const std::initializer_list<std::string_view> kSinkReservedProperties = {"bootstrap.servers",
                                                                         "metadata.broker.list"};

using Entry = yaml::MapEntry;
using yaml::Find;
using yaml::KindName;

std::string FormatNames() {
  std::string out;
  for (int i = 0; i < kFormatCount; ++i) {
    if (i > 0) out += ", ";
    out += FormatName(static_cast<Format>(i));
  }
  return out;
}

// A value quoted for a message: at most 80 bytes, control characters replaced. Only ever used on
// values that are not secrets (enumerations, addresses, topic names, paths).
std::string Quote(std::string_view s) {
  std::string out = "'";
  for (size_t i = 0; i < s.size() && i < 80; ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    out += c < 0x20 || c == 0x7f ? '?' : static_cast<char>(c);
  }
  if (s.size() > 80) out += "...";
  out += '\'';
  return out;
}

std::string Child(std::string_view path, std::string_view key) {
  return path.empty() ? std::string(key) : std::string(path) + "." + std::string(key);
}

// How a message starts when it names the mapping at `path`.
std::string Where(std::string_view path) {
  return path.empty() ? "the config " : std::string(path) + " ";
}

// The config's wording of the walker's mapping messages: "unknown key 'x' in sources[0]".
constexpr yaml::Wording kWording = {
    .not_a_mapping =
        [](std::string_view path, std::string_view kind) {
          return Where(path) + "must be a mapping, got " + std::string(kind);
        },
    .key_not_scalar =
        [](std::string_view path, std::string_view kind) {
          return Where(path) + "keys must be scalars, got " + std::string(kind);
        },
    .unknown_key =
        [](std::string_view path, const std::string& key, std::string_view allowed) {
          return "unknown key " + Quote(key) +
                 (path.empty() ? " at the top level" : " in " + std::string(path)) +
                 " (allowed: " + std::string(allowed) + ")";
        },
    .duplicate_key = [](std::string_view path,
                        const std::string& key) { return "duplicate key " + Child(path, key); },
    .missing_key = [](std::string_view path,
                      std::string_view key) { return "missing required key " + Child(path, key); },
};

std::string Index(const std::string& path, size_t i) {
  return path + "[" + std::to_string(i) + "]";
}

std::string Trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return std::string(s.substr(b, e - b));
}

bool ParsePort(std::string_view s, uint16_t& port) {
  if (s.empty() || s.size() > 5) return false;
  unsigned value = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || end != s.data() + s.size() || value == 0 || value > 65535) return false;
  port = static_cast<uint16_t>(value);
  return true;
}

bool IsHostChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_';
}

// Splits "host:port" or "[v6]:port"; the host is a name, an IPv4 address or a bracketed IPv6 one.
bool ParseHostPort(std::string_view s, std::string& host, uint16_t& port) {
  size_t colon = s.rfind(':');
  if (colon == std::string_view::npos || !ParsePort(s.substr(colon + 1), port)) return false;
  std::string_view h = s.substr(0, colon);
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') {
    h = h.substr(1, h.size() - 2);
    IpAddress ip = ParseIp(h);
    if (!ip.valid || ip.is_v4) return false;
    host = std::string(h);
    return true;
  }
  if (h.empty() || !std::all_of(h.begin(), h.end(), IsHostChar)) return false;
  host = std::string(h);
  return true;
}

// Kafka's legal topic names: [a-zA-Z0-9._-], 1 to 249 characters.
bool IsValidTopic(std::string_view t) {
  return !t.empty() && t.size() <= 249 && t != "." && t != ".." &&
         std::all_of(t.begin(), t.end(), IsHostChar);
}

class Parser {
 public:
  Parser(const std::string& name, Diagnostics& diags)
      : file_(name), diags_(diags), yaml_(name, diags, kWording) {
    fs::path parent = fs::path(name).parent_path();
    std::error_code ec;
    base_dir_ = parent.empty() ? fs::current_path(ec) : fs::absolute(parent, ec);
    if (ec) base_dir_ = parent;
  }

  void Parse(std::string_view text, Config& cfg) {
    auto docs = yaml_.Load(std::string(text));
    if (!docs) return;
    yaml_.Guard([&] {
      YAML::Node root;
      for (const auto& doc : *docs) {
        if (!doc.IsDefined() || doc.IsNull()) continue;
        if (root.IsDefined() && !root.IsNull()) {
          Error(doc, DiagCode::kMultipleDocuments, "the config must be a single YAML document");
          break;
        }
        root = doc;
      }
      ReadTop(root, cfg);
    });
  }

 private:
  SourcePos Pos(const YAML::Node& n) const { return yaml_.Pos(n); }
  SourcePos ValuePos(const Entry& e) const { return yaml_.ValuePos(e); }
  void Error(const YAML::Node& n, DiagCode code, std::string message) {
    yaml_.Error(n, code, std::move(message));
  }

  // A mapping's entries (yaml::YamlWalker::ReadMap); `path` names the mapping in messages.
  bool ReadMap(const YAML::Node& n, const std::string& path,
               std::initializer_list<std::string_view> allowed, std::vector<Entry>& out) {
    return yaml_.ReadMap(n, path, allowed, out);
  }

  // Reports each of `keys` missing from `entries` at the mapping `n`. Returns true when all exist.
  bool Require(const YAML::Node& n, const std::vector<Entry>& entries, const std::string& path,
               std::initializer_list<std::string_view> keys) {
    return yaml_.RequireKeys(n, entries, path, keys);
  }

  // A non-empty string.
  bool GetString(const Entry& e, const std::string& path, std::string& out) {
    std::string value;
    if (!yaml_.GetScalar(e, path, value)) return false;
    if (value.empty()) {
      diags_.Error(ValuePos(e), DiagCode::kEmptyValue, path + " must not be empty");
      return false;
    }
    out = std::move(value);
    return true;
  }

  bool GetBool(const Entry& e, const std::string& path, bool& out) {
    return yaml_.GetBool(e, path, out);
  }

  bool GetInt(const Entry& e, const std::string& path, int64_t min, int64_t max, int64_t& out) {
    return yaml_.GetInt(e, path, min, max, out);
  }

  // One of `names`; returns its index.
  bool GetEnum(const Entry& e, const std::string& path,
               std::initializer_list<std::string_view> names, size_t& out) {
    std::string s;
    if (!GetString(e, path, s)) return false;
    size_t i = 0;
    for (auto name : names) {
      if (name == s) {
        out = i;
        return true;
      }
      ++i;
    }
    diags_.Error(Pos(e.value), DiagCode::kUnknownValue,
                 path + ": unknown value " + Quote(s) + " (allowed: " + JoinNames(names) + ")");
    return false;
  }

  bool GetFormat(const Entry& e, const std::string& path, Format& out) {
    std::string s;
    if (!GetString(e, path, s)) return false;
    auto format = ParseFormat(s);
    if (!format) {
      diags_.Error(Pos(e.value), DiagCode::kUnknownFormat,
                   path + ": unknown format " + Quote(s) + " (allowed: " + FormatNames() + ")");
      return false;
    }
    out = *format;
    return true;
  }

  // A path, resolved against the config's directory.
  bool GetPath(const Entry& e, const std::string& path, ConfigPath& out) {
    std::string s;
    if (!GetString(e, path, s)) return false;
    out.pos = Pos(e.value);
    fs::path p(s);
    if (p.is_relative()) p = base_dir_ / p;
    out.path = p.lexically_normal().string();
    return true;
  }

  // `brokers`: host:port[,host:port...], each optionally with a scheme (SSL://host:port).
  bool GetBrokers(const Entry& e, const std::string& path, std::string& out, SourcePos& pos) {
    std::string s;
    if (!GetString(e, path, s)) return false;
    pos = Pos(e.value);
    std::string normalized;
    size_t start = 0;
    while (start <= s.size()) {
      size_t comma = s.find(',', start);
      if (comma == std::string::npos) comma = s.size();
      std::string broker = Trim(std::string_view(s).substr(start, comma - start));
      std::string_view address = broker;
      if (size_t scheme = address.find("://"); scheme != std::string_view::npos) {
        address.remove_prefix(scheme + 3);
      }
      std::string host;
      uint16_t port = 0;
      if (!ParseHostPort(address, host, port)) {
        diags_.Error(pos, DiagCode::kInvalidBrokers,
                     path + ": " + Quote(broker) +
                         " is not host:port (expected host:port[,host:port...], e.g. "
                         "127.0.0.1:9092)");
        return false;
      }
      if (!normalized.empty()) normalized += ',';
      normalized += broker;
      start = comma + 1;
    }
    out = std::move(normalized);
    return true;
  }

  bool GetTopic(const Entry& e, const std::string& path, std::string& out) {
    if (!GetString(e, path, out)) return false;
    if (!IsValidTopic(out)) {
      diags_.Error(
          Pos(e.value), DiagCode::kInvalidTopic,
          path + ": " + Quote(out) + " is not a Kafka topic name (1 to 249 of [a-zA-Z0-9._-])");
      return false;
    }
    return true;
  }

  // `properties`: a mapping of librdkafka property names to scalar values. Values are never quoted
  // in messages: some are secrets.
  void GetProperties(const Entry& e, const std::string& path,
                     std::initializer_list<std::string_view> reserved,
                     std::vector<KafkaProperty>& out) {
    if (e.value.IsNull()) return;
    if (!e.value.IsMap()) {
      diags_.Error(ValuePos(e), DiagCode::kWrongType,
                   path + " must be a mapping, got " + KindName(e.value));
      return;
    }
    for (auto it = e.value.begin(); it != e.value.end(); ++it) {
      const YAML::Node key = it->first;
      const YAML::Node value = it->second;
      if (!key.IsScalar() || key.Scalar().empty()) {
        Error(key, DiagCode::kWrongType, path + " keys must be property names");
        continue;
      }
      const std::string& name = key.Scalar();
      const std::string prop_path = Child(path, name);
      if (std::find(reserved.begin(), reserved.end(), name) != reserved.end()) {
        Error(key, DiagCode::kReservedProperty,
              prop_path + " is set by chipwatch (use 'brokers', 'group' or 'start_from')");
        continue;
      }
      bool duplicate = false;
      for (const auto& p : out) duplicate |= p.name == name;
      if (duplicate) {
        Error(key, DiagCode::kDuplicateKey, "duplicate key " + prop_path);
        continue;
      }
      if (!value.IsScalar()) {
        Error(value.IsDefined() && !value.IsNull() ? value : key, DiagCode::kWrongType,
              prop_path + " must be a scalar, got " + KindName(value));
        continue;
      }
      out.push_back({name, value.Scalar(), Pos(key)});
    }
  }

  // `security`: TLS and SASL for a Kafka client. Returns false after an error.
  bool ReadSecurity(const Entry& e, const std::string& path, KafkaSecurityConfig& out) {
    std::vector<Entry> entries;
    if (!ReadMap(e.value, path, kSecurityKeys, entries)) return false;
    const size_t errors_before = diags_.error_count();
    out.configured = true;
    out.pos = Pos(e.value);
    out.protocol_pos = out.pos;
    const Entry* sasl = nullptr;
    for (const auto& f : entries) {
      const std::string key_path = Child(path, f.key);
      size_t index = 0;
      if (f.key == "protocol") {
        if (GetEnum(f, key_path, kProtocolNames, index)) {
          out.protocol = static_cast<KafkaProtocol>(index);
          out.protocol_pos = Pos(f.value);
        }
      } else if (f.key == "sasl") {
        sasl = &f;
      } else {  // ca_file, cert_file, key_file
        ConfigPath p;
        if (!GetPath(f, key_path, p)) continue;
        CheckExists(p, key_path, /*must_be_regular_file=*/true);
        // A key may be root:chipwatch 0640 (docs/operations.md); readable by everyone it is not.
        if (f.key == "key_file") WarnIfReadable(p, key_path, "a private key", S_IROTH);
        (f.key == "ca_file"     ? out.ca_file
         : f.key == "cert_file" ? out.cert_file
                                : out.key_file) = std::move(p);
      }
    }
    if (diags_.error_count() > errors_before) return false;
    const bool tls = out.protocol == KafkaProtocol::kSsl || out.protocol == KafkaProtocol::kSaslSsl;
    const bool uses_sasl =
        out.protocol == KafkaProtocol::kSaslPlaintext || out.protocol == KafkaProtocol::kSaslSsl;
    const std::string protocol = Child(path, "protocol") + " " +
                                 Quote(KafkaProtocolName(out.protocol)) +
                                 (Find(entries, "protocol") ? "" : " (the default)");
    for (const auto* file : {&out.ca_file, &out.cert_file, &out.key_file}) {
      if (*file && !tls) {
        diags_.Error((*file)->pos, DiagCode::kInvalidValue,
                     path + ": a CA, certificate or key file needs protocol ssl or sasl_ssl, not " +
                         protocol);
        return false;
      }
    }
    if (out.cert_file.has_value() != out.key_file.has_value()) {
      const ConfigPath& given = out.cert_file ? *out.cert_file : *out.key_file;
      diags_.Error(given.pos, DiagCode::kMissingKey,
                   path + ": cert_file and key_file go together (mutual TLS); missing " +
                       Child(path, out.cert_file ? "key_file" : "cert_file"));
      return false;
    }
    if (sasl != nullptr && !uses_sasl) {
      diags_.Error(
          Pos(sasl->key_node), DiagCode::kInvalidValue,
          Child(path, "sasl") + " needs protocol sasl_plaintext or sasl_ssl, not " + protocol);
      return false;
    }
    if (sasl == nullptr && uses_sasl) {
      diags_.Error(out.pos, DiagCode::kMissingKey,
                   "missing required key " + Child(path, "sasl") + " (protocol " +
                       std::string(KafkaProtocolName(out.protocol)) + ")");
      return false;
    }
    if (sasl == nullptr) return true;
    KafkaSaslConfig s;
    if (!ReadSasl(*sasl, Child(path, "sasl"), s)) return false;
    if (s.mechanism == SaslMechanism::kPlain && out.protocol == KafkaProtocol::kSaslPlaintext) {
      diags_.Warning(s.mechanism_pos, DiagCode::kInsecureSasl,
                     Child(path, "sasl.mechanism") +
                         ": PLAIN over sasl_plaintext sends the password unencrypted (use "
                         "protocol sasl_ssl)");
    }
    out.sasl = std::move(s);
    return true;
  }

  bool ReadSasl(const Entry& e, const std::string& path, KafkaSaslConfig& out) {
    std::vector<Entry> entries;
    if (!ReadMap(e.value, path, kSaslKeys, entries)) return false;
    out.pos = Pos(e.value);
    bool ok = Require(e.value, entries, path, {"mechanism", "username"});
    const Entry* file = Find(entries, "password_file");
    const Entry* env = Find(entries, "password_env");
    if (file != nullptr && env != nullptr) {
      Error(env->key_node, DiagCode::kConflictingKeys,
            path + ": give password_file or password_env, not both");
      return false;
    }
    if (file == nullptr && env == nullptr) {
      diags_.Error(out.pos, DiagCode::kMissingKey,
                   "missing required key " + Child(path, "password_file") + " or " +
                       Child(path, "password_env"));
      ok = false;
    }
    for (const auto& f : entries) {
      const std::string key_path = Child(path, f.key);
      size_t index = 0;
      if (f.key == "mechanism") {
        if (GetEnum(f, key_path, kMechanismNames, index)) {
          out.mechanism = static_cast<SaslMechanism>(index);
          out.mechanism_pos = Pos(f.value);
        } else {
          ok = false;
        }
      } else if (f.key == "username") {
        ok &= GetString(f, key_path, out.username);
        out.username_pos = ValuePos(f);
      } else if (f.key == "password_file") {
        ConfigPath p;
        ok &= GetPath(f, key_path, p) && ReadPasswordFile(p, key_path, out.password);
        out.password_pos = p.pos;
        out.password_file = std::move(p);
      } else if (f.key == "password_env") {
        ok &= GetString(f, key_path, out.password_env) &&
              ReadPasswordEnv(Pos(f.value), key_path, out.password_env, out.password);
        out.password_pos = ValuePos(f);
      }
    }
    return ok;
  }

  // The password is the file's content without one trailing newline. Never quoted anywhere.
  bool ReadPasswordFile(const ConfigPath& p, const std::string& path, std::string& password) {
    const size_t errors_before = diags_.error_count();
    CheckExists(p, path, /*must_be_regular_file=*/true);
    if (diags_.error_count() > errors_before) return false;
    WarnIfReadable(p, path, "a password", S_IRGRP | S_IROTH);
    std::ifstream in(p.path, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    if (!in || in.bad()) {
      diags_.Error(p.pos, DiagCode::kReadError, path + ": cannot read " + p.path);
      return false;
    }
    password = text.str();
    if (!password.empty() && password.back() == '\n') password.pop_back();
    if (!password.empty() && password.back() == '\r') password.pop_back();
    if (password.empty()) {
      diags_.Error(p.pos, DiagCode::kEmptyValue, path + ": " + p.path + " is empty");
      return false;
    }
    return true;
  }

  bool ReadPasswordEnv(const SourcePos& pos, const std::string& path, const std::string& name,
                       std::string& password) {
    const char* value = std::getenv(name.c_str());
    if (value == nullptr) {
      diags_.Error(pos, DiagCode::kMissingEnv,
                   path + ": environment variable " + Quote(name) + " is not set");
      return false;
    }
    if (*value == '\0') {
      diags_.Error(pos, DiagCode::kEmptyValue,
                   path + ": environment variable " + Quote(name) + " is empty");
      return false;
    }
    password = value;
    return true;
  }

  // A secret file readable under `bits` (S_IRGRP, S_IROTH) is a warning, not an error: the
  // operator may have reasons.
  void WarnIfReadable(const ConfigPath& p, const std::string& path, const char* what, mode_t bits) {
    struct stat st {};
    if (stat(p.path.c_str(), &st) != 0 || (st.st_mode & bits) == 0) return;
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    diags_.Warning(p.pos, DiagCode::kReadableSecret,
                   path + ": " + p.path + " holds " + what + " but is readable by " +
                       ((st.st_mode & S_IROTH) != 0 ? "everyone" : "its group") + " (mode " + mode +
                       "); chmod 600 it");
  }

  // A property the `security` block also sets (or an alias of one) is ambiguous: an error naming
  // both places. Without a block, properties may set anything, as before.
  bool CheckSecurityConflicts(const std::string& path, const std::vector<KafkaProperty>& properties,
                              const KafkaSecurityConfig& security) {
    if (!security.configured) return true;
    struct Claim {
      bool set;
      const char* key;  // in the block
      std::initializer_list<std::string_view> names;
    };
    const bool sasl = security.sasl.has_value();
    const Claim claims[] = {
        {true, "protocol", {"security.protocol"}},
        {security.ca_file.has_value(), "ca_file", {"ssl.ca.location", "ssl.ca.pem"}},
        {security.cert_file.has_value(),
         "cert_file",
         {"ssl.certificate.location", "ssl.certificate.pem", "ssl.keystore.location"}},
        {security.key_file.has_value(),
         "key_file",
         {"ssl.key.location", "ssl.key.pem", "ssl.keystore.location"}},
        {sasl, "sasl.mechanism", {"sasl.mechanisms", "sasl.mechanism"}},
        {sasl, "sasl.username", {"sasl.username"}},
        {sasl,
         sasl && security.sasl->password_file ? "sasl.password_file" : "sasl.password_env",
         {"sasl.password"}},
    };
    bool ok = true;
    for (const KafkaProperty& p : properties) {
      for (const Claim& c : claims) {
        if (!c.set || std::find(c.names.begin(), c.names.end(), p.name) == c.names.end()) continue;
        diags_.Error(p.pos, DiagCode::kConflictingProperty,
                     Child(path, "properties") + "." + p.name + " conflicts with " +
                         Child(Child(path, "security"), c.key) +
                         ": set it in one place (the security block, or properties without one)");
        ok = false;
        break;
      }
    }
    return ok;
  }

  // Reports `path` missing or of the wrong kind. A missing parent directory is named as such.
  void CheckExists(const ConfigPath& p, const std::string& path, bool must_be_regular_file) {
    std::error_code ec;
    fs::file_status st = fs::status(p.path, ec);
    if (!fs::exists(st)) {
      diags_.Error(p.pos, DiagCode::kMissingFile, path + ": " + p.path + " does not exist");
    } else if (must_be_regular_file && !fs::is_regular_file(st)) {
      diags_.Error(p.pos, DiagCode::kNotAFile, path + ": " + p.path + " is not a regular file");
    } else if (access(p.path.c_str(), R_OK) != 0) {
      diags_.Error(p.pos, DiagCode::kNotReadable, path + ": " + p.path + " is not readable");
    }
  }

  // A checkpoint is replaced by rename: its directory must exist and be writable.
  void CheckCheckpoint(const ConfigPath& p, const std::string& path) {
    std::error_code ec;
    if (fs::is_directory(p.path, ec)) {
      diags_.Error(p.pos, DiagCode::kNotAFile, path + ": " + p.path + " is a directory");
      return;
    }
    CheckDirectoryWritable(p, path);
  }

  // A file chipwatch appends to: it need not exist, but its directory must, and be writable.
  void CheckWritable(const ConfigPath& p, const std::string& path) {
    std::error_code ec;
    fs::file_status st = fs::status(p.path, ec);
    if (fs::exists(st)) {
      if (fs::is_directory(st)) {
        diags_.Error(p.pos, DiagCode::kNotAFile, path + ": " + p.path + " is a directory");
      } else if (access(p.path.c_str(), W_OK) != 0) {
        diags_.Error(p.pos, DiagCode::kNotWritable, path + ": " + p.path + " is not writable");
      }
      return;
    }
    CheckDirectoryWritable(p, path);
  }

  // The directory of `p` exists and chipwatch may create files in it.
  void CheckDirectoryWritable(const ConfigPath& p, const std::string& path) {
    std::error_code ec;
    const fs::path dir = fs::path(p.path).parent_path();
    fs::file_status dst = fs::status(dir, ec);
    if (!fs::exists(dst)) {
      diags_.Error(p.pos, DiagCode::kMissingDirectory,
                   path + ": directory " + dir.string() + " does not exist");
    } else if (!fs::is_directory(dst)) {
      diags_.Error(p.pos, DiagCode::kMissingDirectory,
                   path + ": " + dir.string() + " is not a directory");
    } else if (access(dir.c_str(), W_OK | X_OK) != 0) {
      diags_.Error(p.pos, DiagCode::kNotWritable,
                   path + ": directory " + dir.string() + " is not writable");
    }
  }

  void ReadTop(const YAML::Node& root, Config& cfg) {
    if (!root.IsDefined() || root.IsNull()) {
      diags_.Error({file_, 1, 1}, DiagCode::kEmptyConfig,
                   "the config is empty (required: rules, sources, sinks)");
      return;
    }
    std::vector<Entry> top;
    if (!ReadMap(root, "", kTopKeys, top)) return;
    Require(root, top, "", {"rules", "sources", "sinks"});
    for (const auto& e : top) {
      int64_t n = 0;
      if (e.key == "rules") {
        ReadRules(e, cfg);
      } else if (e.key == "enrich") {
        ReadEnrich(e, cfg);
      } else if (e.key == "sources") {
        ReadSources(e, cfg);
      } else if (e.key == "sinks") {
        ReadSinks(e, cfg);
      } else if (e.key == "dead_letter") {
        ReadDeadLetter(e, cfg);
      } else if (e.key == "metrics") {
        ReadMetrics(e, cfg);
      } else if (e.key == "workers") {
        if (GetInt(e, "workers", 1, 1024, n)) cfg.workers = static_cast<int>(n);
        workers_set_ = true;
      } else if (e.key == "limits") {
        ReadLimits(e, cfg);
      } else if (e.key == "shutdown_timeout") {
        if (GetInt(e, "shutdown_timeout", 1, 3600, n))
          cfg.shutdown_timeout = std::chrono::seconds(n);
      } else if (e.key == "log") {
        ReadLog(e, cfg);
      } else if (e.key == "state") {
        ReadState(e, cfg);
      }
    }
    if (!workers_set_) cfg.workers = std::max(1u, std::thread::hardware_concurrency());
  }

  void ReadRules(const Entry& e, Config& cfg) {
    std::vector<YAML::Node> items;
    if (e.value.IsScalar()) {
      items.push_back(e.value);
    } else if (e.value.IsSequence()) {
      for (const auto& item : e.value) items.push_back(item);
    } else {
      diags_.Error(ValuePos(e), DiagCode::kWrongType,
                   "rules must be a sequence of paths, got " + KindName(e.value));
      return;
    }
    if (items.empty()) {
      diags_.Error(ValuePos(e), DiagCode::kNoRules,
                   "rules must name at least one file or directory");
      return;
    }
    for (size_t i = 0; i < items.size(); ++i) {
      const std::string path = e.value.IsSequence() ? Index("rules", i) : "rules";
      ConfigPath p;
      if (!GetPath({e.key, e.key_node, items[i]}, path, p)) continue;
      CheckExists(p, path, /*must_be_regular_file=*/false);
      cfg.rules.push_back(std::move(p));
    }
  }

  void ReadEnrich(const Entry& e, Config& cfg) {
    if (e.value.IsNull()) return;
    std::vector<Entry> entries;
    if (!ReadMap(e.value, "enrich", {"geoip", "directory"}, entries)) return;
    for (const auto& f : entries) {
      const std::string path = Child("enrich", f.key);
      ConfigPath p;
      if (!GetPath(f, path, p)) continue;
      CheckExists(p, path, /*must_be_regular_file=*/true);
      (f.key == "geoip" ? cfg.geoip : cfg.directory) = std::move(p);
    }
  }

  // The `type` of a source/sink mapping `n`, or "" after reporting why there is none.
  std::string ReadType(const YAML::Node& n, const std::string& path,
                       std::initializer_list<std::string_view> types) {
    if (!n.IsMap()) {
      Error(n, DiagCode::kWrongType, path + " must be a mapping, got " + KindName(n));
      return "";
    }
    const YAML::Node type = n["type"];
    if (!type.IsDefined()) {
      Error(n, DiagCode::kMissingKey,
            "missing required key " + path + ".type (one of: " + JoinNames(types) + ")");
      return "";
    }
    if (!type.IsScalar()) {
      Error(type.IsNull() ? n : type, DiagCode::kWrongType, path + ".type must be a string");
      return "";
    }
    const std::string& s = type.Scalar();
    if (std::find(types.begin(), types.end(), s) == types.end()) {
      Error(type, DiagCode::kUnknownType,
            path + ".type: unknown type " + Quote(s) + " (allowed: " + JoinNames(types) + ")");
      return "";
    }
    return s;
  }

  // A non-empty sequence; reports `empty_code` for an empty one.
  bool GetSequence(const Entry& e, const std::string& path, DiagCode empty_code,
                   const std::string& empty_message) {
    if (!e.value.IsSequence()) {
      diags_.Error(ValuePos(e), DiagCode::kWrongType,
                   path + " must be a sequence, got " + KindName(e.value));
      return false;
    }
    if (e.value.size() == 0) {
      diags_.Error(Pos(e.value), empty_code, empty_message);
      return false;
    }
    return true;
  }

  void ReadSources(const Entry& e, Config& cfg) {
    if (!GetSequence(e, "sources", DiagCode::kNoSources,
                     "sources is empty: configure at least one source")) {
      return;
    }
    for (size_t i = 0; i < e.value.size(); ++i) {
      const YAML::Node n = e.value[i];
      const std::string path = Index("sources", i);
      std::string type = ReadType(n, path, {"kafka", "file"});
      if (type == "kafka") {
        ReadKafkaSource(n, path, cfg);
      } else if (type == "file") {
        ReadFileSource(n, path, cfg);
      }
    }
  }

  void ReadKafkaSource(const YAML::Node& n, const std::string& path, Config& cfg) {
    std::vector<Entry> entries;
    if (!ReadMap(n, path, kKafkaSourceKeys, entries)) return;
    KafkaSourceConfig k;
    k.pos = Pos(n);
    bool ok = Require(n, entries, path, {"brokers", "group", "topics"});
    for (const auto& e : entries) {
      const std::string key_path = Child(path, e.key);
      size_t index = 0;
      if (e.key == "brokers") {
        ok &= GetBrokers(e, key_path, k.brokers, k.brokers_pos);
      } else if (e.key == "group") {
        ok &= GetString(e, key_path, k.group);
        k.group_pos = ValuePos(e);
      } else if (e.key == "topics") {
        ok &= ReadTopics(e, key_path, k.topics);
      } else if (e.key == "start_from") {
        if (GetEnum(e, key_path, {"earliest", "latest"}, index)) {
          k.start_from = static_cast<StartFrom>(index);
        }
      } else if (e.key == "properties") {
        GetProperties(e, key_path, kSourceReservedProperties, k.properties);
      } else if (e.key == "security") {
        ok &= ReadSecurity(e, key_path, k.security);
      }
    }
    ok &= CheckSecurityConflicts(path, k.properties, k.security);
    if (ok) cfg.sources.push_back(std::move(k));
  }

  bool ReadTopics(const Entry& e, const std::string& path, std::vector<KafkaTopicConfig>& out) {
    if (!GetSequence(e, path, DiagCode::kNoTopics, path + " is empty: list at least one topic")) {
      return false;
    }
    bool ok = true;
    for (size_t i = 0; i < e.value.size(); ++i) {
      const YAML::Node n = e.value[i];
      const std::string item_path = Index(path, i);
      std::vector<Entry> entries;
      if (!ReadMap(n, item_path, {"topic", "format"}, entries)) {
        ok = false;
        continue;
      }
      KafkaTopicConfig t;
      t.pos = Pos(n);
      ok &= Require(n, entries, item_path, {"topic"});
      for (const auto& f : entries) {
        if (f.key == "topic") {
          if (!GetTopic(f, Child(item_path, "topic"), t.topic)) {
            ok = false;
            continue;
          }
          for (size_t j = 0; j < out.size(); ++j) {
            if (out[j].topic == t.topic) {
              diags_.Error(Pos(f.value), DiagCode::kDuplicateTopic,
                           Child(item_path, "topic") + ": topic " + Quote(t.topic) +
                               " is already listed at " + path + "[" + std::to_string(j) +
                               "] (line " + std::to_string(out[j].pos.line) + ")");
              ok = false;
            }
          }
        } else if (f.key == "format") {
          ok &= GetFormat(f, Child(item_path, "format"), t.format);
        }
      }
      if (!t.topic.empty()) out.push_back(std::move(t));
    }
    return ok;
  }

  void ReadFileSource(const YAML::Node& n, const std::string& path, Config& cfg) {
    std::vector<Entry> entries;
    if (!ReadMap(n, path, kFileSourceKeys, entries)) return;
    FileSourceConfig f;
    f.pos = Pos(n);
    bool ok = Require(n, entries, path, {"path"});
    const Entry* start_at = nullptr;
    std::optional<StartAt> start;
    for (const auto& e : entries) {
      const std::string key_path = Child(path, e.key);
      size_t index = 0;
      if (e.key == "path") {
        ok &= GetPath(e, key_path, f.path);
      } else if (e.key == "format") {
        ok &= GetFormat(e, key_path, f.format);
      } else if (e.key == "follow") {
        ok &= GetBool(e, key_path, f.follow);
      } else if (e.key == "start_at") {
        start_at = &e;
        if (GetEnum(e, key_path, {"beginning", "end"}, index)) start = static_cast<StartAt>(index);
      } else if (e.key == "checkpoint") {
        ConfigPath checkpoint;
        if (GetPath(e, key_path, checkpoint)) {
          CheckCheckpoint(checkpoint, key_path);
          f.checkpoint = std::move(checkpoint);
        } else {
          ok = false;
        }
      }
    }
    f.start_at = start.value_or(f.follow ? StartAt::kEnd : StartAt::kBeginning);
    if (start_at && start == StartAt::kEnd && !f.follow) {
      diags_.Error(Pos(start_at->value), DiagCode::kInvalidValue,
                   Child(path, "start_at") +
                       ": 'end' needs follow: true (a file read once from its end yields nothing)");
      ok = false;
    }
    if (ok) {
      std::error_code ec;
      if (!f.follow) {
        CheckExists(f.path, Child(path, "path"), /*must_be_regular_file=*/false);
      } else if (fs::is_directory(f.path.path, ec)) {
        diags_.Error(f.path.pos, DiagCode::kNotAFile,
                     Child(path, "path") + ": " + f.path.path + " is a directory");
      } else if (!fs::is_directory(fs::path(f.path.path).parent_path(), ec)) {
        // A followed file may appear later, but not in a directory that does not exist.
        diags_.Warning(f.path.pos, DiagCode::kMissingDirectory,
                       Child(path, "path") + ": directory " +
                           fs::path(f.path.path).parent_path().string() +
                           " does not exist (yet); the file will be followed once it appears");
      }
      if (f.checkpoint) {
        for (const SourceConfig& other : cfg.sources) {
          const auto* o = std::get_if<FileSourceConfig>(&other);
          if (o != nullptr && o->checkpoint && o->checkpoint->path == f.checkpoint->path) {
            diags_.Error(f.checkpoint->pos, DiagCode::kDuplicateCheckpoint,
                         Child(path, "checkpoint") + ": " + f.checkpoint->path +
                             " is already the checkpoint of another file source");
          }
        }
      }
      cfg.sources.push_back(std::move(f));
    }
  }

  void ReadSinks(const Entry& e, Config& cfg) {
    if (!GetSequence(e, "sinks", DiagCode::kNoSinks, "sinks is empty: configure at least one sink"))
      return;
    for (size_t i = 0; i < e.value.size(); ++i) {
      const YAML::Node n = e.value[i];
      const std::string path = Index("sinks", i);
      std::string type = ReadType(n, path, {"kafka", "file", "stdout"});
      if (type == "kafka") {
        KafkaSinkConfig k;
        if (ReadKafkaSink(n, path, k)) cfg.sinks.push_back(std::move(k));
      } else if (type == "file") {
        FileSinkConfig f;
        if (ReadFileSink(n, path, f)) cfg.sinks.push_back(std::move(f));
      } else if (type == "stdout") {
        std::vector<Entry> entries;
        if (ReadMap(n, path, kStdoutSinkKeys, entries))
          cfg.sinks.push_back(StdoutSinkConfig{Pos(n)});
      }
    }
  }

  void ReadDeadLetter(const Entry& e, Config& cfg) {
    if (e.value.IsNull()) return;
    std::string type = ReadType(e.value, "dead_letter", {"kafka", "file"});
    if (type == "kafka") {
      KafkaSinkConfig k;
      if (ReadKafkaSink(e.value, "dead_letter", k)) cfg.dead_letter = std::move(k);
    } else if (type == "file") {
      FileSinkConfig f;
      if (ReadFileSink(e.value, "dead_letter", f)) cfg.dead_letter = std::move(f);
    }
  }

  bool ReadKafkaSink(const YAML::Node& n, const std::string& path, KafkaSinkConfig& k) {
    std::vector<Entry> entries;
    if (!ReadMap(n, path, kKafkaSinkKeys, entries)) return false;
    k.pos = Pos(n);
    bool ok = Require(n, entries, path, {"brokers", "topic"});
    for (const auto& e : entries) {
      const std::string key_path = Child(path, e.key);
      if (e.key == "brokers") {
        ok &= GetBrokers(e, key_path, k.brokers, k.brokers_pos);
      } else if (e.key == "topic") {
        ok &= GetTopic(e, key_path, k.topic);
        k.topic_pos = ValuePos(e);
      } else if (e.key == "properties") {
        GetProperties(e, key_path, kSinkReservedProperties, k.properties);
      } else if (e.key == "security") {
        ok &= ReadSecurity(e, key_path, k.security);
      }
    }
    ok &= CheckSecurityConflicts(path, k.properties, k.security);
    return ok;
  }

  bool ReadFileSink(const YAML::Node& n, const std::string& path, FileSinkConfig& f) {
    std::vector<Entry> entries;
    if (!ReadMap(n, path, kFileSinkKeys, entries)) return false;
    f.pos = Pos(n);
    bool ok = Require(n, entries, path, {"path"});
    for (const auto& e : entries) {
      const std::string key_path = Child(path, e.key);
      if (e.key == "path") {
        if (GetPath(e, key_path, f.path)) {
          CheckWritable(f.path, key_path);
        } else {
          ok = false;
        }
      } else if (e.key == "fsync") {
        ok &= GetBool(e, key_path, f.fsync);
      }
    }
    return ok;
  }

  void ReadMetrics(const Entry& e, Config& cfg) {
    if (e.value.IsNull()) return;
    std::vector<Entry> entries;
    if (!ReadMap(e.value, "metrics", {"enabled", "listen"}, entries)) return;
    for (const auto& f : entries) {
      const std::string key_path = Child("metrics", f.key);
      if (f.key == "enabled") {
        GetBool(f, key_path, cfg.metrics.enabled);
      } else if (f.key == "listen") {
        std::string listen;
        if (!GetString(f, key_path, listen)) continue;
        std::string host;
        uint16_t port = 0;
        if (!ParseHostPort(listen, host, port)) {
          diags_.Error(Pos(f.value), DiagCode::kInvalidListen,
                       key_path + ": " + Quote(listen) +
                           " is not host:port (e.g. 127.0.0.1:9464 or [::1]:9464)");
          continue;
        }
        cfg.metrics.listen = listen;
        cfg.metrics.host = host;
        cfg.metrics.port = port;
        cfg.metrics.pos = Pos(f.value);
      }
    }
  }

  void ReadLimits(const Entry& e, Config& cfg) {
    if (e.value.IsNull()) return;
    std::vector<Entry> entries;
    if (!ReadMap(e.value, "limits", {"max_record_bytes"}, entries)) return;
    for (const auto& f : entries) {
      int64_t n = 0;
      if (GetInt(f, "limits.max_record_bytes", 1024, int64_t{1} << 30, n)) {
        cfg.limits.max_record_bytes = static_cast<uint32_t>(n);
      }
    }
  }

  void ReadState(const Entry& e, Config& cfg) {
    cfg.state.pos = Pos(e.value);
    if (e.value.IsNull()) return;
    std::vector<Entry> entries;
    if (!ReadMap(e.value, "state", {"path", "idle_flush", "max_groups"}, entries)) return;
    for (const auto& f : entries) {
      const std::string key_path = Child("state", f.key);
      int64_t n = 0;
      if (f.key == "path") {
        ConfigPath dir;
        if (GetPath(f, key_path, dir)) {
          CheckStateDirectory(dir, key_path);
          cfg.state.path = std::move(dir);
        }
      } else if (f.key == "idle_flush") {
        std::string text;
        if (!GetString(f, key_path, text)) continue;
        const auto ms = ParseDurationMs(text);
        if (!ms || *ms > 24 * 3600 * 1000) {
          diags_.Error(
              Pos(f.value), DiagCode::kInvalidValue,
              key_path + ": " + Quote(text) +
                  " is not a duration from 1s to 24h (a number with s, m, h or d: 30s, 5m)");
          continue;
        }
        cfg.state.idle_flush = std::chrono::milliseconds(*ms);
        cfg.state.idle_flush_pos = Pos(f.value);
      } else if (f.key == "max_groups" && GetInt(f, key_path, 1, 100000000, n)) {
        cfg.state.max_groups = static_cast<uint64_t>(n);
      }
    }
  }

  // The state directory: an existing writable directory, or one chipwatch can create.
  void CheckStateDirectory(const ConfigPath& p, const std::string& path) {
    std::error_code ec;
    fs::file_status st = fs::status(p.path, ec);
    if (!fs::exists(st)) {
      CheckDirectoryWritable(p, path);  // created at start: its parent must allow it
    } else if (!fs::is_directory(st)) {
      diags_.Error(p.pos, DiagCode::kMissingDirectory,
                   path + ": " + p.path + " is not a directory");
    } else if (access(p.path.c_str(), W_OK | X_OK) != 0) {
      diags_.Error(p.pos, DiagCode::kNotWritable,
                   path + ": directory " + p.path + " is not writable");
    }
  }

  void ReadLog(const Entry& e, Config& cfg) {
    if (e.value.IsNull()) return;
    std::vector<Entry> entries;
    if (!ReadMap(e.value, "log", {"level", "format"}, entries)) return;
    for (const auto& f : entries) {
      size_t index = 0;
      if (f.key == "level") {
        if (GetEnum(f, "log.level", {"trace", "debug", "info", "warn", "error"}, index)) {
          cfg.log.level = static_cast<LogLevel>(index);
        }
      } else if (f.key == "format") {
        if (GetEnum(f, "log.format", {"text", "json"}, index)) {
          cfg.log.format = static_cast<LogFormat>(index);
        }
      }
    }
  }

  const std::string file_;
  Diagnostics& diags_;
  yaml::YamlWalker yaml_;
  fs::path base_dir_;
  bool workers_set_ = false;
};

}  // namespace

std::unique_ptr<Config> LoadConfigFromString(std::string_view yaml, const std::string& name,
                                             Diagnostics& diags) {
  const size_t errors_before = diags.error_count();
  auto cfg = std::make_unique<Config>();
  cfg->file = name;
  try {
    Parser(name, diags).Parse(yaml, *cfg);
  } catch (const std::exception& e) {  // std::bad_alloc, filesystem errors: never escape
    diags.Error({name, 0, 0}, DiagCode::kInternal,
                std::string("cannot load the config: ") + e.what());
  }
  if (diags.error_count() > errors_before) return nullptr;
  return cfg;
}

std::unique_ptr<Config> LoadConfig(const std::string& path, Diagnostics& diags) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    diags.Error({path, 0, 0}, DiagCode::kReadError,
                "cannot read the config: " + path + " is a directory");
    return nullptr;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    diags.Error({path, 0, 0}, DiagCode::kReadError, "cannot read the config file " + path);
    return nullptr;
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    diags.Error({path, 0, 0}, DiagCode::kReadError, "error reading the config file " + path);
    return nullptr;
  }
  return LoadConfigFromString(text.str(), path, diags);
}

}  // namespace chipwatch
