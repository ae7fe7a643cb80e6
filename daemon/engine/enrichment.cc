#include "engine/enrichment.h"

namespace chipwatch {

std::optional<Enrichment> LoadEnrichment(const EnrichOptions& options, Diagnostics& diags) {
  const size_t errors_before = diags.error_count();
  Enrichment e;
  if (!options.geoip.empty()) {
    auto geoip = GeoIp::Open(options.geoip);
    if (geoip.ok()) {
      e.geoip = std::move(geoip.value());
    } else {
      diags.Error(SourcePos{options.geoip, 0, 0}, DiagCode::kGeoip, geoip.status().message());
    }
  }
  if (!options.directory.empty()) e.directory = Directory::Load(options.directory, diags);
  if (diags.error_count() != errors_before) return std::nullopt;
  e.external = std::make_unique<ExternalEnricher>(e.geoip.get(), e.directory.get());
  return e;
}

}  // namespace chipwatch
