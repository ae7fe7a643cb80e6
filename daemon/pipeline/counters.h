// Counters: the running totals behind the periodic status line ("status: N messages, ...").
//
// Metrics come from the same places; these are the process-wide sums the log line prints.
// Thread contract: relaxed atomics, updated by any worker, source or sink thread.
#pragma once

#include <atomic>
#include <cstdint>

namespace chipwatch {

struct Counters {
  std::atomic<uint64_t> messages{0};
  std::atomic<uint64_t> events{0};
  std::atomic<uint64_t> alerts{0};
  std::atomic<uint64_t> decode_failures{0};
  std::atomic<uint64_t> dead_letters{0};
  std::atomic<uint64_t> sink_errors{0};
};

}  // namespace chipwatch
