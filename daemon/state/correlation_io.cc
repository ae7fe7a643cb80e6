// CorrelationState::Save and Load (docs/stateful.md, "Persistence"). The saved form is
//   u32 magic "CWCS", u8 version (1), u8 type, u8 rule_count, u8 0,
//   u64 late, u64 evictions, u64 suppressed, u64 group count,
//   then each group from the least to the most recently updated:
//     i64 T, i64 quiet until, string key, string entries, string tail
// (strings: varint length, bytes; integers little-endian; entries and tail as the group's buffer
// holds them, correlation.h). Load checks every field and recomputes every counter from the
// entries, so that what it accepts is a state Offer could have built.
#include <algorithm>
#include <cstring>
#include <limits>

#include "state/correlation.h"

namespace chipwatch {

namespace {

constexpr uint32_t kMagic = 0x53435743;  // "CWCS" in file order
constexpr uint8_t kVersion = 1;
// Event times a loaded state may hold: far beyond any real one, and T - timespan cannot overflow.
constexpr int64_t kMaxTime = int64_t{1} << 62;
// The fewest bytes a saved group takes (two times, three empty strings).
constexpr size_t kMinGroupBytes = 8 + 8 + 3;

const char* TypeName(uint8_t type) {
  switch (static_cast<CorrelationType>(type)) {
    case CorrelationType::kEventCount:
      return "event_count";
    case CorrelationType::kValueCount:
      return "value_count";
    case CorrelationType::kTemporal:
      return "temporal";
  }
  return "an unknown type";
}

Status Corrupt(const std::string& what) { return Status::ParseError("correlation state: " + what); }

}  // namespace

void CorrelationState::Save(std::string& out) const {
  size_t total = 48;
  for (uint32_t i = table_.oldest(); i != GroupTable::kNone; i = table_.at(i).newer) {
    total += 16 + 15 + table_.at(i).used();
  }
  out.reserve(out.size() + total);
  PutU32(out, kMagic);
  PutU8(out, kVersion);
  PutU8(out, static_cast<uint8_t>(spec_.type));
  PutU8(out, static_cast<uint8_t>(spec_.rule_count));
  PutU8(out, 0);
  PutU64(out, late_);
  PutU64(out, evictions_);
  PutU64(out, suppressed_);
  PutU64(out, table_.size());
  for (uint32_t i = table_.oldest(); i != GroupTable::kNone; i = table_.at(i).newer) {
    const Group& g = table_.at(i);
    PutI64(out, g.max_time_ms);
    PutI64(out, g.quiet_until_ms);
    PutString(out, g.key());
    PutString(out, {g.entries(), g.entries_bytes});
    PutString(out, {g.tail(), g.tail_bytes});
  }
}

Result<CorrelationState> CorrelationState::Load(std::string_view bytes,
                                                const CorrelationSpec& spec) {
  CorrelationState s(spec);
  ByteReader in(bytes);
  uint32_t magic = 0;
  uint8_t version = 0, type = 0, rule_count = 0, reserved = 0;
  uint64_t groups = 0;
  in.U32(magic) && in.U8(version) && in.U8(type) && in.U8(rule_count) && in.U8(reserved) &&
      in.U64(s.late_) && in.U64(s.evictions_) && in.U64(s.suppressed_) && in.U64(groups);
  if (magic != kMagic && bytes.size() >= 4) return Corrupt("bad magic (not a correlation state)");
  if (in.failed()) return Corrupt(in.Error());
  if (version != kVersion) {
    return Corrupt("version " + std::to_string(version) + ", this build reads version " +
                   std::to_string(kVersion));
  }
  if (type != static_cast<uint8_t>(s.spec_.type)) {
    return Corrupt(std::string("saved for a ") + TypeName(type) + " correlation, loaded for a " +
                   TypeName(static_cast<uint8_t>(s.spec_.type)) + " one");
  }
  if (s.spec_.type == CorrelationType::kTemporal && rule_count != s.spec_.rule_count) {
    return Corrupt("saved for " + std::to_string(rule_count) + " listed rules, loaded for " +
                   std::to_string(s.spec_.rule_count));
  }
  if (groups > in.remaining() / kMinGroupBytes) {
    return Corrupt(std::to_string(groups) + " groups cannot fit in the " +
                   std::to_string(in.remaining()) + " bytes left at byte " +
                   std::to_string(in.pos()));
  }
  s.table_.ReserveIndex(groups);
  for (uint64_t k = 0; k < groups; ++k) {
    const size_t at = in.pos();
    if (std::string error = s.LoadGroup(in); !error.empty()) {
      return Corrupt("group " + std::to_string(k) + " (at byte " + std::to_string(at) +
                     "): " + error);
    }
  }
  if (!in.at_end()) {
    return Corrupt(std::to_string(in.remaining()) + " bytes after the last group, at byte " +
                   std::to_string(in.pos()));
  }
  while (s.table_.size() > s.spec_.max_groups) {
    s.table_.Erase(s.table_.oldest());
    ++s.evictions_;
  }
  return s;
}

// Reads one group and adds it as the most recently updated; returns what is wrong, if anything.
std::string CorrelationState::LoadGroup(ByteReader& in) {
  Group meta;
  std::string_view key, entries, tail;
  in.I64(meta.max_time_ms) && in.I64(meta.quiet_until_ms) && in.String(key) && in.String(entries) &&
      in.String(tail);
  if (in.failed()) return in.Error();
  if (meta.max_time_ms < -kMaxTime || meta.max_time_ms > kMaxTime) {
    return "T " + std::to_string(meta.max_time_ms) + " is out of range";
  }
  if (key.size() + entries.size() + tail.size() > (size_t{1} << 31)) return "too large";
  const uint32_t hash = GroupTable::Hash(key);
  if (table_.Find(key, hash) != GroupTable::kNone) return "the key is already a group";
  std::vector<std::string_view> values;
  if (std::string error = CheckTail(tail, values); !error.empty()) return error;
  if (std::string error = CheckEntries(entries, meta.max_time_ms, values.size(), meta);
      !error.empty()) {
    return error;
  }
  const uint32_t index = table_.Insert(key, hash, entries.size() + tail.size());
  Group& g = table_.at(index);
  if (!entries.empty()) std::memcpy(g.entries(), entries.data(), entries.size());
  g.entries_bytes = static_cast<uint32_t>(entries.size());
  if (!tail.empty()) std::memcpy(g.tail(), tail.data(), tail.size());
  g.tail_bytes = static_cast<uint32_t>(tail.size());
  g.max_time_ms = meta.max_time_ms;
  g.quiet_until_ms = meta.quiet_until_ms;
  g.min_entry_time_ms = meta.min_entry_time_ms;
  g.n_entries = meta.n_entries;
  g.n_values = static_cast<uint32_t>(values.size());
  table_.Touch(index);
  return {};
}

// The tail's counters go to scratch_ (and, for value_count, its values to `values`).
std::string CorrelationState::CheckTail(std::string_view tail,
                                        std::vector<std::string_view>& values) {
  scratch_.clear();
  ByteReader in(tail);
  switch (spec_.type) {
    case CorrelationType::kEventCount:
      if (!tail.empty()) return "an event_count group with counters";
      return {};
    case CorrelationType::kTemporal:
      if (tail.size() != 4 * spec_.rule_count) return "the rule counters are the wrong size";
      for (uint32_t i = 0; i < spec_.rule_count; ++i) scratch_.push_back(LoadU32(&tail[4 * i]));
      return {};
    case CorrelationType::kValueCount:
      break;
  }
  while (!in.at_end()) {
    uint32_t count = 0;
    std::string_view value;
    if (!in.U32(count) || !in.String(value)) return "values: " + in.Error();
    if (count == 0) return "values: a value no entry holds";
    scratch_.push_back(count);
    values.push_back(value);
  }
  std::vector<std::string_view> sorted = values;
  std::sort(sorted.begin(), sorted.end());
  if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end()) {
    return "values: a value twice";
  }
  return {};
}

// Checks every entry (times no later than T, value indexes, rule bits) and that the counters
// CheckTail read are what the entries give; sets meta's n_entries and min_entry_time_ms.
std::string CorrelationState::CheckEntries(std::string_view entries, int64_t max_time_ms,
                                           size_t n_values, Group& meta) {
  counted_.assign(scratch_.size(), 0);
  ByteReader in(entries);
  meta.min_entry_time_ms = max_time_ms;
  uint64_t n = 0;
  while (!in.at_end()) {
    int64_t time_ms = 0;
    uint32_t extra = 0;
    std::string_view id;
    if (!in.I64(time_ms) || (has_extra() && !in.U32(extra)) || !in.String(id)) {
      return "entries: " + in.Error();
    }
    if (time_ms > max_time_ms || time_ms < -kMaxTime) return "entries: a time out of range";
    if (spec_.type == CorrelationType::kValueCount) {
      if (extra >= n_values) return "entries: a value index out of range";
      ++counted_[extra];
    } else if (spec_.type == CorrelationType::kTemporal) {
      if ((extra & ~all_rules()) != 0) return "entries: rule bits beyond the listed rules";
      for (uint32_t i = 0; i < spec_.rule_count; ++i) counted_[i] += (extra >> i) & 1;
    }
    meta.min_entry_time_ms = std::min(meta.min_entry_time_ms, time_ms);
    ++n;
  }
  if (counted_ != scratch_) return "the counters do not match the entries";
  meta.n_entries = static_cast<uint32_t>(n);
  return {};
}

}  // namespace chipwatch
