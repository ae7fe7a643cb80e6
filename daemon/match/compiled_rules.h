// CompiledRules: the immutable, evaluable form of a policy's rules, and per-thread MatchScratch.
//
// Compile() expands macros and flattens every rule's condition into one node array whose leaves
// are predicates. All `regex` and `contains` predicates on the same field, across all rules, share
// ONE Hyperscan block-mode database per field; `equals`/`in` literals on the field share one hash
// index (exact and lowercased), which compiles and matches faster than anchored HS literals. An
// event's value is looked up and scanned at most once per field (lazily, when a candidate rule
// first needs it), setting predicate bits in the scratch.
//
// Candidate selection (no loop over rules): each enabled rule is reached through ONE index, its
// trigger, chosen among the conditions its top-level `all` requires (through macros):
//   1. equals/in on a decoder-set string field of many values (principal, account, instance.type,
//      model.id, ...): the field's literal hash index;
//   2. cidr/equals on source.ip: an interval index over every trigger range;
//   3. regex/contains on such a field: the field's Hyperscan database;
//   4. the action (equals/in, or an `any` of them): the action index, except that an action
//      constraint together with equals/in on a field of few values (region, provider, outcome,
//      ...) is indexed as (action, value) pairs, both lowercased, in a composite index;
//   5. equals/in, then regex/contains, on a field of few values;
// and a rule with none of these meets every event. Triggers 1-3 and 5 read only fields the
// decoder sets, so MayMatch() decides before enrichment: such a rule is a candidate when its
// trigger is set and its action constraint (its gate) holds. A CIDR trigger whose range spans more
// than 256 of the index's intervals falls back to the action.
//
// Thread contract: a CompiledRules is immutable once built and is shared across threads (callers
// hold it as shared_ptr<const CompiledRules>). Each thread owns its MatchScratch (from
// NewScratch()), which must not be used concurrently. Evaluate() never throws, never prints and
// does not allocate in steady state.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/diagnostics.h"
#include "core/event.h"
#include "policy/cidr.h"
#include "policy/definitions.h"

struct hs_database;
struct hs_scratch;

namespace chipwatch {

namespace match_internal {
struct HsDatabaseDeleter {
  void operator()(hs_database* db) const;
};
struct HsScratchDeleter {
  void operator()(hs_scratch* scratch) const;
};
using HsDatabasePtr = std::unique_ptr<hs_database, HsDatabaseDeleter>;
using HsScratchPtr = std::unique_ptr<hs_scratch, HsScratchDeleter>;

// A string -> ids hash index with a Bloom filter in front. Most lookups on the hot path miss (an
// event's value is in no rule); with thousands of keys the table's buckets are rarely in cache,
// while the filter (16 bits per key) usually is and answers most misses from two bit tests.
class KeyIndex {
 public:
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
  };
  using Map = std::unordered_map<std::string, std::vector<uint32_t>, Hash, std::equal_to<>>;
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
}  // namespace match_internal

// One rule, compiled. Immutable.
struct CompiledRule {
  std::string id, title, description;
  Severity severity = Severity::kMedium;
  std::vector<std::string> tags;
  const RuleDef* def = nullptr;  // points into the PolicyDefinitions the caller keeps alive
  bool enabled = true;
  std::vector<ReasonPart> reason;             // parsed `reason` template (empty: no reason)
  std::optional<int64_t> effective_from_ms;   // against event.time
  std::optional<int64_t> effective_until_ms;  // exclusive
  // `severity_from`: field (kCount when absent) and value -> severity.
  FieldId severity_field = FieldId::kCount;
  std::vector<std::pair<std::string, Severity>> severity_map;
  uint32_t root = 0;  // condition root in CompiledRules' node array
};

struct RuleMatch {
  const CompiledRule* rule;
  Severity severity;  // after severity_from
};

// Per-thread evaluation state: Hyperscan scratch, predicate bits, counters. Move-only.
class MatchScratch {
 public:
  struct Stats {
    uint64_t events = 0;           // Evaluate() calls
    uint64_t candidates = 0;       // rules whose condition was evaluated
    uint64_t fields_scanned = 0;   // hs_scan calls
    uint64_t scan_errors = 0;      // hs_scan failures (the field's predicates read false)
    uint64_t last_candidates = 0;  // candidates of the last event
  };

  MatchScratch(MatchScratch&&) noexcept = default;
  MatchScratch& operator=(MatchScratch&&) noexcept = default;
  MatchScratch(const MatchScratch&) = delete;
  MatchScratch& operator=(const MatchScratch&) = delete;

  const Stats& stats() const { return stats_; }
  void ResetStats() { stats_ = Stats{}; }

 private:
  friend class CompiledRules;
  MatchScratch() = default;

  match_internal::HsScratchPtr hs_;
  std::vector<uint64_t> bits_;       // predicate bits, valid for fields in `scanned_`
  uint64_t scanned_ = 0;             // bit per FieldId: scanned (or cleared) for the current event
  std::string folded_action_;        // lowercased action, capacity kept across events
  std::string folded_value_;         // lowercased field value, capacity kept across events
  std::vector<uint32_t> triggered_;  // rules whose trigger predicate is set, capacity kept
  std::string composite_key_;        // composite index key, capacity kept across events
  Stats stats_;
};

class CompiledRules {
 public:
  ~CompiledRules();
  CompiledRules(const CompiledRules&) = delete;
  CompiledRules& operator=(const CompiledRules&) = delete;

  // Compiles definitions whose load had no errors. New errors (e.g. Hyperscan compile failures)
  // go to `diags` with positions; returns null on error. `defs` must outlive the result.
  static std::unique_ptr<const CompiledRules> Compile(const PolicyDefinitions& defs,
                                                      Diagnostics& diags);

  // A fresh scratch for one thread. Returns null only if Hyperscan cannot allocate.
  std::unique_ptr<MatchScratch> NewScratch() const;

  // Appends every enabled rule, in load order, that matches the (already enriched) event and is
  // effective at its event.time (an event without a time meets every rule).
  void Evaluate(const Event& event, MatchScratch& scratch, std::vector<RuleMatch>& out) const;

  // False when no rule can match `event` whatever its enrichment: no rule meets every event, the
  // event's action is not in the action index, and no triggered rule's gate holds. Callers skip
  // enrichment and Evaluate() for such events (most of a real log). Reads only decoder-set fields.
  bool MayMatch(const Event& event, MatchScratch& scratch) const;

  const std::vector<CompiledRule>& rules() const { return rules_; }
  const CompiledRule* FindRule(std::string_view id) const;

  // Introspection for tests and benchmarks.
  size_t hyperscan_database_count() const;
  size_t pattern_count() const { return pattern_count_; }  // Hyperscan patterns
  size_t literal_count() const { return literal_count_; }  // equals/in hash index keys
  size_t predicate_count() const { return string_predicate_count_; }
  size_t node_count() const { return nodes_.size(); }
  size_t indexed_rule_count() const { return indexed_rule_count_; }    // via the action index
  size_t triggered_rule_count() const { return trigger_rule_count_; }  // via a predicate
  size_t unindexed_rule_count() const { return always_.size(); }       // candidates for any event
  bool has_database(FieldId field) const;                              // a Hyperscan database
  bool has_string_index(FieldId field) const;  // a database or literal hash index

 private:
  friend class RulesCompiler;
  CompiledRules() = default;

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
  struct Node {
    Op op = Op::kFalse;
    FieldId field = FieldId::kCount;
    uint32_t a = 0;  // all/any: first index in children_; not: child; str: predicate; ip: set
    uint32_t b = 0;  // all/any: child count
    int64_t value = 0;
  };
  using ActionIndex = match_internal::KeyIndex;
  struct FieldDatabase {
    std::vector<match_internal::HsDatabasePtr> dbs;  // one, or chunks of a big pattern set
    ActionIndex exact;                               // equals/in literal -> predicate bits
    ActionIndex folded;       // lowercased literal -> predicate bits (ignore_case)
    uint32_t first_word = 0;  // predicate bits of this field: words [first_word, end_word)
    uint32_t end_word = 0;
  };

  bool EvalNode(uint32_t index, const Event& event, MatchScratch& scratch) const;
  // Sets the field's predicate bits for the event; true when any is set.
  bool ScanField(FieldId field, const Event& event, MatchScratch& scratch) const;
  void CollectTriggered(const Event& event, MatchScratch& scratch) const;
  void EvalRule(uint32_t rule_index, const Event& event, MatchScratch& scratch,
                std::vector<RuleMatch>& out) const;

  std::vector<CompiledRule> rules_;
  std::vector<Node> nodes_;
  std::vector<uint32_t> children_;
  std::array<FieldDatabase, kFieldCount> databases_;
  // Hyperscan pattern id -> predicate ids: pattern_preds_[pattern_offsets_[id] .. [id + 1]).
  std::vector<uint32_t> pattern_offsets_;
  std::vector<uint32_t> pattern_preds_;
  std::vector<std::vector<IpRange>> ip_sets_;  // sorted, merged
  std::vector<uint32_t> always_;  // enabled rules with neither an action nor a trigger constraint
  // Rules indexed by a string predicate their top-level `all` requires (when they have no action
  // constraint): rules trigger_rules_[trigger_offsets_[p] .. [p + 1]) for predicate bit p.
  std::vector<uint32_t> trigger_offsets_;
  std::vector<uint32_t> trigger_rules_;
  uint64_t trigger_fields_ = 0;  // bit per FieldId with trigger predicates
  // Rules triggered by an (action, value) pair: lowercased CompositeKey -> rules (load order).
  ActionIndex composite_;
  uint64_t composite_fields_ = 0;  // bit per FieldId with composite keys
  // Rules triggered by source.ip: elementary address intervals [ip_bounds_[i], ip_bounds_[i+1])
  // (the last one open-ended) -> rules ip_rules_[ip_offsets_[i] .. [i + 1]).
  std::vector<std::array<uint8_t, 16>> ip_bounds_;
  std::vector<uint32_t> ip_offsets_;
  std::vector<uint32_t> ip_rules_;
  // Per rule: the node of its action constraint when it is reached through a trigger rather than
  // the action index (MayMatch checks it before enrichment); the constant-true node otherwise.
  std::vector<uint32_t> gates_;
  ActionIndex by_action_;         // exact action -> rules (sorted)
  ActionIndex by_action_folded_;  // lowercased action -> rules (ignore_case)
  match_internal::HsScratchPtr prototype_scratch_;
  size_t bit_words_ = 0;
  size_t pattern_count_ = 0;
  size_t literal_count_ = 0;
  size_t string_predicate_count_ = 0;
  size_t indexed_rule_count_ = 0;
  size_t trigger_rule_count_ = 0;
};

// Renders the rule's reason template for an event ("{accelerator.family} from {source.country}";
// unset fields render as "-"). Empty when the rule has no reason.
std::string RenderReason(const CompiledRule& rule, const Event& event);

}  // namespace chipwatch
