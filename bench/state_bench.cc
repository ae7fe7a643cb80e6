// state_bench: memory and snapshot cost of the stateful detections' state (docs/stateful.md), in a
// fresh process per measurement, as one JSON line (bench/harness.py runs it; docs/benchmarks.md,
// "Stateful detections: memory and snapshots").
//
//   state_bench <event_count|value_count|temporal> <groups> <directory>
//
// Builds one CorrelationState with <groups> groups of one entry each (realistic keys: IPv4
// addresses, or 12-digit account ids for temporal; 36-character event ids; value_count counts one
// 12-digit account id per group; temporal lists two rules), measures the resident set before and
// after (/proc/self/statm), then times Save into memory, WriteStateSnapshot (written, fsynced,
// renamed) into <directory>, ReadStateSnapshot and Load, and checks that the loaded state saves
// the same bytes.
#include <unistd.h>

#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <random>
#include <string>
#include <string_view>

#include "state/correlation.h"
#include "state/snapshot_file.h"

namespace {

using chipwatch::CorrelationMatch;
using chipwatch::CorrelationSpec;
using chipwatch::CorrelationState;
using chipwatch::CorrelationType;
using Clock = std::chrono::steady_clock;

double ResidentBytes() {
  std::ifstream statm("/proc/self/statm");
  uint64_t size = 0, resident = 0;
  statm >> size >> resident;
  return static_cast<double>(resident) * static_cast<double>(::sysconf(_SC_PAGESIZE));
}

double MsSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

std::string Ipv4(uint32_t i) {
  char b[16];
  std::snprintf(b, sizeof b, "10.%u.%u.%u", (i >> 16) & 255, (i >> 8) & 255, i & 255);
  return b;
}

std::string AccountId(uint64_t i) {
  char b[16];
  std::snprintf(b, sizeof b, "%012" PRIu64, 100000000000 + i * 7919 % 900000000000);
  return b;
}

// A random version-4 UUID, as CloudTrail's eventID.
std::string EventId(std::mt19937_64& rng) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id = "xxxxxxxx-xxxx-4xxx-8xxx-xxxxxxxxxxxx";
  uint64_t bits = rng();
  int left = 16;
  for (char& c : id) {
    if (c != 'x') continue;
    if (left-- == 0) {
      bits = rng();
      left = 15;
    }
    c = kHex[bits & 15];
    bits >>= 4;
  }
  return id;
}

CorrelationSpec SpecFor(std::string_view type) {
  CorrelationSpec spec;
  spec.type = type == "value_count" ? CorrelationType::kValueCount
              : type == "temporal"  ? CorrelationType::kTemporal
                                    : CorrelationType::kEventCount;
  spec.timespan_ms = 24 * 3600 * 1000;
  spec.threshold = 5;
  spec.rule_count = 2;
  spec.max_groups = 1000000;
  return spec;
}

void Fill(CorrelationState& state, uint32_t groups) {
  std::mt19937_64 rng(42);
  std::optional<chipwatch::CorrelationFiring> firing;
  const bool temporal = state.spec().type == CorrelationType::kTemporal;
  const int64_t t0 = 1'790'000'000'000;
  for (uint32_t i = 0; i < groups; ++i) {
    const std::string key = temporal ? AccountId(i) : Ipv4(i);
    const std::string id = EventId(rng);
    const std::string value = AccountId(rng() % 1000000);
    (void)state.Offer(CorrelationMatch{key, t0 + i, id, value, 1}, firing);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: state_bench <event_count|value_count|temporal> <groups> <dir>\n");
    return 2;
  }
  const std::string type = argv[1];
  const auto groups = static_cast<uint32_t>(std::strtoul(argv[2], nullptr, 10));
  const std::string path = std::string(argv[3]) + "/state-bench-" + type + ".snapshot";

  const double rss_before = ResidentBytes();
  auto start = Clock::now();
  CorrelationState state(SpecFor(type));
  Fill(state, groups);
  const double offer_ns = MsSince(start) * 1e6 / groups;
  const double rss_after = ResidentBytes();

  start = Clock::now();
  std::string saved;
  state.Save(saved);
  const double save_ms = MsSince(start);
  start = Clock::now();
  chipwatch::StateSnapshot snapshot;
  snapshot.positions = {{"cloudtrail/0", 123456789}, {"cloudtrail/1", 987654321}};
  snapshot.sections = {{"CW-CORR-BENCH", chipwatch::StateFingerprint(state.spec()), saved}};
  if (chipwatch::Status st = chipwatch::WriteStateSnapshot(path, snapshot); !st.ok()) {
    std::fprintf(stderr, "%s\n", st.message().c_str());
    return 1;
  }
  const double write_ms = MsSince(start);

  start = Clock::now();
  chipwatch::Result<chipwatch::StateSnapshot> read = chipwatch::ReadStateSnapshot(path);
  const double read_ms = MsSince(start);
  if (!read.ok()) {
    std::fprintf(stderr, "%s\n", read.status().message().c_str());
    return 1;
  }
  start = Clock::now();
  chipwatch::Result<CorrelationState> loaded =
      CorrelationState::Load(read->sections[0].data, state.spec());
  const double load_ms = MsSince(start);
  std::string again;
  if (loaded.ok()) loaded->Save(again);
  if (!loaded.ok() || again != saved || loaded->groups() != groups) {
    std::fprintf(stderr, "the loaded state differs: %s\n", loaded.status().message().c_str());
    return 1;
  }
  std::remove(path.c_str());

  const double delta = rss_after - rss_before;
  std::printf(
      "{\"type\": \"%s\", \"groups\": %u, \"rss_before_mb\": %.1f, \"rss_after_mb\": %.1f, "
      "\"rss_delta_mb\": %.1f, \"bytes_per_group\": %.0f, \"offer_ns\": %.0f, \"state_mb\": %.1f, "
      "\"save_ms\": %.1f, \"write_ms\": %.1f, \"snapshot_ms\": %.1f, \"read_ms\": %.1f, "
      "\"load_ms\": %.1f, \"restore_ms\": %.1f}\n",
      type.c_str(), groups, rss_before / 1e6, rss_after / 1e6, delta / 1e6, delta / groups,
      offer_ns, static_cast<double>(saved.size()) / 1e6, save_ms, write_ms, save_ms + write_ms,
      read_ms, load_ms, read_ms + load_ms);
  return 0;
}
