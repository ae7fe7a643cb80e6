// KafkaSink on librdkafka's idempotent producer (see kafka_sink.h for the contract).
#include "sink/kafka_sink.h"

#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <utility>

#include "source/kafka_client_util.h"

namespace chipwatch {
namespace {

using kafka_internal::HeadersPtr;
using kafka_internal::KafkaPtr;
using kafka_internal::TopicPtr;

// How long the poller thread blocks in rd_kafka_poll, i.e. the worst-case latency of a stop.
constexpr int kPollIntervalMs = 100;
// How long a blocked Deliver() waits for a delivery report before retrying a full queue.
constexpr std::chrono::milliseconds kQueueFullRetry{10};

// A record in flight: owned by librdkafka's message (its _private opaque) from a successful
// rd_kafka_producev() until the delivery report. The value is produced without a copy from here.
struct InFlight {
  SinkRecord record;
  SinkCallback done;
};

class KafkaSink final : public Sink {
 public:
  KafkaSink(const KafkaSinkConfig& config,
            std::function<void(bool fatal, const std::string& message)> on_error)
      : name_("kafka:" + config.topic),
        on_error_(std::move(on_error)),
        scrubber_(kafka_internal::ClientProperties(config)) {}
  KafkaSink(const KafkaSink&) = delete;
  KafkaSink& operator=(const KafkaSink&) = delete;
  ~KafkaSink() override;

  Status Init(const KafkaSinkConfig& config);

  const std::string& name() const override { return name_; }
  Status Deliver(SinkRecord record, SinkCallback done) override;
  bool Flush(std::chrono::milliseconds timeout) override;
  size_t pending() const override {
    // Acknowledgements are counted after hand-ins, so reading them first never underflows.
    size_t acked = acked_.load(std::memory_order_acquire);
    return handed_in_.load(std::memory_order_acquire) - acked;
  }

 private:
  static void DeliveryReportCb(rd_kafka_t* rk, const rd_kafka_message_t* message, void* opaque);
  static void ErrorCb(rd_kafka_t* rk, int err, const char* reason, void* opaque);
  static void LogCb(const rd_kafka_t* rk, int level, const char* fac, const char* buf);

  void Acknowledge(InFlight& in_flight, const Status& status);
  void ReportError(bool fatal, const std::string& message) {
    if (on_error_) on_error_(fatal, scrubber_.Scrub(name_ + ": " + message));
  }
  void PollLoop();

  const std::string name_;
  const std::function<void(bool, const std::string&)> on_error_;
  const kafka_internal::SecretScrubber scrubber_;

  std::atomic<size_t> handed_in_{0};
  std::atomic<size_t> acked_{0};
  std::atomic<bool> closed_{false};
  std::atomic<bool> stop_poller_{false};
  // Signalled on every acknowledgement: wakes Deliver() waiting on a full queue, and Flush().
  std::mutex ack_mu_;
  std::condition_variable ack_cv_;

  KafkaPtr rk_;
  TopicPtr topic_;  // destroyed before rk_ (declared after it)
  std::thread poller_;
};

Status KafkaSink::Init(const KafkaSinkConfig& config) {
  kafka_internal::ConfPtr conf(rd_kafka_conf_new());
  kafka_internal::ClientDefaults defaults = {
      {"bootstrap.servers", config.brokers},
      {"client.id", "chipwatch"},
      // No duplicates or reordering on retries; implies acks=all and bounded in-flight requests.
      {"enable.idempotence", "true"},
      // Never drop: a record waits (and Deliver() blocks) for as long as the brokers are away.
      {"message.timeout.ms", "0"},
      {"linger.ms", "5"},
      {"log.queue", "true"},  // log lines are served by the poller thread
  };
  // Alert JSON compresses well; lz4 is cheap on the CPU. Only if this librdkafka has it.
  if (kafka_internal::HasBuiltinFeature(conf.get(), "lz4")) {
    defaults.emplace_back("compression.type", "lz4");
  }
  if (Status s = kafka_internal::ConfigureClient(conf.get(), defaults, config, name_); !s.ok()) {
    return s;
  }
  rd_kafka_conf_set_opaque(conf.get(), this);
  rd_kafka_conf_set_dr_msg_cb(conf.get(), &DeliveryReportCb);
  rd_kafka_conf_set_error_cb(conf.get(), &ErrorCb);
  rd_kafka_conf_set_log_cb(conf.get(), &LogCb);

  std::array<char, 512> err{};
  rk_.reset(rd_kafka_new(RD_KAFKA_PRODUCER, conf.get(), err.data(), err.size()));
  if (rk_ == nullptr) {
    return Status::InvalidArgument(
        scrubber_.Scrub(name_ + ": cannot create the producer: " + err.data()));
  }
  (void)conf.release();  // owned by rk_ now
  if (rd_kafka_resp_err_t e = rd_kafka_set_log_queue(rk_.get(), nullptr); e) {
    return Status::Internal(name_ + ": rd_kafka_set_log_queue: " + rd_kafka_err2str(e));
  }
  topic_.reset(rd_kafka_topic_new(rk_.get(), config.topic.c_str(), nullptr));
  if (topic_ == nullptr) {
    return Status::InvalidArgument(
        name_ + ": cannot create the topic handle: " + rd_kafka_err2str(rd_kafka_last_error()));
  }
  poller_ = std::thread([this] { PollLoop(); });
  return Status::Ok();
}

KafkaSink::~KafkaSink() {
  closed_.store(true);
  if (poller_.joinable()) {
    stop_poller_.store(true);
    rd_kafka_yield(rk_.get());
    poller_.join();
  }
  if (rk_ != nullptr) {
    // Fail what is still queued, so every callback runs exactly once and no InFlight leaks.
    (void)rd_kafka_purge(rk_.get(), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    (void)rd_kafka_flush(rk_.get(), 5000);
    topic_.reset();
    rk_.reset();
  }
}

void KafkaSink::PollLoop() {
  while (!stop_poller_.load(std::memory_order_relaxed)) rd_kafka_poll(rk_.get(), kPollIntervalMs);
}

Status KafkaSink::Deliver(SinkRecord record, SinkCallback done) {
  if (closed_.load(std::memory_order_relaxed)) return Status::Cancelled(name_ + ": sink is closed");
  auto in_flight = std::make_unique<InFlight>(InFlight{std::move(record), std::move(done)});
  const SinkRecord& r = in_flight->record;
  handed_in_.fetch_add(1, std::memory_order_acq_rel);

  for (;;) {
    HeadersPtr headers;
    if (!r.headers.empty()) {
      headers.reset(rd_kafka_headers_new(r.headers.size()));
      for (const SinkHeader& h : r.headers) {
        rd_kafka_header_add(headers.get(), h.name.data(), static_cast<ssize_t>(h.name.size()),
                            h.value.data(), static_cast<ssize_t>(h.value.size()));
      }
    }
    // Without RD_KAFKA_MSG_F_COPY the value is referenced in place: `in_flight` keeps it alive
    // until the delivery report. An empty key is sent as a null key (random partition).
    // librdkafka's RD_KAFKA_V_* macros expand to C casts (the build enables -Wold-style-cast).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wold-style-cast"
    rd_kafka_resp_err_t err = rd_kafka_producev(
        rk_.get(), RD_KAFKA_V_RKT(topic_.get()),
        RD_KAFKA_V_VALUE(const_cast<char*>(r.value.data()), r.value.size()),
        RD_KAFKA_V_KEY(r.key.empty() ? nullptr : r.key.data(), r.key.size()),
        RD_KAFKA_V_HEADERS(headers.get()), RD_KAFKA_V_OPAQUE(in_flight.get()), RD_KAFKA_V_END);
#pragma GCC diagnostic pop
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      (void)headers.release();    // owned by the message now
      (void)in_flight.release();  // owned by the message now; freed in DeliveryReportCb
      return Status::Ok();
    }
    if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      // Backpressure: wait for a delivery report to free room (the poller thread serves them).
      if (closed_.load(std::memory_order_relaxed)) {
        acked_.fetch_add(1, std::memory_order_acq_rel);
        return Status::Cancelled(name_ + ": sink is closed");
      }
      std::unique_lock<std::mutex> lock(ack_mu_);
      ack_cv_.wait_for(lock, kQueueFullRetry);
      continue;
    }
    // Rejected for good (too large, fatal producer state, ...): the record can never be delivered.
    Status status = err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE
                        ? Status::TooLarge(name_ + ": record of " + std::to_string(r.value.size()) +
                                           " bytes is too large: " + rd_kafka_err2str(err))
                        : Status::IoError(name_ + ": cannot produce: " + rd_kafka_err2str(err));
    Acknowledge(*in_flight, status);
    return Status::Ok();
  }
}

void KafkaSink::Acknowledge(InFlight& in_flight, const Status& status) {
  if (in_flight.done) in_flight.done(status);
  acked_.fetch_add(1, std::memory_order_acq_rel);
  {
    std::lock_guard<std::mutex> lock(ack_mu_);  // no lost wake-up for a waiter about to sleep
  }
  ack_cv_.notify_all();
}

void KafkaSink::DeliveryReportCb(rd_kafka_t* /*rk*/, const rd_kafka_message_t* message,
                                 void* opaque) {
  auto* self = static_cast<KafkaSink*>(opaque);
  std::unique_ptr<InFlight> in_flight(static_cast<InFlight*>(message->_private));
  if (in_flight == nullptr) return;
  Status status;
  switch (message->err) {
    case RD_KAFKA_RESP_ERR_NO_ERROR:
      break;
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
      status = Status::TooLarge(
          self->name_ + ": record too large for the topic: " + rd_kafka_err2str(message->err));
      break;
    case RD_KAFKA_RESP_ERR__PURGE_QUEUE:
    case RD_KAFKA_RESP_ERR__PURGE_INFLIGHT:
      status = Status::Cancelled(self->name_ + ": sink closed before the record was acknowledged");
      break;
    default:
      status =
          Status::IoError(self->name_ + ": delivery failed: " + rd_kafka_err2name(message->err) +
                          ": " + rd_kafka_err2str(message->err));
  }
  self->Acknowledge(*in_flight, status);
}

void KafkaSink::ErrorCb(rd_kafka_t* rk, int err, const char* reason, void* opaque) {
  bool fatal = false;
  std::string message = kafka_internal::DescribeClientError(rk, err, reason, &fatal);
  static_cast<KafkaSink*>(opaque)->ReportError(fatal, message);
}

void KafkaSink::LogCb(const rd_kafka_t* rk, int level, const char* fac, const char* buf) {
  if (!kafka_internal::ShouldForwardLog(level, fac)) return;
  auto* self = static_cast<KafkaSink*>(rd_kafka_opaque(rk));
  if (self == nullptr) return;
  self->ReportError(false, std::string("librdkafka ") + fac + ": " + buf);
}

bool KafkaSink::Flush(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  const size_t target = handed_in_.load(std::memory_order_acquire);
  // rd_kafka_flush makes the broker threads send now (ignoring linger.ms) and serves delivery
  // reports while waiting. It returns once librdkafka holds no message; the poller thread may
  // still be running the last callback, hence the wait on our own counter below.
  (void)rd_kafka_flush(rk_.get(),
                       static_cast<int>(std::clamp<int64_t>(timeout.count(), 0, INT32_MAX)));
  std::unique_lock<std::mutex> lock(ack_mu_);
  return ack_cv_.wait_until(lock, deadline,
                            [&] { return acked_.load(std::memory_order_acquire) >= target; });
}

}  // namespace

Result<std::unique_ptr<Sink>> CreateKafkaSink(
    const KafkaSinkConfig& config,
    std::function<void(bool fatal, const std::string& message)> on_error) {
  auto sink = std::make_unique<KafkaSink>(config, std::move(on_error));
  if (Status s = sink->Init(config); !s.ok()) return s;
  return std::unique_ptr<Sink>(std::move(sink));
}

}  // namespace chipwatch
