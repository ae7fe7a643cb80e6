#include "state/correlation.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <utility>

namespace chipwatch {

namespace {

using Outcome = CorrelationState::Outcome;
constexpr uint32_t kNone = GroupTable::kNone;

// A group whose buffer would grow beyond this ignores further matches (counted as late) until
// entries leave its window: 2 GiB is tens of millions of entries in one group's window.
constexpr size_t kMaxGroupBytes = size_t{1} << 31;

struct EntryView {
  int64_t time_ms = 0;
  uint32_t extra = 0;  // value index (value_count) or rule bits (temporal)
  std::string_view id;
};

size_t EntrySize(bool has_extra, size_t id_len) {
  return 8 + (has_extra ? 4 : 0) + VarintSize(id_len) + id_len;
}

// Decodes the entry at `p` (trusted: written by WriteEntry or checked by Load); returns the byte
// after it.
const char* ReadEntry(const char* p, bool has_extra, EntryView& e) {
  e.time_ms = LoadI64(p);
  p += 8;
  if (has_extra) {
    e.extra = LoadU32(p);
    p += 4;
  }
  const size_t n = LoadVarint(p);
  e.id = {p, n};
  return p + n;
}

void WriteEntry(char* p, bool has_extra, int64_t time_ms, uint32_t extra, std::string_view id) {
  StoreI64(p, time_ms);
  p += 8;
  if (has_extra) {
    StoreU32(p, extra);
    p += 4;
  }
  p += StoreVarint(p, id.size());
  if (!id.empty()) std::memcpy(p, id.data(), id.size());
}

// A value record of the value_count tail: its count, then its bytes. Returns the byte after it.
const char* ReadValue(const char* p, uint32_t& count, std::string_view& value) {
  count = LoadU32(p);
  const char* q = p + 4;
  const size_t n = LoadVarint(q);
  value = {q, n};
  return q + n;
}

void AddToCounter(char* p, int32_t delta) {
  StoreU32(p, LoadU32(p) + static_cast<uint32_t>(delta));
}

}  // namespace

CorrelationState::CorrelationState(CorrelationSpec spec) : spec_(spec) {
  if (spec_.rule_count == 0) spec_.rule_count = 1;
  if (spec_.rule_count > 32) spec_.rule_count = 32;
  if (spec_.max_groups == 0) spec_.max_groups = 1;
  if (spec_.max_groups > GroupTable::kMaxGroups) spec_.max_groups = GroupTable::kMaxGroups;
}

CorrelationState::Outcome CorrelationState::Offer(const CorrelationMatch& match,
                                                  std::optional<CorrelationFiring>& firing) {
  firing.reset();
  const uint32_t hash = GroupTable::Hash(match.group);
  uint32_t index = table_.Find(match.group, hash);
  if (index != kNone && match.time_ms <= table_.at(index).max_time_ms - spec_.timespan_ms) {
    ++late_;
    return Outcome::kLate;
  }
  const size_t grows_by = EntrySize(has_extra(), match.event_id.size()) + ValueBytes(match.value);
  const size_t used = index == kNone ? match.group.size() : table_.at(index).used();
  if (used + grows_by + 4 * spec_.rule_count > kMaxGroupBytes) {
    ++late_;
    return Outcome::kLate;
  }
  if (index == kNone) index = NewGroup(match.group, hash, grows_by);
  table_.Touch(index);
  Group& g = table_.at(index);
  Add(g, match);
  Expire(g);
  const uint64_t count = Count(g);
  if (!Holds(count)) return Outcome::kAdded;
  if (g.max_time_ms < g.quiet_until_ms) {
    Clear(g);
    ++suppressed_;
    return Outcome::kSuppressed;
  }
  firing = Fire(g, count);
  Clear(g);
  if (spec_.suppress_ms > 0) g.quiet_until_ms = g.max_time_ms + spec_.suppress_ms;
  return Outcome::kFired;
}

// What a new value adds to a value_count tail at most.
size_t CorrelationState::ValueBytes(std::string_view value) const {
  if (spec_.type != CorrelationType::kValueCount) return 0;
  return 4 + VarintSize(value.size()) + value.size();
}

// A new group for `key`, its buffer sized for the key, the tail and `first_bytes`; beyond
// max_groups the least recently updated group leaves first.
uint32_t CorrelationState::NewGroup(std::string_view key, uint32_t hash, size_t first_bytes) {
  if (table_.size() >= spec_.max_groups && table_.oldest() != kNone) {
    table_.Erase(table_.oldest());
    ++evictions_;
  }
  const size_t tail = spec_.type == CorrelationType::kTemporal ? 4 * spec_.rule_count : 0;
  const uint32_t index = table_.Insert(key, hash, tail + first_bytes);
  Group& g = table_.at(index);
  if (tail > 0) {
    std::memset(g.tail(), 0, tail);  // one zero counter per listed rule
    g.tail_bytes = static_cast<uint32_t>(tail);
  }
  return index;
}

void CorrelationState::Add(Group& g, const CorrelationMatch& match) {
  if (g.n_entries == 0 || match.time_ms < g.min_entry_time_ms) g.min_entry_time_ms = match.time_ms;
  g.max_time_ms = std::max(g.max_time_ms, match.time_ms);
  uint32_t extra = 0;
  if (spec_.type == CorrelationType::kTemporal) {
    extra = match.rules & all_rules();
    for (uint32_t i = 0; i < spec_.rule_count; ++i) {
      if (extra & (1u << i)) AddToCounter(g.tail() + 4 * i, 1);
    }
  } else if (spec_.type == CorrelationType::kValueCount) {
    extra = CountValue(g, match.value);
  }
  const size_t size = EntrySize(has_extra(), match.event_id.size());
  GroupTable::Reserve(g, g.used() + size);
  char* at = g.tail();  // the new entry goes where the tail is; the tail moves after it
  std::memmove(at + size, at, g.tail_bytes);
  WriteEntry(at, has_extra(), match.time_ms, extra, match.event_id);
  g.entries_bytes += static_cast<uint32_t>(size);
  ++g.n_entries;
}

// value_count: counts one more entry holding `value` (added to the tail when new); returns the
// value's index.
uint32_t CorrelationState::CountValue(Group& g, std::string_view value) {
  char* p = g.tail();
  for (uint32_t i = 0; i < g.n_values; ++i) {
    uint32_t count = 0;
    std::string_view v;
    const char* next = ReadValue(p, count, v);
    if (v == value) {
      AddToCounter(p, 1);
      return i;
    }
    p += next - p;
  }
  const size_t size = ValueBytes(value);
  GroupTable::Reserve(g, g.used() + size);
  char* rec = g.tail() + g.tail_bytes;
  StoreU32(rec, 1);
  rec += 4;
  rec += StoreVarint(rec, value.size());
  if (!value.empty()) std::memcpy(rec, value.data(), value.size());
  g.tail_bytes += static_cast<uint32_t>(size);
  return g.n_values++;
}

// Drops the entries at or before T - timespan (in place, keeping the arrival order).
void CorrelationState::Expire(Group& g) {
  const int64_t cutoff = g.max_time_ms - spec_.timespan_ms;
  if (g.n_entries == 0 || g.min_entry_time_ms > cutoff) return;
  if (spec_.type == CorrelationType::kValueCount) {  // where each value's record starts
    scratch_.clear();
    const char* p = g.tail();
    for (uint32_t i = 0; i < g.n_values; ++i) {
      scratch_.push_back(static_cast<uint32_t>(p - g.tail()));
      uint32_t count = 0;
      std::string_view v;
      p = ReadValue(p, count, v);
    }
  }
  char* const base = g.entries();
  const char* const end = base + g.entries_bytes;
  char* write = base;
  int64_t min_time = g.max_time_ms;
  uint32_t kept = 0;
  for (const char* read = base; read < end;) {
    EntryView e;
    const char* next = ReadEntry(read, has_extra(), e);
    if (e.time_ms <= cutoff) {
      Forget(g, e.extra);
    } else {
      min_time = std::min(min_time, e.time_ms);
      if (write != read) std::memmove(write, read, static_cast<size_t>(next - read));
      write += next - read;
      ++kept;
    }
    read = next;
  }
  const auto entries_bytes = static_cast<uint32_t>(write - base);
  std::memmove(base + entries_bytes, base + g.entries_bytes, g.tail_bytes);  // the tail follows
  g.entries_bytes = entries_bytes;
  g.n_entries = kept;
  g.min_entry_time_ms = min_time;
  if (spec_.type == CorrelationType::kValueCount) DropUnusedValues(g);
}

// An entry leaves the window: its value's or rules' counters go down (the tail has not moved yet).
void CorrelationState::Forget(Group& g, uint32_t extra) {
  if (spec_.type == CorrelationType::kValueCount) {
    AddToCounter(g.tail() + scratch_[extra], -1);
  } else if (spec_.type == CorrelationType::kTemporal) {
    for (uint32_t i = 0; i < spec_.rule_count; ++i) {
      if (extra & (1u << i)) AddToCounter(g.tail() + 4 * i, -1);
    }
  }
}

// value_count: the values no entry holds any more leave the tail (the others keep their order)
// and the entries' value indexes follow.
void CorrelationState::DropUnusedValues(Group& g) {
  char* const tail = g.tail();
  const char* p = tail;
  char* write = tail;
  uint32_t next_index = 0;
  for (uint32_t i = 0; i < g.n_values; ++i) {
    uint32_t count = 0;
    std::string_view v;
    const char* next = ReadValue(p, count, v);
    scratch_[i] = count == 0 ? kNone : next_index++;
    if (count != 0) {
      if (write != p) std::memmove(write, p, static_cast<size_t>(next - p));
      write += next - p;
    }
    p = next;
  }
  if (next_index == g.n_values) return;
  g.tail_bytes = static_cast<uint32_t>(write - tail);
  g.n_values = next_index;
  char* e = g.entries();
  for (uint32_t i = 0; i < g.n_entries; ++i) {
    EntryView view;
    char* next = e + (ReadEntry(e, true, view) - e);
    StoreU32(e + 8, scratch_[view.extra]);
    e = next;
  }
}

void CorrelationState::Clear(Group& g) {
  g.entries_bytes = 0;
  g.n_entries = 0;
  if (spec_.type == CorrelationType::kTemporal) {
    std::memset(g.tail(), 0, g.tail_bytes);  // the counters, now right after the key
  } else {
    g.tail_bytes = 0;
    g.n_values = 0;
  }
  GroupTable::ShrinkToFit(g);
}

uint64_t CorrelationState::Count(const Group& g) const {
  switch (spec_.type) {
    case CorrelationType::kEventCount:
      return g.n_entries;
    case CorrelationType::kValueCount:
      return g.n_values;
    case CorrelationType::kTemporal: {
      uint64_t n = 0;
      for (uint32_t i = 0; i < spec_.rule_count; ++i) n += LoadU32(g.tail() + 4 * i) > 0;
      return n;
    }
  }
  return 0;
}

bool CorrelationState::Holds(uint64_t count) const {
  if (spec_.type == CorrelationType::kTemporal) return count >= spec_.rule_count;
  return spec_.greater ? count > spec_.threshold : count >= spec_.threshold;
}

CorrelationFiring CorrelationState::Fire(const Group& g, uint64_t count) const {
  CorrelationFiring f;
  f.group = std::string(g.key());
  f.count = count;
  std::array<std::string_view, kMaxListed> last;  // a ring of the last ids
  size_t seen = 0;
  const char* p = g.entries();
  for (uint32_t i = 0; i < g.n_entries; ++i) {
    EntryView e;
    p = ReadEntry(p, has_extra(), e);
    f.first_seen_ms = seen == 0 ? e.time_ms : std::min(f.first_seen_ms, e.time_ms);
    f.last_seen_ms = seen == 0 ? e.time_ms : std::max(f.last_seen_ms, e.time_ms);
    last[seen++ % kMaxListed] = e.id;
  }
  const size_t listed = std::min(seen, kMaxListed);
  f.events.reserve(listed);
  for (size_t i = seen - listed; i < seen; ++i) f.events.emplace_back(last[i % kMaxListed]);
  if (spec_.type == CorrelationType::kValueCount) {
    p = g.tail();
    for (uint32_t i = 0; i < g.n_values; ++i) {
      uint32_t n = 0;
      std::string_view v;
      p = ReadValue(p, n, v);
      f.values.emplace_back(v);
    }
    std::sort(f.values.begin(), f.values.end());
    if (f.values.size() > kMaxListed) f.values.resize(kMaxListed);
  }
  return f;
}

std::string StateFingerprint(const CorrelationSpec& spec) {
  std::string s = "correlation/1 type=";
  switch (spec.type) {
    case CorrelationType::kEventCount:
      s += "event_count";
      break;
    case CorrelationType::kValueCount:
      s += "value_count";
      break;
    case CorrelationType::kTemporal:
      s += "temporal rules=" + std::to_string(std::clamp<uint32_t>(spec.rule_count, 1, 32));
      break;
  }
  s += " timespan_ms=" + std::to_string(spec.timespan_ms);
  if (spec.type != CorrelationType::kTemporal) {
    s += std::string(spec.greater ? " gt=" : " gte=") + std::to_string(spec.threshold);
  }
  s += " suppress_ms=" + std::to_string(spec.suppress_ms);
  return s;
}

}  // namespace chipwatch
