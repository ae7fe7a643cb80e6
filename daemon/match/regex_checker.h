// The Hyperscan regex checker for the policy loader (LoadOptions::check_regex), so that
// `chipwatch check` reports bad `regex` patterns with the rest of the load errors.
//
// Thread contract: the returned checker is stateless and may be called from any thread.
#pragma once

#include <string>
#include <string_view>

#include "policy/loader.h"

namespace chipwatch {

// Parses and analyses the pattern alone (hs_expression_info) with the flags the rule compiler
// uses; returns "" or Hyperscan's message.
RegexChecker HyperscanRegexChecker();

// Escapes `literal` so that Hyperscan matches it byte for byte (every non-alphanumeric as \xHH).
std::string EscapeHyperscanLiteral(std::string_view literal);

// `pattern` with a trailing `\b` that follows a literal word character rewritten as `(?:\W|$)`:
// the same strings match (after a word character, a boundary is a non-word character or the end),
// only the end of the match moves by one, which chipwatch never reads (it asks whether a pattern
// matches, not where). Hyperscan compiles the rewritten form much faster: 996 watch-list patterns
// such as `arn:aws:(iam|sts)::\d{12}:user/ops-1234\b` took 7.5 s as written and 4.5 s rewritten
// (docs/benchmarks.md). Any other pattern is returned as it is, including when the character
// before `\b` might belong to an escape (`\x41\b`, `\d\b`) or the pattern quotes (`\Q`).
std::string CheaperTrailingWordBoundary(std::string_view pattern);

}  // namespace chipwatch
