#include "state/group_table.h"

#include <algorithm>
#include <cstring>
#include <functional>
#include <new>

namespace chipwatch {

static_assert(sizeof(GroupTable::Group) == 64, "a million headers in 64 MB");

uint32_t GroupTable::Hash(std::string_view key) {
  const size_t h = std::hash<std::string_view>()(key);
  return static_cast<uint32_t>(h ^ (h >> 32));
}

uint32_t GroupTable::Find(std::string_view key, uint32_t hash) const {
  if (slots_.empty()) return kNone;
  for (uint32_t i = hash & mask_;; i = (i + 1) & mask_) {
    const uint64_t slot = slots_[i];
    if (slot == 0) return kNone;
    if (SlotHash(slot) == hash && at(SlotIndex(slot)).key() == key) return SlotIndex(slot);
  }
}

uint32_t GroupTable::Insert(std::string_view key, uint32_t hash, size_t extra) {
  if ((size_ + 1) * 4 > slots_.size() * 3) GrowIndex();
  const uint32_t index = NewHeader();
  Group& g = at(index);
  // At least 16 bytes, so that every group has a buffer (no null pointer for an empty key).
  Reserve(g, std::max<size_t>(key.size() + extra, 16));
  if (!key.empty()) std::memcpy(g.buf.get(), key.data(), key.size());
  g.key_len = static_cast<uint32_t>(key.size());
  PlaceInIndex(Slot(hash, index));
  ++size_;
  return index;
}

void GroupTable::Erase(uint32_t index) {
  RemoveFromIndex(index);
  Unlink(index);
  Group& g = at(index);
  g = Group();
  g.newer = free_;
  free_ = index;
  --size_;
}

void GroupTable::Touch(uint32_t index) {
  if (newest_ == index) return;
  Group& g = at(index);
  if (g.older != kNone || oldest_ == index) Unlink(index);
  g.older = newest_;
  g.newer = kNone;
  if (newest_ != kNone) at(newest_).newer = index;
  newest_ = index;
  if (oldest_ == kNone) oldest_ = index;
}

void GroupTable::Unlink(uint32_t index) {
  Group& g = at(index);
  if (g.older == kNone && oldest_ != index) return;  // not linked
  (g.older != kNone ? at(g.older).newer : oldest_) = g.newer;
  (g.newer != kNone ? at(g.newer).older : newest_) = g.older;
  g.older = g.newer = kNone;
}

void GroupTable::Reserve(Group& g, size_t needed) {
  if (needed <= g.cap) return;
  if (needed > std::numeric_limits<uint32_t>::max()) throw std::bad_alloc();
  const size_t grown =
      std::min<size_t>(size_t{g.cap} + g.cap / 2, std::numeric_limits<uint32_t>::max());
  const size_t cap = std::max(needed, g.cap == 0 ? needed : grown);
  char* p = static_cast<char*>(std::realloc(g.buf.get(), cap));
  if (p == nullptr) throw std::bad_alloc();
  (void)g.buf.release();
  g.buf.reset(p);
  g.cap = static_cast<uint32_t>(cap);
}

void GroupTable::ShrinkToFit(Group& g) {
  const size_t used = std::max<size_t>(g.used(), 16);
  if (g.cap <= 2 * used + 256) return;
  char* p = static_cast<char*>(std::realloc(g.buf.get(), used));
  if (p == nullptr) return;  // keeps the larger buffer
  (void)g.buf.release();
  g.buf.reset(p);
  g.cap = static_cast<uint32_t>(used);
}

uint32_t GroupTable::NewHeader() {
  if (free_ != kNone) {
    const uint32_t index = free_;
    free_ = at(index).newer;
    at(index).newer = kNone;
    return index;
  }
  if ((headers_ >> kChunkBits) == chunks_.size()) {
    chunks_.push_back(std::make_unique<Group[]>(size_t{1} << kChunkBits));
  }
  return headers_++;
}

void GroupTable::GrowIndex() { Rehash(slots_.empty() ? 16 : slots_.size() * 2); }

void GroupTable::ReserveIndex(size_t groups) {
  size_t n = slots_.empty() ? 16 : slots_.size();
  while (groups * 4 > n * 3) n *= 2;
  if (n > slots_.size()) Rehash(n);
}

void GroupTable::Rehash(size_t slots) {
  std::vector<uint64_t> old;
  old.swap(slots_);
  slots_.assign(slots, 0);
  mask_ = static_cast<uint32_t>(slots - 1);
  for (const uint64_t slot : old) {
    if (slot != 0) PlaceInIndex(slot);
  }
}

void GroupTable::PlaceInIndex(uint64_t slot) {
  uint32_t i = SlotHash(slot) & mask_;
  while (slots_[i] != 0) i = (i + 1) & mask_;
  slots_[i] = slot;
}

// Backward-shift deletion: the entries after the hole that probed past it move back into it, so
// that every lookup still stops only at an empty slot.
void GroupTable::RemoveFromIndex(uint32_t index) {
  const uint64_t wanted = Slot(Hash(at(index).key()), index);
  uint32_t hole = SlotHash(wanted) & mask_;
  while (slots_[hole] != wanted) hole = (hole + 1) & mask_;
  for (uint32_t j = (hole + 1) & mask_; slots_[j] != 0; j = (j + 1) & mask_) {
    const uint32_t home = SlotHash(slots_[j]) & mask_;
    // The entry at j may move to the hole when its home is not cyclically within (hole, j].
    const bool stays = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
    if (stays) continue;
    slots_[hole] = slots_[j];
    hole = j;
  }
  slots_[hole] = 0;
}

}  // namespace chipwatch
