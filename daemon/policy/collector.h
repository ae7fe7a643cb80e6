// Collector stage of the policy loader (internal to policy/): raw per-file definitions to one
// checked PolicyDefinitions.
//
// Applies list appends and catalog overrides in load order, reports duplicate ids, unknown and
// cyclic macros, resolves field names to FieldIds, type-checks conditions, parses numbers, CIDRs
// and reason templates, resolves the rules each correlation lists and the alerts multi-event
// tests expect, and warns about suspicious but valid policy. Reentrant; no shared state.
#pragma once

#include <memory>
#include <vector>

#include "core/diagnostics.h"
#include "policy/definitions.h"
#include "policy/loader.h"
#include "policy/reader.h"

namespace chipwatch::policy_internal {

std::unique_ptr<PolicyDefinitions> Collect(std::vector<RawFile> files, const LoadOptions& options,
                                           Diagnostics& diags);

}  // namespace chipwatch::policy_internal
