// CatalogIndex: the `catalogs:` of a policy (accelerators, instance_types, destinations, regions,
// frontier_models, model_vendors), validated once and indexed so that enriching an event costs a
// few hash lookups and one Hyperscan scan per catalog (a few for a catalog of many patterns). The
// semantics are specified in docs/rules.md ("Catalogs" and "Enrichment"); the choices the spec
// leaves open are documented on Enrich().
//
// Thread contract: a built CatalogIndex is immutable and may be shared by any number of threads.
// Each thread needs its own CatalogScratch (NewScratch()) to call Enrich(). Enrich never throws
// and, after warm-up, never allocates. The values it sets and the CatalogEntry pointers it stores
// in the Event point into the index (or static tables), so the index must outlive those events.
#pragma once

#include <array>
#include <bitset>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/arena.h"
#include "core/diagnostics.h"
#include "core/event.h"
#include "core/string_hash.h"
#include "hs/hyperscan.h"
#include "policy/definitions.h"

namespace chipwatch {

// Per-thread working memory for CatalogIndex::Enrich: Hyperscan scratch space and a buffer for
// normalized names. Belongs to the index that made it; not thread-safe.
class CatalogScratch {
 public:
  CatalogScratch(const CatalogScratch&) = delete;
  CatalogScratch& operator=(const CatalogScratch&) = delete;

 private:
  friend class CatalogIndex;
  CatalogScratch() = default;

  hs::Scratch hs_scratch;          // empty when no regexes
  std::array<char, 256> buffer{};  // normalized names; longer ones go to the Arena
};

class CatalogIndex {
 public:
  // Merges `override: true` entries into the earlier entry of the same name, validates every
  // entry (unknown catalog, unknown or missing attribute, bad status/tier/provider/count/country,
  // instance type naming an unknown accelerator, regex that does not compile, missing source,
  // effective_from not before effective_until, duplicate name) and reports each problem at the
  // entry's or attribute's SourcePos. Returns null when there was any error. The index keeps its
  // own copies of the entries: `defs` need not outlive it.
  static std::unique_ptr<const CatalogIndex> Build(const PolicyDefinitions& defs,
                                                   Diagnostics& diags);

  ~CatalogIndex();
  CatalogIndex(const CatalogIndex&) = delete;
  CatalogIndex& operator=(const CatalogIndex&) = delete;

  // A scratch for one thread. Null only if Hyperscan cannot allocate scratch space.
  std::unique_ptr<CatalogScratch> NewScratch() const;

  // Sets the catalog-derived fields and the Event's *_entry pointers:
  //  - instance.type -> instance_entry: exact case-insensitive `name`, else whole-name `pattern`
  //    (an entry with a pattern matches by its pattern only), first as given, then without an
  //    `ml.` prefix. Its `model` (else its accelerator's name) fills accelerator.model and its
  //    `count` fills accelerator.count when the log gave none.
  //  - accelerator.model, normalized (lower case; runs of `_`, `-`, spaces and tabs become one
  //    space; trimmed) -> the first `accelerators` entry whose `match` finds it; when the log's
  //    name matches no entry, the instance type's accelerator is used. accelerator.family is the
  //    entry's name; accelerator.status its status, or `not_controlled` when the entry is not in
  //    effect at the event's time.
  //  - region -> the first in-effect `regions` entry naming (case-insensitively) or matching it,
  //    for the event's provider -> region.country.
  //  - a call naming several instance types (Event::instance_types: EKS instanceTypes, fleet
  //    overrides, node pools): when instance.type's accelerator is not restricted at the event's
  //    time, the first of them whose accelerator is becomes instance.type; instance.types lists
  //    them all.
  //  - source.country, region.country, tenant.country, tenant.parent_country -> the `destinations`
  //    entry in effect -> source.tier, region.tier, tenant.tier, tenant.parent_tier (country codes
  //    compared case-insensitively); with an accelerator, source/region/tenant/tenant.parent
  //    .in_scope: whether the accelerator's `restricted_tiers` (all tiers when absent) include it.
  //  - model.id -> the first in-effect `frontier_models` entry whose `match` finds it ->
  //    model.frontier true and model.vendor; model.frontier false when none matches.
  //  - model.vendor and source.country -> the in-effect `model_vendors` entry of that name (case-
  //    insensitive) -> source.vendor_supported: whether the vendor serves that country (listed in
  //    its supported_countries, or not listed in its unsupported_countries). Unset when either
  //    field is unset or the vendor has no entry.
  // Open points decided here: "first entry" means catalog order among the entries in effect at the
  // event's time (for accelerators: among all, then the status follows the dates). An event without
  // event.time treats every entry as in effect. The `provider` filter applies only when the event's
  // provider is one of aws|gcp|azure|oci|alibaba; for other or no providers (kubernetes, a GPU
  // scheduler) entries of every provider are candidates. Same rule for instance_types entries that
  // name a provider. A field that is already set (by the log or a test's `enrich:` stand-in) is
  // never overwritten; the derived tiers and entry pointers are computed from whatever value is
  // set. Empty strings count as unset.
  void Enrich(Event& event, CatalogScratch& scratch, Arena& arena) const;

  // Number of entries (after overrides) of a catalog; 0 for an unknown catalog name.
  size_t entry_count(std::string_view catalog) const;

  // Normalizes an accelerator name as Enrich does, into `out` (of at least name.size() bytes);
  // returns the normalized length. Exposed for tests and `chipwatch check`.
  static size_t NormalizeAcceleratorName(std::string_view name, char* out);

 private:
  enum class Kind : uint8_t {
    kAccelerators,
    kInstanceTypes,
    kDestinations,
    kRegions,
    kFrontier,
    kVendors
  };
  static constexpr size_t kKindCount = 6;
  enum class Provider : uint8_t { kAny, kAws, kGcp, kAzure, kOci, kAlibaba };
  static constexpr uint32_t kNone = UINT32_MAX;

  // What Enrich needs of an entry, decoded once.
  struct Info {
    std::unique_ptr<CatalogEntry> entry;  // owned copy (overrides merged)
    Provider provider = Provider::kAny;   // instance_types, regions
    std::string_view status;              // accelerators: static status name
    uint32_t accelerator = kNone;         // instance_types: index into accelerators
    std::optional<int64_t> count;         // instance_types
    std::string_view model;               // instance_types: accelerator.model fill-in
    std::string_view country;             // regions (interned ISO code)
    std::string_view tier;                // destinations: static tier name
    uint32_t next_same_name = kNone;  // destinations: the country's next period, in catalog order
    uint8_t tier_scope = 0;           // accelerators: restricted_tiers as tier bits; 0 = every tier
    std::string_view vendor;          // frontier_models
    // model_vendors: the countries listed (by CountryCodeIndex), and whether the list is the
    // vendor's supported countries (else its unsupported ones).
    std::bitset<26 * 26> countries;
    bool supported_list = false;
    bool has_patterns = false;
  };
  struct Catalog {
    std::vector<Info> entries;
    // Lower-cased name -> entry, for the catalogs looked up by exact name (instance_types,
    // regions, model_vendors).
    StringMap<uint32_t> by_name;
    // The catalog's patterns in entry order, split into consecutive chunks of at most
    // kPatternsPerDatabase (catalog_index.cc), one database each, so that a large catalog compiles
    // on several threads. Every pattern of a database belongs to an entry at or after the entries
    // of the databases before it. Empty when no patterns.
    std::vector<hs::Database> dbs;
    std::vector<uint32_t> entry_of_pattern;  // Hyperscan id (over all dbs) -> entry
  };
  struct MatchFilter;

  CatalogIndex() = default;

  // Enrich's steps (catalog_index.cc).
  struct EnrichContext;
  static bool RestrictedAt(const Info& accelerator, const MatchFilter& filter);
  const Info* LookupInstance(EnrichContext& c, std::string_view type) const;
  const Info* EnrichInstanceType(EnrichContext& c) const;
  const Info* EnrichAccelerator(EnrichContext& c, const Info* instance) const;
  void EnrichPlaces(EnrichContext& c, const Info* accelerator) const;
  void EnrichModel(EnrichContext& c) const;

  // Build's steps (catalog_index.cc).
  struct EntryCheck;
  struct CheckedPatterns {  // a catalog's patterns, checked one by one, ready to compile
    std::vector<std::string> expressions;
    std::vector<uint32_t> entry_of;
    bool ok = true;
    Diagnostics diags;
  };
  void CopyCatalog(const std::string& catalog_name,
                   const std::vector<std::unique_ptr<CatalogEntry>>& entries, Diagnostics& diags);
  void CopyEntry(Kind kind, const std::string& catalog_name, const CatalogEntry& entry,
                 std::unordered_map<std::string, uint32_t>& by_name, Diagnostics& diags);
  static void AddCopy(Catalog& catalog, const std::string& catalog_name, const CatalogEntry& entry);
  void DecodeEntries(Diagnostics& diags);
  static void CheckCommonKeys(Kind kind, const EntryCheck& check);
  static void DecodeProvider(const EntryCheck& check, Info& info);
  static void DecodeAccelerator(const EntryCheck& check, Info& info);
  static void DecodeInstanceType(
      const EntryCheck& check, Info& info,
      const std::unordered_map<std::string, uint32_t>& accelerator_by_name);
  void DecodeDestination(const EntryCheck& check, Info& info, uint32_t i);
  static void DecodeRegion(const EntryCheck& check, Info& info);
  static void DecodeVendor(const EntryCheck& check, Info& info);
  std::array<CheckedPatterns, kKindCount> CheckPatterns() const;
  void BuildDatabases(Diagnostics& diags);
  static std::optional<Kind> KindOf(std::string_view catalog);
  static Provider ProviderOf(std::string_view name);

  const Catalog& catalog(Kind kind) const { return catalogs_[static_cast<size_t>(kind)]; }
  uint32_t Scan(Kind kind, std::string_view text, const MatchFilter& filter,
                CatalogScratch& scratch) const;
  uint32_t LookupByName(Kind kind, std::string_view lower_name, const MatchFilter& filter,
                        CatalogScratch& scratch) const;
  const Info* Destination(std::string_view country, const std::optional<int64_t>& time) const;

  std::array<Catalog, kKindCount> catalogs_;
  std::array<uint32_t, 26 * 26> destination_by_code_{};  // kNone when no entry
  hs::Scratch prototype_scratch_;
};

}  // namespace chipwatch
