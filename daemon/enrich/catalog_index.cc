#include "enrich/catalog_index.h"

#include <algorithm>
#include <charconv>

#include "core/ascii.h"
#include "enrich/country_code.h"

namespace chipwatch {

namespace {

using enrich_internal::CountryCodeIndex;
using enrich_internal::InternCountryCode;

// Indexed by CatalogIndex::Kind.
constexpr std::array<std::string_view, 6> kCatalogNames = {"accelerators",    "instance_types",
                                                           "destinations",    "regions",
                                                           "frontier_models", "model_vendors"};
// Attribute keys each catalog accepts besides the common ones (name, match/pattern, source,
// effective_from, effective_until, override), which the reader keeps outside `attrs`.
// Indexed by CatalogIndex::Kind; empty names pad the rows. `description` and `notes` are free
// text for people, accepted everywhere.
constexpr std::array<std::array<std::string_view, 7>, 6> kAllowedAttrs = {{
    {"status", "classification", "description", "notes", "tpp", "performance_density",
     "restricted_tiers"},
    {"provider", "accelerator", "model", "count", "description", "notes"},
    {"country", "tier", "groups", "description", "notes"},
    {"provider", "country", "description", "notes"},
    {"vendor", "description", "notes"},
    {"supported_countries", "unsupported_countries", "description", "notes"},
}};
constexpr std::array<std::string_view, 3> kStatusNames = {"restricted", "not_controlled",
                                                          "unclear"};
constexpr std::string_view kNotControlled = "not_controlled";
constexpr std::array<std::string_view, 2> kTierNames = {"embargoed", "licence-required"};
// Indexed by CatalogIndex::Provider minus one.
constexpr std::array<std::string_view, 5> kProviderNames = {"aws", "gcp", "azure", "oci",
                                                            "alibaba"};
constexpr int64_t kMaxCount = 1 << 16;

// Each pattern is checked alone with kHsFlags; the databases are compiled without
// HS_FLAG_SINGLEMATCH, which makes Hyperscan's compile several times slower (about 55 ms instead
// of 15 ms for the default pack's catalogs) and changes nothing here: Scan keeps the lowest
// accepted entry whatever the number of matches reported per pattern. A catalog whose databases
// do not compile is compiled again as one, with kHsFlags, for the error report.
constexpr unsigned kHsFlags = hs::kCaseless | hs::kSingleMatch;
constexpr unsigned kHsCompileFlags = hs::kCaseless;

template <size_t N>
std::string OneOf(const std::array<std::string_view, N>& names) {
  std::string out;
  for (size_t i = 0; i < N; ++i) {
    if (i > 0) out += i + 1 == N ? " or " : ", ";
    out += names[i];
  }
  return out;
}

template <size_t N>
std::optional<size_t> FindName(const std::array<std::string_view, N>& names,
                               std::string_view value) {
  for (size_t i = 0; i < N; ++i) {
    if (names[i] == value) return i;
  }
  return std::nullopt;
}

SourcePos AttrPos(const CatalogEntry& entry, const std::string& key) {
  auto it = entry.attr_pos.find(key);
  return it != entry.attr_pos.end() ? it->second : entry.pos;
}

SourcePos PatternPos(const CatalogEntry& entry) {
  for (const char* key : {"match", "pattern"}) {
    auto it = entry.attr_pos.find(key);
    if (it != entry.attr_pos.end()) return it->second;
  }
  return entry.pos;
}

// Applies an `override: true` entry to the earlier entry of the same name: its keys replace.
void MergeOverride(CatalogEntry& base, const CatalogEntry& over) {
  if (!over.patterns.empty()) base.patterns = over.patterns;
  for (const auto& [key, value] : over.attrs) {
    if (key != "override") base.attrs[key] = value;
  }
  for (const auto& [key, pos] : over.attr_pos) {
    if (key != "override") base.attr_pos[key] = pos;
  }
  if (over.effective_from_ms) base.effective_from_ms = over.effective_from_ms;
  if (over.effective_until_ms) base.effective_until_ms = over.effective_until_ms;
  if (!over.source.empty()) base.source = over.source;
}

std::string Describe(std::string_view catalog, const CatalogEntry& entry) {
  if (entry.name.empty() && !entry.patterns.empty()) {
    return std::string(catalog) + " entry with pattern '" + entry.patterns.front() + "'";
  }
  return std::string(catalog) + " entry '" + entry.name + "'";
}

// A catalog's patterns are compiled in databases of at most this many (in chunks of equal size),
// concurrently: Hyperscan compile time grows faster than the pattern count, and a large catalog
// then uses several cores. Scanning two databases instead of one costs little (a few ns for the
// accelerators catalog).
constexpr size_t kPatternsPerDatabase = 12;

// Expressions [begin, end) of a catalog, for one database; the Hyperscan ids are the expressions'
// indexes.
hs::PatternSet PatternRange(const std::vector<std::string>& expressions, size_t begin, size_t end,
                            unsigned flags) {
  hs::PatternSet set;
  for (size_t i = begin; i < end; ++i) set.Add(expressions[i], flags, static_cast<unsigned>(i));
  return set;
}

}  // namespace

struct CatalogIndex::MatchFilter {
  std::optional<int64_t> time;
  Provider provider = Provider::kAny;
  bool check_effective = true;

  bool Accepts(const Info& info) const {
    if (provider != Provider::kAny && info.provider != Provider::kAny &&
        info.provider != provider) {
      return false;
    }
    return !check_effective || !time || info.entry->EffectiveAt(*time);
  }
};

CatalogIndex::~CatalogIndex() = default;

std::optional<CatalogIndex::Kind> CatalogIndex::KindOf(std::string_view catalog) {
  auto index = FindName(kCatalogNames, catalog);
  if (!index) return std::nullopt;
  return static_cast<Kind>(*index);
}

CatalogIndex::Provider CatalogIndex::ProviderOf(std::string_view name) {
  for (size_t i = 0; i < kProviderNames.size(); ++i) {
    if (AsciiEqualsIgnoreCase(kProviderNames[i], name)) return static_cast<Provider>(i + 1);
  }
  return Provider::kAny;
}

size_t CatalogIndex::NormalizeAcceleratorName(std::string_view name, char* out) {
  size_t n = 0;
  bool pending_space = false;
  for (char c : name) {
    if (c == '_' || c == '-' || c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
        c == '\f') {
      pending_space = n > 0;
      continue;
    }
    if (pending_space) {
      out[n++] = ' ';
      pending_space = false;
    }
    out[n++] = AsciiLower(c);
  }
  return n;
}

// The checks of one entry: its description for messages, and the diagnostics they go to.
struct CatalogIndex::EntryCheck {
  Diagnostics& diags;
  const CatalogEntry& entry;
  std::string what;  // "accelerators entry 'H100'"

  void Error(const SourcePos& pos, const char* code, const std::string& message) const {
    diags.Error(pos, code, what + ": " + message);
  }
  // The attribute's value, or an error and null when it is missing or empty.
  const std::string* Required(const char* key) const {
    const std::string* value = entry.Attr(key);
    if (value == nullptr || value->empty()) {
      Error(entry.pos, "catalog-missing-key", std::string("missing `") + key + "`");
      return nullptr;
    }
    return value;
  }
};

namespace {

// Calls fn(item) for each item of a list attribute (the reader joins a sequence with ", "),
// trimmed of spaces; empty items are skipped.
template <typename Fn>
void ForEachListItem(std::string_view list, Fn&& fn) {
  while (!list.empty()) {
    size_t comma = list.find(',');
    std::string_view item = list.substr(0, comma);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (!item.empty()) fn(item);
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
}

}  // namespace

std::unique_ptr<const CatalogIndex> CatalogIndex::Build(const PolicyDefinitions& defs,
                                                        Diagnostics& diags) {
  const size_t errors_before = diags.error_count();
  std::unique_ptr<CatalogIndex> index(new CatalogIndex());
  index->destination_by_code_.fill(kNone);
  // 1. Copy the entries, merging overrides and rejecting duplicate names.
  for (const auto& [catalog_name, entries] : defs.catalogs) {
    index->CopyCatalog(catalog_name, entries, diags);
  }
  // 2. Validate and decode each entry.
  index->DecodeEntries(diags);
  // 3. Hyperscan databases.
  index->BuildDatabases(diags);
  if (diags.error_count() > errors_before) return nullptr;
  return index;
}

void CatalogIndex::CopyCatalog(const std::string& catalog_name,
                               const std::vector<std::unique_ptr<CatalogEntry>>& entries,
                               Diagnostics& diags) {
  auto kind = KindOf(catalog_name);
  if (!kind) {
    SourcePos pos = entries.empty() || !entries.front() ? SourcePos{} : entries.front()->pos;
    diags.Error(pos, "unknown-catalog",
                "unknown catalog '" + catalog_name + "' (expected " + OneOf(kCatalogNames) + ")");
    return;
  }
  std::unordered_map<std::string, uint32_t> by_name;
  for (const auto& entry_ptr : entries) {
    if (entry_ptr) CopyEntry(*kind, catalog_name, *entry_ptr, by_name, diags);
  }
}

void CatalogIndex::AddCopy(Catalog& catalog, const std::string& catalog_name,
                           const CatalogEntry& entry) {
  auto copy = std::make_unique<CatalogEntry>(entry);
  copy->attrs.erase("override");
  copy->attr_pos.erase("override");
  copy->catalog = catalog_name;
  Info info;
  info.entry = std::move(copy);
  catalog.entries.push_back(std::move(info));
}

void CatalogIndex::CopyEntry(Kind kind, const std::string& catalog_name, const CatalogEntry& entry,
                             std::unordered_map<std::string, uint32_t>& by_name,
                             Diagnostics& diags) {
  Catalog& catalog = catalogs_[static_cast<size_t>(kind)];
  bool is_override = false;
  if (const std::string* value = entry.Attr("override")) {
    if (*value == "true") {
      is_override = true;
    } else if (*value != "false") {
      diags.Error(
          AttrPos(entry, "override"), "catalog-bad-value",
          Describe(catalog_name, entry) + ": override must be true or false, not '" + *value + "'");
      return;
    }
  }
  // instance_types and regions entries may be named by their pattern alone.
  const bool pattern_only =
      (kind == Kind::kInstanceTypes || kind == Kind::kRegions) && !entry.patterns.empty();
  if (entry.name.empty() && !pattern_only) {
    diags.Error(entry.pos, "catalog-missing-key", catalog_name + " entry without a name");
    return;
  }
  if (entry.name.empty()) {
    if (is_override) {
      diags.Error(AttrPos(entry, "override"), "catalog-override-unknown",
                  Describe(catalog_name, entry) + ": `override: true` needs a name");
      return;
    }
    AddCopy(catalog, catalog_name, entry);
    return;
  }
  std::string key = AsciiLowered(entry.name);
  auto it = by_name.find(key);
  if (it == by_name.end()) {
    if (is_override) {
      diags.Error(AttrPos(entry, "override"), "catalog-override-unknown",
                  Describe(catalog_name, entry) +
                      " has `override: true` but no earlier entry of that name");
      return;
    }
    by_name.emplace(std::move(key), static_cast<uint32_t>(catalog.entries.size()));
    AddCopy(catalog, catalog_name, entry);
    return;
  }
  CatalogEntry& earlier = *catalog.entries[it->second].entry;
  if (is_override) {
    MergeOverride(earlier, entry);
    return;
  }
  if (kind != Kind::kDestinations) {
    diags.Error(entry.pos, "duplicate-catalog-entry",
                Describe(catalog_name, entry) + " is already defined at " + earlier.pos.ToString() +
                    " (add `override: true` to replace its keys)");
    return;
  }
  // A destination whose tier changed over time has an entry per period (Cambodia: D:5 from Dec
  // 2021 to Nov 2025, D:1 after): allowed when the periods do not overlap.
  bool overlaps = false;
  for (const Info& other : catalog.entries) {
    overlaps =
        overlaps || (AsciiLowered(other.entry->name) == key && other.entry->PeriodOverlaps(entry));
  }
  if (overlaps) {
    diags.Error(entry.pos, "duplicate-catalog-entry",
                Describe(catalog_name, entry) + " overlaps the entry at " + earlier.pos.ToString() +
                    " (a country may have several entries only for periods that do not "
                    "overlap: set effective_until on the earlier one and effective_from "
                    "on this one, or add `override: true` to replace its keys)");
    return;
  }
  it->second = static_cast<uint32_t>(catalog.entries.size());  // overrides: the latest
  AddCopy(catalog, catalog_name, entry);
}

void CatalogIndex::DecodeEntries(Diagnostics& diags) {
  std::unordered_map<std::string, uint32_t> accelerator_by_name;
  const auto& accelerators = catalog(Kind::kAccelerators).entries;
  for (size_t i = 0; i < accelerators.size(); ++i) {
    accelerator_by_name.emplace(AsciiLowered(accelerators[i].entry->name), i);
  }
  for (size_t k = 0; k < kKindCount; ++k) {
    const Kind kind = static_cast<Kind>(k);
    Catalog& catalog = catalogs_[k];
    for (size_t i = 0; i < catalog.entries.size(); ++i) {
      Info& info = catalog.entries[i];
      const CatalogEntry& entry = *info.entry;
      const EntryCheck check{diags, entry, Describe(kCatalogNames[k], entry)};
      CheckCommonKeys(kind, check);
      info.has_patterns = !entry.patterns.empty();
      switch (kind) {
        case Kind::kAccelerators:
          DecodeAccelerator(check, info);
          break;
        case Kind::kInstanceTypes:
          DecodeProvider(check, info);
          DecodeInstanceType(check, info, accelerator_by_name);
          if (!info.has_patterns) catalog.by_name.emplace(AsciiLowered(entry.name), i);
          break;
        case Kind::kDestinations:
          DecodeDestination(check, info, static_cast<uint32_t>(i));
          break;
        case Kind::kRegions:
          DecodeProvider(check, info);
          DecodeRegion(check, info);
          if (!info.has_patterns) catalog.by_name.emplace(AsciiLowered(entry.name), i);
          break;
        case Kind::kFrontier:
          if (const std::string* vendor = check.Required("vendor")) info.vendor = *vendor;
          if (entry.patterns.empty()) {
            check.Error(entry.pos, "catalog-missing-key",
                        "missing `match` (regexes over model.id)");
          }
          break;
        case Kind::kVendors:
          DecodeVendor(check, info);
          catalog.by_name.emplace(AsciiLowered(entry.name), i);
          break;
      }
    }
  }
}

// source, dates, attribute keys and empty regexes: what every catalog checks.
void CatalogIndex::CheckCommonKeys(Kind kind, const EntryCheck& check) {
  const CatalogEntry& entry = check.entry;
  const size_t k = static_cast<size_t>(kind);
  if (entry.source.empty()) {
    check.Error(entry.pos, "catalog-missing-source",
                "no `source` (every catalog entry must say where it comes from)");
  }
  if (entry.effective_from_ms && entry.effective_until_ms &&
      *entry.effective_from_ms >= *entry.effective_until_ms) {
    check.Error(AttrPos(entry, "effective_until"), "catalog-bad-dates",
                "effective_until must be after effective_from");
  }
  const auto& allowed = kAllowedAttrs[k];
  for (const auto& [key, value] : entry.attrs) {
    if (!key.empty() && std::find(allowed.begin(), allowed.end(), key) != allowed.end()) {
      continue;
    }
    std::string expected;
    for (std::string_view name : allowed) {
      if (name.empty()) continue;
      expected += expected.empty() ? "" : ", ";
      expected += name;
    }
    check.Error(AttrPos(entry, key), "catalog-unknown-key",
                "unknown key '" + key + "' (" + std::string(kCatalogNames[k]) + " entries take " +
                    expected + ", plus name, source, effective_from, effective_until, override" +
                    (kind == Kind::kAccelerators || kind == Kind::kFrontier  ? ", match"
                     : kind == Kind::kDestinations || kind == Kind::kVendors ? ""
                                                                             : ", pattern") +
                    ")");
  }
  for (const std::string& pattern : entry.patterns) {
    if (pattern.empty()) check.Error(PatternPos(entry), "catalog-bad-regex", "empty regex");
  }
}

void CatalogIndex::DecodeProvider(const EntryCheck& check, Info& info) {
  const std::string* value = check.entry.Attr("provider");
  if (value == nullptr) return;
  Provider p = ProviderOf(*value);
  if (p == Provider::kAny || *value != kProviderNames[static_cast<size_t>(p) - 1]) {
    check.Error(AttrPos(check.entry, "provider"), "catalog-bad-value",
                "unknown provider '" + *value + "' (expected " + OneOf(kProviderNames) + ")");
    return;
  }
  info.provider = p;
}

void CatalogIndex::DecodeAccelerator(const EntryCheck& check, Info& info) {
  const CatalogEntry& entry = check.entry;
  if (const std::string* status = check.Required("status")) {
    if (auto s = FindName(kStatusNames, *status)) {
      info.status = kStatusNames[*s];
    } else {
      check.Error(AttrPos(entry, "status"), "catalog-bad-value",
                  "unknown status '" + *status + "' (expected " + OneOf(kStatusNames) + ")");
    }
  }
  if (entry.patterns.empty()) {
    check.Error(entry.pos, "catalog-missing-key",
                "missing `match` (regexes over the normalized accelerator name)");
  }
  // The figures behind the classification (TOPS x bit length; TPP / die area in mm2):
  // informational, but they must be numbers.
  for (const char* key : {"tpp", "performance_density"}) {
    const std::string* value = entry.Attr(key);
    if (value == nullptr) continue;
    double number = 0;
    auto [end, ec] = std::from_chars(value->data(), value->data() + value->size(), number);
    if (ec != std::errc() || end != value->data() + value->size() || number < 0) {
      check.Error(AttrPos(entry, key), "catalog-bad-value",
                  std::string(key) + " '" + *value + "' is not a non-negative number");
    }
  }
  if (const std::string* tiers = entry.Attr("restricted_tiers")) {
    ForEachListItem(*tiers, [&](std::string_view tier) {
      if (auto t = FindName(kTierNames, tier)) {
        info.tier_scope |= static_cast<uint8_t>(1U << *t);
      } else {
        check.Error(AttrPos(entry, "restricted_tiers"), "catalog-bad-value",
                    "unknown tier '" + std::string(tier) + "' in restricted_tiers (expected " +
                        OneOf(kTierNames) + ")");
      }
    });
  }
  if (info.status == "unclear" && entry.Attr("notes") == nullptr) {
    check.diags.Warning(entry.pos, "catalog-unclear-without-reason",
                        check.what +
                            ": status unclear without `notes` saying why (what evidence is "
                            "missing)");
  }
}

void CatalogIndex::DecodeInstanceType(
    const EntryCheck& check, Info& info,
    const std::unordered_map<std::string, uint32_t>& accelerator_by_name) {
  const CatalogEntry& entry = check.entry;
  if (const std::string* accelerator = check.Required("accelerator")) {
    auto it = accelerator_by_name.find(AsciiLowered(*accelerator));
    if (it == accelerator_by_name.end()) {
      check.Error(AttrPos(entry, "accelerator"), "catalog-unknown-accelerator",
                  "accelerator '" + *accelerator + "' is not an accelerators entry");
    } else {
      info.accelerator = it->second;
    }
  }
  if (const std::string* count = entry.Attr("count")) {
    int64_t value = 0;
    auto [end, ec] = std::from_chars(count->data(), count->data() + count->size(), value);
    if (ec != std::errc() || end != count->data() + count->size() || value < 1 ||
        value > kMaxCount) {
      check.Error(
          AttrPos(entry, "count"), "catalog-bad-value",
          "count '" + *count + "' is not a whole number from 1 to " + std::to_string(kMaxCount));
    } else {
      info.count = value;
    }
  }
  if (const std::string* model = entry.Attr("model")) info.model = *model;
}

void CatalogIndex::DecodeDestination(const EntryCheck& check, Info& info, uint32_t i) {
  const CatalogEntry& entry = check.entry;
  std::optional<size_t> code = CountryCodeIndex(entry.name);
  if (!code) {
    check.Error(entry.pos, "catalog-bad-value",
                "a destination's name must be an ISO 3166 alpha-2 code (e.g. CN)");
  } else {
    // Several periods of one country are chained in catalog order.
    uint32_t* slot = &destination_by_code_[*code];
    while (*slot != kNone) {
      slot = &catalogs_[static_cast<size_t>(Kind::kDestinations)].entries[*slot].next_same_name;
    }
    *slot = i;
  }
  if (info.has_patterns) {
    check.Error(PatternPos(entry), "catalog-unknown-key",
                "destinations take no match/pattern: the name is the country code");
  }
  if (const std::string* tier = check.Required("tier")) {
    if (auto t = FindName(kTierNames, *tier)) {
      info.tier = kTierNames[*t];
    } else {
      check.Error(AttrPos(entry, "tier"), "catalog-bad-value",
                  "unknown tier '" + *tier + "' (expected " + OneOf(kTierNames) + ")");
    }
  }
}

void CatalogIndex::DecodeRegion(const EntryCheck& check, Info& info) {
  if (const std::string* country = check.Required("country")) {
    info.country = InternCountryCode(*country);
    if (info.country.empty()) {
      check.Error(AttrPos(check.entry, "country"), "catalog-bad-value",
                  "country '" + *country + "' is not an ISO 3166 alpha-2 code (e.g. CN)");
    }
  }
}

void CatalogIndex::DecodeVendor(const EntryCheck& check, Info& info) {
  const CatalogEntry& entry = check.entry;
  if (info.has_patterns) {
    check.Error(PatternPos(entry), "catalog-unknown-key",
                "model_vendors take no match/pattern: the name is the frontier_models vendor");
  }
  const std::string* supported = entry.Attr("supported_countries");
  const std::string* unsupported = entry.Attr("unsupported_countries");
  if ((supported == nullptr) == (unsupported == nullptr)) {
    check.Error(entry.pos, "catalog-missing-key",
                "needs exactly one of `supported_countries` and `unsupported_countries`");
    return;
  }
  info.supported_list = supported != nullptr;
  const char* key = supported != nullptr ? "supported_countries" : "unsupported_countries";
  ForEachListItem(supported != nullptr ? *supported : *unsupported, [&](std::string_view code) {
    if (std::optional<size_t> code_index = CountryCodeIndex(code)) {
      info.countries.set(*code_index);
    } else {
      check.Error(AttrPos(entry, key), "catalog-bad-value",
                  "'" + std::string(code) + "' is not an ISO 3166 alpha-2 code (e.g. CN)");
    }
  });
}

// Each pattern is checked alone first so that every bad one is reported at its entry;
// whole-name patterns are anchored after that check, so that an unbalanced parenthesis cannot
// escape the anchoring group. The checks' diagnostics are held per catalog and reported, in catalog
// order, together with the compile results (BuildDatabases).
std::array<CatalogIndex::CheckedPatterns, CatalogIndex::kKindCount> CatalogIndex::CheckPatterns()
    const {
  std::array<CheckedPatterns, kKindCount> patterns;
  for (size_t k = 0; k < kKindCount; ++k) {
    const Kind kind = static_cast<Kind>(k);
    const bool whole_name = kind == Kind::kInstanceTypes || kind == Kind::kRegions;
    const Catalog& catalog = catalogs_[k];
    CheckedPatterns& out = patterns[k];
    for (size_t i = 0; i < catalog.entries.size(); ++i) {
      const CatalogEntry& entry = *catalog.entries[i].entry;
      for (const std::string& pattern : entry.patterns) {
        if (pattern.empty()) continue;  // reported above
        auto bad = [&](const std::string& why) {
          out.diags.Error(PatternPos(entry), "catalog-bad-regex",
                          Describe(kCatalogNames[k], entry) + ": regex '" + pattern + "' " + why);
          out.ok = false;
        };
        if (pattern.find('\0') != std::string::npos) {
          bad("contains a NUL character");
          continue;
        }
        const hs::ExpressionInfo info = hs::AnalyzeExpression(pattern, kHsFlags);
        if (!info.ok) {
          bad(std::string("does not compile: ") +
              (info.message.empty() ? "unknown error" : info.message));
          continue;
        }
        if (info.min_width == 0) {
          bad(whole_name ? "can match an empty name" : "matches the empty string (every name)");
          continue;
        }
        out.expressions.push_back(whole_name ? "\\A(?:" + pattern + ")\\z" : pattern);
        out.entry_of.push_back(static_cast<uint32_t>(i));
      }
    }
  }

  return patterns;
}

void CatalogIndex::BuildDatabases(Diagnostics& diags) {
  std::array<CheckedPatterns, kKindCount> patterns = CheckPatterns();
  // Compile the chunks of all catalogs concurrently.
  std::vector<hs::PatternSet> chunks;
  std::vector<size_t> chunk_kind;
  for (size_t k = 0; k < kKindCount; ++k) {
    if (!patterns[k].ok) continue;
    for (const auto& [begin, end] :
         hs::Chunks(patterns[k].expressions.size(), kPatternsPerDatabase)) {
      chunks.push_back(PatternRange(patterns[k].expressions, begin, end, kHsCompileFlags));
      chunk_kind.push_back(k);
    }
  }
  std::vector<hs::Compiled> compiled = hs::CompileAll(chunks);

  // Install the databases (and report) in catalog order.
  size_t next_chunk = 0;
  for (size_t k = 0; k < kKindCount; ++k) {
    Catalog& catalog = catalogs_[k];
    CheckedPatterns& p = patterns[k];
    diags.Append(p.diags);
    if (!p.ok || p.expressions.empty()) continue;

    std::vector<hs::Database> dbs;
    bool all_compiled = true;
    for (; next_chunk < chunks.size() && chunk_kind[next_chunk] == k; ++next_chunk) {
      if (!compiled[next_chunk].db) all_compiled = false;
      dbs.push_back(std::move(compiled[next_chunk].db));
    }
    if (!all_compiled) {
      // Compile the catalog again as one database, with the checks' flags: the report names the
      // regex Hyperscan rejects among all of them (or says they do not compile together).
      hs::Compiled whole =
          hs::Compile(PatternRange(p.expressions, 0, p.expressions.size(), kHsFlags));
      if (!whole.db) {
        const hs::CompileError& failure = whole.errors.front();
        const std::string message = failure.message.empty() ? "unknown error" : failure.message;
        if (failure.expression >= 0 &&
            static_cast<size_t>(failure.expression) < p.entry_of.size()) {
          const CatalogEntry& entry = *catalog.entries[p.entry_of[failure.expression]].entry;
          diags.Error(PatternPos(entry), "catalog-bad-regex",
                      Describe(kCatalogNames[k], entry) + ": a regex does not compile: " + message);
        } else {
          diags.Error(catalog.entries.front().entry->pos, "catalog-bad-regex",
                      std::string("the regexes of catalog ") + std::string(kCatalogNames[k]) +
                          " do not compile together: " + message);
        }
        continue;
      }
      dbs.clear();
      dbs.push_back(std::move(whole.db));
    }
    catalog.dbs = std::move(dbs);
    catalog.entry_of_pattern = std::move(p.entry_of);
    for (const auto& db : catalog.dbs) {
      if (!prototype_scratch_.Reserve(db)) {
        diags.Error(catalog.entries.front().entry->pos, "internal",
                    "cannot allocate Hyperscan scratch space");
        break;
      }
    }
  }
}

std::unique_ptr<CatalogScratch> CatalogIndex::NewScratch() const {
  std::unique_ptr<CatalogScratch> scratch(new CatalogScratch());
  std::optional<hs::Scratch> clone = prototype_scratch_.Clone();
  if (!clone) return nullptr;
  scratch->hs_scratch = std::move(*clone);
  return scratch;
}

size_t CatalogIndex::entry_count(std::string_view catalog_name) const {
  auto kind = KindOf(catalog_name);
  return kind ? catalog(*kind).entries.size() : 0;
}

uint32_t CatalogIndex::Scan(Kind kind, std::string_view text, const MatchFilter& filter,
                            CatalogScratch& scratch) const {
  const Catalog& cat = catalog(kind);
  if (cat.dbs.empty() || !scratch.hs_scratch || text.empty()) return kNone;
  struct Context {
    const Catalog* catalog;
    const MatchFilter* filter;
    uint32_t best;
  } context{&cat, &filter, kNone};
  auto on_match = [](unsigned id, unsigned long long /*from*/, unsigned long long /*to*/,
                     unsigned /*flags*/, void* data) -> int {
    auto* ctx = static_cast<Context*>(data);
    uint32_t entry = ctx->catalog->entry_of_pattern[id];
    if (entry < ctx->best && ctx->filter->Accepts(ctx->catalog->entries[entry])) {
      ctx->best = entry;
    }
    return 0;  // keep scanning: a later pattern may belong to an earlier entry
  };
  // A later database's entries are not before the best entry of an earlier one: stop at the
  // first database with an accepted match.
  for (const auto& db : cat.dbs) {
    if (!hs::Scan(db, text, scratch.hs_scratch, on_match, &context)) {
      return kNone;
    }
    if (context.best != kNone) break;
  }
  return context.best;
}

uint32_t CatalogIndex::LookupByName(Kind kind, std::string_view lower_name,
                                    const MatchFilter& filter, CatalogScratch& scratch) const {
  const Catalog& cat = catalog(kind);
  uint32_t best = kNone;
  auto it = cat.by_name.find(lower_name);
  if (it != cat.by_name.end() && filter.Accepts(cat.entries[it->second])) best = it->second;
  return std::min(best, Scan(kind, lower_name, filter, scratch));
}

const CatalogIndex::Info* CatalogIndex::Destination(std::string_view country,
                                                    const std::optional<int64_t>& time) const {
  std::optional<size_t> code = CountryCodeIndex(country);
  if (!code) return nullptr;
  // The entry in effect at the event's time; without a time, the latest period.
  const auto& entries = catalog(Kind::kDestinations).entries;
  const Info* latest = nullptr;
  for (uint32_t i = destination_by_code_[*code]; i != kNone; i = entries[i].next_same_name) {
    if (time && entries[i].entry->EffectiveAt(*time)) return &entries[i];
    latest = &entries[i];
  }
  return time ? nullptr : latest;
}

// What the enrichment steps of one event share.
struct CatalogIndex::EnrichContext {
  Event& event;
  CatalogScratch& scratch;
  Arena& arena;
  MatchFilter filter;

  // A buffer for a lower-cased or normalized copy of a value: the scratch's, or the arena's when
  // the value is long.
  char* Buffer(size_t size) {
    return size <= scratch.buffer.size() ? scratch.buffer.data() : arena.Allocate(size);
  }
  void SetIfUnset(FieldId field, std::string_view value) {
    if (!value.empty() && event.Str(field).empty()) event.SetStr(field, value);
  }
};

void CatalogIndex::Enrich(Event& event, CatalogScratch& scratch, Arena& arena) const {
  EnrichContext c{event, scratch, arena, {}};
  if (event.Has(FieldId::kEventTime)) c.filter.time = event.Num(FieldId::kEventTime);
  c.filter.provider = ProviderOf(event.Str(FieldId::kProvider));
  const Info* instance = EnrichInstanceType(c);
  const Info* accelerator = EnrichAccelerator(c, instance);
  EnrichPlaces(c, accelerator);
  EnrichModel(c);
}

bool CatalogIndex::RestrictedAt(const Info& accelerator, const MatchFilter& filter) {
  return accelerator.status == kStatusNames[0] &&
         (!filter.time || accelerator.entry->EffectiveAt(*filter.time));
}

// An instance type as given, then without `ml.`.
const CatalogIndex::Info* CatalogIndex::LookupInstance(EnrichContext& c,
                                                       std::string_view type) const {
  if (type.empty() || catalog(Kind::kInstanceTypes).entries.empty()) return nullptr;
  char* out = c.Buffer(type.size());
  AsciiLowerInto(type, out);
  std::string_view lower(out, type.size());
  uint32_t i = LookupByName(Kind::kInstanceTypes, lower, c.filter, c.scratch);
  if (i == kNone && lower.size() > 3 && lower.substr(0, 3) == "ml.") {
    i = LookupByName(Kind::kInstanceTypes, lower.substr(3), c.filter, c.scratch);
  }
  return i == kNone ? nullptr : &catalog(Kind::kInstanceTypes).entries[i];
}

// instance.type's entry. A call naming several instance types (an EKS node group, a fleet, a
// cluster's node pools): any that carries a restricted accelerator makes it match, so the first
// such one stands for the call when the primary one does not; instance.types lists them all.
const CatalogIndex::Info* CatalogIndex::EnrichInstanceType(EnrichContext& c) const {
  Event& event = c.event;
  const auto& accelerators = catalog(Kind::kAccelerators).entries;
  const Info* instance = LookupInstance(c, event.Str(FieldId::kInstanceType));
  if (event.instance_type_count > 1) {
    if (!event.Has(FieldId::kInstanceTypes)) {
      size_t size = 0;
      for (size_t i = 0; i < event.instance_type_count; ++i) {
        size += event.instance_types[i].size() + 1;
      }
      char* out = c.arena.Allocate(size);
      size_t n = 0;
      for (size_t i = 0; i < event.instance_type_count; ++i) {
        if (i > 0) out[n++] = ',';
        std::string_view t = event.instance_types[i];
        std::copy(t.begin(), t.end(), out + n);
        n += t.size();
      }
      event.SetStr(FieldId::kInstanceTypes, std::string_view(out, n));
    }
    if (instance == nullptr || !RestrictedAt(accelerators[instance->accelerator], c.filter)) {
      for (size_t i = 0; i < event.instance_type_count; ++i) {
        const Info* candidate = LookupInstance(c, event.instance_types[i]);
        if (candidate == nullptr || candidate == instance) continue;
        const bool restricted = RestrictedAt(accelerators[candidate->accelerator], c.filter);
        if (instance == nullptr || restricted) {
          instance = candidate;
          event.SetStr(FieldId::kInstanceType, event.instance_types[i]);
          if (restricted) break;
        }
      }
    }
  }
  if (instance != nullptr) event.instance_entry = instance->entry.get();
  return instance;
}

// The accelerator: the log's name, else the instance type's accelerator.
const CatalogIndex::Info* CatalogIndex::EnrichAccelerator(EnrichContext& c,
                                                          const Info* instance) const {
  Event& event = c.event;
  const auto& accelerators = catalog(Kind::kAccelerators).entries;
  const Info* accelerator = nullptr;
  std::string_view model = event.Str(FieldId::kAcceleratorModel);
  if (!model.empty()) {
    char* out = c.Buffer(model.size());
    std::string_view normalized(out, NormalizeAcceleratorName(model, out));
    MatchFilter any = c.filter;
    any.check_effective = false;  // the dates decide the status, not the family
    uint32_t i = Scan(Kind::kAccelerators, normalized, any, c.scratch);
    if (i != kNone) accelerator = &accelerators[i];
  }
  if (instance != nullptr) {
    const Info& instance_accelerator = accelerators[instance->accelerator];
    // A log naming an unrestricted GPU beside a restricted instance type (a CPU pool's default
    // accelerator field, say) does not hide the instance type's.
    if (accelerator == nullptr ||
        (!RestrictedAt(*accelerator, c.filter) && RestrictedAt(instance_accelerator, c.filter) &&
         event.instance_type_count > 1)) {
      accelerator = &instance_accelerator;
    }
    if (model.empty()) {
      c.SetIfUnset(FieldId::kAcceleratorModel,
                   !instance->model.empty() ? instance->model : instance_accelerator.entry->name);
    }
    if (instance->count && !event.Has(FieldId::kAcceleratorCount)) {
      event.SetNum(FieldId::kAcceleratorCount, *instance->count);
    }
  }
  if (accelerator != nullptr) {
    event.accelerator_entry = accelerator->entry.get();
    c.SetIfUnset(FieldId::kAcceleratorFamily, accelerator->entry->name);
    bool in_effect = !c.filter.time || accelerator->entry->EffectiveAt(*c.filter.time);
    c.SetIfUnset(FieldId::kAcceleratorStatus, in_effect ? accelerator->status : kNotControlled);
  }
  return accelerator;
}

// Region -> country; countries -> destination tiers, and whether the accelerator's restriction
// reaches each (an entry with restricted_tiers reaches only destinations of those tiers).
void CatalogIndex::EnrichPlaces(EnrichContext& c, const Info* accelerator) const {
  Event& event = c.event;
  std::string_view region = event.Str(FieldId::kRegion);
  if (!region.empty() && !catalog(Kind::kRegions).entries.empty()) {
    char* out = c.Buffer(region.size());
    AsciiLowerInto(region, out);
    uint32_t i =
        LookupByName(Kind::kRegions, std::string_view(out, region.size()), c.filter, c.scratch);
    if (i != kNone) {
      const Info& info = catalog(Kind::kRegions).entries[i];
      event.region_entry = info.entry.get();
      c.SetIfUnset(FieldId::kRegionCountry, info.country);
    }
  }
  auto destination = [&](FieldId country, FieldId tier, FieldId in_scope,
                         const CatalogEntry*& entry_out) {
    const Info* d = Destination(event.Str(country), c.filter.time);
    if (d != nullptr) {
      entry_out = d->entry.get();
      c.SetIfUnset(tier, d->tier);
    }
    if (accelerator == nullptr || event.Has(in_scope)) return;
    // The tier may also come from a test's stand-in rather than the catalog.
    std::string_view tier_name = event.Str(tier);
    if (tier_name.empty()) return;
    uint8_t bit = 0;
    if (auto t = FindName(kTierNames, tier_name)) bit = static_cast<uint8_t>(1U << *t);
    event.SetBool(in_scope, accelerator->tier_scope == 0 || (accelerator->tier_scope & bit) != 0);
  };
  destination(FieldId::kSourceCountry, FieldId::kSourceTier, FieldId::kSourceInScope,
              event.source_dest_entry);
  destination(FieldId::kRegionCountry, FieldId::kRegionTier, FieldId::kRegionInScope,
              event.region_dest_entry);
  destination(FieldId::kTenantCountry, FieldId::kTenantTier, FieldId::kTenantInScope,
              event.tenant_dest_entry);
  destination(FieldId::kTenantParentCountry, FieldId::kTenantParentTier,
              FieldId::kTenantParentInScope, event.parent_dest_entry);
}

// Frontier models, and whether the model's vendor serves the caller's country.
void CatalogIndex::EnrichModel(EnrichContext& c) const {
  Event& event = c.event;
  std::string_view model_id = event.Str(FieldId::kModelId);
  if (!model_id.empty()) {
    MatchFilter any_provider = c.filter;
    any_provider.provider = Provider::kAny;
    uint32_t i = Scan(Kind::kFrontier, model_id, any_provider, c.scratch);
    if (i != kNone) {
      const Info& info = catalog(Kind::kFrontier).entries[i];
      event.model_entry = info.entry.get();
      if (!event.Has(FieldId::kModelFrontier)) event.SetBool(FieldId::kModelFrontier, true);
      c.SetIfUnset(FieldId::kModelVendor, info.vendor);
    } else if (!event.Has(FieldId::kModelFrontier)) {
      event.SetBool(FieldId::kModelFrontier, false);
    }
  }
  std::string_view vendor = event.Str(FieldId::kModelVendor);
  std::string_view country = event.Str(FieldId::kSourceCountry);
  const Catalog& vendors = catalog(Kind::kVendors);
  if (vendor.empty() || country.empty() || vendors.entries.empty() ||
      event.Has(FieldId::kSourceVendorSupported)) {
    return;
  }
  std::optional<size_t> code = CountryCodeIndex(country);
  char* out = c.Buffer(vendor.size());
  AsciiLowerInto(vendor, out);
  auto it = vendors.by_name.find(std::string_view(out, vendor.size()));
  if (!code || it == vendors.by_name.end()) return;
  const Info& info = vendors.entries[it->second];
  if (!c.filter.time || info.entry->EffectiveAt(*c.filter.time)) {
    const bool listed = info.countries.test(*code);
    event.SetBool(FieldId::kSourceVendorSupported, info.supported_list ? listed : !listed);
    event.vendor_entry = info.entry.get();
  }
}

}  // namespace chipwatch
