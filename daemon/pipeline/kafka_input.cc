#include "pipeline/kafka_input.h"

#include <spdlog/spdlog.h>

#include <utility>

#include "metrics/metrics.h"

namespace chipwatch {

ConsumerFactory RealConsumerFactory() {
  return [](const KafkaSourceConfig& config, ConsumerCallbacks callbacks) {
    return KafkaConsumer::Create(config, std::move(callbacks));
  };
}

KafkaInput::KafkaInput(const KafkaSourceConfig& config, std::string label,
                       const StageContext& context, WorkQueue& work, KafkaInputOptions options)
    : config_(config), label_(std::move(label)), context_(context), work_(work), options_(options) {
  Metrics& metrics = *context_.metrics;
  messages_ = &metrics.Messages(label_);
  in_flight_gauge_ = &metrics.InFlight(label_);
  paused_gauge_ = &metrics.ConsumerPaused(label_);
  for (const KafkaTopicConfig& t : config_.topics) {
    events_by_topic_[t.topic] = &metrics.Events(label_, FormatName(t.format));
  }
  now_ = context_.clock->Now();
  last_store_ = last_commit_ = last_lag_ = now_;
}

Result<std::unique_ptr<KafkaInput>> KafkaInput::Create(const KafkaSourceConfig& config,
                                                       std::string label,
                                                       const StageContext& context, WorkQueue& work,
                                                       const ConsumerFactory& factory,
                                                       KafkaInputOptions options) {
  std::unique_ptr<KafkaInput> input(
      new KafkaInput(config, std::move(label), context, work, options));
  KafkaInput* raw = input.get();
  ConsumerCallbacks callbacks;
  callbacks.on_assigned = [raw](const std::vector<TopicPartition>& tps) { raw->OnAssigned(tps); };
  callbacks.on_revoked = [raw](const std::vector<TopicPartition>& tps, bool lost) {
    raw->OnRevoked(tps, lost);
  };
  callbacks.on_error = [raw](bool fatal, const std::string& message) {
    raw->OnError(fatal, message);
  };
  auto consumer = factory(config, std::move(callbacks));
  if (!consumer.ok()) return consumer.status();
  input->consumer_ = std::move(consumer.value());
  return input;
}

void KafkaInput::Start() {
  last_poll_ms_.store(context_.clock->NowMs());
  poller_ = std::thread([this] { Run(); });
}

void KafkaInput::Wake() { consumer_->Wake(); }

void KafkaInput::Join() {
  if (poller_.joinable()) poller_.join();
}

bool KafkaInput::healthy(Clock::time_point now) const {
  const int64_t now_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  return now_ms - last_poll_ms_.load() <= options_.healthy_within.count();
}

void KafkaInput::Run() {
  now_ = context_.clock->Now();
  last_store_ = last_commit_ = last_lag_ = now_;
  while (!context_.control->stopping()) {
    if (!PollOnce()) break;
  }
}

bool KafkaInput::PollOnce() {
  last_poll_ms_.store(
      std::chrono::duration_cast<std::chrono::milliseconds>(now_.time_since_epoch()).count(),
      std::memory_order_relaxed);
  bool got = false;
  if (!TakeMessage(got)) return false;  // closed: shutting down
  now_ = context_.clock->Now();
  in_flight_ = tracker_.in_flight();
  ApplyBackpressure();
  StoreOffsets(got);
  ReportLag();
  CheckIdleLanes();
  return true;
}

bool KafkaInput::TakeMessage(bool& got) {
  // Flow control: take a message only when the workers have room for it. While they are behind,
  // the backlog stays in librdkafka's prefetch buffer (a pause would throw that away).
  const bool room = work_.WaitForRoom(options_.work_queue_high, options_.poll_timeout);
  if (room) {
    workers_busy_since_ = Clock::time_point::max();
  } else if (workers_busy_since_ == Clock::time_point::max()) {
    workers_busy_since_ = context_.clock->Now() - options_.poll_timeout;
  }
  // Paused: poll anyway (rebalances, group membership); paused partitions deliver nothing.
  if (!room && !paused_) return true;
  const bool busy = uncommitted_ || in_flight_ > 0;
  std::unique_ptr<KafkaMessage> msg =
      consumer_->Poll(busy ? options_.busy_poll_timeout : options_.poll_timeout);
  if (!msg) return true;
  got = true;
  WorkItem item;
  item.ticket = tracker_.Begin(msg->topic(), msg->partition(), msg->offset());
  item.tracker = &tracker_;
  item.format = consumer_->FormatOf(msg->topic());
  item.messages = messages_;
  if (auto it = events_by_topic_.find(msg->topic()); it != events_by_topic_.end()) {
    item.events = it->second;
  }
  RouteMessage(item, *msg);
  item.message = std::move(msg);
  return work_.Push(std::move(item));
}

void KafkaInput::RouteMessage(WorkItem& item, const KafkaMessage& msg) {
  if (const uint64_t published = context_.snapshots->published();
      published != published_ || snapshot_ == nullptr) {
    snapshot_ = context_.snapshots->Current();  // a reload: from this message on
    published_ = published;
  }
  item.snapshot = snapshot_;
  const bool stateful = !item.snapshot->policy->stateful->empty();
  if (!stateful && routes_.empty()) return;  // the common case: straight to delivery
  const auto key = std::pair<std::string_view, int32_t>(msg.topic(), msg.partition());
  auto it = routes_.find(key);
  if (it == routes_.end()) {
    if (!stateful) return;
    const std::string name = std::string(msg.topic()) + "[" + std::to_string(msg.partition()) + "]";
    it = routes_
             .emplace(std::pair(std::string(msg.topic()), msg.partition()),
                      LaneRoute(name, context_))
             .first;
  }
  if (!it->second.Route(*item.snapshot, now_, item.lane, item.seq)) routes_.erase(it);
}

// A lane idle for state.idle_flush: a flush mark for the workers (the poll thread never delivers,
// so that a full sink cannot stall it).
void KafkaInput::CheckIdleLanes() {
  for (auto& [key, route] : routes_) {
    WorkItem item;
    if (!route.TakeIdleFlush(now_, item.lane, item.seq)) continue;
    item.mark = LaneMark::kFlush;
    SendMark(std::move(item));
  }
}

void KafkaInput::SendMark(WorkItem item) {
  std::shared_ptr<StatefulLane> lane = item.lane;
  const uint64_t seq = item.seq;
  const LaneMark mark = item.mark;
  if (!work_.Push(std::move(item))) lane->Mark(seq, mark);  // no workers left: here
}

void KafkaInput::FinishLanes(const std::vector<TopicPartition>& tps, bool flush) {
  for (const TopicPartition& tp : tps) {
    auto it = routes_.find(std::pair<std::string_view, int32_t>(tp.topic, tp.partition));
    if (it == routes_.end()) continue;
    WorkItem item;
    if (flush && it->second.TakeFinish(item.lane, item.seq)) {
      item.mark = LaneMark::kFinish;  // after the partition's last message
      SendMark(std::move(item));
    } else {
      it->second.Finish(/*flush=*/false);
    }
    routes_.erase(it);
  }
}

void KafkaInput::FlushState() {
  for (auto& [key, route] : routes_) route.Finish(/*flush=*/true);
  routes_.clear();
}

void KafkaInput::ApplyBackpressure() {
  const bool stalled = now_ - workers_busy_since_ >= options_.workers_stalled;
  if (!paused_ && (in_flight_ >= options_.pause_in_flight || stalled)) {
    if (stalled) {
      spdlog::warn("{}: workers took no message for {} ms ({} in flight); pausing consumption",
                   label_, options_.workers_stalled.count(), in_flight_);
    } else {
      spdlog::warn("{}: {} messages waiting for sink acknowledgements; pausing consumption", label_,
                   in_flight_);
    }
    consumer_->PauseAll();
    paused_ = true;
    paused_gauge_->Set(1);
  } else if (paused_ && in_flight_ <= options_.resume_in_flight && !stalled &&
             work_.size() < options_.work_queue_high) {
    spdlog::info("{}: sinks caught up ({} in flight); resuming consumption", label_, in_flight_);
    consumer_->ResumeAll();
    paused_ = false;
    paused_gauge_->Set(0);
  }
}

// Offsets: stored every store_interval while messages flow (librdkafka commits them every
// auto.commit.interval.ms), at once when the consumer is idle; and committed at once when it has
// caught up and everything it consumed is acknowledged.
void KafkaInput::StoreOffsets(bool got) {
  if (!got || now_ - last_store_ >= options_.store_interval) {
    if (StoreCommittable() > 0) uncommitted_ = true;
    in_flight_gauge_->Set(static_cast<double>(in_flight_));
    last_store_ = now_;
  }
  if (!got && uncommitted_ && in_flight_ == 0 &&
      now_ - last_commit_ >= options_.idle_commit_interval) {
    Status st = consumer_->CommitAsync();
    if (!st.ok()) spdlog::warn("{}: {}", label_, st.message());
    uncommitted_ = false;
    last_commit_ = now_;
  }
}

void KafkaInput::ReportLag() {
  if (now_ - last_lag_ < options_.lag_interval) return;
  for (const auto& [tp, lag] : consumer_->Lag()) {
    if (lag >= 0) {
      context_.metrics->ConsumerLag(tp.topic, tp.partition).Set(static_cast<double>(lag));
    }
  }
  last_lag_ = now_;
}

size_t KafkaInput::StoreCommittable(const std::vector<TopicPartition>& only) {
  size_t stored = 0;
  for (auto& [tp, next] : tracker_.TakeCommittable(only)) {
    Status st = consumer_->StoreOffset(tp, next);
    if (st.ok()) {
      ++stored;
    } else {
      spdlog::warn("{}: cannot store offset {} for {}[{}]: {}", label_, next, tp.topic,
                   tp.partition, st.message());
    }
  }
  return stored;
}

void KafkaInput::OnAssigned(const std::vector<TopicPartition>& tps) {
  assigned_.store(true);
  FinishLanes(tps, /*flush=*/false);  // a fresh lane for each (none is expected here)
  for (const auto& tp : tps) {
    tracker_.Assign(tp);
    spdlog::info("{}: assigned {}[{}]", label_, tp.topic, tp.partition);
  }
}

void KafkaInput::OnRevoked(const std::vector<TopicPartition>& tps, bool lost) {
  if (!lost) {
    // Finish what is in flight for these partitions and commit it, so that the next owner starts
    // right after it.
    if (!tracker_.WaitIdle(tps, options_.revoke_wait)) {
      spdlog::warn(
          "{}: {} messages of revoked partitions still unacknowledged; their "
          "alerts may be raised again by the next owner",
          label_, tracker_.in_flight(tps));
    }
    StoreCommittable(tps);
    Status st = consumer_->CommitSync();
    if (!st.ok()) spdlog::warn("{}: commit on revoke: {}", label_, st.message());
  }
  // Revoked: the windows' summaries go out (the next owner starts with an empty state); lost:
  // dropped.
  FinishLanes(tps, /*flush=*/!lost);
  for (const auto& tp : tps) {
    tracker_.Revoke(tp);
    context_.metrics->RemoveConsumerLag(tp.topic, tp.partition);
    spdlog::info("{}: {} {}[{}]", label_, lost ? "lost" : "revoked", tp.topic, tp.partition);
  }
}

void KafkaInput::OnError(bool fatal, const std::string& message) {
  if (fatal) {
    spdlog::critical("{}: {}", label_, message);
    context_.control->StopFailed();
  } else {
    spdlog::warn("{}: {}", label_, message);
  }
}

bool KafkaInput::WaitAcknowledged(std::chrono::milliseconds timeout) {
  if (tracker_.WaitIdle({}, timeout)) return true;
  spdlog::warn(
      "{}: shutdown timeout with {} messages unacknowledged; they will be processed "
      "again after restart",
      label_, tracker_.in_flight());
  return false;
}

void KafkaInput::CommitAndClose() {
  StoreCommittable();
  Status st = consumer_->CommitSync();
  if (!st.ok()) spdlog::warn("{}: final commit: {}", label_, st.message());
  st = consumer_->Close();
  if (!st.ok()) spdlog::warn("{}: close: {}", label_, st.message());
}

}  // namespace chipwatch
