// Enrichment: the external lookup data (GeoIP database, tenant directory) opened from options.
//
// Opened once at start-up (and on reload); read-only and shared by every worker afterwards.
#pragma once

#include <cstdio>
#include <memory>
#include <optional>

#include "app/commands.h"
#include "enrich/directory.h"
#include "enrich/enricher.h"
#include "enrich/geoip.h"

namespace chipwatch {

struct Enrichment {
  std::unique_ptr<GeoIp> geoip;
  std::unique_ptr<Directory> directory;
  std::unique_ptr<ExternalEnricher> external;
};

// Opens what `options` names; reports problems on `err` (with file:line for the directory) and
// returns nullopt when anything named could not be used.
std::optional<Enrichment> LoadEnrichment(const EnrichOptions& options, std::FILE* err);

}  // namespace chipwatch
