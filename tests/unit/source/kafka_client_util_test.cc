// kafka_internal helpers (source/kafka_client_util.h): which client errors stop the daemon, and the
// `security` block reaching the client as librdkafka properties whose secrets are scrubbed.
#include "source/kafka_client_util.h"

#include <gtest/gtest.h>

namespace chipwatch::kafka_internal {
namespace {

TEST(DescribeClientError, AuthenticationAndTlsErrorsAreFatal) {
  // What librdkafka 2.0 reports through error_cb for a wrong SASL password and for a broker
  // certificate the configured CA did not sign: it would retry both forever.
  bool fatal = false;
  std::string message = DescribeClientError(
      nullptr, RD_KAFKA_RESP_ERR__AUTHENTICATION,
      "sasl_ssl://127.0.0.1:19094/bootstrap: SASL authentication error: Authentication failed "
      "during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512",
      &fatal);
  EXPECT_TRUE(fatal);
  EXPECT_NE(message.find("authentication error"), std::string::npos) << message;
  EXPECT_NE(message.find("invalid credentials"), std::string::npos) << message;

  message = DescribeClientError(nullptr, RD_KAFKA_RESP_ERR__SSL,
                                "sasl_ssl://127.0.0.1:19094/bootstrap: SSL handshake failed: "
                                "certificate verify failed",
                                &fatal);
  EXPECT_TRUE(fatal);
  EXPECT_NE(message.find("TLS error"), std::string::npos) << message;
  EXPECT_NE(message.find("certificate verify failed"), std::string::npos) << message;

  for (int err : {RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED,
                  RD_KAFKA_RESP_ERR_UNSUPPORTED_SASL_MECHANISM}) {
    (void)DescribeClientError(nullptr, err, "x", &fatal);
    EXPECT_TRUE(fatal) << rd_kafka_err2name(static_cast<rd_kafka_resp_err_t>(err));
  }
}

TEST(DescribeClientError, ClientCertificateRefusedByTheBrokerIsFatal) {
  // Mutual TLS over TLS 1.3: the broker's refusal arrives as an alert on the first read.
  for (const char* alert : {"sslv3 alert bad certificate: SSL alert number 42",
                            "sslv3 alert certificate unknown: SSL alert number 46",
                            "tlsv1 alert unknown ca: SSL alert number 48",
                            "tlsv13 alert certificate required: SSL alert number 116"}) {
    bool fatal = false;
    std::string message = DescribeClientError(
        nullptr, RD_KAFKA_RESP_ERR__TRANSPORT,
        ("ssl://127.0.0.1:19097/bootstrap: Receive failed: error:0A000412:SSL routines::" +
         std::string(alert) + " (after 4ms in state APIVERSION_QUERY)")
            .c_str(),
        &fatal);
    EXPECT_TRUE(fatal) << alert;
    EXPECT_NE(message.find("TLS error"), std::string::npos) << message;
  }
  // A TLS connection that just drops (a broker restarting) is not one.
  bool fatal = true;
  (void)DescribeClientError(nullptr, RD_KAFKA_RESP_ERR__TRANSPORT,
                            "ssl://127.0.0.1:19097/1: Receive failed: error:0A000126:SSL "
                            "routines::unexpected eof while reading",
                            &fatal);
  EXPECT_FALSE(fatal);
}

TEST(DescribeClientError, BrokerDownIsTransient) {
  for (int err : {RD_KAFKA_RESP_ERR__TRANSPORT, RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN,
                  RD_KAFKA_RESP_ERR__RESOLVE, RD_KAFKA_RESP_ERR__TIMED_OUT}) {
    bool fatal = true;
    std::string message = DescribeClientError(nullptr, err, "127.0.0.1:9092: down", &fatal);
    EXPECT_FALSE(fatal) << message;
    EXPECT_NE(message.find("127.0.0.1:9092: down"), std::string::npos) << message;
  }
}

TEST(ClientProperties, SecurityBlockFirstThenPropertiesAndThePasswordIsScrubbed) {
  KafkaSinkConfig config;
  config.properties = {{"acks", "all", {}}};
  config.security.configured = true;
  config.security.protocol = KafkaProtocol::kSaslSsl;
  config.security.ca_file = ConfigPath{"/etc/chipwatch/ca.pem", {}};
  config.security.sasl = KafkaSaslConfig{};
  config.security.sasl->username = "chipwatch";
  config.security.sasl->password = "S3CR3T-pw";
  const std::vector<KafkaProperty> props = ClientProperties(config);
  std::vector<std::string> names;
  for (const auto& p : props) names.push_back(p.name);
  EXPECT_EQ(names,
            (std::vector<std::string>{"security.protocol", "ssl.ca.location", "sasl.mechanisms",
                                      "sasl.username", "sasl.password", "acks"}));
  SecretScrubber scrubber(props);
  EXPECT_EQ(scrubber.Scrub("auth with S3CR3T-pw failed"), "auth with <redacted> failed");

  // librdkafka accepts every property the block produces.
  ConfPtr conf(rd_kafka_conf_new());
  Status s = ApplyProperties(conf.get(), props, "test");
  EXPECT_TRUE(s.ok()) << s.message();
}

}  // namespace
}  // namespace chipwatch::kafka_internal
