// libFuzzer target: one config file through the config loader (config/config.h). Checks that a
// refused config says why.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "config/config.h"
#include "fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 64 << 10) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  chipwatch::Diagnostics diags;
  auto config = chipwatch::LoadConfigFromString(text, "/nonexistent/fuzz.yaml", diags);
  if (config == nullptr) {
    FUZZ_CHECK(diags.has_errors());
    for (const auto& d : diags.items()) FUZZ_CHECK(!d.code.empty() && !d.message.empty());
  }
  return 0;
}
