// MetricsServer: /metrics, /healthz and /readyz on civetweb's CivetServer.
//
// prometheus-cpp's Exposer serves only registered collectables, so the probes need a server of our
// own; one catch-all handler dispatches on the exact path. civetweb reports its own problems
// (e.g. "cannot bind to 127.0.0.1:9464: 98 (Address already in use)") through the log_message
// callback, which we route to the starting server's CivetLog instead of stderr, to explain a
// failed start. Exceptions never cross into civetweb's C threads: each handler catches everything.
//
// Stopping: civetweb's listener thread polls its sockets with a 2 s timeout and only then sees the
// stop flag, so mg_stop() alone takes up to 2 s. The destructor connects to the listener while
// mg_stop() runs, which wakes it at once (IPv4 addresses only; otherwise it just waits).
#include <CivetServer.h>
#include <arpa/inet.h>
#include <civetweb.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <exception>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "metrics/metrics.h"

namespace chipwatch {
namespace {

constexpr char kMetricsContentType[] = "text/plain; version=0.0.4; charset=utf-8";
constexpr char kTextContentType[] = "text/plain; charset=utf-8";
constexpr unsigned kCivetFeatureIpv6 = 8;  // mg_check_feature(): built with USE_IPV6
constexpr size_t kMaxLogBytes = 2048;

// civetweb's diagnostics for one server. Written from civetweb's threads, read by Start().
class CivetLog {
 public:
  void Add(std::string_view message) {
    std::lock_guard<std::mutex> lock(mu_);
    if (text_.size() >= kMaxLogBytes) return;
    if (!text_.empty()) text_ += "; ";
    text_ += message.substr(0, kMaxLogBytes - text_.size());
  }
  std::string Text() const {
    std::lock_guard<std::mutex> lock(mu_);
    return text_;
  }

 private:
  mutable std::mutex mu_;
  std::string text_;  // guarded by mu_
};

// civetweb's log_message callback. The context's user data is the CivetServer, whose user context
// is the CivetLog (both set before civetweb binds, so start-up errors arrive here too).
int OnCivetLog(const mg_connection* conn, const char* message) {
  if (conn == nullptr || message == nullptr) return 1;
  const mg_context* ctx = mg_get_context(conn);
  if (ctx == nullptr) return 1;
  const auto* server = static_cast<const CivetServer*>(mg_get_user_data(ctx));
  if (server == nullptr) return 1;
  auto* log = static_cast<CivetLog*>(const_cast<void*>(server->getUserContext()));
  if (log != nullptr) log->Add(message);
  return 1;  // handled: civetweb writes nothing itself
}

std::string_view ReasonPhrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 503:
      return "Service Unavailable";
    default:
      return "Internal Server Error";
  }
}

// Writes a whole response and closes the connection (keep-alive is off).
void Respond(mg_connection* conn, int status, const char* content_type, std::string_view body,
             bool with_body, const char* extra_headers = "") {
  const std::string_view reason = ReasonPhrase(status);
  mg_printf(conn,
            "HTTP/1.1 %d %.*s\r\n"
            "Content-Type: %s\r\n"
            "Content-Length: %zu\r\n"
            "Cache-Control: no-store\r\n"
            "%s"
            "Connection: close\r\n\r\n",
            status, static_cast<int>(reason.size()), reason.data(), content_type, body.size(),
            extra_headers);
  if (with_body && !body.empty()) mg_write(conn, body.data(), body.size());
}

class Handler : public CivetHandler {
 public:
  Handler(const Metrics& metrics, std::function<bool()> ready)
      : metrics_(metrics), ready_(std::move(ready)) {}

  using CivetHandler::handleDelete;
  using CivetHandler::handleGet;
  using CivetHandler::handleHead;
  using CivetHandler::handleOptions;
  using CivetHandler::handlePatch;
  using CivetHandler::handlePost;
  using CivetHandler::handlePut;

  bool handleGet(CivetServer*, mg_connection* conn) override { return Serve(conn, true); }
  bool handleHead(CivetServer*, mg_connection* conn) override { return Serve(conn, false); }
  bool handlePost(CivetServer*, mg_connection* conn) override { return NotAllowed(conn); }
  bool handlePut(CivetServer*, mg_connection* conn) override { return NotAllowed(conn); }
  bool handleDelete(CivetServer*, mg_connection* conn) override { return NotAllowed(conn); }
  bool handleOptions(CivetServer*, mg_connection* conn) override { return NotAllowed(conn); }
  bool handlePatch(CivetServer*, mg_connection* conn) override { return NotAllowed(conn); }

 private:
  bool Serve(mg_connection* conn, bool with_body) noexcept {
    try {
      const mg_request_info* info = mg_get_request_info(conn);
      const std::string_view path =
          info != nullptr && info->local_uri != nullptr ? info->local_uri : "";
      if (path == "/metrics") {
        Respond(conn, 200, kMetricsContentType, metrics_.Serialize(), with_body);
      } else if (path == "/healthz") {
        Respond(conn, 200, kTextContentType, "ok", with_body);
      } else if (path == "/readyz") {
        const bool ready = ready_ && ready_();
        Respond(conn, ready ? 200 : 503, kTextContentType, ready ? "ready" : "not ready",
                with_body);
      } else {
        Respond(conn, 404, kTextContentType, "not found", with_body);
      }
    } catch (...) {
      Respond(conn, 500, kTextContentType, "internal error", with_body);
    }
    return true;
  }

  bool NotAllowed(mg_connection* conn) noexcept {
    Respond(conn, 405, kTextContentType, "method not allowed", true, "Allow: GET, HEAD\r\n");
    return true;
  }

  const Metrics& metrics_;
  const std::function<bool()> ready_;
};

// Where to connect to wake the listener: the bound IPv4 address (loopback for a wildcard).
std::optional<sockaddr_in> WakeAddress(const std::string& host, uint16_t port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  if (inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) {
    addrinfo hints{};
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    if (getaddrinfo(host.c_str(), nullptr, &hints, &found) != 0 || found == nullptr) {
      return std::nullopt;
    }
    addr.sin_addr = reinterpret_cast<const sockaddr_in*>(found->ai_addr)->sin_addr;
    freeaddrinfo(found);
  }
  if (addr.sin_addr.s_addr == htonl(INADDR_ANY)) addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return addr;
}

// One connection that is closed at once: enough to end the listener's poll().
void Poke(const sockaddr_in& addr) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return;
  (void)connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr));
  close(fd);
}

std::string FormatAddress(const std::string& host, uint16_t port) {
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

}  // namespace

struct MetricsServer::Impl {
  Impl(const Metrics& metrics, std::function<bool()> ready) : handler(metrics, std::move(ready)) {}

  CivetLog log;
  Handler handler;
  std::string address;
  uint16_t port = 0;
  std::optional<sockaddr_in> wake_address;
  std::unique_ptr<CivetServer> server;  // last: stopped (threads joined) before the rest goes
};

MetricsServer::MetricsServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

MetricsServer::~MetricsServer() {
  std::atomic<bool> stopped{false};
  std::thread waker;
  try {
    if (impl_->wake_address) {
      waker = std::thread([&stopped, addr = *impl_->wake_address] {
        while (!stopped.load()) {
          Poke(addr);
          std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
      });
    }
  } catch (...) {  // no thread: stopping just takes up to 2 s
  }
  try {
    impl_->server.reset();  // mg_stop(): joins civetweb's threads
  } catch (...) {           // civetweb's close() does not throw; nothing escapes a destructor
  }
  stopped = true;
  if (waker.joinable()) waker.join();
}

uint16_t MetricsServer::port() const { return impl_->port; }
const std::string& MetricsServer::address() const { return impl_->address; }

Result<std::unique_ptr<MetricsServer>> MetricsServer::Start(const MetricsConfig& config,
                                                            const Metrics& metrics,
                                                            std::function<bool()> ready) {
  const std::string address = FormatAddress(config.host, config.port);
  try {
    if (config.host.find(':') != std::string::npos && mg_check_feature(kCivetFeatureIpv6) == 0) {
      return Status::IoError("cannot listen on " + address +
                             ": the civetweb library was built without IPv6 support; listen on "
                             "an IPv4 address or host name instead");
    }
    auto impl = std::make_unique<Impl>(metrics, std::move(ready));
    const std::vector<std::string> options = {
        "listening_ports",    address,  // only the configured address
        "num_threads",        "2",     "enable_keep_alive", "no",
        "request_timeout_ms", "10000",  // a stalled client cannot hold a thread for long
    };
    CivetCallbacks callbacks;
    callbacks.log_message = &OnCivetLog;
    try {
      impl->server = std::make_unique<CivetServer>(options, &callbacks, &impl->log);
    } catch (const std::exception& e) {
      std::string reason = impl->log.Text();
      return Status::IoError("cannot listen on " + address + ": " +
                             (reason.empty() ? std::string(e.what()) : reason));
    }
    // civetweb matches handler URIs by prefix: "/" receives every request; Handler dispatches.
    impl->server->addHandler("/", impl->handler);
    const std::vector<int> ports = impl->server->getListeningPorts();
    if (ports.empty() || ports[0] <= 0 || ports[0] > 65535) {
      return Status::IoError("cannot listen on " + address + ": no listening port");
    }
    impl->port = static_cast<uint16_t>(ports[0]);
    impl->address = FormatAddress(config.host, impl->port);
    if (config.host.find(':') == std::string::npos) {
      impl->wake_address = WakeAddress(config.host, impl->port);
    }
    return std::unique_ptr<MetricsServer>(new MetricsServer(std::move(impl)));
  } catch (const std::exception& e) {
    return Status::Internal("cannot start the metrics server on " + address + ": " + e.what());
  }
}

}  // namespace chipwatch
