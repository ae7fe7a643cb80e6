// libFuzzer target: one rule file through the rule loader (reader, collector) and, when it loads,
// the rule compiler (catalog index, Hyperscan databases): engine/policy.h's LoadPolicyFromStrings.
// Checks that a refused file says why, with its name.
#include <cstddef>
#include <cstdint>
#include <string>

#include "engine/policy.h"
#include "fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 64 << 10) return 0;
  const std::string text(reinterpret_cast<const char*>(data), size);
  chipwatch::Diagnostics diags;
  auto policy = chipwatch::LoadPolicyFromStrings({{"fuzz.yaml", text}}, diags);
  if (policy == nullptr) {
    FUZZ_CHECK(diags.has_errors());
    for (const auto& d : diags.items()) FUZZ_CHECK(!d.code.empty() && !d.message.empty());
  }
  return 0;
}
