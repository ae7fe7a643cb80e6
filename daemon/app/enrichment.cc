#include "app/enrichment.h"

namespace chipwatch {

std::optional<Enrichment> LoadEnrichment(const EnrichOptions& options, std::FILE* err) {
  Enrichment e;
  bool ok = true;
  if (!options.geoip.empty()) {
    auto geoip = GeoIp::Open(options.geoip);
    if (geoip.ok()) {
      e.geoip = std::move(geoip.value());
    } else {
      std::fprintf(err, "chipwatch: --geoip %s: %s\n", options.geoip.c_str(),
                   geoip.status().message().c_str());
      ok = false;
    }
  }
  if (!options.directory.empty()) {
    Diagnostics diags;
    e.directory = Directory::Load(options.directory, diags);
    for (const Diagnostic& d : diags.items()) std::fprintf(err, "%s\n", d.ToString().c_str());
    if (e.directory == nullptr || diags.has_errors()) ok = false;
  }
  if (!ok) return std::nullopt;
  e.external = std::make_unique<ExternalEnricher>(e.geoip.get(), e.directory.get());
  return e;
}

}  // namespace chipwatch
