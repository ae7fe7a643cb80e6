#include "state/suppression.h"

#include <algorithm>

namespace chipwatch {

SuppressionState::SuppressionState(int64_t for_ms, size_t max_keys)
    : for_ms_(for_ms), max_keys_(std::max<size_t>(max_keys, 1)) {}

SuppressionState::Outcome SuppressionState::Offer(std::string_view key, int64_t time_ms,
                                                  std::string_view event_id,
                                                  std::vector<SuppressionSummary>& closed) {
  auto it = windows_.find(key);
  if (it != windows_.end() && time_ms >= it->second.end_ms) {
    Close(it, closed);
    it = windows_.end();
  }
  if (it != windows_.end()) {
    Window& w = it->second;
    if (w.count == 0 || time_ms < w.first_seen_ms) w.first_seen_ms = time_ms;
    if (w.count == 0 || time_ms > w.last_seen_ms) w.last_seen_ms = time_ms;
    ++w.count;
    ++suppressed_;
    if (w.events.size() < kMaxListed) {
      w.events.emplace_back(event_id);
    } else {
      w.events[w.next].assign(event_id);
      w.next = (w.next + 1) % kMaxListed;
    }
    return Outcome::kSuppressed;
  }
  while (windows_.size() >= max_keys_) {  // more than one only after a Load with a smaller max
    Close(windows_.find(ends_.begin()->second), closed);
    ++evictions_;
  }
  auto [added, inserted] = windows_.try_emplace(std::string(key));
  added->second.start_ms = time_ms;
  added->second.end_ms = time_ms + for_ms_;
  ends_.emplace(added->second.end_ms, added->first);
  return Outcome::kRaise;
}

void SuppressionState::AdvanceTo(int64_t time_ms, std::vector<SuppressionSummary>& closed) {
  while (!ends_.empty() && ends_.begin()->first <= time_ms) {
    Close(windows_.find(ends_.begin()->second), closed);
  }
}

void SuppressionState::Flush(std::vector<SuppressionSummary>& closed) {
  while (!ends_.empty()) Close(windows_.find(ends_.begin()->second), closed);
}

void SuppressionState::Close(StringMap<Window>::iterator it,
                             std::vector<SuppressionSummary>& closed) {
  Window& w = it->second;
  ends_.erase({w.end_ms, it->first});
  if (w.count > 0) {
    SuppressionSummary s;
    s.key = it->first;
    s.count = w.count;
    s.window_start_ms = w.start_ms;
    s.window_end_ms = w.end_ms;
    s.first_seen_ms = w.first_seen_ms;
    s.last_seen_ms = w.last_seen_ms;
    // The ring in arrival order: from the oldest (`next`) around.
    for (size_t i = 0; i < w.events.size(); ++i) {
      s.events.push_back(std::move(w.events[(w.next + i) % w.events.size()]));
    }
    s.last_event_id = s.events.back();
    closed.push_back(std::move(s));
  }
  windows_.erase(it);
}

}  // namespace chipwatch
