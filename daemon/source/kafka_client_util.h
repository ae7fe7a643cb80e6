// Private helpers shared by chipwatch's two librdkafka clients (source/kafka_consumer.cc and
// sink/kafka_sink.cc): owning handles for librdkafka objects, applying configured properties
// without ever echoing a value, scrubbing secret values out of client messages, and deciding which
// librdkafka log lines are worth reporting.
//
// Header-only on purpose, so that the sink library can share it without linking the source
// library. Not part of any public interface: include it only from *.cc files that link librdkafka.
// Thread contract: the functions are reentrant; a SecretScrubber is immutable once built and safe
// to use from any thread.
#pragma once

#include <librdkafka/rdkafka.h>
#include <syslog.h>

#include <array>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/config.h"
#include "core/status.h"

namespace chipwatch::kafka_internal {

// ---- Owning handles -------------------------------------------------------------------------

struct KafkaHandleDeleter {
  void operator()(rd_kafka_t* p) const { rd_kafka_destroy(p); }
  void operator()(rd_kafka_conf_t* p) const { rd_kafka_conf_destroy(p); }
  void operator()(rd_kafka_topic_t* p) const { rd_kafka_topic_destroy(p); }
  void operator()(rd_kafka_queue_t* p) const { rd_kafka_queue_destroy(p); }
  void operator()(rd_kafka_topic_partition_list_t* p) const {
    rd_kafka_topic_partition_list_destroy(p);
  }
  void operator()(rd_kafka_message_t* p) const { rd_kafka_message_destroy(p); }
  void operator()(rd_kafka_headers_t* p) const { rd_kafka_headers_destroy(p); }
  void operator()(rd_kafka_error_t* p) const { rd_kafka_error_destroy(p); }
};

using KafkaPtr = std::unique_ptr<rd_kafka_t, KafkaHandleDeleter>;
using ConfPtr = std::unique_ptr<rd_kafka_conf_t, KafkaHandleDeleter>;
using TopicPtr = std::unique_ptr<rd_kafka_topic_t, KafkaHandleDeleter>;
using QueuePtr = std::unique_ptr<rd_kafka_queue_t, KafkaHandleDeleter>;
using PartitionListPtr = std::unique_ptr<rd_kafka_topic_partition_list_t, KafkaHandleDeleter>;
using MessagePtr = std::unique_ptr<rd_kafka_message_t, KafkaHandleDeleter>;
using HeadersPtr = std::unique_ptr<rd_kafka_headers_t, KafkaHandleDeleter>;
using ErrorPtr = std::unique_ptr<rd_kafka_error_t, KafkaHandleDeleter>;

// ---- Secrets --------------------------------------------------------------------------------

// Replaces the values of secret-looking properties (IsSecretPropertyName) by "<redacted>" in any
// text about to leave the client layer. librdkafka does not print secrets itself, but error texts
// can quote configuration values; this is the second line of defence.
class SecretScrubber {
 public:
  explicit SecretScrubber(const std::vector<KafkaProperty>& properties) {
    for (const KafkaProperty& p : properties) {
      if (!p.value.empty() && IsSecretPropertyName(p.name)) secrets_.push_back(p.value);
    }
  }

  std::string Scrub(std::string text) const {
    for (const std::string& secret : secrets_) text = ReplaceAll(std::move(text), secret);
    return text;
  }

  static std::string ReplaceAll(std::string text, std::string_view needle) {
    if (needle.empty()) return text;
    static constexpr std::string_view kRedacted = "<redacted>";
    for (size_t at = text.find(needle); at != std::string::npos;
         at = text.find(needle, at + kRedacted.size())) {
      text.replace(at, needle.size(), kRedacted);
    }
    return text;
  }

 private:
  std::vector<std::string> secrets_;
};

// ---- Configuration --------------------------------------------------------------------------

// Everything the operator configured for a client, in the order it is applied: the properties the
// `security` block stands for, then `properties` (the loader has ruled out overlaps between them).
// `KafkaConfig` is KafkaSourceConfig or KafkaSinkConfig.
template <typename KafkaConfig>
std::vector<KafkaProperty> ClientProperties(const KafkaConfig& config) {
  std::vector<KafkaProperty> out = KafkaSecurityProperties(config.security);
  out.insert(out.end(), config.properties.begin(), config.properties.end());
  return out;
}

// Sets one chipwatch default. These are fixed names and values, so an error is a programming error.
inline Status SetDefault(rd_kafka_conf_t* conf, const char* name, const std::string& value,
                         std::string_view client) {
  std::array<char, 512> err{};
  if (rd_kafka_conf_set(conf, name, value.c_str(), err.data(), err.size()) != RD_KAFKA_CONF_OK) {
    return Status::Internal(std::string(client) + ": cannot set librdkafka default '" + name +
                            "': " + err.data());
  }
  return Status::Ok();
}

// Applies the operator's properties verbatim, after chipwatch's defaults. An error names the
// property (and where it was configured) but never its value: librdkafka's own error text quotes
// the value, so it is scrubbed of it, and left out entirely for secret-looking names.
inline Status ApplyProperties(rd_kafka_conf_t* conf, const std::vector<KafkaProperty>& properties,
                              std::string_view client) {
  for (const KafkaProperty& p : properties) {
    std::array<char, 512> err{};
    rd_kafka_conf_res_t res =
        rd_kafka_conf_set(conf, p.name.c_str(), p.value.c_str(), err.data(), err.size());
    if (res == RD_KAFKA_CONF_OK) continue;
    std::string where = p.pos.line > 0 ? p.pos.ToString() + ": " : std::string();
    std::string message = where + std::string(client) + ": librdkafka property '" + p.name + "'";
    if (res == RD_KAFKA_CONF_UNKNOWN) {
      message += " is unknown";
    } else if (IsSecretPropertyName(p.name)) {
      message += " has an invalid value";
    } else {
      message += " has an invalid value: " + SecretScrubber::ReplaceAll(err.data(), p.value);
    }
    return Status::InvalidArgument(std::move(message));
  }
  return Status::Ok();
}

// A client's configuration: chipwatch's `defaults` first, then the operator's security block and
// properties over them (ClientProperties). The one set-up of the consumer and the producers.
using ClientDefaults = std::vector<std::pair<const char*, std::string>>;
template <typename KafkaConfig>
Status ConfigureClient(rd_kafka_conf_t* conf, const ClientDefaults& defaults,
                       const KafkaConfig& config, std::string_view client) {
  for (const auto& [name, value] : defaults) {
    if (Status s = SetDefault(conf, name, value, client); !s.ok()) return s;
  }
  return ApplyProperties(conf, ClientProperties(config), client);
}

// True when librdkafka was built with `feature` (e.g. "lz4", "sasl_plain").
inline bool HasBuiltinFeature(rd_kafka_conf_t* conf, std::string_view feature) {
  std::array<char, 512> features{};
  size_t size = features.size();
  if (rd_kafka_conf_get(conf, "builtin.features", features.data(), &size) != RD_KAFKA_CONF_OK) {
    return false;
  }
  std::string_view list(features.data());
  while (!list.empty()) {
    size_t comma = list.find(',');
    if (list.substr(0, comma) == feature) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

// ---- Errors and logs ------------------------------------------------------------------------

// True for errors that retrying cannot cure because the client's configuration or credentials are
// wrong: SASL authentication refused (wrong password, unknown user, mechanism not enabled) and TLS
// failures (the broker's certificate not verified by the configured CA, no certificate, a client
// key that does not load). librdkafka reports them through error_cb as ordinary errors and keeps
// reconnecting, which would leave the daemon running, never ready, and silent about why.
// Connection losses are RD_KAFKA_RESP_ERR__TRANSPORT, never these, with one exception: with TLS
// 1.3 a broker that refuses the client's certificate (mutual TLS: none given, or not signed by a
// CA it trusts) does so after the client's side of the handshake is done, so librdkafka sees a
// TLS alert on its first read and reports a transport error ("Receive failed: ...:SSL
// routines::sslv3 alert bad certificate"). Those alerts are recognised by their OpenSSL text; a
// connection that merely drops ("unexpected eof while reading") is not one of them.
inline bool IsConfigurationError(int err, std::string_view reason) {
  if (err == RD_KAFKA_RESP_ERR__AUTHENTICATION || err == RD_KAFKA_RESP_ERR__SSL ||
      err == RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED ||
      err == RD_KAFKA_RESP_ERR_UNSUPPORTED_SASL_MECHANISM ||
      err == RD_KAFKA_RESP_ERR_ILLEGAL_SASL_STATE) {
    return true;
  }
  if (err != RD_KAFKA_RESP_ERR__TRANSPORT ||
      reason.find("SSL routines") == std::string_view::npos ||
      reason.find(" alert ") == std::string_view::npos) {
    return false;
  }
  for (std::string_view alert :
       {"certificate", "unknown ca", "access denied", "handshake failure", "protocol version"}) {
    if (reason.find(alert) != std::string_view::npos) return true;
  }
  return false;
}

// Formats an error_cb report. `fatal` is set for RD_KAFKA_RESP_ERR__FATAL, whose underlying cause
// is fetched with rd_kafka_fatal_error, and for authentication and TLS errors
// (IsConfigurationError), which the daemon treats as fatal too. Broker-down and transport errors
// are transient: librdkafka reconnects by itself.
inline std::string DescribeClientError(rd_kafka_t* rk, int err, const char* reason, bool* fatal) {
  *fatal = false;
  std::string message;
  const std::string_view why(reason != nullptr ? reason : "");
  if (IsConfigurationError(err, why)) {
    *fatal = true;
    const bool tls = err == RD_KAFKA_RESP_ERR__SSL || err == RD_KAFKA_RESP_ERR__TRANSPORT;
    message = std::string(tls ? "TLS error" : "authentication error") +
              " (check the security block; not retried): " +
              rd_kafka_err2name(static_cast<rd_kafka_resp_err_t>(err)) + ": " +
              (reason != nullptr ? reason : "");
  } else if (err == RD_KAFKA_RESP_ERR__FATAL) {
    *fatal = true;
    std::array<char, 512> cause{};
    rd_kafka_resp_err_t orig = rd_kafka_fatal_error(rk, cause.data(), cause.size());
    message = std::string("fatal error: ") + rd_kafka_err2name(orig) + ": " + cause.data();
  } else {
    message = std::string(rd_kafka_err2name(static_cast<rd_kafka_resp_err_t>(err))) + ": " +
              (reason != nullptr ? reason : "");
  }
  return message;
}

// librdkafka logs at syslog levels. Warnings and worse are forwarded; "FAIL" (connection failures)
// and "ERROR" lines are dropped because the same events reach error_cb.
inline bool ShouldForwardLog(int level, const char* facility) {
  if (level > LOG_WARNING) return false;
  std::string_view fac(facility != nullptr ? facility : "");
  return fac != "FAIL" && fac != "ERROR";
}

}  // namespace chipwatch::kafka_internal
