// SuppressionState::Save and Load (docs/stateful.md, "Persistence"). The saved form is
//   u32 magic "CWSS", u8 version (1), u8 0, u8 0, u8 0,
//   u64 suppressed, u64 evictions, u64 window count,
//   then each open window in (end, key) order:
//     string key, i64 start, i64 end, u64 count, i64 first seen, i64 last seen,
//     varint event count, then each suppressed event id (string), oldest first
// (strings: varint length, bytes; integers little-endian).
#include <algorithm>

#include "state/suppression.h"

namespace chipwatch {

namespace {

constexpr uint32_t kMagic = 0x53535743;  // "CWSS" in file order
constexpr uint8_t kVersion = 1;
// The fewest bytes a saved window takes (empty key, five numbers, no events).
constexpr size_t kMinWindowBytes = 1 + 5 * 8 + 1;

Status Corrupt(const std::string& what) { return Status::ParseError("suppression state: " + what); }

}  // namespace

void SuppressionState::Save(std::string& out) const {
  PutU32(out, kMagic);
  PutU8(out, kVersion);
  PutU8(out, 0);
  PutU8(out, 0);
  PutU8(out, 0);
  PutU64(out, suppressed_);
  PutU64(out, evictions_);
  PutU64(out, windows_.size());
  for (const auto& [end, key] : ends_) {
    const Window& w = windows_.find(key)->second;
    PutString(out, key);
    PutI64(out, w.start_ms);
    PutI64(out, w.end_ms);
    PutU64(out, w.count);
    PutI64(out, w.first_seen_ms);
    PutI64(out, w.last_seen_ms);
    PutVarint(out, w.events.size());
    for (size_t i = 0; i < w.events.size(); ++i) {  // the ring from its oldest
      PutString(out, w.events[(w.next + i) % w.events.size()]);
    }
  }
}

Result<SuppressionState> SuppressionState::Load(std::string_view bytes, int64_t for_ms,
                                                size_t max_keys) {
  SuppressionState s(for_ms, max_keys);
  ByteReader in(bytes);
  uint32_t magic = 0;
  uint8_t version = 0, reserved = 0;
  uint64_t windows = 0;
  in.U32(magic) && in.U8(version) && in.U8(reserved) && in.U8(reserved) && in.U8(reserved) &&
      in.U64(s.suppressed_) && in.U64(s.evictions_) && in.U64(windows);
  if (magic != kMagic && bytes.size() >= 4) return Corrupt("bad magic (not a suppression state)");
  if (in.failed()) return Corrupt(in.Error());
  if (version != kVersion) {
    return Corrupt("version " + std::to_string(version) + ", this build reads version " +
                   std::to_string(kVersion));
  }
  if (windows > in.remaining() / kMinWindowBytes) {
    return Corrupt(std::to_string(windows) + " windows cannot fit in the " +
                   std::to_string(in.remaining()) + " bytes left at byte " +
                   std::to_string(in.pos()));
  }
  for (uint64_t k = 0; k < windows; ++k) {
    const size_t at = in.pos();
    if (std::string error = s.LoadWindow(in); !error.empty()) {
      return Corrupt("window " + std::to_string(k) + " (at byte " + std::to_string(at) +
                     "): " + error);
    }
  }
  if (!in.at_end()) {
    return Corrupt(std::to_string(in.remaining()) + " bytes after the last window, at byte " +
                   std::to_string(in.pos()));
  }
  return s;
}

// Reads one window and opens it; returns what is wrong, if anything.
std::string SuppressionState::LoadWindow(ByteReader& in) {
  std::string_view key;
  Window w;
  uint64_t n_events = 0;
  in.String(key) && in.I64(w.start_ms) && in.I64(w.end_ms) && in.U64(w.count) &&
      in.I64(w.first_seen_ms) && in.I64(w.last_seen_ms) && in.Varint(n_events);
  if (in.failed()) return in.Error();
  if (w.end_ms < w.start_ms) return "the window ends before it starts";
  if (n_events != std::min<uint64_t>(w.count, kMaxListed)) {
    return "it lists " + std::to_string(n_events) + " events for " + std::to_string(w.count) +
           " suppressed matches";
  }
  if (w.count > 0 && w.first_seen_ms > w.last_seen_ms) return "first seen after last seen";
  w.events.reserve(n_events);
  for (uint64_t i = 0; i < n_events; ++i) {
    std::string_view id;
    if (!in.String(id)) return in.Error();
    w.events.emplace_back(id);
  }
  if (!ends_.empty() && std::pair(w.end_ms, key) < *ends_.rbegin()) {
    return "out of (end, key) order";
  }
  auto [it, inserted] = windows_.try_emplace(std::string(key), std::move(w));
  if (!inserted) return "the key is already open";
  ends_.emplace(it->second.end_ms, it->first);
  return {};
}

}  // namespace chipwatch
