#include "enrich/enricher.h"

namespace chipwatch {

namespace {

void SetIfAbsent(Event& event, FieldId field, std::string_view value) {
  if (!value.empty() && !event.Has(field)) event.SetStr(field, value);
}

}  // namespace

void ExternalEnricher::Enrich(Event& event) const {
  if (geoip_ != nullptr && event.source_addr.valid && !event.Has(FieldId::kSourceCountry)) {
    std::string_view country = geoip_->Country(event.source_addr);
    if (!country.empty()) event.SetStr(FieldId::kSourceCountry, country);
  }

  if (directory_ == nullptr) return;
  std::string_view tenant = event.Str(FieldId::kTenant);
  std::string_view account = event.Str(FieldId::kAccount);
  if (tenant.empty() && account.empty()) return;
  const DirectoryEntry* entry = tenant.empty() ? nullptr : directory_->Find(tenant);
  if (entry == nullptr && !account.empty()) entry = directory_->Find(account);
  if (!event.Has(FieldId::kTenantKnown)) event.SetBool(FieldId::kTenantKnown, entry != nullptr);
  if (entry == nullptr) return;
  SetIfAbsent(event, FieldId::kTenantOrg, entry->org);
  SetIfAbsent(event, FieldId::kTenantCountry, entry->country);  // upper-cased by the Directory
  SetIfAbsent(event, FieldId::kTenantKyc, entry->kyc_status);   // lower-cased by the Directory
  SetIfAbsent(event, FieldId::kTenantParentOrg, entry->parent_org);
  SetIfAbsent(event, FieldId::kTenantParentCountry, entry->parent_country);
}

}  // namespace chipwatch
