// Enrichment: the external lookup data (GeoIP database, tenant directory) opened from options.
//
// Opened once at start-up (and on reload); read-only and shared by every worker afterwards.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "core/diagnostics.h"
#include "enrich/directory.h"
#include "enrich/enricher.h"
#include "enrich/geoip.h"

namespace chipwatch {

struct EnrichOptions {
  std::string geoip;      // MaxMind-format country database, optional
  std::string directory;  // tenant directory CSV, optional
};

struct Enrichment {
  std::unique_ptr<GeoIp> geoip;
  std::unique_ptr<Directory> directory;
  std::unique_ptr<ExternalEnricher> external;
};

// Opens what `options` names. Problems go to `diags` (the file, and the line for the directory's
// rows); returns nullopt when anything named could not be used (an error was added).
std::optional<Enrichment> LoadEnrichment(const EnrichOptions& options, Diagnostics& diags);

}  // namespace chipwatch
