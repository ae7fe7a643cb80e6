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
// Memory: a group is a 64-byte header, 8-16 bytes of index and one malloc'd buffer packing its
// key, entries and counters (GroupTable; layout below): a million groups of one entry (IPv4 key,
// 36-character event id) take about 155 MB, 180 MB for value_count (docs/benchmarks.md). A
// group's buffer is capped at 2 GiB: beyond that, matches of the group are ignored (counted as
// late) until entries leave its window.
//
// Persistence: Save/Load (docs/stateful.md, "Persistence") carry everything that decides future
// outcomes, so that a state saved and loaded between two offers behaves as if it never was.
//
// Thread contract: not thread-safe; one instance per correlation per stream (replay's one stream,
// the daemon's partition), owned by the stateful stage.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "state/bytes.h"
#include "state/group_table.h"

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
  CorrelationState(CorrelationState&&) noexcept = default;
  CorrelationState& operator=(CorrelationState&&) noexcept = default;
  CorrelationState(const CorrelationState&) = delete;
  CorrelationState& operator=(const CorrelationState&) = delete;

  Outcome Offer(const CorrelationMatch& match, std::optional<CorrelationFiring>& firing);

  // Appends everything that decides future outcomes to `out`: every group (in least-recently-
  // updated order) with its T, quiet time and window, and the counters. Binary, little-endian,
  // versioned (docs/stateful.md, "Persistence"); the same state always gives the same bytes.
  void Save(std::string& out) const;
  // A state that behaves exactly as the one that was saved, for `spec` (whose type and, for
  // temporal, rule count must be the saved ones; beyond its max_groups the least recently updated
  // groups are evicted and counted). A truncated or inconsistent input is an error naming the
  // byte and the group.
  static Result<CorrelationState> Load(std::string_view bytes, const CorrelationSpec& spec);

  const CorrelationSpec& spec() const { return spec_; }
  size_t groups() const { return table_.size(); }
  uint64_t late() const { return late_; }
  uint64_t evictions() const { return evictions_; }
  uint64_t suppressed() const { return suppressed_; }

 private:
  // A group's buffer (GroupTable::Group::buf) holds, packed:
  //   key bytes | entries, in arrival order | tail
  // An entry is its event time (int64 LE), for value_count its value's index in the tail and for
  // temporal its rule bits (uint32 LE; absent for event_count), then its event id (varint length,
  // bytes). The tail is, for value_count, each distinct value of the window with how many entries
  // hold it (uint32 LE count, varint length, bytes); for temporal, how many entries matched each
  // listed rule (rule_count uint32 LE); empty for event_count. Save writes these regions as they
  // are and Load checks every byte of them.
  using Group = GroupTable::Group;

  size_t ValueBytes(std::string_view value) const;
  uint32_t NewGroup(std::string_view key, uint32_t hash, size_t first_bytes);
  void Add(Group& g, const CorrelationMatch& match);
  uint32_t CountValue(Group& g, std::string_view value);
  void Expire(Group& g);
  void Forget(Group& g, uint32_t extra);
  void DropUnusedValues(Group& g);
  void Clear(Group& g);
  uint64_t Count(const Group& g) const;
  bool Holds(uint64_t count) const;
  CorrelationFiring Fire(const Group& g, uint64_t count) const;
  bool has_extra() const { return spec_.type != CorrelationType::kEventCount; }
  uint32_t all_rules() const { return spec_.rule_count >= 32 ? ~0u : (1u << spec_.rule_count) - 1; }

  std::string LoadGroup(ByteReader& in);
  std::string CheckTail(std::string_view tail, std::vector<std::string_view>& values);
  std::string CheckEntries(std::string_view entries, int64_t max_time_ms, size_t n_values,
                           Group& g);

  CorrelationSpec spec_;
  GroupTable table_;
  uint64_t late_ = 0;
  uint64_t evictions_ = 0;
  uint64_t suppressed_ = 0;
  std::vector<uint32_t> scratch_;  // Expire: value offsets, then their new indexes; Load: counts
  std::vector<uint32_t> counted_;  // Load: the counts the entries give
};

// A canonical text of what the state itself depends on (type, timespan, condition, rule count,
// quiet time; not max_groups, which Load adapts to). The definition fingerprint that decides
// whether a saved state is kept across a reload is the engine's (it also covers the rules,
// group_by and field); this helper is the part cw_state can vouch for.
std::string StateFingerprint(const CorrelationSpec& spec);

}  // namespace chipwatch
