#include "pipeline/snapshot.h"

#include <spdlog/spdlog.h>

#include <string>
#include <vector>

namespace chipwatch {

std::shared_ptr<const Snapshot> LoadSnapshot(const Config& config, uint64_t generation,
                                             Metrics* metrics) {
  std::vector<std::string> rule_paths;
  for (const ConfigPath& p : config.rules) rule_paths.push_back(p.path);
  Diagnostics diags;
  StatefulOptions stateful;
  stateful.max_groups = static_cast<size_t>(config.state.max_groups);
  auto policy = LoadPolicy(rule_paths, diags, stateful);
  for (const Diagnostic& d : diags.items()) {
    if (d.level == Diagnostic::Level::kError) spdlog::error("{}", d.ToString());
  }
  if (policy == nullptr) {
    spdlog::error("the rules have {} error(s)", diags.error_count());
    return nullptr;
  }
  EnrichOptions enrich;
  if (config.geoip) enrich.geoip = config.geoip->path;
  if (config.directory) enrich.directory = config.directory->path;
  Diagnostics enrich_diags;
  auto enrichment = LoadEnrichment(enrich, enrich_diags);
  for (const Diagnostic& d : enrich_diags.items()) {
    if (d.level == Diagnostic::Level::kError) {
      spdlog::error("{}", d.ToString());
    } else {
      spdlog::warn("{}", d.ToString());
    }
  }
  if (!enrichment) return nullptr;
  auto snapshot = std::make_shared<Snapshot>();
  snapshot->policy = std::move(policy);
  snapshot->enrichment = std::make_shared<const Enrichment>(std::move(*enrichment));
  snapshot->generation = generation;
  if (metrics != nullptr) {
    snapshot->alert_counters =
        std::make_shared<const AlertCounters>(*metrics, *snapshot->policy->rules);
  }
  return snapshot;
}

std::string DescribeStateful(const LoadedPolicy& policy) {
  const size_t correlations = policy.stateful->correlations().size();
  const size_t suppressed = policy.stateful->suppressions().size();
  return std::to_string(correlations) + (correlations == 1 ? " correlation, " : " correlations, ") +
         std::to_string(suppressed) + (suppressed == 1 ? " suppressed rule" : " suppressed rules");
}

EventProcessor& SnapshotProcessor::Get() { return Get(store_.Current()); }

EventProcessor& SnapshotProcessor::Get(const std::shared_ptr<const Snapshot>& current) {
  if (!processor_ || current->generation != snapshot_->generation) {
    snapshot_ = current;
    processor_ = std::make_unique<EventProcessor>(snapshot_->policy,
                                                  snapshot_->enrichment->external.get(), options_);
    if (snapshot_->alert_counters) processor_->set_alert_counters(snapshot_->alert_counters);
  }
  return *processor_;
}

}  // namespace chipwatch
