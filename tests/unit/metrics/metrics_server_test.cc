// Tests for MetricsServer on an ephemeral port, through a tiny raw-socket HTTP/1.1 client (no
// curl): /metrics, /healthz, /readyz, 404 and 405, and bind failures that name the address.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <map>
#include <string>

#include "metrics/metrics.h"

namespace chipwatch {
namespace {

struct HttpResponse {
  int status = 0;                              // 0: no response
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
};

// One request on a fresh connection to 127.0.0.1:port; reads until the server closes.
HttpResponse Request(uint16_t port, const std::string& path, const std::string& method = "GET") {
  HttpResponse response;
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return response;
  timeval timeout{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return response;
  }
  const std::string request = method + " " + path +
                              " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                              "Content-Length: 0\r\n\r\n";
  if (send(fd, request.data(), request.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(request.size())) {
    close(fd);
    return response;
  }
  std::string raw;
  char buf[4096];
  for (ssize_t n; (n = recv(fd, buf, sizeof(buf), 0)) > 0;) raw.append(buf, static_cast<size_t>(n));
  close(fd);

  const size_t end_of_headers = raw.find("\r\n\r\n");
  if (raw.rfind("HTTP/1.", 0) != 0 || end_of_headers == std::string::npos) return response;
  response.status = std::stoi(raw.substr(9, 3));
  size_t pos = raw.find("\r\n") + 2;
  while (pos < end_of_headers) {
    const size_t eol = raw.find("\r\n", pos);
    const std::string line = raw.substr(pos, eol - pos);
    const size_t colon = line.find(':');
    if (colon != std::string::npos) {
      std::string name = line.substr(0, colon);
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      size_t value_start = line.find_first_not_of(' ', colon + 1);
      response.headers[name] = value_start == std::string::npos ? "" : line.substr(value_start);
    }
    pos = eol + 2;
  }
  response.body = raw.substr(end_of_headers + 4);
  return response;
}

MetricsConfig LoopbackConfig(uint16_t port = 0) {
  MetricsConfig config;
  config.host = "127.0.0.1";
  config.port = port;
  config.listen = "127.0.0.1:" + std::to_string(port);
  return config;
}

class MetricsServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server =
        MetricsServer::Start(LoopbackConfig(), metrics_, [this] { return ready_.load(); });
    ASSERT_TRUE(server.ok()) << server.status().message();
    server_ = std::move(server.value());
    ASSERT_NE(server_->port(), 0);
  }

  Metrics metrics_{"9.9.9"};
  std::atomic<bool> ready_{false};
  std::unique_ptr<MetricsServer> server_;
};

TEST_F(MetricsServerTest, MetricsEndpointServesTheExposition) {
  metrics_.Events("kafka[0]", "cloudtrail").Inc(7);
  HttpResponse r = Request(server_->port(), "/metrics");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.headers["content-type"], "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(r.headers["content-length"], std::to_string(r.body.size()));
  EXPECT_NE(r.body.find("chipwatch_build_info{version=\"9.9.9\"} 1"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("chipwatch_events_total{format=\"cloudtrail\",source=\"kafka[0]\"} 7"),
            std::string::npos);
  EXPECT_EQ(r.body, metrics_.Serialize());
  // A query string does not change the path.
  EXPECT_EQ(Request(server_->port(), "/metrics?x=1").status, 200);
}

TEST_F(MetricsServerTest, HealthzIsOkWhileTheProcessServes) {
  HttpResponse r = Request(server_->port(), "/healthz");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "ok");
  EXPECT_EQ(r.headers["content-type"], "text/plain; charset=utf-8");
}

TEST_F(MetricsServerTest, ReadyzFollowsTheReadyFunction) {
  HttpResponse r = Request(server_->port(), "/readyz");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.body, "not ready");
  ready_ = true;
  r = Request(server_->port(), "/readyz");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "ready");
  ready_ = false;
  EXPECT_EQ(Request(server_->port(), "/readyz").status, 503);
}

TEST_F(MetricsServerTest, OtherPathsAre404AndOtherMethods405) {
  for (const char* path :
       {"/", "/metricsx", "/metrics/extra", "/healthz/", "/favicon.ico", "/../etc/passwd"}) {
    EXPECT_EQ(Request(server_->port(), path).status, 404) << path;
  }
  HttpResponse head = Request(server_->port(), "/healthz", "HEAD");
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.body, "");
  HttpResponse post = Request(server_->port(), "/metrics", "POST");
  EXPECT_EQ(post.status, 405);
  EXPECT_EQ(post.headers["allow"], "GET, HEAD");
}

TEST_F(MetricsServerTest, BindFailureOnAPortInUseNamesTheAddress) {
  const uint16_t used = server_->port();
  auto second = MetricsServer::Start(LoopbackConfig(used), metrics_, nullptr);
  ASSERT_FALSE(second.ok());
  const std::string address = "127.0.0.1:" + std::to_string(used);
  EXPECT_NE(second.status().message().find("cannot listen on " + address), std::string::npos)
      << second.status().message();
  EXPECT_EQ(second.status().code(), Status::Code::kIoError);
  // The first server is unaffected.
  EXPECT_EQ(Request(server_->port(), "/healthz").status, 200);
}

TEST_F(MetricsServerTest, StopsServingWhenDestroyed) {
  const uint16_t port = server_->port();
  EXPECT_EQ(server_->address(), "127.0.0.1:" + std::to_string(port));
  server_.reset();
  EXPECT_EQ(Request(port, "/healthz").status, 0);  // connection refused
}

TEST(MetricsServerStartTest, EmptyReadyFunctionMeansNotReady) {
  Metrics metrics("1");
  auto server = MetricsServer::Start(LoopbackConfig(), metrics, nullptr);
  ASSERT_TRUE(server.ok()) << server.status().message();
  EXPECT_EQ(Request(server.value()->port(), "/readyz").status, 503);
}

TEST(MetricsServerStartTest, NonLocalAddressFailsNamingIt) {
  Metrics metrics("1");
  MetricsConfig config = LoopbackConfig();
  config.host = "192.0.2.1";  // TEST-NET-1: never an address of this host
  auto server = MetricsServer::Start(config, metrics, nullptr);
  ASSERT_FALSE(server.ok());
  EXPECT_NE(server.status().message().find("cannot listen on 192.0.2.1:0"), std::string::npos)
      << server.status().message();
}

TEST(MetricsServerStartTest, Ipv6ServesOrFailsNamingTheBracketedAddress) {
  Metrics metrics("1");
  MetricsConfig config = LoopbackConfig();
  config.host = "::1";
  auto server = MetricsServer::Start(config, metrics, nullptr);
  if (server.ok()) {  // a civetweb built with IPv6
    EXPECT_EQ(server.value()->address(), "[::1]:" + std::to_string(server.value()->port()));
  } else {
    EXPECT_NE(server.status().message().find("cannot listen on [::1]:0"), std::string::npos)
        << server.status().message();
  }
}

}  // namespace
}  // namespace chipwatch
