#include "pipeline/stateful_lane.h"

#include <spdlog/spdlog.h>

#include <utility>

#include "metrics/metrics.h"

namespace chipwatch {
namespace {

constexpr size_t kSpareOutputs = 8;

std::string Join(const std::vector<std::string>& ids) {
  std::string out;
  for (const std::string& id : ids) out += (out.empty() ? "" : ", ") + id;
  return out.empty() ? "none" : out;
}

void Add(Counter* counter, uint64_t now, uint64_t before) {
  if (now > before) counter->Inc(static_cast<double>(now - before));
}

void Move(Gauge* gauge, size_t now, size_t before) {
  if (now > before) gauge->Inc(static_cast<double>(now - before));
  if (now < before) gauge->Dec(static_cast<double>(before - now));
}

}  // namespace

bool EvictionLog::First(std::string_view rule_id) {
  std::lock_guard lock(mu_);
  return logged_.emplace(rule_id).second;
}

StatefulLane::StatefulLane(std::string name, const StageContext& context)
    : name_(std::move(name)), context_(context) {}

StatefulLane::~StatefulLane() {
  // A lane dropped without Finish (shutdown paths that never ran it) still leaves the gauge right.
  for (CorrelationMetrics& m : correlation_metrics_) Move(m.groups, 0, m.last.groups);
}

void StatefulLane::Submit(uint64_t seq, std::shared_ptr<const Snapshot> snapshot,
                          ProcessorOutput& out, std::shared_ptr<Completion> completion) {
  Pending p{std::move(snapshot), {}, std::move(completion)};
  {
    std::lock_guard lock(mu_);
    if (!spare_.empty()) {
      p.out = std::move(spare_.back());
      spare_.pop_back();
    }
  }
  std::swap(p.out, out);
  Enqueue(seq, std::move(p));
}

void StatefulLane::Mark(uint64_t seq, LaneMark mark) {
  Pending p;
  p.mark = mark;
  Enqueue(seq, std::move(p));
}

void StatefulLane::Enqueue(uint64_t seq, Pending p) {
  std::unique_lock lock(mu_);
  if (closed_) {
    lock.unlock();
    Abandon(p);
    return;
  }
  waiting_.emplace(seq, std::move(p));
  if (busy_) return;  // the thread running the stage takes it when its turn comes
  busy_ = true;
  Drain(lock);
}

void StatefulLane::Drain(std::unique_lock<std::mutex>& lock) {
  while (!closed_) {
    auto it = waiting_.begin();
    if (it == waiting_.end() || it->first != next_) break;
    Pending p = std::move(it->second);
    waiting_.erase(it);
    ++next_;
    lock.unlock();
    Run(p);
    p.out.Clear();
    lock.lock();
    if (spare_.size() < kSpareOutputs && p.snapshot != nullptr) spare_.push_back(std::move(p.out));
  }
  if (closed_ && !wrapped_) {
    wrapped_ = true;
    Wrap(lock);
  }
  busy_ = false;
}

void StatefulLane::Run(Pending& p) {
  if (p.snapshot == nullptr) {
    RunMark(p.mark);
    return;
  }
  if (stage_ == nullptr || stage_->loaded_policy() != p.snapshot->policy) UsePolicy(p.snapshot);
  stage_->Process(p.out, staged_);
  stage_->Advance(staged_);
  last_ = p.completion->source;
  Deliver(p.completion);
  retired_.reset();         // its summaries are delivered
  p.completion->Release();  // the worker's guard
}

void StatefulLane::RunMark(LaneMark mark) {
  FlushWindows();
  if (mark == LaneMark::kFinish) {
    std::lock_guard lock(mu_);
    closed_ = true;  // Drain wraps up (already flushed)
  }
}

// The first input, or one evaluated with another policy (a reload): the stage is (re)built, the
// states of unchanged definitions carried over.
void StatefulLane::UsePolicy(const std::shared_ptr<const Snapshot>& snapshot) {
  if (stage_ == nullptr) {
    stage_ = std::make_unique<StatefulStage>(snapshot->policy);
    ResolveMetrics(nullptr);
    return;
  }
  StatefulStage::RebuildReport report;
  retired_ = std::move(stage_);
  stage_ = StatefulStage::Rebuild(*retired_, snapshot->policy, staged_, report);
  ResolveMetrics(retired_.get());
  spdlog::info(
      "{}: new policy (generation {}): stateful state kept for {}; dropped for {} (definition "
      "changed or removed{}); new: {}",
      name_, snapshot->generation, Join(report.kept), Join(report.dropped),
      report.dropped.empty() ? "" : ", open suppression windows summed up first",
      Join(report.added));
}

void StatefulLane::Deliver(const std::shared_ptr<Completion>& completion) {
  context_.counters->alerts.fetch_add(staged_.alert_count, std::memory_order_relaxed);
  if (!staged_.refs.empty()) context_.delivery->DeliverAlerts(staged_, completion);
  UpdateMetrics();
  staged_.Clear();
}

void StatefulLane::FlushWindows() {
  if (stage_ == nullptr) return;
  stage_->Flush(staged_);
  if (staged_.refs.empty()) {
    staged_.Clear();
    return;
  }
  spdlog::debug("{}: {} suppression summaries flushed", name_, staged_.refs.size());
  // Nothing to commit: no tracker. A refusal still stops the daemon (Delivery).
  auto completion = std::make_shared<Completion>();
  completion->source = last_;
  Deliver(completion);
  completion->Release();
}

void StatefulLane::Finish(bool flush) {
  std::unique_lock lock(mu_);
  if (closed_) return;
  closed_ = true;
  flush_on_close_ = flush;
  if (busy_) return;  // the thread running the stage wraps up when it is done
  busy_ = true;
  Drain(lock);
}

// With the lock held (released meanwhile).
void StatefulLane::Wrap(std::unique_lock<std::mutex>& lock) {
  std::vector<Pending> abandoned;
  for (auto& [seq, p] : waiting_) abandoned.push_back(std::move(p));
  waiting_.clear();
  const bool flush = flush_on_close_;
  lock.unlock();
  size_t inputs = 0;
  for (Pending& p : abandoned) {
    if (p.snapshot == nullptr) continue;  // a mark
    ++inputs;
    Abandon(p);
  }
  if (inputs > 0) {
    spdlog::warn("{}: {} messages not processed by the stateful stage; they are consumed again",
                 name_, inputs);
  }
  if (flush) FlushWindows();
  for (CorrelationMetrics& m : correlation_metrics_) Move(m.groups, 0, m.last.groups);
  correlation_metrics_.clear();
  suppression_metrics_.clear();
  stage_.reset();
  lock.lock();
}

void StatefulLane::Abandon(Pending& p) {
  if (p.completion == nullptr) return;  // a mark
  p.completion->failed.store(true, std::memory_order_release);
  p.completion->Release();
}

uint64_t StatefulLane::processed() const {
  std::lock_guard lock(mu_);
  return next_;
}

// Handles for the stage's correlations and suppressed rules; after a rebuild, what the metrics
// were told of a kept state carries over, and a dropped correlation's groups leave the gauge.
void StatefulLane::ResolveMetrics(const StatefulStage* old) {
  Metrics& metrics = *context_.metrics;
  std::vector<CorrelationMetrics> correlations;
  for (const CorrelationPlan& p : stage_->policy().correlations()) {
    correlations.push_back(CorrelationMetrics{&metrics.CorrelationGroups(p.id),
                                              &metrics.CorrelationAlerts(p.id),
                                              &metrics.Suppressed(p.id),
                                              &metrics.LateEvents(p.id),
                                              &metrics.StateEvictions(p.id),
                                              {}});
    if (old == nullptr) continue;
    const auto& before = old->policy().correlations();
    for (size_t i = 0; i < before.size() && i < correlation_metrics_.size(); ++i) {
      if (before[i].fingerprint != p.fingerprint) continue;
      correlations.back().last = correlation_metrics_[i].last;
      correlation_metrics_[i].last.groups = 0;  // still counted, by the kept state
    }
  }
  for (CorrelationMetrics& m : correlation_metrics_) Move(m.groups, 0, m.last.groups);
  correlation_metrics_ = std::move(correlations);
  std::vector<SuppressionMetrics> suppressions;
  for (const SuppressionPlan& p : stage_->policy().suppressions()) {
    suppressions.push_back(SuppressionMetrics{
        &metrics.Suppressed(p.rule->id), &metrics.StateEvictions(p.rule->id), {}});
    if (old == nullptr) continue;
    const auto& before = old->policy().suppressions();
    for (size_t i = 0; i < before.size() && i < suppression_metrics_.size(); ++i) {
      if (before[i].fingerprint == p.fingerprint)
        suppressions.back().last = suppression_metrics_[i].last;
    }
  }
  suppression_metrics_ = std::move(suppressions);
}

void StatefulLane::UpdateMetrics() {
  stage_->CollectStats(correlation_stats_, suppression_stats_);
  const auto& correlations = stage_->policy().correlations();
  for (size_t i = 0; i < correlation_stats_.size(); ++i) {
    const CorrelationStats& now = correlation_stats_[i];
    CorrelationMetrics& m = correlation_metrics_[i];
    Move(m.groups, now.groups, m.last.groups);
    Add(m.alerts, now.alerts, m.last.alerts);
    Add(m.suppressed, now.suppressed, m.last.suppressed);
    Add(m.late, now.late, m.last.late);
    Add(m.evictions, now.evictions, m.last.evictions);
    if (now.evictions > 0 && m.last.evictions == 0) {
      LogEviction(correlations[i].id, "groups", correlations[i].spec.max_groups);
    }
    m.last = now;
  }
  const auto& suppressions = stage_->policy().suppressions();
  for (size_t i = 0; i < suppression_stats_.size(); ++i) {
    const SuppressionStats& now = suppression_stats_[i];
    SuppressionMetrics& m = suppression_metrics_[i];
    Add(m.suppressed, now.suppressed, m.last.suppressed);
    Add(m.evictions, now.evictions, m.last.evictions);
    if (now.evictions > 0 && m.last.evictions == 0) {
      LogEviction(suppressions[i].rule->id, "open suppression windows", suppressions[i].max_keys);
    }
    m.last = now;
  }
}

void StatefulLane::LogEviction(std::string_view id, const char* what, size_t max) {
  if (context_.evictions != nullptr && !context_.evictions->First(id)) return;
  spdlog::warn(
      "{}: {} holds state.max_groups ({}) {}: the least recently updated are evicted from now on "
      "(counted in chipwatch_state_evictions_total; logged once)",
      name_, id, max, what);
}

// ---- LaneRoute ---------------------------------------------------------------------------------

LaneRoute::LaneRoute(std::string name, const StageContext& context)
    : name_(std::move(name)), context_(context) {}

LaneRoute::~LaneRoute() = default;

bool LaneRoute::Route(const Snapshot& snapshot, Clock::time_point now,
                      std::shared_ptr<StatefulLane>& lane, uint64_t& seq) {
  const bool stateful = !snapshot.policy->stateful->empty();
  if (lane_ == nullptr) {
    if (!stateful) return false;
    lane_ = std::make_shared<StatefulLane>(name_, context_);
    next_seq_ = 0;
  } else if (stateful) {
    retiring_ = false;
  } else if (retiring_ && lane_->processed() == next_seq_) {
    // Its stage has been rebuilt for a policy without stateful rules: nothing left to flush.
    Finish(/*flush=*/false);
    return false;
  } else {
    retiring_ = true;  // this input rebuilds its stage (the windows summed up)
  }
  lane = lane_;
  seq = next_seq_++;
  last_input_ = now;
  flushed_ = false;
  return true;
}

bool LaneRoute::TakeIdleFlush(Clock::time_point now, std::shared_ptr<StatefulLane>& lane,
                              uint64_t& seq) {
  if (lane_ == nullptr || flushed_ || now - last_input_ < context_.idle_flush) return false;
  flushed_ = true;
  lane = lane_;
  seq = next_seq_++;
  return true;
}

bool LaneRoute::TakeFinish(std::shared_ptr<StatefulLane>& lane, uint64_t& seq) {
  if (lane_ == nullptr) return false;
  lane = std::move(lane_);
  seq = next_seq_++;
  retiring_ = false;
  flushed_ = true;
  return true;
}

void LaneRoute::Finish(bool flush) {
  if (lane_ == nullptr) return;
  lane_->Finish(flush);
  lane_.reset();
  retiring_ = false;
  flushed_ = true;
}

}  // namespace chipwatch
