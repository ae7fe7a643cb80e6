#include "pipeline/offset_tracker.h"

#include <algorithm>

namespace chipwatch {

namespace {
enum class State : uint8_t { kInFlight, kDone, kFailed };
bool InFlight(const std::pair<int64_t, State>& e) { return e.second == State::kInFlight; }
}  // namespace

struct OffsetTracker::Partition {
  TopicPartition tp;
  bool live = true;
  // Registered messages not yet passed by the commit position, in offset order. A failed message
  // stays here for good: the commit position never passes it.
  std::deque<std::pair<int64_t, State>> pending;
  int64_t committable = -1;  // next offset to consume; -1: nothing yet
  int64_t reported = -1;     // last committable handed out
};

OffsetTracker::OffsetTracker() = default;
OffsetTracker::~OffsetTracker() = default;

void OffsetTracker::Assign(const TopicPartition& tp) {
  std::lock_guard lock(mu_);
  auto& slot = partitions_[{tp.topic, tp.partition}];
  if (slot) {
    slot->live = false;
    in_flight_ -=
        static_cast<size_t>(std::count_if(slot->pending.begin(), slot->pending.end(), InFlight));
  }
  slot = std::make_shared<Partition>();
  slot->tp = tp;
  idle_.notify_all();
}

void OffsetTracker::Revoke(const TopicPartition& tp) {
  std::lock_guard lock(mu_);
  auto it = partitions_.find({tp.topic, tp.partition});
  if (it == partitions_.end()) return;
  it->second->live = false;
  in_flight_ -= static_cast<size_t>(
      std::count_if(it->second->pending.begin(), it->second->pending.end(), InFlight));
  partitions_.erase(it);
  idle_.notify_all();
}

OffsetTracker::Ticket OffsetTracker::Begin(const TopicPartition& tp, int64_t offset) {
  return Begin(tp.topic, tp.partition, offset);
}

OffsetTracker::Ticket OffsetTracker::Begin(std::string_view topic, int32_t partition,
                                           int64_t offset) {
  std::lock_guard lock(mu_);
  auto it = partitions_.find(std::pair<std::string_view, int32_t>(topic, partition));
  if (it == partitions_.end()) {  // a message before its assignment callback: track it anyway
    auto slot = std::make_shared<Partition>();
    slot->tp = TopicPartition{std::string(topic), partition};
    it = partitions_.emplace(Key(std::string(topic), partition), std::move(slot)).first;
  }
  it->second->pending.emplace_back(offset, State::kInFlight);
  ++in_flight_;
  return Ticket{it->second, offset};
}

void OffsetTracker::Done(const Ticket& ticket) { Finish(ticket, /*failed=*/false); }

void OffsetTracker::Fail(const Ticket& ticket) { Finish(ticket, /*failed=*/true); }

void OffsetTracker::Finish(const Ticket& ticket, bool failed) {
  if (!ticket.partition) return;
  std::lock_guard lock(mu_);
  Partition& p = *ticket.partition;
  if (!p.live) return;
  auto it = std::lower_bound(p.pending.begin(), p.pending.end(), ticket.offset,
                             [](const auto& e, int64_t off) { return e.first < off; });
  if (it == p.pending.end() || it->first != ticket.offset || !InFlight(*it)) return;
  it->second = failed ? State::kFailed : State::kDone;
  --in_flight_;
  while (!p.pending.empty() && p.pending.front().second == State::kDone) {
    p.committable = p.pending.front().first + 1;
    p.pending.pop_front();
  }
  idle_.notify_all();
}

std::vector<std::pair<TopicPartition, int64_t>> OffsetTracker::TakeCommittable(
    const std::vector<TopicPartition>& only) {
  std::lock_guard lock(mu_);
  std::vector<std::pair<TopicPartition, int64_t>> out;
  for (auto& [key, p] : partitions_) {
    if (!only.empty() && std::find(only.begin(), only.end(), p->tp) == only.end()) continue;
    if (p->committable >= 0 && p->committable != p->reported) {
      out.emplace_back(p->tp, p->committable);
      p->reported = p->committable;
    }
  }
  return out;
}

size_t OffsetTracker::InFlightLocked(const std::vector<TopicPartition>& tps) const {
  if (tps.empty()) return in_flight_;
  size_t n = 0;
  for (const TopicPartition& tp : tps) {
    auto it = partitions_.find({tp.topic, tp.partition});
    if (it == partitions_.end()) continue;
    n += static_cast<size_t>(
        std::count_if(it->second->pending.begin(), it->second->pending.end(), InFlight));
  }
  return n;
}

size_t OffsetTracker::in_flight() const {
  std::lock_guard lock(mu_);
  return in_flight_;
}

size_t OffsetTracker::in_flight(const std::vector<TopicPartition>& tps) const {
  std::lock_guard lock(mu_);
  return InFlightLocked(tps);
}

bool OffsetTracker::WaitIdle(const std::vector<TopicPartition>& tps,
                             std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mu_);
  return idle_.wait_for(lock, timeout, [&] { return InFlightLocked(tps) == 0; });
}

}  // namespace chipwatch
