// The indexes' build-time helpers and lookups: KeyIndex (hash + Bloom filter) and the sorted,
// merged address ranges behind `cidr` predicates and the source.ip trigger index.
#include <algorithm>

#include "match/internal.h"

namespace chipwatch::match_internal {

namespace {

// a + 1 == b (for merging adjacent ranges).
bool Adjacent(std::array<uint8_t, 16> a, const std::array<uint8_t, 16>& b) {
  for (int i = 15; i >= 0; --i) {
    if (++a[i] != 0) break;
    if (i == 0) return false;  // a was the maximum address
  }
  return a == b;
}

}  // namespace

std::vector<IpRange> SortedMerged(std::vector<IpRange> ranges) {
  std::sort(ranges.begin(), ranges.end(),
            [](const IpRange& x, const IpRange& y) { return Less(x.first, y.first); });
  std::vector<IpRange> out;
  for (const auto& r : ranges) {
    if (!out.empty() && (!Less(out.back().last, r.first) || Adjacent(out.back().last, r.first))) {
      if (Less(out.back().last, r.last)) out.back().last = r.last;
    } else {
      out.push_back(r);
    }
  }
  return out;
}

void KeyIndex::Seal() {
  filter_.clear();
  mask_ = 0;
  if (map_.empty()) return;
  uint64_t bits = 4096;
  while (bits < map_.size() * 16) bits *= 2;
  filter_.assign(bits / 64, 0);
  mask_ = bits - 1;
  for (const auto& [key, ids] : map_) {
    const uint64_t h = std::hash<std::string_view>()(key);
    for (const uint64_t bit : {h & mask_, (h >> 32) & mask_})
      filter_[bit >> 6] |= 1ull << (bit & 63);
  }
}

const std::vector<uint32_t>* KeyIndex::Find(std::string_view key) const {
  if (map_.empty()) return nullptr;
  if (!filter_.empty()) {
    const uint64_t h = std::hash<std::string_view>()(key);
    const uint64_t a = h & mask_, b = (h >> 32) & mask_;
    if (!(filter_[a >> 6] >> (a & 63) & 1) || !(filter_[b >> 6] >> (b & 63) & 1)) return nullptr;
  }
  auto it = map_.find(key);
  return it == map_.end() ? nullptr : &it->second;
}
}  // namespace chipwatch::match_internal
