// Snapshot: what the workers evaluate with (the compiled policy and the enrichment data), replaced
// as a whole by a reload.
//
// A snapshot is immutable and shared (shared_ptr<const Snapshot>). The SnapshotStore holds the one
// in force: start-up and reload (the main thread) Publish a new one. A source pins the snapshot in
// force when it takes an input (a Kafka poll thread when it takes a message, a file source when it
// reads a line), and the worker's SnapshotProcessor evaluates the input with it (Get(pinned)), so
// every message is evaluated by exactly one policy, nothing is evaluated twice, and the messages of
// a partition change policy in offset order (which the stateful lanes rely on: a lane rebuilds its
// stage once, at the first message of the new policy). Messages already taken when a reload
// publishes (at most the work queue's high mark) are evaluated with the policy they were taken
// under.
// Thread contract: SnapshotStore is thread-safe; a SnapshotProcessor belongs to one worker thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "config/config.h"
#include "engine/alert_counters.h"
#include "engine/enrichment.h"
#include "engine/policy.h"
#include "engine/processor.h"

namespace chipwatch {

struct Snapshot {
  std::shared_ptr<const LoadedPolicy> policy;
  std::shared_ptr<const Enrichment> enrichment;
  // The policy's chipwatch_alerts_total handles, resolved once for the snapshot (null when it was
  // loaded without Metrics, as in tests: alerts are then counted through Metrics::Alerts).
  std::shared_ptr<const AlertCounters> alert_counters;
  uint64_t generation = 0;
};

class SnapshotStore {
 public:
  std::shared_ptr<const Snapshot> Current() const { return current_.load(); }
  void Publish(std::shared_ptr<const Snapshot> snapshot) {
    current_.store(std::move(snapshot));
    published_.fetch_add(1, std::memory_order_release);
  }
  // How many snapshots were published: a poll thread refreshes its copy of Current() only when
  // this moved (one relaxed load per message instead of the atomic shared_ptr's lock).
  uint64_t published() const { return published_.load(std::memory_order_acquire); }

 private:
  std::atomic<std::shared_ptr<const Snapshot>> current_;
  std::atomic<uint64_t> published_{0};
};

// Loads the policy and enrichment data a config names: the unit a reload replaces. Problems are
// logged; null when the rules or the enrichment data cannot be used. With `metrics`, the alert
// counters of every rule and severity it can raise are created (at 0) and resolved.
std::shared_ptr<const Snapshot> LoadSnapshot(const Config& config, uint64_t generation,
                                             Metrics* metrics);

// "2 correlations, 5 suppressed rules": what a policy asks of the stateful stage, for the log.
std::string DescribeStateful(const LoadedPolicy& policy);

// A worker's processor, rebuilt when a reload published a new snapshot.
class SnapshotProcessor {
 public:
  SnapshotProcessor(const SnapshotStore& store, DecoderOptions options)
      : store_(store), options_(options) {}

  // The processor for the snapshot in force now.
  EventProcessor& Get();
  // The processor for `snapshot` (one a source pinned for its input).
  EventProcessor& Get(const std::shared_ptr<const Snapshot>& snapshot);

 private:
  const SnapshotStore& store_;
  DecoderOptions options_;
  std::shared_ptr<const Snapshot> snapshot_;
  std::unique_ptr<EventProcessor> processor_;
};

}  // namespace chipwatch
