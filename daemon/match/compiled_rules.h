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
//
// Code map: the private layout (condition nodes, indexes, Hyperscan databases) is in
// match/internal.h; compiler.cc builds it, key_index.cc holds the indexes' lookups, evaluator.cc
// reads it per event.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/diagnostics.h"
#include "core/event.h"
#include "policy/cidr.h"
#include "policy/definitions.h"

namespace chipwatch {

namespace match_internal {
class RulesCompiler;
struct RuleProgram;
struct ScratchState;
}  // namespace match_internal

// One rule, compiled. Immutable.
struct CompiledRule {
  std::string id, title, description;
  Severity severity = Severity::kMedium;
  std::vector<std::string> tags;
  const RuleDef* def = nullptr;  // points into the PolicyDefinitions the caller keeps alive
  bool enabled = true;
  // `alert: false`: the rule is compiled and evaluated (its matches feed correlations) but raises
  // no alert of its own; the stateful stage reads this.
  bool alert = true;
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

  ~MatchScratch();
  MatchScratch(MatchScratch&&) noexcept;
  MatchScratch& operator=(MatchScratch&&) noexcept;
  MatchScratch(const MatchScratch&) = delete;
  MatchScratch& operator=(const MatchScratch&) = delete;

  const Stats& stats() const { return stats_; }
  void ResetStats() { stats_ = Stats{}; }

 private:
  friend class CompiledRules;
  MatchScratch();

  std::unique_ptr<match_internal::ScratchState> state_;  // match/internal.h
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
  size_t pattern_count() const;                // Hyperscan patterns
  size_t literal_count() const;                // equals/in hash index keys
  size_t predicate_count() const;              // string predicates
  size_t node_count() const;                   // condition nodes
  size_t indexed_rule_count() const;           // via the action index
  size_t triggered_rule_count() const;         // via a predicate
  size_t unindexed_rule_count() const;         // candidates for any event
  bool has_database(FieldId field) const;      // a Hyperscan database
  bool has_string_index(FieldId field) const;  // a database or literal hash index

 private:
  friend class match_internal::RulesCompiler;
  CompiledRules();

  std::vector<CompiledRule> rules_;
  std::unique_ptr<const match_internal::RuleProgram> program_;  // match/internal.h
};

// Renders the rule's reason template for an event ("{accelerator.family} from {source.country}";
// unset fields render as "-"). Empty when the rule has no reason.
std::string RenderReason(const CompiledRule& rule, const Event& event);
// Appends a set field's value as reasons show it (numbers in decimal, bools as true/false, the
// event time as written); nothing for an unset field.
void AppendFieldText(std::string& out, const Event& event, FieldId field);

}  // namespace chipwatch
