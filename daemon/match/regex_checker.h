// The Hyperscan regex checker for the policy loader (LoadOptions::check_regex), so that
// `chipwatch check` reports bad `regex` patterns with the rest of the load errors.
//
// Thread contract: the returned checker is stateless and may be called from any thread.
#pragma once

#include <string>

#include "policy/loader.h"

namespace chipwatch {

// Parses and analyses the pattern alone (hs_expression_info) with the flags the rule compiler
// uses; returns "" or Hyperscan's message.
RegexChecker HyperscanRegexChecker();

// Escapes `literal` so that Hyperscan matches it byte for byte (every non-alphanumeric as \xHH).
std::string EscapeHyperscanLiteral(std::string_view literal);

}  // namespace chipwatch
