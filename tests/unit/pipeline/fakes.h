// Fakes for the pipeline's stage interfaces, so that its tests run without a broker:
// FakeConsumer (a KafkaConsumer over in-memory partitions, with the rebalance callbacks under the
// test's control), FakeSink (a Sink that acknowledges at once, holds acknowledgements until the
// test releases them, or refuses records) and a PipelineHarness that wires them into a RunState
// with a ManualClock.
// Thread contract: FakeSink is thread-safe (workers deliver into it); FakeConsumer follows the
// KafkaConsumer contract (one polling thread, Wake from any) and the test reads it only while no
// poll thread runs, or through its atomics.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "engine/policy.h"
#include "pipeline/kafka_input.h"
#include "pipeline/run_state.h"
#include "pipeline/startup.h"
#include "sink/sink.h"
#include "source/kafka_consumer.h"

namespace chipwatch::testing {

class FakeMessage final : public KafkaMessage {
 public:
  FakeMessage(std::string topic, int32_t partition, int64_t offset, std::string payload,
              std::string key = "", std::vector<std::pair<std::string, std::string>> headers = {})
      : topic_(std::move(topic)),
        partition_(partition),
        offset_(offset),
        payload_(std::move(payload)),
        key_(std::move(key)),
        headers_(std::move(headers)) {}
  std::string_view topic() const override { return topic_; }
  int32_t partition() const override { return partition_; }
  int64_t offset() const override { return offset_; }
  std::string_view payload() const override { return payload_; }
  std::string_view key() const override { return key_; }
  std::vector<std::pair<std::string, std::string>> headers() const override { return headers_; }
  int64_t timestamp_ms() const override { return 1748772000000; }

 private:
  std::string topic_;
  int32_t partition_;
  int64_t offset_;
  std::string payload_;
  std::string key_;
  std::vector<std::pair<std::string, std::string>> headers_;
};

// Messages are produced into partitions; Poll() returns them round-robin over the partitions in
// the order they were produced, except while paused.
class FakeConsumer final : public KafkaConsumer {
 public:
  FakeConsumer(const KafkaSourceConfig& config, ConsumerCallbacks callbacks)
      : callbacks_(std::move(callbacks)) {
    for (const auto& t : config.topics) formats_[t.topic] = t.format;
  }

  // Test side.
  void Produce(const std::string& topic, int32_t partition, std::string payload,
               std::vector<std::pair<std::string, std::string>> headers = {}) {
    std::lock_guard lock(mu_);
    auto& next = next_offset_[{topic, partition}];
    pending_.push_back(
        std::make_unique<FakeMessage>(topic, partition, next++, std::move(payload), "", headers));
  }
  void Assign(const std::vector<TopicPartition>& tps) {
    for (const auto& tp : tps) assignment_.push_back(tp);
    callbacks_.on_assigned(tps);
  }
  void Revoke(const std::vector<TopicPartition>& tps, bool lost = false) {
    callbacks_.on_revoked(tps, lost);
    std::erase_if(assignment_, [&](const TopicPartition& a) {
      for (const auto& tp : tps) {
        if (a == tp) return true;
      }
      return false;
    });
  }
  void FatalError(const std::string& message) { callbacks_.on_error(true, message); }
  size_t pending() const {
    std::lock_guard lock(mu_);
    return pending_.size();
  }
  // The offset last stored for a partition (-1: none).
  int64_t stored(const std::string& topic, int32_t partition) const {
    std::lock_guard lock(mu_);
    auto it = stored_.find({topic, partition});
    return it == stored_.end() ? -1 : it->second;
  }
  bool paused() const { return paused_.load(); }
  int pauses() const { return pauses_.load(); }
  int commits() const { return commits_.load(); }
  bool closed() const { return closed_.load(); }

  // KafkaConsumer
  std::unique_ptr<KafkaMessage> Poll(std::chrono::milliseconds) override {
    std::lock_guard lock(mu_);
    if (paused_.load() || closed_.load() || pending_.empty()) return nullptr;
    auto msg = std::move(pending_.front());
    pending_.pop_front();
    return msg;
  }
  void PauseAll() override {
    paused_.store(true);
    pauses_.fetch_add(1);
  }
  void ResumeAll() override { paused_.store(false); }
  Status StoreOffset(const TopicPartition& tp, int64_t next_offset) override {
    std::lock_guard lock(mu_);
    stored_[{tp.topic, tp.partition}] = next_offset;
    return Status::Ok();
  }
  Status CommitSync() override {
    commits_.fetch_add(1);
    return Status::Ok();
  }
  Format FormatOf(std::string_view topic) const override {
    auto it = formats_.find(std::string(topic));
    return it == formats_.end() ? Format::kAuto : it->second;
  }
  std::vector<std::pair<TopicPartition, int64_t>> Lag() override { return {}; }
  std::vector<TopicPartition> Assignment() override { return assignment_; }
  Status Close() override {
    if (!closed_.exchange(true) && !assignment_.empty()) {
      callbacks_.on_revoked(assignment_, false);
      assignment_.clear();
    }
    return Status::Ok();
  }
  void Wake() override {}

 private:
  ConsumerCallbacks callbacks_;
  std::map<std::string, Format> formats_;
  mutable std::mutex mu_;
  std::deque<std::unique_ptr<KafkaMessage>> pending_;               // mu_
  std::map<std::pair<std::string, int32_t>, int64_t> next_offset_;  // mu_
  std::map<std::pair<std::string, int32_t>, int64_t> stored_;       // mu_
  std::vector<TopicPartition> assignment_;
  std::atomic<bool> paused_{false};
  std::atomic<int> pauses_{0};
  std::atomic<int> commits_{0};
  std::atomic<bool> closed_{false};
};

// A sink that records what it is given. kAck acknowledges inside Deliver; kHold keeps the
// callbacks until AckAll/AckNext; kRefuse calls them with a refusal (for good).
class FakeSink final : public Sink {
 public:
  enum class Mode { kAck, kHold, kRefuse };
  explicit FakeSink(std::string name, Mode mode = Mode::kAck)
      : name_(std::move(name)), mode_(mode) {}

  const std::string& name() const override { return name_; }
  Status Deliver(SinkRecord record, SinkCallback done) override {
    Mode mode;
    {
      std::lock_guard lock(mu_);
      records_.push_back(record);
      mode = mode_;
      if (mode == Mode::kHold) {
        held_.push_back(std::move(done));
        return Status::Ok();
      }
    }
    done(mode == Mode::kAck ? Status::Ok() : Status::IoError("Broker: Message size too large"));
    return Status::Ok();
  }
  bool Flush(std::chrono::milliseconds) override { return pending() == 0; }
  size_t pending() const override {
    std::lock_guard lock(mu_);
    return held_.size();
  }

  // Test side.
  void set_mode(Mode mode) {
    std::lock_guard lock(mu_);
    mode_ = mode;
  }
  // Acknowledges (or, with `status`, fails) the oldest held record. False when none is held.
  bool AckNext(const Status& status = Status::Ok()) {
    SinkCallback done;
    {
      std::lock_guard lock(mu_);
      if (held_.empty()) return false;
      done = std::move(held_.front());
      held_.pop_front();
    }
    done(status);
    return true;
  }
  void AckAll() {
    while (AckNext()) {
    }
  }
  std::vector<SinkRecord> records() const {
    std::lock_guard lock(mu_);
    return records_;
  }

 private:
  const std::string name_;
  mutable std::mutex mu_;
  Mode mode_;                        // mu_
  std::vector<SinkRecord> records_;  // mu_
  std::deque<SinkCallback> held_;    // mu_
};

inline std::string HeaderValue(const SinkRecord& record, std::string_view name) {
  for (const auto& h : record.headers) {
    if (h.name == name) return h.value;
  }
  return "<missing>";
}

// A rule that alerts on every EC2 RunInstances event, under the id `rule_id`.
inline std::string LaunchPolicy(const std::string& rule_id) {
  return "lists:\n  - {name: launches, items: [RunInstances]}\nrules:\n  - id: " + rule_id +
         "\n    title: any launch\n    severity: high\n    tags: [t]\n    reason: launch\n"
         "    condition:\n      all:\n        - in: {field: action, list: launches}\n";
}

inline std::string CloudTrail(const std::string& event_name, const std::string& id,
                              const std::string& time = "2025-06-01T10:00:00Z",
                              const std::string& account = "111122223333") {
  return R"({"eventVersion":"1.08","eventTime":")" + time +
         R"(","eventSource":"ec2.amazonaws.com","eventName":")" + event_name +
         R"(","awsRegion":"us-east-1","sourceIPAddress":"36.110.1.2","eventID":")" + id +
         R"(","recipientAccountId":")" + account + R"("})";
}
inline std::string Launch(const std::string& id) { return CloudTrail("RunInstances", id); }
inline std::string Describe(const std::string& id) { return CloudTrail("DescribeInstances", id); }

// A snapshot of the policy `yaml`, without enrichment data.
inline std::shared_ptr<const Snapshot> MakePolicySnapshot(const std::string& yaml,
                                                          uint64_t generation) {
  Diagnostics diags;
  auto policy = LoadPolicyFromStrings({{"inline.yaml", yaml}}, diags);
  std::string problems;
  for (const Diagnostic& d : diags.items()) problems += d.ToString() + "\n";
  EXPECT_NE(policy, nullptr) << problems;
  if (policy == nullptr) return nullptr;
  auto snapshot = std::make_shared<Snapshot>();
  snapshot->policy = std::move(policy);
  snapshot->enrichment = std::make_shared<const Enrichment>();
  snapshot->generation = generation;
  return snapshot;
}

inline std::shared_ptr<const Snapshot> MakeSnapshot(const std::string& rule_id,
                                                    uint64_t generation) {
  return MakePolicySnapshot(LaunchPolicy(rule_id), generation);
}

// A RunState built from fakes: one Kafka source over topic "audit" (cloudtrail), the given alert
// sinks and optional dead letter, a ManualClock, and the policy LaunchPolicy("T-1").
class PipelineHarness {
 public:
  void Build(std::vector<std::unique_ptr<FakeSink>> sinks, std::unique_ptr<FakeSink> dead_letter,
             KafkaInputOptions options = {}) {
    state_ = std::make_unique<RunState>(control_, clock_);
    state_->config = std::make_unique<Config>();
    state_->metrics = std::make_unique<Metrics>("test");
    state_->snapshots.Publish(MakeSnapshot("T-1", 1));
    for (auto& s : sinks) {
      sinks_.push_back(s.get());
      state_->sinks.push_back(std::move(s));
    }
    dead_letter_ = dead_letter.get();
    state_->dead_letter = std::move(dead_letter);
    std::vector<Sink*> raw;
    for (auto& s : state_->sinks) raw.push_back(s.get());
    state_->delivery = std::make_unique<Delivery>(raw, state_->dead_letter.get(), *state_->metrics,
                                                  state_->counters, control_, clock_);
    source_config_.topics.push_back({"audit", Format::kCloudTrail, {}});
    ConsumerFactory factory = [this](
                                  const KafkaSourceConfig& config,
                                  ConsumerCallbacks cb) -> Result<std::unique_ptr<KafkaConsumer>> {
      auto consumer = std::make_unique<FakeConsumer>(config, std::move(cb));
      consumer_ = consumer.get();
      return std::unique_ptr<KafkaConsumer>(std::move(consumer));
    };
    auto input = KafkaInput::Create(source_config_, "kafka[0]", state_->context(), state_->work,
                                    factory, options);
    ASSERT_TRUE(input.ok());
    input_ = input.value().get();
    state_->sources.push_back(std::move(input.value()));
  }

  // Hands every message waiting in the work queue to a worker, on this thread.
  void RunWorkers() {
    Worker worker(state_->context(), state_->decoder_options);
    while (state_->work.size() > 0) {
      auto item = state_->work.Pop();
      worker.Handle(*item);
    }
  }
  // Polls until the consumer has nothing more to give (or `max` turns).
  void PollAll(int max = 1000) {
    for (int i = 0; i < max && consumer_->pending() > 0 && !consumer_->paused(); ++i) {
      ASSERT_TRUE(input_->PollOnce());
    }
  }

  RunControl control_;
  ManualClock clock_;
  KafkaSourceConfig source_config_;
  std::unique_ptr<RunState> state_;
  std::vector<FakeSink*> sinks_;
  FakeSink* dead_letter_ = nullptr;
  FakeConsumer* consumer_ = nullptr;
  KafkaInput* input_ = nullptr;
};

}  // namespace chipwatch::testing
