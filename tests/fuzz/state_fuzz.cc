// fuzz_state: loading saved state and snapshot files (state/correlation.h, state/suppression.h,
// state/snapshot_file.h) from any bytes. The first byte picks what is loaded: a correlation state
// of each type, a suppression state, or a snapshot file. Whatever loads must work on: it takes
// offers, and saving it, loading that and saving again gives the same bytes.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.h"
#include "state/correlation.h"
#include "state/snapshot_file.h"
#include "state/suppression.h"

namespace {

using chipwatch::CorrelationSpec;
using chipwatch::CorrelationState;
using chipwatch::CorrelationType;
using chipwatch::SuppressionState;
using chipwatch::SuppressionSummary;

void Correlation(CorrelationType type, std::string_view bytes) {
  CorrelationSpec spec;
  spec.type = type;
  spec.timespan_ms = 60000;
  spec.threshold = 3;
  spec.rule_count = 2;
  spec.suppress_ms = 30000;
  spec.max_groups = 8;  // smaller than some inputs: Load evicts
  chipwatch::Result<CorrelationState> state = CorrelationState::Load(bytes, spec);
  if (!state.ok()) return;
  std::optional<chipwatch::CorrelationFiring> firing;
  for (int i = 0; i < 12; ++i) {
    const std::string key(1, static_cast<char>('a' + i % 5));
    (void)state->Offer({key, 1000 * i, "id", i % 2 ? "x" : "y", 1u + i % 3}, firing);
  }
  std::string saved, again;
  state->Save(saved);
  chipwatch::Result<CorrelationState> reloaded = CorrelationState::Load(saved, spec);
  FUZZ_CHECK(reloaded.ok());
  reloaded->Save(again);
  FUZZ_CHECK(again == saved);
}

void Suppression(std::string_view bytes) {
  chipwatch::Result<SuppressionState> state = SuppressionState::Load(bytes, 60000, 4);
  if (!state.ok()) return;
  std::vector<SuppressionSummary> closed;
  for (int i = 0; i < 8; ++i) {
    (void)state->Offer(std::string(1, static_cast<char>('a' + i % 6)), 5000 * i, "id", closed);
  }
  state->AdvanceTo(20000, closed);
  std::string saved, again;
  state->Save(saved);
  chipwatch::Result<SuppressionState> reloaded = SuppressionState::Load(saved, 60000, 4);
  FUZZ_CHECK(reloaded.ok());
  reloaded->Save(again);
  FUZZ_CHECK(again == saved);
  reloaded->Flush(closed);
  FUZZ_CHECK(reloaded->open_windows() == 0);
}

void Snapshot(std::string_view bytes) {
  chipwatch::Result<chipwatch::StateSnapshot> s =
      chipwatch::DecodeStateSnapshot(std::string(bytes), "fuzz");
  if (!s.ok()) return;
  const std::string encoded = chipwatch::EncodeStateSnapshot(*s);
  chipwatch::Result<chipwatch::StateSnapshot> again =
      chipwatch::DecodeStateSnapshot(encoded, "fuzz");
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(chipwatch::EncodeStateSnapshot(*again) == encoded);
  for (const chipwatch::StateSection& sec : s->sections)
    Correlation(CorrelationType::kValueCount, sec.data);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 5) {
    case 0:
      Correlation(CorrelationType::kEventCount, bytes);
      break;
    case 1:
      Correlation(CorrelationType::kValueCount, bytes);
      break;
    case 2:
      Correlation(CorrelationType::kTemporal, bytes);
      break;
    case 3:
      Suppression(bytes);
      break;
    default:
      Snapshot(bytes);
      break;
  }
  return 0;
}
