// Snapshot: what the workers evaluate with (the compiled policy and the enrichment data), replaced
// as a whole by a reload.
//
// A snapshot is immutable and shared (shared_ptr<const Snapshot>). The SnapshotStore holds the one
// in force: start-up and reload (the main thread) Publish a new one; each worker's
// SnapshotProcessor picks it up in Get(), which the worker calls once per input, between two
// messages, so every message is evaluated by exactly one policy and nothing is evaluated twice.
// Thread contract: SnapshotStore is thread-safe; a SnapshotProcessor belongs to one worker thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

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
  void Publish(std::shared_ptr<const Snapshot> snapshot) { current_.store(std::move(snapshot)); }

 private:
  std::atomic<std::shared_ptr<const Snapshot>> current_;
};

// Loads the policy and enrichment data a config names: the unit a reload replaces. Problems are
// logged; null when the rules or the enrichment data cannot be used. With `metrics`, the alert
// counters of every rule and severity it can raise are created (at 0) and resolved.
std::shared_ptr<const Snapshot> LoadSnapshot(const Config& config, uint64_t generation,
                                             Metrics* metrics);

// A worker's processor, rebuilt when a reload published a new snapshot.
class SnapshotProcessor {
 public:
  SnapshotProcessor(const SnapshotStore& store, DecoderOptions options)
      : store_(store), options_(options) {}

  // The processor for the snapshot in force now.
  EventProcessor& Get();

 private:
  const SnapshotStore& store_;
  DecoderOptions options_;
  std::shared_ptr<const Snapshot> snapshot_;
  std::unique_ptr<EventProcessor> processor_;
};

}  // namespace chipwatch
