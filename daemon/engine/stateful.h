// The stateful stage (issue 13, docs/stateful.md): suppression on rules and correlations, over
// event time, fed with the rule matches the parallel workers produced.
//
//   StatefulPolicy  what the policy asks of the stage: per compiled rule whether it is stateful
//                   and what it feeds; per correlation and suppressed rule its spec and a
//                   definition fingerprint. Built once per policy load (engine/policy.cc), held
//                   immutably by LoadedPolicy::stateful.
//   worker side     EventProcessor::OnEvent appends a StatefulRecord (engine/processor.h) to its
//                   output for every event with a match of a stateful rule: the matches' keys,
//                   groups and the JSON fragments a later alert needs (the Event does not outlive
//                   the worker).
//   StatefulStage   one per stream (replay's one stream; the daemon's partition), fed with the
//                   workers' outputs in input order. It owns one CorrelationState per correlation
//                   and one SuppressionState per suppressed rule (state/), drops the suppressed
//                   event alerts and adds correlation and summary alerts (engine/alert_json.h).
//
// Output order, per record in input order: the summaries of the windows the stream's greatest
// event time has closed (per rule in policy order, each rule's in (end, key) order), then the
// record's event alerts that were not suppressed (in their original order), then the correlation
// alerts it completed (correlations in policy order). Alerts of events without stateful matches
// pass through unchanged, after the summaries of the windows their event's time closed (so a
// window's summary comes before the first alert of an event at or after its end). Nothing depends
// on how the input was cut into outputs or on the wall clock, so replay's output is the same for
// any --threads.
//
// Thread contract: StatefulPolicy is immutable and shared; StatefulStage is not thread-safe (one
// per stream, used by one thread at a time).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/event.h"
#include "core/status.h"
#include "core/string_hash.h"
#include "match/compiled_rules.h"
#include "policy/definitions.h"
#include "state/correlation.h"
#include "state/suppression.h"

namespace chipwatch {

struct LoadedPolicy;
// engine/processor.h (which includes this through engine/policy.h)
struct ProcessorOutput;
struct StatefulRecord;
struct StatefulOffer;
// state/snapshot_file.h (its positions are SnapshotPosition, not pipeline/delivery.h's
// SourcePosition).
struct StateSnapshot;

struct StatefulOptions {
  // Per correlation: groups kept; per suppressed rule: windows open (state/*.h evict beyond it).
  size_t max_groups = 1000000;
};

// A rule with `suppress: {by, for}` (and `alert: true`).
struct SuppressionPlan {
  const CompiledRule* rule = nullptr;
  size_t rule_index = 0;  // into CompiledRules::rules()
  int64_t for_ms = 0;
  std::vector<FieldId> by;
  std::vector<std::string> by_names;
  size_t max_keys = 1000000;
  // Everything that gives the state its meaning (id, by, for, condition with its macros and
  // lists expanded, effective period): a reload or restart keeps the state when it is unchanged.
  std::string fingerprint;
};

// An enabled correlation, resolved.
struct CorrelationPlan {
  const CorrelationDef* def = nullptr;
  std::string id, title;
  Severity severity = Severity::kMedium;
  std::vector<std::string> tags;
  CorrelationSpec spec;
  std::vector<FieldId> group_ids;
  std::vector<std::string> group_names;
  FieldId field_id = FieldId::kCount;  // value_count
  std::vector<size_t> rule_indexes;    // into CompiledRules::rules(), in `rules:` order
  std::vector<ReasonPart> reason;      // the definition's template, or a default one
  // Type, rules (ids in order), group_by, field, timespan, condition and suppress.
  std::string fingerprint;
};

// What one compiled rule brings to the stage.
struct StatefulRule {
  bool stateful = false;     // suppressed, feeds a correlation, or `alert: false`
  bool alert = true;         // `alert: false`: no event alert of its own
  int32_t suppression = -1;  // index into StatefulPolicy::suppressions(), -1: none
  // The correlations it feeds, in policy order, with its temporal bits (bit i: listed rule i).
  std::vector<std::pair<uint32_t, uint32_t>> feeds;
};

class StatefulPolicy {
 public:
  // From definitions that compiled into `rules` (both must outlive the result).
  static std::unique_ptr<const StatefulPolicy> Build(const PolicyDefinitions& defs,
                                                     const CompiledRules& rules,
                                                     const StatefulOptions& options = {});

  // True when no rule is stateful: the workers then record nothing.
  bool empty() const { return !any_stateful_; }
  const StatefulRule& rule(size_t index) const { return rules_[index]; }
  // The index of a rule of the CompiledRules this was built from.
  size_t RuleIndex(const CompiledRule& rule) const {
    return static_cast<size_t>(&rule - compiled_->rules().data());
  }
  const std::vector<CorrelationPlan>& correlations() const { return correlations_; }
  const std::vector<SuppressionPlan>& suppressions() const { return suppressions_; }

 private:
  StatefulPolicy() = default;

  const CompiledRules* compiled_ = nullptr;
  std::vector<StatefulRule> rules_;  // parallel to CompiledRules::rules()
  std::vector<CorrelationPlan> correlations_;
  std::vector<SuppressionPlan> suppressions_;
  bool any_stateful_ = false;
};

// "24h", "90s", "1d", "1500ms": a duration as the rule syntax writes it.
std::string FormatDurationMs(int64_t ms);

// Statistics for the metrics (chipwatch_correlation_*, chipwatch_suppression_*).
struct CorrelationStats {
  size_t groups = 0;
  uint64_t alerts = 0;
  uint64_t suppressed = 0;  // completed inside the quiet time: no alert
  uint64_t late = 0;
  uint64_t evictions = 0;
  uint64_t missing_group_field = 0;  // matches of events lacking a group_by field (or `field`)
};
struct SuppressionStats {
  size_t open_windows = 0;
  uint64_t suppressed = 0;  // event alerts not raised
  uint64_t summaries = 0;
  uint64_t evictions = 0;
};

// What StatefulStage::Restore did, by correlation or rule id (for the log).
struct StageRestore {
  std::vector<std::string> restored;  // loaded from the snapshot
  std::vector<std::string> fresh;     // start empty: no section, or saved for another definition
};

class StatefulStage {
 public:
  explicit StatefulStage(std::shared_ptr<const LoadedPolicy> policy);
  ~StatefulStage();
  StatefulStage(const StatefulStage&) = delete;
  StatefulStage& operator=(const StatefulStage&) = delete;

  // Consumes `in` (a worker's output, next in input order; cleared) and appends to `out` its
  // alerts as the stage decides, its failures, warnings and event count.
  void Process(ProcessorOutput& in, ProcessorOutput& out);
  // Closes the suppression windows that the greatest event time seen so far has ended (the
  // daemon, after each message; replay does not call it, so that its batching changes nothing).
  void Advance(ProcessorOutput& out);
  // Closes every suppression window (end of a replay; an idle partition): their summaries.
  void Flush(ProcessorOutput& out);

  // What Rebuild did, by id (a correlation's, or a suppressed rule's).
  struct RebuildReport {
    std::vector<std::string> kept;     // definition unchanged: its state carried over
    std::vector<std::string> dropped;  // changed or removed: its state dropped
    std::vector<std::string> added;    // new (or changed): an empty state
  };
  // A stage for `policy` (a reload) that takes over from `old` the state of every correlation and
  // suppressed rule whose definition fingerprint is unchanged, with the greatest event time seen.
  // The others' states are dropped; a dropped suppression's open windows are closed first, so
  // that the matches they silenced are still summed up: their summaries are appended to `out`.
  // Those refer to `old`'s policy, so `old` (emptied of what was taken) must outlive `out`'s
  // delivery.
  static std::unique_ptr<StatefulStage> Rebuild(StatefulStage& old,
                                                std::shared_ptr<const LoadedPolicy> policy,
                                                ProcessorOutput& out, RebuildReport& report);

  // Persistence (docs/stateful.md, "Persistence"). Replaces `snapshot`'s sections and storage:
  // one section per correlation and suppressed rule (its id, its definition fingerprint, the
  // state's Save and what the stage keeps beside it: its counters and, per open window with a
  // suppressed match, that match's fragments, which its summary shows) and one named
  // kStageSection (the greatest event time). Positions and source data are the caller's.
  // Deterministic: the same stage gives the same bytes.
  void Save(StateSnapshot& snapshot) const;
  // Into a stage that has processed nothing: loads every section saved for the current
  // definition; the others start empty. A corrupt section is an error naming it (the stage is
  // then as new).
  Result<StageRestore> Restore(const StateSnapshot& snapshot);
  static constexpr std::string_view kStageSection = "@stage";

  const StatefulPolicy& policy() const { return *plan_; }
  const std::shared_ptr<const LoadedPolicy>& loaded_policy() const { return policy_; }
  // The greatest event time fed so far (INT64_MIN before any).
  int64_t max_time_ms() const { return max_time_ms_; }
  // Parallel to policy().correlations() / suppressions().
  std::vector<CorrelationStats> correlation_stats() const;
  std::vector<SuppressionStats> suppression_stats() const;
  // The same into existing vectors (no allocation once they have the size: the daemon's lanes
  // read them after every message).
  void CollectStats(std::vector<CorrelationStats>& correlations,
                    std::vector<SuppressionStats>& suppressions) const;

 private:
  // The last suppressed match of an open window: what its summary shows.
  struct LastSuppressed {
    std::string event_id, event, matched, origin, group, group_text;
    Severity severity = Severity::kInfo;
  };
  struct Suppression {
    const SuppressionPlan* plan;
    SuppressionState state;
    StringMap<LastSuppressed> last;  // by key, while its window is open
    uint64_t summaries = 0;
  };
  struct Correlation {
    const CorrelationPlan* plan;
    CorrelationState state;
    uint64_t alerts = 0;
    uint64_t missing = 0;
  };

  void ProcessRecord(const ProcessorOutput& in, StatefulRecord& record, ProcessorOutput& out);
  void SaveSuppression(const Suppression& s, std::string& out) const;
  Status LoadSuppression(std::string_view data, Suppression& s);
  Status LoadCorrelation(std::string_view data, Correlation& c);
  void Reset();
  void Offer(const StatefulRecord& record, const StatefulOffer& offer, ProcessorOutput& out);
  void CloseEnded(int64_t time_ms, ProcessorOutput& out);
  void EmitSummaries(Suppression& s, ProcessorOutput& out);
  void EmitSummary(Suppression& s, SuppressionSummary& summary, ProcessorOutput& out);
  void PassThrough(const ProcessorOutput& in, size_t begin, size_t end, ProcessorOutput& out);
  bool AnyOpenWindow() const;
  static void CopyRefs(const ProcessorOutput& in, size_t begin, size_t end, ProcessorOutput& out);

  std::shared_ptr<const LoadedPolicy> policy_;
  const StatefulPolicy* plan_;
  std::vector<Suppression> suppressions_;
  std::vector<Correlation> correlations_;
  int64_t max_time_ms_;
  std::vector<SuppressionSummary> closed_;  // scratch
  std::vector<uint8_t> dropped_;            // scratch: per ref of a record
  std::vector<size_t> suppressed_;          // scratch: a record's suppressed matches
};

}  // namespace chipwatch
