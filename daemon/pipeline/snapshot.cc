#include "pipeline/snapshot.h"

#include <spdlog/spdlog.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace chipwatch {
namespace {

// LoadEnrichment reports on a FILE*; capture it so the messages reach the log.
std::optional<Enrichment> LoadEnrichmentLogged(const EnrichOptions& options) {
  char* buf = nullptr;
  size_t len = 0;
  std::FILE* mem = open_memstream(&buf, &len);
  auto enrichment = mem ? LoadEnrichment(options, mem) : std::nullopt;
  if (mem) std::fclose(mem);
  if (buf != nullptr) {
    std::string_view text(buf, len);
    while (!text.empty()) {
      size_t nl = text.find('\n');
      spdlog::error("{}", text.substr(0, nl));
      text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    }
    std::free(buf);
  }
  return enrichment;
}

}  // namespace

std::shared_ptr<const Snapshot> LoadSnapshot(const Config& config, uint64_t generation,
                                             Metrics* metrics) {
  std::vector<std::string> rule_paths;
  for (const ConfigPath& p : config.rules) rule_paths.push_back(p.path);
  Diagnostics diags;
  auto policy = LoadPolicy(rule_paths, diags);
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
  auto enrichment = LoadEnrichmentLogged(enrich);
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

EventProcessor& SnapshotProcessor::Get() {
  std::shared_ptr<const Snapshot> current = store_.Current();
  if (!processor_ || current->generation != snapshot_->generation) {
    snapshot_ = std::move(current);
    processor_ = std::make_unique<EventProcessor>(snapshot_->policy,
                                                  snapshot_->enrichment->external.get(), options_);
    if (snapshot_->alert_counters) processor_->set_alert_counters(snapshot_->alert_counters);
  }
  return *processor_;
}

}  // namespace chipwatch
