// Reader stage of the policy loader (internal to policy/): one YAML file's text to raw definitions.
//
// Checks the shape of each document (known keys, value types, severities, dates, formats, test
// events rendered to JSON, a correlation's keys against its type, durations, thresholds) and
// records file:line:col positions. Cross-file checks (ids, appends, overrides, macros, fields,
// the rules a correlation lists) belong to the collector (collector.h). Reentrant; no shared
// state.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/diagnostics.h"
#include "policy/definitions.h"

namespace chipwatch::policy_internal {

struct RawList {
  ListDef def;
  bool append = false;
};

struct RawCatalogEntry {
  std::unique_ptr<CatalogEntry> entry;
  bool override_entry = false;  // `override: true`
};

struct RawFile {
  std::string name;
  std::vector<RawList> lists;
  std::vector<MacroDef> macros;
  std::vector<RuleDef> rules;
  std::vector<CorrelationDef> correlations;
  std::vector<RawCatalogEntry> catalog_entries;
};

// Parses one file (all of its YAML documents). Problems go to `diags`; what could be read is
// returned. Never throws.
RawFile ReadPolicyFile(const std::string& name, const std::string& text, Diagnostics& diags);

// Catalog names, in the order of docs/rules.md.
const std::vector<std::string>& CatalogNames();

}  // namespace chipwatch::policy_internal
