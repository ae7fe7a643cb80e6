#include "state/correlation.h"

#include <algorithm>
#include <utility>

namespace chipwatch {

CorrelationState::CorrelationState(CorrelationSpec spec) : spec_(spec) {
  if (spec_.rule_count == 0) spec_.rule_count = 1;
  if (spec_.rule_count > 32) spec_.rule_count = 32;
  if (spec_.max_groups == 0) spec_.max_groups = 1;
}

CorrelationState::Outcome CorrelationState::Offer(const CorrelationMatch& match,
                                                  std::optional<CorrelationFiring>& firing) {
  firing.reset();
  if (auto it = groups_.find(match.group); it != groups_.end()) {
    if (match.time_ms <= it->second.max_time_ms - spec_.timespan_ms) {
      ++late_;
      return Outcome::kLate;
    }
  }
  Group& g = FindOrCreate(match.group);
  Touch(g);
  Add(g, match);
  Expire(g);
  const uint64_t count = Count(g);
  if (!Holds(count)) return Outcome::kAdded;
  if (g.max_time_ms < g.quiet_until_ms) {
    Clear(g);
    ++suppressed_;
    return Outcome::kSuppressed;
  }
  firing = Fire(g, count);
  Clear(g);
  if (spec_.suppress_ms > 0) g.quiet_until_ms = g.max_time_ms + spec_.suppress_ms;
  return Outcome::kFired;
}

CorrelationState::Group& CorrelationState::FindOrCreate(std::string_view key) {
  if (auto it = groups_.find(key); it != groups_.end()) return it->second;
  if (groups_.size() >= spec_.max_groups && lru_oldest_ != nullptr) {
    Group* victim = lru_oldest_;
    Unlink(*victim);
    groups_.erase(groups_.find(*victim->key));
    ++evictions_;
  }
  auto [it, inserted] = groups_.try_emplace(std::string(key));
  Group& g = it->second;
  g.key = &it->first;
  if (spec_.type == CorrelationType::kTemporal) {
    g.rule_hits = std::make_unique<uint32_t[]>(spec_.rule_count);  // zeroed
  }
  return g;
}

// Makes `g` the most recently updated group.
void CorrelationState::Touch(Group& g) {
  if (lru_newest_ == &g) return;
  if (g.older != nullptr || lru_oldest_ == &g) Unlink(g);
  g.older = lru_newest_;
  g.newer = nullptr;
  if (lru_newest_ != nullptr) lru_newest_->newer = &g;
  lru_newest_ = &g;
  if (lru_oldest_ == nullptr) lru_oldest_ = &g;
}

void CorrelationState::Unlink(Group& g) {
  (g.older != nullptr ? g.older->newer : lru_oldest_) = g.newer;
  (g.newer != nullptr ? g.newer->older : lru_newest_) = g.older;
  g.older = g.newer = nullptr;
}

void CorrelationState::Add(Group& g, const CorrelationMatch& match) {
  if (g.entries.empty() || match.time_ms < g.min_entry_time_ms) g.min_entry_time_ms = match.time_ms;
  g.max_time_ms = std::max(g.max_time_ms, match.time_ms);
  const uint32_t all_rules = spec_.rule_count >= 32 ? ~0u : (1u << spec_.rule_count) - 1;
  Entry e{match.time_ms, match.rules & all_rules, 0, std::string(match.event_id)};
  if (spec_.type == CorrelationType::kValueCount) {
    e.value = ValueIndex(g, match.value);
    ++g.values[e.value].second;
  }
  if (g.rule_hits) {
    for (uint32_t i = 0; i < spec_.rule_count; ++i) {
      if (e.rules & (1u << i)) ++g.rule_hits[i];
    }
  }
  g.entries.push_back(std::move(e));
}

// The index of `value` in the group's distinct values, added when new.
uint32_t CorrelationState::ValueIndex(Group& g, std::string_view value) {
  for (size_t i = 0; i < g.values.size(); ++i) {
    if (g.values[i].first == value) return static_cast<uint32_t>(i);
  }
  g.values.emplace_back(std::string(value), 0);
  return static_cast<uint32_t>(g.values.size() - 1);
}

void CorrelationState::Expire(Group& g) {
  const int64_t cutoff = g.max_time_ms - spec_.timespan_ms;
  if (g.entries.empty() || g.min_entry_time_ms > cutoff) return;
  int64_t min_time = g.max_time_ms;
  size_t kept = 0;
  for (size_t i = 0; i < g.entries.size(); ++i) {
    Entry& e = g.entries[i];
    if (e.time_ms <= cutoff) {
      Forget(g, e);
      continue;
    }
    min_time = std::min(min_time, e.time_ms);
    if (kept != i) g.entries[kept] = std::move(e);
    ++kept;
  }
  g.entries.resize(kept);
  g.min_entry_time_ms = min_time;
  // Values no entry holds any more leave (the last one moves into the hole).
  for (size_t v = g.values.size(); v-- > 0;) {
    if (g.values[v].second != 0) continue;
    const uint32_t last = static_cast<uint32_t>(g.values.size() - 1);
    if (v != last) {
      g.values[v] = std::move(g.values[last]);
      for (Entry& e : g.entries) {
        if (e.value == last) e.value = static_cast<uint32_t>(v);
      }
    }
    g.values.pop_back();
  }
}

void CorrelationState::Forget(Group& g, const Entry& e) {
  if (spec_.type == CorrelationType::kValueCount) --g.values[e.value].second;
  if (g.rule_hits) {
    for (uint32_t i = 0; i < spec_.rule_count; ++i) {
      if (e.rules & (1u << i)) --g.rule_hits[i];
    }
  }
}

void CorrelationState::Clear(Group& g) {
  g.entries.clear();
  g.values.clear();
  if (g.rule_hits) std::fill(g.rule_hits.get(), g.rule_hits.get() + spec_.rule_count, 0u);
}

uint64_t CorrelationState::Count(const Group& g) const {
  switch (spec_.type) {
    case CorrelationType::kEventCount:
      return g.entries.size();
    case CorrelationType::kValueCount:
      return g.values.size();
    case CorrelationType::kTemporal:
      return static_cast<uint64_t>(std::count_if(g.rule_hits.get(),
                                                 g.rule_hits.get() + spec_.rule_count,
                                                 [](uint32_t n) { return n > 0; }));
  }
  return 0;
}

bool CorrelationState::Holds(uint64_t count) const {
  if (spec_.type == CorrelationType::kTemporal) return count >= spec_.rule_count;
  return spec_.greater ? count > spec_.threshold : count >= spec_.threshold;
}

CorrelationFiring CorrelationState::Fire(const Group& g, uint64_t count) const {
  CorrelationFiring f;
  f.group = *g.key;
  f.count = count;
  f.first_seen_ms = g.entries.front().time_ms;
  f.last_seen_ms = g.entries.front().time_ms;
  for (const Entry& e : g.entries) {
    f.first_seen_ms = std::min(f.first_seen_ms, e.time_ms);
    f.last_seen_ms = std::max(f.last_seen_ms, e.time_ms);
  }
  const size_t from = g.entries.size() > kMaxListed ? g.entries.size() - kMaxListed : 0;
  for (size_t i = from; i < g.entries.size(); ++i) f.events.push_back(g.entries[i].event_id);
  for (const auto& [value, n] : g.values) f.values.push_back(value);
  std::sort(f.values.begin(), f.values.end());
  if (f.values.size() > kMaxListed) f.values.resize(kMaxListed);
  return f;
}

}  // namespace chipwatch
