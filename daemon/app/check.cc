// `chipwatch check`: load and compile the policy (and enrichment data) without running anything.
#include "app/commands.h"
#include "config/config.h"
#include "engine/enrichment.h"
#include "engine/policy.h"

namespace chipwatch {

namespace {

bool UsesState(const PolicyDefinitions& defs) {
  if (!defs.correlations.empty()) return true;
  for (const RuleDef& r : defs.rules) {
    if (r.suppress) return true;
  }
  return false;
}

}  // namespace

int RunCheck(const CheckOptions& options_in, std::FILE* out) {
  CheckOptions options = options_in;
  Diagnostics diags;
  std::unique_ptr<Config> config;
  if (!options.config.empty()) {
    // The daemon's config: its own problems first, then the rules and data it names.
    config = LoadConfig(options.config, diags);
    if (config == nullptr) {
      for (const Diagnostic& d : diags.items()) {
        std::fprintf(out, "%s\n", options.json ? d.ToJson().c_str() : d.ToString().c_str());
      }
      if (!options.json) {
        std::fprintf(out, "chipwatch check: %s: %zu errors, %zu warnings\n", options.config.c_str(),
                     diags.error_count(), diags.warning_count());
      }
      return kExitUsage;
    }
    for (const ConfigPath& p : config->rules) options.rules.push_back(p.path);
    if (config->geoip) options.enrich.geoip = config->geoip->path;
    if (config->directory) options.enrich.directory = config->directory->path;
  }
  const std::vector<std::string> paths = options.rules.empty() ? DefaultRulePaths() : options.rules;
  auto policy = LoadPolicy(paths, diags);
  if (config != nullptr && policy != nullptr && !config->state.path && UsesState(*policy->defs)) {
    const SourcePos at =
        config->state.pos.file.empty() ? SourcePos{config->file, 1, 1} : config->state.pos;
    diags.Warning(at, DiagCode::kStateInMemory,
                  "the policy has correlations or suppression but state.path is not set: their "
                  "windows live in memory only and are lost on restart");
  }
  bool ok = policy != nullptr && !diags.has_errors();
  if (!options.enrich.geoip.empty() || !options.enrich.directory.empty()) {
    if (!LoadEnrichment(options.enrich, diags)) ok = false;
  }
  for (const Diagnostic& d : diags.items()) {
    std::fprintf(out, "%s\n", options.json ? d.ToJson().c_str() : d.ToString().c_str());
  }
  if (!options.json) {
    if (policy != nullptr) {
      size_t entries = 0, tests = 0, enabled = 0;
      for (const auto& [name, list] : policy->defs->catalogs) entries += list.size();
      for (const RuleDef& r : policy->defs->rules) {
        tests += r.tests.size();
        enabled += r.enabled ? 1 : 0;
      }
      std::fprintf(out,
                   "chipwatch check: %zu rules (%zu enabled), %zu lists, %zu macros, %zu catalog "
                   "entries, %zu rule tests in %zu files: %zu errors, %zu warnings\n",
                   policy->defs->rules.size(), enabled, policy->defs->lists.size(),
                   policy->defs->macros.size(), entries, tests, policy->defs->files.size(),
                   diags.error_count(), diags.warning_count());
    } else {
      std::fprintf(out, "chipwatch check: %zu errors, %zu warnings\n", diags.error_count(),
                   diags.warning_count());
    }
  }
  return ok ? kExitOk : kExitUsage;
}

}  // namespace chipwatch
