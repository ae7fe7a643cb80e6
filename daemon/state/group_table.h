// GroupTable: the groups of one correlation (state/correlation.h), laid out for a million of them
// in a few hundred bytes each.
//
// A group is a fixed 64-byte header in a slab (chunks of 4,096, addressed by a uint32 index, so
// nothing moves when the table grows) and one malloc'd byte buffer holding its key, its window's
// entries and their per-value or per-rule counters, packed (CorrelationState defines the layout).
// The index by key is open addressing with linear probing over 8-byte slots holding the key's hash
// and the group's index, so that a probe reads no header whose hash differs (load <= 3/4,
// backward-shift deletion); the least-recently-updated order is a doubly linked list through the
// headers' `older`/`newer` indexes. Freed headers are reused.
//
// Thread contract: not thread-safe; owned by one CorrelationState.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <limits>
#include <memory>
#include <string_view>
#include <vector>

namespace chipwatch {

class GroupTable {
 public:
  static constexpr uint32_t kNone = std::numeric_limits<uint32_t>::max();
  // The most groups a table holds (the index is a uint32; a billion groups is ~200 GB anyway).
  static constexpr size_t kMaxGroups = size_t{1} << 30;

  struct FreeDeleter {
    void operator()(char* p) const { std::free(p); }
  };

  struct Group {
    int64_t max_time_ms = std::numeric_limits<int64_t>::min();  // T, once an entry came
    int64_t min_entry_time_ms = 0;  // of the entries, when there are some: expiry skips the scan
    int64_t quiet_until_ms = std::numeric_limits<int64_t>::min();
    std::unique_ptr<char, FreeDeleter> buf;  // key, entries, tail (correlation.cc)
    uint32_t cap = 0;                        // bytes allocated at `buf`
    uint32_t key_len = 0;
    uint32_t entries_bytes = 0;
    uint32_t tail_bytes = 0;
    uint32_t n_entries = 0;
    uint32_t n_values = 0;   // value_count: distinct values in the tail
    uint32_t older = kNone;  // LRU links (indexes); for a free header, `newer` links the free list
    uint32_t newer = kNone;

    std::string_view key() const { return {buf.get(), key_len}; }
    char* entries() { return buf.get() + key_len; }
    const char* entries() const { return buf.get() + key_len; }
    char* tail() { return buf.get() + key_len + entries_bytes; }
    const char* tail() const { return buf.get() + key_len + entries_bytes; }
    uint32_t used() const { return key_len + entries_bytes + tail_bytes; }
  };

  GroupTable() = default;
  GroupTable(GroupTable&&) noexcept = default;
  GroupTable& operator=(GroupTable&&) noexcept = default;
  GroupTable(const GroupTable&) = delete;
  GroupTable& operator=(const GroupTable&) = delete;

  static uint32_t Hash(std::string_view key);

  // The index of the group with `key`, or kNone. `hash` is always Hash(key).
  uint32_t Find(std::string_view key, uint32_t hash) const;
  // Adds a group for `key` (hash: Hash(key)), which must not be present, with `extra` bytes of
  // buffer after the key; it is not in the LRU list until Touch.
  uint32_t Insert(std::string_view key, uint32_t hash, size_t extra);
  // Sizes the index for `groups` groups at once (a Load knows how many come).
  void ReserveIndex(size_t groups);
  // Removes the group (index, LRU list, buffer).
  void Erase(uint32_t index);

  Group& at(uint32_t index) { return chunks_[index >> kChunkBits][index & kChunkMask]; }
  const Group& at(uint32_t index) const { return chunks_[index >> kChunkBits][index & kChunkMask]; }
  size_t size() const { return size_; }

  // Makes the group the most recently updated one.
  void Touch(uint32_t index);
  uint32_t oldest() const { return oldest_; }  // kNone when empty; then follow `newer`

  // Makes room for `needed` bytes in the group's buffer (grows by half at least). Throws
  // std::bad_alloc when memory is exhausted, like operator new.
  static void Reserve(Group& g, size_t needed);
  // Gives back most of a buffer far larger than what it holds (after a window was cleared).
  static void ShrinkToFit(Group& g);

 private:
  static constexpr uint32_t kChunkBits = 12;
  static constexpr uint32_t kChunkMask = (1u << kChunkBits) - 1;

  uint32_t NewHeader();
  void Unlink(uint32_t index);
  void GrowIndex();
  void Rehash(size_t slots);
  void PlaceInIndex(uint64_t slot);
  void RemoveFromIndex(uint32_t index);
  static uint64_t Slot(uint32_t hash, uint32_t index) {
    return (uint64_t{hash} << 32) | (uint64_t{index} + 1);
  }
  static uint32_t SlotHash(uint64_t slot) { return static_cast<uint32_t>(slot >> 32); }
  static uint32_t SlotIndex(uint64_t slot) { return static_cast<uint32_t>(slot) - 1; }

  std::vector<std::unique_ptr<Group[]>> chunks_;
  uint32_t headers_ = 0;  // headers ever handed out (chunks_ hold at least that many)
  uint32_t free_ = kNone;
  size_t size_ = 0;
  std::vector<uint64_t> slots_;  // Slot(hash, index); 0: empty
  uint32_t mask_ = 0;
  uint32_t oldest_ = kNone;
  uint32_t newest_ = kNone;
};

}  // namespace chipwatch
