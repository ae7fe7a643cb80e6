// Secrets in Kafka properties never appear in diagnostics or in Config::Redacted().
#include "config_test_util.h"

namespace chipwatch::config_test {
namespace {

// Every secret below contains this marker, so one search finds any leak.
constexpr char kMarker[] = "S3CR3T";

std::string AllText(const Diagnostics& diags) {
  std::string out;
  for (const auto& d : diags.items()) out += d.ToString() + "\n" + d.ToJson() + "\n";
  return out;
}

TEST(IsSecretPropertyName, RecognisesCredentialsButNotOrdinarySettings) {
  for (const char* name :
       {"sasl.password", "ssl.key.password", "ssl.keystore.password", "ssl.key.pem",
        "ssl.key.location", "sasl.jaas.config", "sasl.oauthbearer.client.secret",
        "sasl.oauthbearer.config", "SASL.PASSWORD", "ssl.truststore.password",
        "sasl.kerberos.keytab", "api_token", "aws.secret.access.key"}) {
    EXPECT_TRUE(IsSecretPropertyName(name)) << name;
  }
  for (const char* name : {"security.protocol", "sasl.mechanism", "sasl.username", "client.id",
                           "ssl.ca.location", "compression.type", "acks", "fetch.max.bytes"}) {
    EXPECT_FALSE(IsSecretPropertyName(name)) << name;
  }
}

TEST_F(ConfigTest, RedactedSummaryHidesSecretsAndShowsTheRest) {
  const Config& c = LoadOk(R"(rules: [rules]
sources:
  - type: kafka
    brokers: 127.0.0.1:9092
    group: chipwatch
    topics: [{topic: cloudtrail, format: cloudtrail}]
    properties:
      security.protocol: SASL_SSL
      sasl.mechanism: SCRAM-SHA-512
      sasl.username: chipwatch
      sasl.password: S3CR3T-pw
      ssl.key.password: S3CR3T-kp
      ssl.key.pem: "-----BEGIN PRIVATE KEY-----S3CR3T"
      sasl.jaas.config: org.apache.kafka.common.security.plain.PlainLoginModule required password="S3CR3T";
sinks:
  - type: kafka
    brokers: 127.0.0.1:9092
    topic: alerts
    properties: {sasl.oauthbearer.client.secret: S3CR3T-oauth, acks: all}
  - {type: stdout}
dead_letter:
  type: kafka
  brokers: 127.0.0.1:9092
  topic: dead
  properties: {sasl.password: S3CR3T-dl}
)");
  // The client still gets the real values.
  const auto& k = std::get<KafkaSourceConfig>(c.sources[0]);
  ASSERT_EQ(k.properties.size(), 7u);
  EXPECT_EQ(k.properties[3].value, "S3CR3T-pw");

  const std::string summary = c.Redacted();
  EXPECT_EQ(summary.find(kMarker), std::string::npos) << summary;
  EXPECT_NE(summary.find("sasl.password=<redacted>"), std::string::npos) << summary;
  EXPECT_NE(summary.find("sasl.jaas.config=<redacted>"), std::string::npos) << summary;
  EXPECT_NE(summary.find("sasl.oauthbearer.client.secret=<redacted>"), std::string::npos);
  EXPECT_NE(summary.find("security.protocol=SASL_SSL"), std::string::npos) << summary;
  EXPECT_NE(summary.find("sasl.username=chipwatch"), std::string::npos) << summary;
  EXPECT_NE(summary.find("acks=all"), std::string::npos) << summary;
  EXPECT_NE(summary.find("sources[0]: kafka brokers=127.0.0.1:9092 group=chipwatch"),
            std::string::npos)
      << summary;
  EXPECT_NE(summary.find("dead_letter: kafka brokers=127.0.0.1:9092 topic=dead"), std::string::npos)
      << summary;
  EXPECT_NE(summary.find("sinks[1]: stdout"), std::string::npos) << summary;
  EXPECT_NE(summary.find("metrics: 127.0.0.1:9464"), std::string::npos) << summary;
  EXPECT_NE(summary.find("shutdown_timeout: 30s"), std::string::npos) << summary;
}

TEST_F(ConfigTest, DiagnosticsNeverQuoteSecretValues) {
  // Secrets in every place a diagnostic could be about: a wrong type, a reserved or duplicate
  // property, an unknown key at a secret's level, bad siblings, and a YAML mapping as a value.
  EXPECT_EQ(Load(R"(rules: [rules]
sources:
  - type: kafka
    brokers: 127.0.0.1:9092
    group: g
    topics: [{topic: t}]
    sasl.password: S3CR3T-misplaced
    properties:
      sasl.password: [S3CR3T-list]
      ssl.key.password: {S3CR3T-map: S3CR3T-value}
      sasl.jaas.config: S3CR3T-jaas
      sasl.jaas.config: S3CR3T-jaas-again
      group.id: S3CR3T-group
      sasl.username:
sinks:
  - {type: kafka, brokers: 127.0.0.1:9092, topic: t, properties: {sasl.password: S3CR3T-sink, acks: [all]}}
)"),
            nullptr);
  EXPECT_GE(diags_.error_count(), 6u) << Dump(diags_);
  const std::string text = AllText(diags_);
  EXPECT_EQ(text.find(kMarker), std::string::npos) << text;
  // The diagnostics still say where and what.
  ExpectError("wrong-type", 9, 22, "sources[0].properties.sasl.password must be a scalar");
  ExpectError("duplicate-key", 12, 7, "duplicate key sources[0].properties.sasl.jaas.config");
  ExpectError("unknown-key", 7, 5, "unknown key 'sasl.password' in sources[0]");
}

TEST_F(ConfigTest, SyntaxErrorsDoNotQuoteSecrets) {
  EXPECT_EQ(
      Load("rules: [rules]\nsinks:\n  - {type: kafka, properties: {sasl.password: \"S3CR3T\n"),
      nullptr);
  const std::string text = AllText(diags_);
  EXPECT_EQ(text.find(kMarker), std::string::npos) << text;
  EXPECT_EQ(Count("yaml-syntax"), 1u) << text;
}

}  // namespace
}  // namespace chipwatch::config_test
