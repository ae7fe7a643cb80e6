// CorrelationState: the windows of one correlation rule (issue 13, docs/stateful.md), over event
// time, one group per distinct `group_by` key.
//
// For each match offered to a group: the group's window holds the entries whose event time is
// greater than T - timespan, where T is the greatest event time seen in that group. A match at or
// before T - timespan is late: ignored and counted. After adding the entry the condition is
// tested (event_count: entries; value_count: distinct values; temporal: every listed rule matched
// at least once); when it holds the correlation fires and the group's window is cleared (T stays,
// so that what is late stays late). With `suppress_ms`, a group that fired at event time t fires
// nothing more before t + suppress_ms: a firing then only clears the window and is counted.
//
// At most `max_groups` groups are kept: a new group beyond that evicts the least recently
// updated one (counted). Everything depends only on the order and content of the offers, never
// on the wall clock: replay is deterministic.
//
// Thread contract: not thread-safe; one instance per correlation per stream (replay's one stream,
// the daemon's partition), owned by the stateful stage.
#pragma once

#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/string_hash.h"

namespace chipwatch {

enum class CorrelationType : uint8_t { kEventCount, kValueCount, kTemporal };

struct CorrelationSpec {
  CorrelationType type = CorrelationType::kEventCount;
  int64_t timespan_ms = 0;  // > 0
  // event_count and value_count: fire when the count is >= threshold (or > threshold when
  // `greater` is set: `condition: {gt: N}`).
  uint64_t threshold = 1;
  bool greater = false;
  // temporal: the number of listed rules (bits 0..rule_count-1 of CorrelationMatch::rules).
  uint32_t rule_count = 1;
  int64_t suppress_ms = 0;  // 0: no suppression after a firing
  size_t max_groups = 1000000;
};

// One match of a listed rule, for one correlation. The views need only outlive the call.
struct CorrelationMatch {
  std::string_view group;     // the group key (the `group_by` values, encoded by the caller)
  int64_t time_ms = 0;        // event time
  std::string_view event_id;  // kept (up to kMaxListed per group) for the alert
  std::string_view value;     // value_count: the counted field's value
  uint32_t rules = 1;         // temporal: bit i set when listed rule i matched this event
};

// What a firing reports: the alert's `group`, `count`, `first_seen`, `last_seen`, `events`,
// `values`.
struct CorrelationFiring {
  std::string group;
  uint64_t count = 0;  // what the condition counted: entries, distinct values, or rules matched
  int64_t first_seen_ms = 0;
  int64_t last_seen_ms = 0;
  std::vector<std::string> events;  // the last kMaxListed event ids, in the order they came
  std::vector<std::string>
      values;  // value_count: the distinct values, sorted, the first kMaxListed
};

class CorrelationState {
 public:
  static constexpr size_t kMaxListed = 20;

  enum class Outcome : uint8_t {
    kAdded,       // entered its group's window; the condition does not hold yet
    kLate,        // at or before T - timespan of its group: ignored
    kFired,       // completed the condition: `firing` is set, the window is cleared
    kSuppressed,  // completed the condition inside the group's quiet time: cleared, no firing
  };

  explicit CorrelationState(CorrelationSpec spec);

  Outcome Offer(const CorrelationMatch& match, std::optional<CorrelationFiring>& firing);

  const CorrelationSpec& spec() const { return spec_; }
  size_t groups() const { return groups_.size(); }
  uint64_t late() const { return late_; }
  uint64_t evictions() const { return evictions_; }
  uint64_t suppressed() const { return suppressed_; }

 private:
  struct Entry {
    int64_t time_ms;
    uint32_t rules;  // temporal
    uint32_t value;  // value_count: index into Group::values
    std::string event_id;
  };
  // Compact on purpose (a million groups must fit in a few hundred MB): the LRU list is intrusive,
  // and the distinct values of a window, which a firing bounds, are a small vector.
  struct Group {
    int64_t max_time_ms = std::numeric_limits<int64_t>::min();  // T, once an entry came
    int64_t min_entry_time_ms = 0;  // of `entries`, when not empty: expiry skips the scan
    int64_t quiet_until_ms = std::numeric_limits<int64_t>::min();
    std::vector<Entry> entries;  // in arrival order
    // value_count: the distinct values in the window and how many entries hold each.
    std::vector<std::pair<std::string, uint32_t>> values;
    // temporal: how many entries matched each listed rule (spec.rule_count counters).
    std::unique_ptr<uint32_t[]> rule_hits;
    const std::string* key = nullptr;  // the map's own key
    Group* older = nullptr;            // LRU links: least recently updated at lru_oldest_
    Group* newer = nullptr;
  };

  Group& FindOrCreate(std::string_view key);
  void Touch(Group& g);
  void Unlink(Group& g);
  void Add(Group& g, const CorrelationMatch& match);
  uint32_t ValueIndex(Group& g, std::string_view value);
  void Expire(Group& g);
  void Forget(Group& g, const Entry& e);
  void Clear(Group& g);
  uint64_t Count(const Group& g) const;
  bool Holds(uint64_t count) const;
  CorrelationFiring Fire(const Group& g, uint64_t count) const;

  CorrelationSpec spec_;
  StringMap<Group> groups_;
  Group* lru_oldest_ = nullptr;
  Group* lru_newest_ = nullptr;
  uint64_t late_ = 0;
  uint64_t evictions_ = 0;
  uint64_t suppressed_ = 0;
};

}  // namespace chipwatch
