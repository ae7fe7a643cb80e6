#include "engine/alert_counters.h"

namespace chipwatch {

AlertCounters::AlertCounters(Metrics& metrics, const CompiledRules& rules)
    : metrics_(metrics), rules_(rules.rules()), counters_(rules_.size()) {
  for (size_t i = 0; i < rules_.size(); ++i) {
    const CompiledRule& rule = rules_[i];
    auto resolve = [&](Severity severity) {
      Counter*& slot = counters_[i][static_cast<size_t>(severity)];
      if (slot == nullptr) slot = &metrics.Alerts(rule.id, SeverityName(severity));
    };
    resolve(rule.severity);
    for (const auto& [value, severity] : rule.severity_map) resolve(severity);
  }
}

Counter& AlertCounters::For(const CompiledRule& rule, Severity severity) const {
  const size_t s = static_cast<size_t>(severity);
  if (!rules_.empty() && &rule >= rules_.data() && &rule < rules_.data() + rules_.size() &&
      s < kSeverities) {
    if (Counter* counter = counters_[static_cast<size_t>(&rule - rules_.data())][s]) {
      return *counter;
    }
  }
  return metrics_.Alerts(rule.id, SeverityName(severity));
}

}  // namespace chipwatch
