// Policy loader: reads rule files (the reader) and collects them into PolicyDefinitions (the
// collector), reporting every problem with file:line:col into a Diagnostics.
//
// The reader turns each YAML document into definitions and checks its shape (known keys, types,
// severities, dates, test events); the collector applies list appends and catalog overrides,
// checks ids, expands nothing but resolves macro references (unknown, cycles), resolves field names
// to FieldIds, type-checks every condition, parses numbers, CIDRs and reason templates. The result
// is returned even when there were errors (as much as could be read); only definitions loaded
// without errors may be compiled (match/compiled_rules.h). The language is docs/rules.md.
//
// Thread contract: the functions are reentrant; they share no state. yaml-cpp stays inside
// policy/*.cc.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/diagnostics.h"
#include "policy/definitions.h"

namespace chipwatch {

// Checks one regular expression the way the matcher will compile it. Returns an empty string when
// the pattern is valid, else the regex compiler's message. match/regex_checker.h provides the
// Hyperscan one.
using RegexChecker = std::function<std::string(const std::string& pattern, bool ignore_case)>;

struct LoadOptions {
  // When set, every `regex` pattern is checked at load time ("invalid-regex"). Without it, bad
  // patterns are reported by CompiledRules::Compile instead.
  RegexChecker check_regex;
};

// Reads rule files/directories in order (a directory: *.yaml/*.yml recursively, sorted by relative
// path), collects definitions (list appends, catalog overrides, duplicate ids, macro references)
// and reports every problem into `diags` with file:line:col. Returns the definitions even when
// there are errors (as much as could be read). Never throws.
std::unique_ptr<PolicyDefinitions> LoadDefinitions(const std::vector<std::string>& paths,
                                                   Diagnostics& diags,
                                                   const LoadOptions& options = {});

// Same, from in-memory YAML documents (name, text): for tests and `chipwatch test`.
std::unique_ptr<PolicyDefinitions> LoadDefinitionsFromStrings(
    const std::vector<std::pair<std::string, std::string>>& files, Diagnostics& diags,
    const LoadOptions& options = {});

}  // namespace chipwatch
