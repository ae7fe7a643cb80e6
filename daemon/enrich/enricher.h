// ExternalEnricher: the per-event lookups in external data (GeoIP database, tenant directory),
// applied after decoding and before the catalog enrichment (enrich/catalog_index.h).
//
// Thread contract: holds only const pointers to immutable lookups; Enrich may be called from any
// number of threads at once, each with its own Event. Never throws, never allocates: the values it
// sets are views into the GeoIp code table or the Directory, which must outlive the events.
#pragma once

#include "core/event.h"
#include "enrich/directory.h"
#include "enrich/geoip.h"

namespace chipwatch {

class ExternalEnricher {
 public:
  // Either may be null: the fields it would give are then left unset.
  ExternalEnricher(const GeoIp* geoip, const Directory* directory)
      : geoip_(geoip), directory_(directory) {}

  // - source.country: from source_addr, when that is a valid address and the field is not set yet.
  // - tenant.*: from the directory entry for `tenant`, else for `account` (empty values count as
  //   absent). tenant.known is true when an entry was found, false when a tenant or account is
  //   present but has no entry, unset when neither is present or there is no directory.
  //   tenant.org, tenant.country (upper case) and tenant.kyc_status (lower case) are set when the
  //   entry has a non-empty value. A field that is already set is never overwritten.
  void Enrich(Event& event) const;

 private:
  const GeoIp* geoip_;
  const Directory* directory_;
};

}  // namespace chipwatch
