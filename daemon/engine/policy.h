// LoadedPolicy: everything loaded from the rule files, compiled and ready for evaluation.
//
// The three load stages (policy/ reader + collector, enrich/ catalog index, match/ rule compiler)
// joined into one immutable object. Shared across worker threads as shared_ptr<const LoadedPolicy>;
// a reload builds a new one and swaps the pointer, and Events may point at its catalog entries.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/diagnostics.h"
#include "engine/stateful.h"
#include "enrich/catalog_index.h"
#include "match/compiled_rules.h"
#include "policy/definitions.h"

namespace chipwatch {

struct LoadedPolicy {
  std::unique_ptr<PolicyDefinitions> defs;
  std::unique_ptr<const CatalogIndex> catalogs;
  std::unique_ptr<const CompiledRules> rules;
  // Suppression and correlations (engine/stateful.h); never null once loaded.
  std::unique_ptr<const StatefulPolicy> stateful;
};

// Compiles definitions whose load had no errors (catalog index, rules, stateful policy); null and
// errors in `diags` otherwise. For tests that build definitions in code.
std::shared_ptr<const LoadedPolicy> CompilePolicy(std::unique_ptr<PolicyDefinitions> defs,
                                                  Diagnostics& diags,
                                                  const StatefulOptions& options = {});

// Loads and compiles rule files or directories, in order. Every problem goes to `diags`; returns
// null when there is any error.
std::shared_ptr<const LoadedPolicy> LoadPolicy(const std::vector<std::string>& paths,
                                               Diagnostics& diags,
                                               const StatefulOptions& options = {});
// The same from in-memory files (name, YAML text), for tests.
std::shared_ptr<const LoadedPolicy> LoadPolicyFromStrings(
    const std::vector<std::pair<std::string, std::string>>& files, Diagnostics& diags);

// The rule paths to use when none are given: ./rules if it exists, else the installed pack.
std::vector<std::string> DefaultRulePaths();

}  // namespace chipwatch
