// Clock: where the pipeline reads the time for its intervals and time-outs.
//
// The poll loops decide on pausing, storing offsets, committing and reporting lag from Now(); the
// supervisor paces the watchdog and the status line with it. SteadyClock() is the real one
// (std::chrono::steady_clock); tests inject a ManualClock they move by hand, so that "workers
// stalled for 2 s" or "idle for 100 ms" need no sleeping. Blocking waits (a consumer's Poll, the
// work queue's WaitForRoom) are bounded by real time-outs and stay the callee's business.
// Thread contract: Now() may be called from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace chipwatch {

class Clock {
 public:
  using time_point = std::chrono::steady_clock::time_point;
  virtual ~Clock() = default;
  virtual time_point Now() const = 0;

  // Now() in milliseconds since the clock's epoch (what a poll thread publishes for the watchdog).
  int64_t NowMs() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(Now().time_since_epoch()).count();
  }
};

// std::chrono::steady_clock.
const Clock& SteadyClock();

// A clock that moves only when told to. Thread-safe.
class ManualClock final : public Clock {
 public:
  time_point Now() const override { return time_point(std::chrono::nanoseconds(ns_.load())); }
  void Advance(std::chrono::nanoseconds d) { ns_.fetch_add(d.count()); }

 private:
  std::atomic<int64_t> ns_{int64_t{1} << 40};  // far from zero: "since" arithmetic stays positive
};

}  // namespace chipwatch
