// Internal to daemon/match/: the private layout of CompiledRules and MatchScratch, shared by the
// compiler (compiler.cc, which writes it), the indexes (key_index.cc) and the evaluator
// (evaluator.cc, which reads it). Not part of the public interface: compiled_rules.h only
// forward-declares these types. Same thread contract as CompiledRules: a RuleProgram is immutable
// once compiled; a ScratchState belongs to one thread.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "core/ascii.h"
#include "core/event.h"
#include "core/string_hash.h"
#include "hs/hyperscan.h"
#include "match/compiled_rules.h"
#include "policy/cidr.h"

namespace chipwatch::match_internal {

static_assert(kFieldCount <= 64, "ScratchState::scanned is a 64-bit field mask");
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "Less() byte-swaps big-endian addresses");

// A string -> ids hash index with a Bloom filter in front: actions -> rules, literals ->
// predicate bits, (field, action, value) composite keys -> rules. Most lookups on the hot path
// miss (an event's value is in no rule); with thousands of keys the table's buckets are rarely in
// cache, while the filter (16 bits per key) usually is and answers most misses from two bit tests.
class KeyIndex {
 public:
  using Map = StringMap<std::vector<uint32_t>>;
  std::vector<uint32_t>& operator[](const std::string& key) { return map_[key]; }  // building
  // Builds the filter from the keys present; Find() is exact before and after.
  void Seal();
  const std::vector<uint32_t>* Find(std::string_view key) const;
  bool empty() const { return map_.empty(); }
  size_t size() const { return map_.size(); }
  Map::iterator begin() { return map_.begin(); }
  Map::iterator end() { return map_.end(); }

 private:
  Map map_;
  std::vector<uint64_t> filter_;
  uint64_t mask_ = 0;  // filter bit count - 1 (a power of two)
};

using Address = std::array<uint8_t, 16>;

// Address order (network byte order), as two 64-bit words: no memcmp call on the hot path.
inline bool Less(const Address& a, const Address& b) {
  uint64_t a0, a1, b0, b1;
  std::memcpy(&a0, a.data(), 8);
  std::memcpy(&a1, a.data() + 8, 8);
  std::memcpy(&b0, b.data(), 8);
  std::memcpy(&b1, b.data() + 8, 8);
  a0 = __builtin_bswap64(a0);
  b0 = __builtin_bswap64(b0);
  if (a0 != b0) return a0 < b0;
  return __builtin_bswap64(a1) < __builtin_bswap64(b1);
}

// The ranges sorted by first address, overlapping and adjacent ones merged.
std::vector<IpRange> SortedMerged(std::vector<IpRange> ranges);

// The composite index's key: the field's id, then the lowercased action and value.
inline void AppendCompositeKey(std::string& key, FieldId field, std::string_view action,
                               std::string_view value) {
  key.resize(action.size() + value.size() + 2);
  char* out = key.data();
  *out++ = static_cast<char>(field);
  AsciiLowerInto(action, out);
  out += action.size();
  *out++ = '\x1f';
  AsciiLowerInto(value, out);
}

enum class Op : uint8_t {
  kFalse,
  kTrue,
  kAll,
  kAny,
  kNot,
  kStrPred,
  kNumEq,
  kGt,
  kGte,
  kLt,
  kLte,
  kExists,
  kIpSet
};

// One node of the flattened condition array.
struct Node {
  Op op = Op::kFalse;
  FieldId field = FieldId::kCount;
  uint32_t a = 0;  // all/any: first index in children; not: child; str: predicate; ip: set
  uint32_t b = 0;  // all/any: child count
  int64_t value = 0;
};

// Every string predicate on one field: its Hyperscan databases and literal indexes.
struct FieldIndex {
  std::vector<hs::Database> dbs;  // one, or chunks of a big pattern set
  KeyIndex exact;                 // equals/in literal -> predicate bits
  KeyIndex folded;                // lowercased literal -> predicate bits (ignore_case)
  uint32_t first_word = 0;        // predicate bits of this field: words [first_word, end_word)
  uint32_t end_word = 0;
};

// The conditions and candidate indexes of a CompiledRules (see compiled_rules.h for how a rule
// is reached). Written by RulesCompiler only.
struct RuleProgram {
  std::vector<Node> nodes;
  std::vector<uint32_t> children;
  std::array<FieldIndex, kFieldCount> fields;
  // Hyperscan pattern id -> predicate ids: pattern_preds[pattern_offsets[id] .. [id + 1]).
  std::vector<uint32_t> pattern_offsets;
  std::vector<uint32_t> pattern_preds;
  std::vector<std::vector<IpRange>> ip_sets;  // sorted, merged
  std::vector<uint32_t> always;  // enabled rules with neither an action nor a trigger constraint
  // Rules indexed by a string predicate their top-level `all` requires (when they have no action
  // constraint): rules trigger_rules[trigger_offsets[p] .. [p + 1]) for predicate bit p.
  std::vector<uint32_t> trigger_offsets;
  std::vector<uint32_t> trigger_rules;
  uint64_t trigger_fields = 0;  // bit per FieldId with trigger predicates
  // Rules triggered by an (action, value) pair: lowercased CompositeKey -> rules (load order).
  KeyIndex composite;
  uint64_t composite_fields = 0;  // bit per FieldId with composite keys
  // Rules triggered by source.ip: elementary address intervals [ip_bounds[i], ip_bounds[i+1])
  // (the last one open-ended) -> rules ip_rules[ip_offsets[i] .. [i + 1]).
  std::vector<Address> ip_bounds;
  std::vector<uint32_t> ip_offsets;
  std::vector<uint32_t> ip_rules;
  // Per rule: the node of its action constraint when it is reached through a trigger rather than
  // the action index (MayMatch checks it before enrichment); the constant-true node otherwise.
  std::vector<uint32_t> gates;
  KeyIndex by_action;         // exact action -> rules (sorted)
  KeyIndex by_action_folded;  // lowercased action -> rules (ignore_case)
  hs::Scratch prototype_scratch;
  size_t bit_words = 0;
  size_t pattern_count = 0;
  size_t literal_count = 0;
  size_t string_predicate_count = 0;
  size_t indexed_rule_count = 0;
  size_t trigger_rule_count = 0;
};

// A MatchScratch's working memory.
struct ScratchState {
  hs::Scratch hs_scratch;
  std::vector<uint64_t> bits;       // predicate bits, valid for fields in `scanned`
  uint64_t scanned = 0;             // bit per FieldId: scanned (or cleared) for the current event
  std::string folded_action;        // lowercased action, capacity kept across events
  std::string folded_value;         // lowercased field value, capacity kept across events
  std::vector<uint32_t> triggered;  // rules whose trigger predicate is set, capacity kept
  std::string composite_key;        // composite index key, capacity kept across events
};

}  // namespace chipwatch::match_internal
