// Names of the config enums, the secret-property test, the `security` block's librdkafka
// properties and Config::Redacted().
#include <array>
#include <cctype>
#include <string>

#include "config/config.h"
#include "core/ascii.h"

namespace chipwatch {

namespace {

constexpr std::string_view kRedacted = "<redacted>";

void AppendProperties(std::string& out, const std::vector<KafkaProperty>& properties) {
  out += " properties={";
  bool first = true;
  for (const auto& p : properties) {
    if (!first) out += ", ";
    first = false;
    out += p.name;
    out += '=';
    if (IsSecretPropertyName(p.name)) {
      out += kRedacted;
    } else {
      out += p.value;
    }
  }
  out += '}';
}

// The block as configured; the password itself never, only where it comes from.
void AppendSecurity(std::string& out, const KafkaSecurityConfig& s) {
  if (!s.configured) return;
  out += " security={protocol=";
  out += KafkaProtocolName(s.protocol);
  if (s.ca_file) out += " ca_file=" + s.ca_file->path;
  if (s.cert_file) out += " cert_file=" + s.cert_file->path;
  if (s.key_file) out += " key_file=" + s.key_file->path;
  if (s.sasl) {
    out += " sasl.mechanism=";
    out += SaslMechanismName(s.sasl->mechanism);
    out += " sasl.username=" + s.sasl->username + " sasl.password=" + std::string(kRedacted);
    out += s.sasl->password_file ? " (from file " + s.sasl->password_file->path + ")"
                                 : " (from $" + s.sasl->password_env + ")";
  }
  out += '}';
}

void AppendKafkaSink(std::string& out, const KafkaSinkConfig& k) {
  out += "kafka brokers=" + k.brokers + " topic=" + k.topic;
  AppendProperties(out, k.properties);
  AppendSecurity(out, k.security);
}

void AppendFileSink(std::string& out, const FileSinkConfig& f) {
  out += "file path=" + f.path.path + " fsync=" + (f.fsync ? "true" : "false");
}

}  // namespace

bool IsSecretPropertyName(std::string_view name) {
  const std::string lower = AsciiLowered(name);
  // Deliberately broad: redacting a harmless value (ssl.keystore.location) costs nothing, printing
  // a password costs a rotation.
  static constexpr std::array<std::string_view, 9> kMarkers = {
      "password",           "passwd", "secret", "token", "key", "jaas", "credential",
      "oauthbearer.config", "private"};
  for (auto marker : kMarkers) {
    if (lower.find(marker) != std::string::npos) return true;
  }
  return false;
}

std::string_view KafkaProtocolName(KafkaProtocol p) {
  switch (p) {
    case KafkaProtocol::kPlaintext:
      return "plaintext";
    case KafkaProtocol::kSsl:
      return "ssl";
    case KafkaProtocol::kSaslPlaintext:
      return "sasl_plaintext";
    case KafkaProtocol::kSaslSsl:
      return "sasl_ssl";
  }
  return "plaintext";
}

std::string_view SaslMechanismName(SaslMechanism m) {
  switch (m) {
    case SaslMechanism::kPlain:
      return "PLAIN";
    case SaslMechanism::kScramSha256:
      return "SCRAM-SHA-256";
    case SaslMechanism::kScramSha512:
      return "SCRAM-SHA-512";
  }
  return "PLAIN";
}

std::vector<KafkaProperty> KafkaSecurityProperties(const KafkaSecurityConfig& s) {
  std::vector<KafkaProperty> out;
  if (!s.configured) return out;
  out.push_back({"security.protocol", std::string(KafkaProtocolName(s.protocol)), s.protocol_pos});
  if (s.ca_file) out.push_back({"ssl.ca.location", s.ca_file->path, s.ca_file->pos});
  if (s.cert_file) out.push_back({"ssl.certificate.location", s.cert_file->path, s.cert_file->pos});
  if (s.key_file) out.push_back({"ssl.key.location", s.key_file->path, s.key_file->pos});
  if (s.sasl) {
    out.push_back({"sasl.mechanisms", std::string(SaslMechanismName(s.sasl->mechanism)),
                   s.sasl->mechanism_pos});
    out.push_back({"sasl.username", s.sasl->username, s.sasl->username_pos});
    out.push_back({"sasl.password", s.sasl->password, s.sasl->password_pos});
  }
  return out;
}

std::string_view StartFromName(StartFrom s) {
  return s == StartFrom::kEarliest ? "earliest" : "latest";
}

std::string_view StartAtName(StartAt s) { return s == StartAt::kBeginning ? "beginning" : "end"; }

std::string_view LogLevelName(LogLevel l) {
  switch (l) {
    case LogLevel::kTrace:
      return "trace";
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarn:
      return "warn";
    case LogLevel::kError:
      return "error";
  }
  return "info";
}

std::string_view LogFormatName(LogFormat f) { return f == LogFormat::kText ? "text" : "json"; }

std::string Config::Redacted() const {
  std::string out = "config: " + file + "\n";
  out += "rules:";
  for (const auto& r : rules) out += " " + r.path;
  out += "\nenrich.geoip: " + (geoip ? geoip->path : std::string("none"));
  out += "\nenrich.directory: " + (directory ? directory->path : std::string("none"));
  out += '\n';
  for (size_t i = 0; i < sources.size(); ++i) {
    out += "sources[" + std::to_string(i) + "]: ";
    if (const auto* k = std::get_if<KafkaSourceConfig>(&sources[i])) {
      out += "kafka brokers=" + k->brokers + " group=" + k->group + " start_from=";
      out += StartFromName(k->start_from);
      out += " topics=";
      for (size_t t = 0; t < k->topics.size(); ++t) {
        if (t > 0) out += ',';
        out += k->topics[t].topic + "(" + std::string(FormatName(k->topics[t].format)) + ")";
      }
      AppendProperties(out, k->properties);
      AppendSecurity(out, k->security);
    } else {
      const auto& f = std::get<FileSourceConfig>(sources[i]);
      out += "file path=" + f.path.path + " format=" + std::string(FormatName(f.format)) +
             " follow=" + (f.follow ? "true" : "false") + " start_at=";
      out += StartAtName(f.start_at);
      if (f.checkpoint) out += " checkpoint=" + f.checkpoint->path;
    }
    out += '\n';
  }
  for (size_t i = 0; i < sinks.size(); ++i) {
    out += "sinks[" + std::to_string(i) + "]: ";
    if (const auto* k = std::get_if<KafkaSinkConfig>(&sinks[i])) {
      AppendKafkaSink(out, *k);
    } else if (const auto* f = std::get_if<FileSinkConfig>(&sinks[i])) {
      AppendFileSink(out, *f);
    } else {
      out += "stdout";
    }
    out += '\n';
  }
  out += "dead_letter: ";
  if (!dead_letter) {
    out += "none";
  } else if (const auto* k = std::get_if<KafkaSinkConfig>(&*dead_letter)) {
    AppendKafkaSink(out, *k);
  } else {
    AppendFileSink(out, std::get<FileSinkConfig>(*dead_letter));
  }
  out += "\nmetrics: " + (metrics.enabled ? metrics.listen : std::string("disabled"));
  out += "\nworkers: " + std::to_string(workers);
  out += "\nlimits.max_record_bytes: " + std::to_string(limits.max_record_bytes);
  out += "\nstate: " + (state.path ? "path=" + state.path->path : std::string("in memory only")) +
         " idle_flush=" + std::to_string(state.idle_flush.count()) + "ms" +
         " max_groups=" + std::to_string(state.max_groups);
  out += "\nshutdown_timeout: " + std::to_string(shutdown_timeout.count()) + "s";
  out += "\nlog: level=";
  out += LogLevelName(log.level);
  out += " format=";
  out += LogFormatName(log.format);
  out += '\n';
  return out;
}

}  // namespace chipwatch
