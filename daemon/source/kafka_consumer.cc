// KafkaConsumer on librdkafka's high-level consumer (see kafka_consumer.h for the contract).
//
// Every librdkafka callback is served on the polling thread: rebalances and errors come out of
// rd_kafka_consumer_poll(), and log lines are routed there too (log.queue=true, log queue = main
// queue, which rd_kafka_poll_set_consumer() forwards to the consumer queue).
#include "source/kafka_consumer.h"

#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <cstring>
#include <mutex>
#include <optional>
#include <utility>

#include "source/kafka_client_util.h"

namespace chipwatch {
namespace {

using kafka_internal::ErrorPtr;
using kafka_internal::KafkaPtr;
using kafka_internal::MessagePtr;
using kafka_internal::PartitionListPtr;
using kafka_internal::QueuePtr;

constexpr std::string_view kClient = "kafka source";

std::string PartitionName(const TopicPartition& tp) {
  return tp.topic + "[" + std::to_string(tp.partition) + "]";
}

std::vector<TopicPartition> ToVector(const rd_kafka_topic_partition_list_t* list) {
  std::vector<TopicPartition> out;
  if (list == nullptr) return out;
  out.reserve(list->cnt);
  for (int i = 0; i < list->cnt; ++i) {
    out.push_back({list->elems[i].topic, list->elems[i].partition});
  }
  return out;
}

class RdKafkaMessage final : public KafkaMessage {
 public:
  explicit RdKafkaMessage(MessagePtr message)
      : message_(std::move(message)), topic_(rd_kafka_topic_name(message_->rkt)) {}

  std::string_view topic() const override { return topic_; }
  int32_t partition() const override { return message_->partition; }
  int64_t offset() const override { return message_->offset; }
  std::string_view payload() const override {
    if (message_->payload == nullptr) return {};
    return {static_cast<const char*>(message_->payload), message_->len};
  }
  std::string_view key() const override {
    if (message_->key == nullptr) return {};
    return {static_cast<const char*>(message_->key), message_->key_len};
  }
  std::vector<std::pair<std::string, std::string>> headers() const override {
    std::vector<std::pair<std::string, std::string>> out;
    rd_kafka_headers_t* hdrs = nullptr;  // owned by the message
    if (rd_kafka_message_headers(message_.get(), &hdrs) != RD_KAFKA_RESP_ERR_NO_ERROR) return out;
    const char* name = nullptr;
    const void* value = nullptr;
    size_t size = 0;
    for (size_t i = 0;
         rd_kafka_header_get_all(hdrs, i, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR;
         ++i) {
      out.emplace_back(name, value != nullptr ? std::string(static_cast<const char*>(value), size)
                                              : std::string());
    }
    return out;
  }
  int64_t timestamp_ms() const override {
    rd_kafka_timestamp_type_t type = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE;
    int64_t ts = rd_kafka_message_timestamp(message_.get(), &type);
    return type == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE ? -1 : ts;
  }

 private:
  MessagePtr message_;
  std::string_view topic_;  // owned by librdkafka's topic object, which the message references
};

class RdKafkaConsumer final : public KafkaConsumer {
 public:
  RdKafkaConsumer(const KafkaSourceConfig& config, ConsumerCallbacks callbacks)
      : callbacks_(std::move(callbacks)), scrubber_(kafka_internal::ClientProperties(config)) {
    for (const KafkaTopicConfig& t : config.topics) formats_.emplace_back(t.topic, t.format);
  }
  RdKafkaConsumer(const RdKafkaConsumer&) = delete;
  RdKafkaConsumer& operator=(const RdKafkaConsumer&) = delete;

  ~RdKafkaConsumer() override {
    if (rk_ != nullptr) {
      callbacks_enabled_ = false;  // the owner may already be gone
      (void)Close();
    }
  }

  Status Init(const KafkaSourceConfig& config);

  std::unique_ptr<KafkaMessage> Poll(std::chrono::milliseconds timeout) override;
  void PauseAll() override;
  void ResumeAll() override;
  Status StoreOffset(const TopicPartition& tp, int64_t next_offset) override;
  Status CommitSync() override;
  Status CommitAsync() override;
  Format FormatOf(std::string_view topic) const override;
  std::vector<std::pair<TopicPartition, int64_t>> Lag() override;
  std::vector<TopicPartition> Assignment() override;
  Status Close() override;
  void Wake() override;

 private:
  static void RebalanceCb(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                          rd_kafka_topic_partition_list_t* partitions, void* opaque);
  static void ErrorCb(rd_kafka_t* rk, int err, const char* reason, void* opaque);
  static void LogCb(const rd_kafka_t* rk, int level, const char* fac, const char* buf);

  void Rebalance(rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* partitions);
  // Pauses or resumes `partitions`; reports failures through on_error.
  void SetPaused(rd_kafka_topic_partition_list_t* partitions, bool pause);
  void ReportError(bool fatal, const std::string& message) {
    if (callbacks_enabled_ && callbacks_.on_error) {
      callbacks_.on_error(fatal, scrubber_.Scrub(std::string(kClient) + ": " + message));
    }
  }

  ConsumerCallbacks callbacks_;
  bool callbacks_enabled_ = true;
  kafka_internal::SecretScrubber scrubber_;
  std::vector<std::pair<std::string, Format>> formats_;
  bool paused_ = false;
  // Guards consumer_queue_ against Wake() from another thread while Close() tears it down.
  std::mutex wake_mu_;
  KafkaPtr rk_;
  QueuePtr consumer_queue_;  // destroyed before rk_ (declared after it)
};

Status RdKafkaConsumer::Init(const KafkaSourceConfig& config) {
  kafka_internal::ConfPtr conf(rd_kafka_conf_new());
  const kafka_internal::ClientDefaults defaults = {
      {"bootstrap.servers", config.brokers},
      {"group.id", config.group},
      {"client.id", "chipwatch"},
      // Incremental rebalances: a member joining or leaving does not stop the others.
      {"partition.assignment.strategy", "cooperative-sticky"},
      // At-least-once: only offsets the owner stored (all alerts acknowledged) are committed.
      {"enable.auto.offset.store", "false"},
      {"enable.auto.commit", "true"},
      {"auto.commit.interval.ms", "1000"},
      {"auto.offset.reset", std::string(StartFromName(config.start_from))},
      {"enable.partition.eof", "false"},
      // Route log lines to the main (hence consumer) queue: callbacks run on the polling thread.
      {"log.queue", "true"},
  };
  if (Status s = kafka_internal::ConfigureClient(conf.get(), defaults, config, kClient); !s.ok()) {
    return s;
  }
  rd_kafka_conf_set_opaque(conf.get(), this);
  rd_kafka_conf_set_rebalance_cb(conf.get(), &RebalanceCb);
  rd_kafka_conf_set_error_cb(conf.get(), &ErrorCb);
  rd_kafka_conf_set_log_cb(conf.get(), &LogCb);

  std::array<char, 512> err{};
  rk_.reset(rd_kafka_new(RD_KAFKA_CONSUMER, conf.get(), err.data(), err.size()));
  if (rk_ == nullptr) {
    return Status::InvalidArgument(
        scrubber_.Scrub(std::string(kClient) + ": cannot create the consumer: " + err.data()));
  }
  (void)conf.release();  // owned by rk_ now
  if (rd_kafka_resp_err_t e = rd_kafka_set_log_queue(rk_.get(), nullptr); e) {
    return Status::Internal(std::string(kClient) +
                            ": rd_kafka_set_log_queue: " + rd_kafka_err2str(e));
  }
  if (rd_kafka_resp_err_t e = rd_kafka_poll_set_consumer(rk_.get()); e) {
    return Status::Internal(std::string(kClient) +
                            ": rd_kafka_poll_set_consumer: " + rd_kafka_err2str(e));
  }
  consumer_queue_.reset(rd_kafka_queue_get_consumer(rk_.get()));

  PartitionListPtr topics(
      rd_kafka_topic_partition_list_new(static_cast<int>(config.topics.size())));
  for (const KafkaTopicConfig& t : config.topics) {
    rd_kafka_topic_partition_list_add(topics.get(), t.topic.c_str(), RD_KAFKA_PARTITION_UA);
  }
  if (rd_kafka_resp_err_t e = rd_kafka_subscribe(rk_.get(), topics.get()); e) {
    return Status::InvalidArgument(std::string(kClient) +
                                   ": cannot subscribe: " + rd_kafka_err2str(e));
  }
  return Status::Ok();
}

void RdKafkaConsumer::RebalanceCb(rd_kafka_t* /*rk*/, rd_kafka_resp_err_t err,
                                  rd_kafka_topic_partition_list_t* partitions, void* opaque) {
  static_cast<RdKafkaConsumer*>(opaque)->Rebalance(err, partitions);
}

void RdKafkaConsumer::ErrorCb(rd_kafka_t* rk, int err, const char* reason, void* opaque) {
  bool fatal = false;
  std::string message = kafka_internal::DescribeClientError(rk, err, reason, &fatal);
  static_cast<RdKafkaConsumer*>(opaque)->ReportError(fatal, message);
}

void RdKafkaConsumer::LogCb(const rd_kafka_t* rk, int level, const char* fac, const char* buf) {
  if (!kafka_internal::ShouldForwardLog(level, fac)) return;
  auto* self = static_cast<RdKafkaConsumer*>(rd_kafka_opaque(rk));
  if (self == nullptr) return;
  self->ReportError(false, std::string("librdkafka ") + fac + ": " + buf);
}

void RdKafkaConsumer::Rebalance(rd_kafka_resp_err_t err,
                                rd_kafka_topic_partition_list_t* partitions) {
  rd_kafka_t* rk = rk_.get();
  const bool cooperative = std::strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    if (cooperative) {
      ErrorPtr error(rd_kafka_incremental_assign(rk, partitions));
      if (error != nullptr) {
        ReportError(
            false, std::string("incremental assign failed: ") + rd_kafka_error_string(error.get()));
      }
    } else if (rd_kafka_resp_err_t e = rd_kafka_assign(rk, partitions); e) {
      ReportError(false, std::string("assign failed: ") + rd_kafka_err2str(e));
    }
    // A new assignment starts fetching unless paused; the pause must survive rebalances.
    if (paused_) SetPaused(partitions, true);
    if (callbacks_enabled_ && callbacks_.on_assigned) callbacks_.on_assigned(ToVector(partitions));
    return;
  }
  if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
    // Before unassigning, so the owner can finish, store and commit for these partitions.
    const bool lost = rd_kafka_assignment_lost(rk) != 0;
    if (callbacks_enabled_ && callbacks_.on_revoked) {
      callbacks_.on_revoked(ToVector(partitions), lost);
    }
    if (cooperative) {
      ErrorPtr error(rd_kafka_incremental_unassign(rk, partitions));
      if (error != nullptr) {
        ReportError(false, std::string("incremental unassign failed: ") +
                               rd_kafka_error_string(error.get()));
      }
    } else if (rd_kafka_resp_err_t e = rd_kafka_assign(rk, nullptr); e) {
      ReportError(false, std::string("unassign failed: ") + rd_kafka_err2str(e));
    }
    return;
  }
  // Any other error: drop the assignment to keep librdkafka's state consistent, as documented.
  ReportError(false, std::string("rebalance failed: ") + rd_kafka_err2str(err));
  if (cooperative) {
    ErrorPtr error(rd_kafka_incremental_unassign(rk, partitions));
  } else {
    (void)rd_kafka_assign(rk, nullptr);
  }
}

std::unique_ptr<KafkaMessage> RdKafkaConsumer::Poll(std::chrono::milliseconds timeout) {
  if (rk_ == nullptr) return nullptr;
  // The deadline is only needed after an error event (rare): no clock reads per message.
  std::optional<std::chrono::steady_clock::time_point> deadline;
  auto remaining = timeout;
  for (;;) {
    MessagePtr message(rd_kafka_consumer_poll(
        rk_.get(), static_cast<int>(std::clamp<int64_t>(remaining.count(), 0, INT32_MAX))));
    if (message == nullptr) return nullptr;  // time-out or Wake()
    if (message->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      return std::make_unique<RdKafkaMessage>(std::move(message));
    }
    if (message->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      std::string where;
      if (message->rkt != nullptr) {
        where = PartitionName({rd_kafka_topic_name(message->rkt), message->partition}) + ": ";
      }
      ReportError(
          message->err == RD_KAFKA_RESP_ERR__FATAL,
          where + rd_kafka_err2name(message->err) + ": " + rd_kafka_message_errstr(message.get()));
    }
    const auto now = std::chrono::steady_clock::now();
    if (!deadline) deadline = now + remaining;
    if (now >= *deadline) return nullptr;
    remaining = std::chrono::duration_cast<std::chrono::milliseconds>(*deadline - now);
  }
}

void RdKafkaConsumer::SetPaused(rd_kafka_topic_partition_list_t* partitions, bool pause) {
  if (partitions == nullptr || partitions->cnt == 0) return;
  rd_kafka_resp_err_t err = pause ? rd_kafka_pause_partitions(rk_.get(), partitions)
                                  : rd_kafka_resume_partitions(rk_.get(), partitions);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    ReportError(false,
                std::string(pause ? "pause" : "resume") + " failed: " + rd_kafka_err2str(err));
    return;
  }
  for (int i = 0; i < partitions->cnt; ++i) {
    const rd_kafka_topic_partition_t& p = partitions->elems[i];
    if (p.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      ReportError(false, std::string(pause ? "pause " : "resume ") +
                             PartitionName({p.topic, p.partition}) +
                             " failed: " + rd_kafka_err2str(p.err));
    }
  }
}

void RdKafkaConsumer::PauseAll() {
  if (rk_ == nullptr) return;
  paused_ = true;
  rd_kafka_topic_partition_list_t* raw = nullptr;
  if (rd_kafka_assignment(rk_.get(), &raw) != RD_KAFKA_RESP_ERR_NO_ERROR) return;
  PartitionListPtr assignment(raw);
  SetPaused(assignment.get(), true);
}

void RdKafkaConsumer::ResumeAll() {
  if (rk_ == nullptr) return;
  paused_ = false;
  rd_kafka_topic_partition_list_t* raw = nullptr;
  if (rd_kafka_assignment(rk_.get(), &raw) != RD_KAFKA_RESP_ERR_NO_ERROR) return;
  PartitionListPtr assignment(raw);
  SetPaused(assignment.get(), false);
}

Status RdKafkaConsumer::StoreOffset(const TopicPartition& tp, int64_t next_offset) {
  if (rk_ == nullptr) return Status::InvalidArgument(std::string(kClient) + ": closed");
  PartitionListPtr list(rd_kafka_topic_partition_list_new(1));
  rd_kafka_topic_partition_list_add(list.get(), tp.topic.c_str(), tp.partition)->offset =
      next_offset;
  rd_kafka_resp_err_t err = rd_kafka_offsets_store(rk_.get(), list.get());
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR) err = list->elems[0].err;
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    // __STATE: the partition is no longer assigned (it was revoked).
    return Status::InvalidArgument(std::string(kClient) + ": cannot store offset " +
                                   std::to_string(next_offset) + " for " + PartitionName(tp) +
                                   ": " + rd_kafka_err2str(err));
  }
  return Status::Ok();
}

Status RdKafkaConsumer::CommitSync() {
  if (rk_ == nullptr) return Status::InvalidArgument(std::string(kClient) + ": closed");
  rd_kafka_resp_err_t err = rd_kafka_commit(rk_.get(), nullptr, /*async=*/0);
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR || err == RD_KAFKA_RESP_ERR__NO_OFFSET) {
    return Status::Ok();  // __NO_OFFSET: nothing new stored since the last commit
  }
  return Status::IoError(std::string(kClient) + ": commit failed: " + rd_kafka_err2str(err));
}

Status RdKafkaConsumer::CommitAsync() {
  if (rk_ == nullptr) return Status::InvalidArgument(std::string(kClient) + ": closed");
  rd_kafka_resp_err_t err = rd_kafka_commit(rk_.get(), nullptr, /*async=*/1);
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR || err == RD_KAFKA_RESP_ERR__NO_OFFSET) {
    return Status::Ok();
  }
  return Status::IoError(std::string(kClient) + ": commit failed: " + rd_kafka_err2str(err));
}

Format RdKafkaConsumer::FormatOf(std::string_view topic) const {
  for (const auto& [name, format] : formats_) {
    if (name == topic) return format;
  }
  return Format::kAuto;
}

std::vector<std::pair<TopicPartition, int64_t>> RdKafkaConsumer::Lag() {
  std::vector<std::pair<TopicPartition, int64_t>> out;
  if (rk_ == nullptr) return out;
  rd_kafka_topic_partition_list_t* raw = nullptr;
  if (rd_kafka_assignment(rk_.get(), &raw) != RD_KAFKA_RESP_ERR_NO_ERROR) return out;
  PartitionListPtr assignment(raw);
  // Both calls read local state only: the fetch position and the watermarks cached from the last
  // fetch response. Nothing here waits for a broker.
  (void)rd_kafka_position(rk_.get(), assignment.get());
  out.reserve(assignment->cnt);
  for (int i = 0; i < assignment->cnt; ++i) {
    const rd_kafka_topic_partition_t& p = assignment->elems[i];
    int64_t low = RD_KAFKA_OFFSET_INVALID;
    int64_t high = RD_KAFKA_OFFSET_INVALID;
    int64_t lag = -1;
    if (p.err == RD_KAFKA_RESP_ERR_NO_ERROR && p.offset >= 0 &&
        rd_kafka_get_watermark_offsets(rk_.get(), p.topic, p.partition, &low, &high) ==
            RD_KAFKA_RESP_ERR_NO_ERROR &&
        high >= 0) {
      lag = std::max<int64_t>(0, high - p.offset);
    }
    out.push_back({{p.topic, p.partition}, lag});
  }
  return out;
}

std::vector<TopicPartition> RdKafkaConsumer::Assignment() {
  if (rk_ == nullptr) return {};
  rd_kafka_topic_partition_list_t* raw = nullptr;
  if (rd_kafka_assignment(rk_.get(), &raw) != RD_KAFKA_RESP_ERR_NO_ERROR) return {};
  PartitionListPtr assignment(raw);
  return ToVector(assignment.get());
}

Status RdKafkaConsumer::Close() {
  if (rk_ == nullptr) return Status::Ok();
  // Runs the final revoke through RebalanceCb on this thread; auto-commit then commits what was
  // stored.
  rd_kafka_resp_err_t err = rd_kafka_consumer_close(rk_.get());
  {
    std::lock_guard<std::mutex> lock(wake_mu_);
    consumer_queue_.reset();
  }
  rk_.reset();
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return Status::IoError(std::string(kClient) + ": close: " + rd_kafka_err2str(err));
  }
  return Status::Ok();
}

void RdKafkaConsumer::Wake() {
  std::lock_guard<std::mutex> lock(wake_mu_);
  if (consumer_queue_ != nullptr) rd_kafka_queue_yield(consumer_queue_.get());
}

}  // namespace

Result<std::unique_ptr<KafkaConsumer>> KafkaConsumer::Create(const KafkaSourceConfig& config,
                                                             ConsumerCallbacks callbacks) {
  if (config.topics.empty()) {
    return Status::InvalidArgument(std::string(kClient) + ": no topics to subscribe to");
  }
  auto consumer = std::make_unique<RdKafkaConsumer>(config, std::move(callbacks));
  if (Status s = consumer->Init(config); !s.ok()) return s;
  return std::unique_ptr<KafkaConsumer>(std::move(consumer));
}

}  // namespace chipwatch
