// Directory: the tenant/account directory (who a Kubernetes namespace, GPU-scheduler tenant or
// cloud account belongs to, its country and KYC status), loaded from a CSV file.
//
// Format: RFC 4180 CSV with a header row naming at least the columns `tenant`, `org`, `country`
// and `kyc_status`, in any order, and optionally `parent_org` and `parent_country` (the tenant's
// ultimate parent and the country where it is headquartered: export rules attach to companies
// headquartered in, or with an ultimate parent headquartered in, Macau or D:5, wherever the
// subsidiary operates); other columns are allowed and ignored. Blank lines and lines
// starting with `#` (outside quoted fields) are skipped. Quoted fields may contain commas, doubled
// quotes and line breaks. Unquoted fields are trimmed of surrounding spaces and tabs. `country`
// and `parent_country` must be empty or ISO 3166 alpha-2 codes and are stored upper-cased;
// `kyc_status` is stored lower-cased. Every bad row is reported as an error at file:line and
// skipped; the other rows load. Keys (`tenant` values: tenant names or account ids) are compared
// exactly (case-sensitive).
//
// Thread contract: immutable after Load; Find may be called from any number of threads.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/diagnostics.h"
#include "core/string_hash.h"

namespace chipwatch {

struct DirectoryEntry {
  std::string tenant, org, country, kyc_status;
  std::string parent_org, parent_country;  // empty when the file has no such column or value
};

class Directory {
 public:
  // Reads and parses `path`. Returns null on a fatal error (unreadable file, no header, a required
  // column missing), which is reported in `diags`; bad rows are reported and skipped.
  static std::unique_ptr<Directory> Load(const std::string& path, Diagnostics& diags);
  // Same, from text; `name` is the file name used in diagnostics.
  static std::unique_ptr<Directory> LoadFromString(std::string_view csv, const std::string& name,
                                                   Diagnostics& diags);

  // The entry for a tenant name or account id, or null. Does not allocate.
  const DirectoryEntry* Find(std::string_view key) const;
  size_t size() const { return entries_.size(); }

 private:
  Directory() = default;

  StringMap<DirectoryEntry> entries_;
};

}  // namespace chipwatch
