// SuppressionState: the suppression windows of one rule (`suppress: {by: [...], for: D}`, issue
// 13, docs/stateful.md), over event time.
//
// The first match of a key raises its alert as before and opens the window [t0, t0 + for); later
// matches of that key before the window's end raise nothing and are counted. A window closes
// when the stream's greatest event time reaches its end (AdvanceTo), when a match of its key at
// or after its end arrives (which then opens a new window and raises its own alert), or at the
// end of the input or of an idle partition (Flush). A closed window with at least one suppressed
// match yields one summary.
//
// At most `max_keys` windows are open: one more closes the window that ends first (its summary is
// reported then, not lost; counted as an eviction). Summaries closed together come in the order
// (window end, key): replay is deterministic.
//
// Thread contract: not thread-safe; one instance per rule per stream, owned by the stateful stage.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"
#include "core/string_hash.h"
#include "state/bytes.h"

namespace chipwatch {

// A closed window with suppressed matches: the summary alert's `group` (the key), `count`,
// `first_seen`, `last_seen` and `events`; its event is the last suppressed match.
struct SuppressionSummary {
  std::string key;
  uint64_t count = 0;  // suppressed matches
  int64_t window_start_ms = 0;
  int64_t window_end_ms = 0;
  int64_t first_seen_ms = 0;        // of the suppressed matches
  int64_t last_seen_ms = 0;         // idem
  std::vector<std::string> events;  // the last kMaxListed suppressed event ids, in order
  std::string last_event_id;
};

class SuppressionState {
 public:
  static constexpr size_t kMaxListed = 20;

  enum class Outcome : uint8_t { kRaise, kSuppressed };

  SuppressionState(int64_t for_ms, size_t max_keys);
  SuppressionState(SuppressionState&&) noexcept = default;
  SuppressionState& operator=(SuppressionState&&) noexcept = default;
  SuppressionState(const SuppressionState&) = delete;
  SuppressionState& operator=(const SuppressionState&) = delete;

  // One match of the rule. A window of `key` that has ended (its end at or before `time_ms`)
  // closes first, its summary appended to `closed`.
  Outcome Offer(std::string_view key, int64_t time_ms, std::string_view event_id,
                std::vector<SuppressionSummary>& closed);

  // The stream's greatest event time is `time_ms`: every window ending at or before it closes.
  void AdvanceTo(int64_t time_ms, std::vector<SuppressionSummary>& closed);

  // Closes every window (end of a replay; an idle partition).
  void Flush(std::vector<SuppressionSummary>& closed);

  // Appends every open window (in (end, key) order) and the counters to `out`: binary,
  // little-endian, versioned (docs/stateful.md, "Persistence"); the same state always gives the
  // same bytes.
  void Save(std::string& out) const;
  // A state that behaves exactly as the one that was saved, with the rule's `for_ms` and
  // `max_keys` (windows keep the ends they were opened with; beyond max_keys, the next new key
  // closes windows until it fits, as eviction does). A truncated or inconsistent input is an
  // error naming the byte and the window.
  static Result<SuppressionState> Load(std::string_view bytes, int64_t for_ms, size_t max_keys);

  size_t open_windows() const { return windows_.size(); }
  uint64_t suppressed() const { return suppressed_; }
  uint64_t evictions() const { return evictions_; }

 private:
  struct Window {
    int64_t start_ms = 0;
    int64_t end_ms = 0;
    uint64_t count = 0;
    int64_t first_seen_ms = 0;
    int64_t last_seen_ms = 0;
    std::vector<std::string> events;  // ring of the last kMaxListed; `next` is the oldest
    size_t next = 0;
  };
  using Ends = std::set<std::pair<int64_t, std::string_view>>;  // (end, key): what closes first

  void Close(StringMap<Window>::iterator it, std::vector<SuppressionSummary>& closed);
  std::string LoadWindow(ByteReader& in);

  int64_t for_ms_;
  size_t max_keys_;
  StringMap<Window> windows_;
  Ends ends_;
  uint64_t suppressed_ = 0;
  uint64_t evictions_ = 0;
};

}  // namespace chipwatch
