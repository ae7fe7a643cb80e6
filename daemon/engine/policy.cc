#include "engine/policy.h"

#include <filesystem>

#include "match/regex_checker.h"
#include "policy/loader.h"

#ifndef CHIPWATCH_DEFAULT_RULES_DIR
#define CHIPWATCH_DEFAULT_RULES_DIR "/usr/share/chipwatch/rules"
#endif

namespace chipwatch {

std::shared_ptr<const LoadedPolicy> CompilePolicy(std::unique_ptr<PolicyDefinitions> defs,
                                                  Diagnostics& diags,
                                                  const StatefulOptions& options) {
  if (defs == nullptr || diags.has_errors()) return nullptr;
  auto policy = std::make_shared<LoadedPolicy>();
  policy->catalogs = CatalogIndex::Build(*defs, diags);
  policy->rules = CompiledRules::Compile(*defs, diags);
  if (diags.has_errors() || policy->catalogs == nullptr || policy->rules == nullptr) return nullptr;
  policy->stateful = StatefulPolicy::Build(*defs, *policy->rules, options);
  policy->defs = std::move(defs);
  return policy;
}

std::shared_ptr<const LoadedPolicy> LoadPolicy(const std::vector<std::string>& paths,
                                               Diagnostics& diags, const StatefulOptions& options) {
  return CompilePolicy(LoadDefinitions(paths, diags, LoadOptions{HyperscanRegexChecker()}), diags,
                       options);
}

std::shared_ptr<const LoadedPolicy> LoadPolicyFromStrings(
    const std::vector<std::pair<std::string, std::string>>& files, Diagnostics& diags) {
  return CompilePolicy(
      LoadDefinitionsFromStrings(files, diags, LoadOptions{HyperscanRegexChecker()}), diags);
}

std::vector<std::string> DefaultRulePaths() {
  std::error_code ec;
  if (std::filesystem::is_directory("rules", ec)) return {"rules"};
  return {CHIPWATCH_DEFAULT_RULES_DIR};
}

}  // namespace chipwatch
