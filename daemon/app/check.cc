// `chipwatch check`: load and compile the policy (and enrichment data) without running anything.
#include <string>

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

// What the summary counts. Without a policy (it did not load) only the diagnostics are counted.
struct CheckCounts {
  const PolicyDefinitions* defs = nullptr;
  size_t rules_enabled = 0, rules_suppressed = 0, rules_without_alert = 0;
  size_t correlations_enabled = 0, catalog_entries = 0, tests = 0, multi_event_tests = 0;
};

CheckCounts Count(const PolicyDefinitions* defs) {
  CheckCounts c;
  c.defs = defs;
  if (defs == nullptr) return c;
  for (const auto& [name, list] : defs->catalogs) c.catalog_entries += list.size();
  auto count_tests = [&](const std::vector<RuleTestDef>& tests) {
    c.tests += tests.size();
    for (const RuleTestDef& t : tests) c.multi_event_tests += t.multi_event ? 1 : 0;
  };
  for (const RuleDef& r : defs->rules) {
    count_tests(r.tests);
    c.rules_enabled += r.enabled ? 1 : 0;
    c.rules_suppressed += r.suppress ? 1 : 0;
    c.rules_without_alert += r.alert ? 0 : 1;
  }
  for (const CorrelationDef& corr : defs->correlations) {
    count_tests(corr.tests);
    c.correlations_enabled += corr.enabled ? 1 : 0;
  }
  return c;
}

// The last line: "chipwatch check: 12 rules (...), ...: 0 errors, 1 warnings", or with --json one
// object {"summary": {...}} after the diagnostics (which have "level" where it has "summary").
void PrintSummary(const CheckCounts& c, const Diagnostics& diags, bool json, std::FILE* out) {
  const PolicyDefinitions* d = c.defs;
  if (json) {
    std::string s = "{\"summary\":{";
    if (d != nullptr) {
      auto add = [&](const char* key, size_t n) {
        s += "\"" + std::string(key) + "\":" + std::to_string(n) + ",";
      };
      add("files", d->files.size());
      add("rules", d->rules.size());
      add("rules_enabled", c.rules_enabled);
      add("rules_suppressed", c.rules_suppressed);
      add("rules_without_alert", c.rules_without_alert);
      add("correlations", d->correlations.size());
      add("correlations_enabled", c.correlations_enabled);
      add("lists", d->lists.size());
      add("macros", d->macros.size());
      add("catalog_entries", c.catalog_entries);
      add("tests", c.tests);
      add("multi_event_tests", c.multi_event_tests);
    }
    s += "\"errors\":" + std::to_string(diags.error_count()) +
         ",\"warnings\":" + std::to_string(diags.warning_count()) + "}}";
    std::fprintf(out, "%s\n", s.c_str());
    return;
  }
  if (d == nullptr) {
    std::fprintf(out, "chipwatch check: %zu errors, %zu warnings\n", diags.error_count(),
                 diags.warning_count());
    return;
  }
  std::fprintf(out,
               "chipwatch check: %zu rules (%zu enabled, %zu suppressed, %zu without alerts), %zu "
               "correlations (%zu enabled), %zu lists, %zu macros, %zu catalog entries, %zu tests "
               "(%zu multi-event) in %zu files: %zu errors, %zu warnings\n",
               d->rules.size(), c.rules_enabled, c.rules_suppressed, c.rules_without_alert,
               d->correlations.size(), c.correlations_enabled, d->lists.size(), d->macros.size(),
               c.catalog_entries, c.tests, c.multi_event_tests, d->files.size(),
               diags.error_count(), diags.warning_count());
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
      } else {
        PrintSummary(Count(nullptr), diags, true, out);
      }
      return kExitUsage;
    }
    for (const ConfigPath& p : config->rules) options.rules.push_back(p.path);
    if (config->geoip) options.enrich.geoip = config->geoip->path;
    if (config->directory) options.enrich.directory = config->directory->path;
  }
  const std::vector<std::string> paths = options.rules.empty() ? DefaultRulePaths() : options.rules;
  auto policy = LoadPolicy(paths, diags);
  if (config != nullptr && policy != nullptr && UsesState(*policy->defs)) {
    if (!config->state.path) {
      const SourcePos at =
          config->state.pos.file.empty() ? SourcePos{config->file, 1, 1} : config->state.pos;
      diags.Warning(at, DiagCode::kStateInMemory,
                    "the policy has correlations or suppression but state.path is not set: their "
                    "windows live in memory only and are lost on restart");
    } else {
      diags.Warning(config->state.path->pos, DiagCode::kStateInMemory,
                    "state.path is set but this version does not write snapshots yet: the "
                    "correlation and suppression windows live in memory and are lost on restart");
    }
  }
  bool ok = policy != nullptr && !diags.has_errors();
  if (!options.enrich.geoip.empty() || !options.enrich.directory.empty()) {
    if (!LoadEnrichment(options.enrich, diags)) ok = false;
  }
  for (const Diagnostic& d : diags.items()) {
    std::fprintf(out, "%s\n", options.json ? d.ToJson().c_str() : d.ToString().c_str());
  }
  PrintSummary(Count(policy != nullptr ? policy->defs.get() : nullptr), diags, options.json, out);
  return ok ? kExitOk : kExitUsage;
}

}  // namespace chipwatch
