// The `security` block of Kafka sources, sinks and dead_letter (config/config.h): values, the
// librdkafka properties it stands for, every check with its position and key path, and the
// password never appearing in a diagnostic or in the summary.
#include <stdlib.h>
#include <sys/stat.h>

#include "config_test_util.h"

namespace chipwatch::config_test {
namespace {

constexpr char kPassword[] = "S3CR3T-pw";

class SecurityTest : public ConfigTest {
 protected:
  void SetUp() override {
    ConfigTest::SetUp();
    WriteFile("ca.pem", "-----BEGIN CERTIFICATE-----\n");
    WriteFile("client.pem", "-----BEGIN CERTIFICATE-----\n");
    WriteSecret("client.key", "-----BEGIN PRIVATE KEY-----\n", 0600);
    WriteSecret("kafka.password", std::string(kPassword) + "\n", 0600);
  }
  void WriteSecret(const std::string& rel, const std::string& text, mode_t mode) {
    WriteFile(rel, text);
    ASSERT_EQ(chmod((dir_ + "/" + rel).c_str(), mode), 0);
  }

  // kMinimal's source with `security` (indented as the source's keys) and optional properties.
  static std::string WithSecurity(const std::string& security, const std::string& properties = "") {
    return "rules: [rules]\n"
           "sources:\n"
           "  - type: kafka\n"
           "    brokers: 127.0.0.1:9093\n"
           "    group: g\n"
           "    topics: [{topic: t}]\n" +
           properties + "    security:\n" + security +
           "sinks:\n"
           "  - {type: stdout}\n";
  }

  std::string AllText() const {
    std::string out;
    for (const auto& d : diags_.items()) out += d.ToString() + "\n" + d.ToJson() + "\n";
    return out;
  }

  const Diagnostic* FindWarning(const std::string& code) const {
    for (const auto& d : diags_.items()) {
      if (d.code == code && d.level == Diagnostic::Level::kWarning) return &d;
    }
    return nullptr;
  }
};

constexpr char kSaslSsl[] = R"(      protocol: sasl_ssl
      ca_file: ca.pem
      cert_file: client.pem
      key_file: client.key
      sasl:
        mechanism: SCRAM-SHA-512
        username: chipwatch
        password_file: kafka.password
)";

TEST_F(SecurityTest, SaslSslBlockBecomesLibrdkafkaProperties) {
  const Config& c = LoadOk(WithSecurity(kSaslSsl));
  EXPECT_EQ(diags_.warning_count(), 0u) << Dump(diags_);
  ASSERT_EQ(c.sources.size(), 1u);
  const auto& s = std::get<KafkaSourceConfig>(c.sources[0]).security;
  EXPECT_TRUE(s.configured);
  EXPECT_EQ(s.protocol, KafkaProtocol::kSaslSsl);
  ASSERT_TRUE(s.sasl);
  EXPECT_EQ(s.sasl->password, kPassword);  // one trailing newline stripped
  const std::vector<KafkaProperty> props = KafkaSecurityProperties(s);
  std::vector<std::pair<std::string, std::string>> got;
  for (const auto& p : props) got.emplace_back(p.name, p.value);
  const std::vector<std::pair<std::string, std::string>> want = {
      {"security.protocol", "sasl_ssl"},
      {"ssl.ca.location", dir_ + "/ca.pem"},
      {"ssl.certificate.location", dir_ + "/client.pem"},
      {"ssl.key.location", dir_ + "/client.key"},
      {"sasl.mechanisms", "SCRAM-SHA-512"},
      {"sasl.username", "chipwatch"},
      {"sasl.password", kPassword}};
  EXPECT_EQ(got, want);
  // Each property is positioned at the key it comes from (librdkafka errors name it).
  EXPECT_EQ(props[1].pos.line, 9);
  EXPECT_EQ(props[6].pos.line, 15);
}

TEST_F(SecurityTest, NoBlockSetsNothingAndPlaintextIsTheDefault) {
  const Config& c = LoadOk(kMinimal);
  EXPECT_TRUE(KafkaSecurityProperties(std::get<KafkaSourceConfig>(c.sources[0]).security).empty());
  // ca_file alone needs a TLS protocol: the default, plaintext, does not use it.
  EXPECT_EQ(Load(WithSecurity("      ca_file: ca.pem\n")), nullptr);
  ExpectError(
      "invalid-value", 8, 16,
      "needs protocol ssl or sasl_ssl, not sources[0].security.protocol 'plaintext' (the default)");
}

TEST_F(SecurityTest, SinksAndDeadLetterAcceptTheBlock) {
  const Config& c = LoadOk(R"(rules: [rules]
sources:
  - {type: kafka, brokers: 127.0.0.1:9092, group: g, topics: [{topic: t}], security: {protocol: ssl, ca_file: ca.pem}}
sinks:
  - type: kafka
    brokers: 127.0.0.1:9093
    topic: alerts
    security:
      protocol: sasl_plaintext
      sasl: {mechanism: SCRAM-SHA-256, username: u, password_file: kafka.password}
dead_letter:
  type: kafka
  brokers: 127.0.0.1:9093
  topic: dead
  security: {protocol: ssl}
)");
  const auto& sink = std::get<KafkaSinkConfig>(c.sinks[0]).security;
  EXPECT_EQ(sink.protocol, KafkaProtocol::kSaslPlaintext);
  EXPECT_EQ(sink.sasl->mechanism, SaslMechanism::kScramSha256);
  const auto& dl = std::get<KafkaSinkConfig>(*c.dead_letter).security;
  EXPECT_EQ(dl.protocol, KafkaProtocol::kSsl);
  EXPECT_FALSE(dl.ca_file);  // the system store
  EXPECT_EQ(KafkaSecurityProperties(dl).size(), 1u);
}

TEST_F(SecurityTest, PasswordFromTheEnvironment) {
  ASSERT_EQ(setenv("CHIPWATCH_TEST_KAFKA_PW", kPassword, 1), 0);
  const Config& c = LoadOk(WithSecurity(R"(      protocol: sasl_ssl
      sasl: {mechanism: PLAIN, username: u, password_env: CHIPWATCH_TEST_KAFKA_PW}
)"));
  const auto& s = std::get<KafkaSourceConfig>(c.sources[0]).security;
  EXPECT_EQ(s.sasl->password, kPassword);
  EXPECT_EQ(s.sasl->password_env, "CHIPWATCH_TEST_KAFKA_PW");
  unsetenv("CHIPWATCH_TEST_KAFKA_PW");

  EXPECT_EQ(Load(WithSecurity(R"(      protocol: sasl_ssl
      sasl: {mechanism: PLAIN, username: u, password_env: CHIPWATCH_TEST_KAFKA_PW}
)")),
            nullptr);
  ExpectError("missing-env", 9, 59,
              "sources[0].security.sasl.password_env: environment variable "
              "'CHIPWATCH_TEST_KAFKA_PW' is not set");
}

TEST_F(SecurityTest, ReadablePasswordFileIsAWarning) {
  WriteSecret("kafka.password", std::string(kPassword) + "\n", 0644);
  LoadOk(WithSecurity(kSaslSsl));
  const Diagnostic* w = FindWarning("readable-secret");
  ASSERT_NE(w, nullptr) << Dump(diags_);
  EXPECT_EQ(w->pos.line, 15);
  EXPECT_NE(w->message.find("readable by everyone (mode 0644)"), std::string::npos) << w->message;
  EXPECT_NE(w->message.find("sources[0].security.sasl.password_file"), std::string::npos);

  WriteSecret("kafka.password", std::string(kPassword) + "\n", 0640);
  LoadOk(WithSecurity(kSaslSsl));
  w = FindWarning("readable-secret");
  ASSERT_NE(w, nullptr) << Dump(diags_);
  EXPECT_NE(w->message.find("readable by its group (mode 0640)"), std::string::npos);
}

TEST_F(SecurityTest, EveryProblemIsAnErrorWithItsKeyPath) {
  struct Case {
    std::string security;
    std::string code;
    int line, col;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"      protocol: tls\n", "unknown-value", 8, 17,
       "sources[0].security.protocol: unknown value 'tls' (allowed: plaintext, ssl, "
       "sasl_plaintext, sasl_ssl)"},
      {"      protocol: ssl\n      ca_file: missing.pem\n", "missing-file", 9, 16,
       "sources[0].security.ca_file: " + dir_ + "/missing.pem does not exist"},
      {"      protocol: ssl\n      cert_file: client.pem\n", "missing-key", 9, 18,
       "missing sources[0].security.key_file"},
      {"      protocol: sasl_ssl\n", "missing-key", 8, 7,
       "missing required key sources[0].security.sasl"},
      {"      protocol: ssl\n      sasl: {mechanism: PLAIN, username: u, password_env: X}\n",
       "invalid-value", 9, 7, "sources[0].security.sasl needs protocol sasl_plaintext or sasl_ssl"},
      {"      protocol: sasl_ssl\n      sasl: {mechanism: GSSAPI, username: u, password_env: X}\n",
       "unknown-value", 9, 25,
       "sources[0].security.sasl.mechanism: unknown value 'GSSAPI' (allowed: PLAIN, "
       "SCRAM-SHA-256, SCRAM-SHA-512)"},
      {"      protocol: sasl_ssl\n      sasl: {mechanism: PLAIN, username: u}\n", "missing-key", 9,
       13, "missing required key sources[0].security.sasl.password_file or"},
      {"      protocol: sasl_ssl\n      sasl: {mechanism: PLAIN, password_file: kafka.password}\n",
       "missing-key", 9, 13, "missing required key sources[0].security.sasl.username"},
      {"      protocol: sasl_ssl\n      sasl: {mechanism: PLAIN, username: u, password_file: "
       "kafka.password, password_env: X}\n",
       "conflicting-keys", 9, 76, "give password_file or password_env, not both"},
      {"      protocol: sasl_ssl\n      sasl: {mechanism: PLAIN, username: u, password_file: "
       "nope}\n",
       "missing-file", 9, 60, "sources[0].security.sasl.password_file: " + dir_ + "/nope"},
      {"      protocol: sasl_ssl\n      sasl: {mechanism: PLAIN, username: u, password_file: "
       "empty.password}\n",
       "empty-value", 9, 60, "empty.password is empty"},
      {"      protocol: sasl_ssl\n      ticket: x\n", "unknown-key", 9, 7,
       "unknown key 'ticket' in sources[0].security (allowed: protocol, ca_file, cert_file, "
       "key_file, sasl)"},
  };
  WriteSecret("empty.password", "\n", 0600);
  for (const Case& c : cases) {
    SCOPED_TRACE(c.security);
    EXPECT_EQ(Load(WithSecurity(c.security)), nullptr);
    ExpectError(c.code, c.line, c.col, c.message);
  }
}

TEST_F(SecurityTest, PropertiesThatTheBlockSetsAreAConflict) {
  EXPECT_EQ(Load(WithSecurity(kSaslSsl, R"(    properties:
      sasl.username: other
      ssl.ca.pem: "-----BEGIN CERTIFICATE-----"
      sasl.password: S3CR3T-inline
      security.protocol: SASL_SSL
      sasl.mechanism: PLAIN
      client.id: fine
)")),
            nullptr);
  EXPECT_EQ(Count("conflicting-property"), 5u) << Dump(diags_);
  ExpectError("conflicting-property", 8, 7,
              "sources[0].properties.sasl.username conflicts with "
              "sources[0].security.sasl.username");
  const std::string text = AllText();
  for (const char* needle :
       {"properties.ssl.ca.pem conflicts with sources[0].security.ca_file",
        "properties.sasl.password conflicts with sources[0].security.sasl.password_file",
        "properties.security.protocol conflicts with sources[0].security.protocol",
        "properties.sasl.mechanism conflicts with sources[0].security.sasl.mechanism"}) {
    EXPECT_NE(text.find(needle), std::string::npos) << needle << "\n" << text;
  }
  EXPECT_EQ(text.find("S3CR3T"), std::string::npos) << text;

  // Without a block, properties may still carry everything, an inline password included.
  LoadOk(R"(rules: [rules]
sources:
  - type: kafka
    brokers: 127.0.0.1:9093
    group: g
    topics: [{topic: t}]
    properties: {security.protocol: sasl_ssl, sasl.mechanism: PLAIN, sasl.username: u, sasl.password: S3CR3T-inline}
sinks:
  - {type: stdout}
)");
}

TEST_F(SecurityTest, PlainOverPlaintextIsAWarning) {
  LoadOk(WithSecurity(R"(      protocol: sasl_plaintext
      sasl: {mechanism: PLAIN, username: u, password_file: kafka.password}
)"));
  const Diagnostic* w = FindWarning("insecure-sasl");
  ASSERT_NE(w, nullptr) << Dump(diags_);
  EXPECT_NE(w->message.find("sends the password unencrypted"), std::string::npos);
}

TEST_F(SecurityTest, PasswordNeverInDiagnosticsOrSummary) {
  // A password file with more than one line: the password is kept as is, minus the last newline.
  WriteSecret("kafka.password", std::string(kPassword) + "\n\n", 0644);
  const Config& c = LoadOk(WithSecurity(kSaslSsl));
  EXPECT_EQ(std::get<KafkaSourceConfig>(c.sources[0]).security.sasl->password,
            std::string(kPassword) + "\n");
  const std::string summary = c.Redacted();
  EXPECT_EQ(summary.find("S3CR3T"), std::string::npos) << summary;
  EXPECT_EQ(AllText().find("S3CR3T"), std::string::npos) << AllText();
  EXPECT_NE(summary.find("security={protocol=sasl_ssl ca_file=" + dir_ + "/ca.pem"),
            std::string::npos)
      << summary;
  EXPECT_NE(summary.find("sasl.mechanism=SCRAM-SHA-512 sasl.username=chipwatch "
                         "sasl.password=<redacted> (from file " +
                         dir_ + "/kafka.password)"),
            std::string::npos)
      << summary;
}

}  // namespace
}  // namespace chipwatch::config_test
