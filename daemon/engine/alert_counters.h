// AlertCounters: the chipwatch_alerts_total{rule_id,severity} handles of one compiled policy,
// resolved once when a worker takes up a policy snapshot (at start-up and after each reload), so
// that counting an alert is one atomic increment: no string key, no lock, no allocation
// (Metrics::Alerts builds a key and takes the family's mutex).
//
// Thread contract: immutable once built; For() may be called from any thread. It indexes the
// rules of the CompiledRules it was built from, which must outlive it, as must the Metrics.
#pragma once

#include <array>
#include <cstddef>
#include <vector>

#include "match/compiled_rules.h"
#include "metrics/metrics.h"

namespace chipwatch {

class AlertCounters {
 public:
  // Resolves (creating at 0) the series of every severity each rule can raise: its own and those
  // of its severity_from map. Takes Metrics' mutex once per series.
  AlertCounters(Metrics& metrics, const CompiledRules& rules);
  AlertCounters(const AlertCounters&) = delete;
  AlertCounters& operator=(const AlertCounters&) = delete;

  // The counter of an alert of `rule` at `severity`: lock-free and allocation-free for a rule of
  // the policy this was built from at a severity it can raise; any other pair is looked up through
  // Metrics::Alerts (same series, slow path).
  Counter& For(const CompiledRule& rule, Severity severity) const;

 private:
  static constexpr size_t kSeverities = static_cast<size_t>(Severity::kCritical) + 1;

  Metrics& metrics_;
  const std::vector<CompiledRule>& rules_;
  std::vector<std::array<Counter*, kSeverities>> counters_;  // per rule, per Severity; null: none
};

}  // namespace chipwatch
