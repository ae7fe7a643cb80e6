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
  lru_.splice(lru_.end(), lru_, g.lru);
  Add(g, match);
  Expire(g);
  const uint64_t count = Count(g);
  if (!Holds(count)) return Outcome::kAdded;
  if (g.quiet_until_ms && g.max_time_ms < *g.quiet_until_ms) {
    Clear(g);
    ++suppressed_;
    return Outcome::kSuppressed;
  }
  firing = Fire(**g.lru, g, count);
  Clear(g);
  if (spec_.suppress_ms > 0) g.quiet_until_ms = g.max_time_ms + spec_.suppress_ms;
  return Outcome::kFired;
}

CorrelationState::Group& CorrelationState::FindOrCreate(std::string_view key) {
  if (auto it = groups_.find(key); it != groups_.end()) return it->second;
  if (groups_.size() >= spec_.max_groups) {
    auto victim = groups_.find(*lru_.front());
    lru_.pop_front();
    groups_.erase(victim);
    ++evictions_;
  }
  auto [it, inserted] = groups_.try_emplace(std::string(key));
  Group& g = it->second;
  g.lru = lru_.insert(lru_.end(), &it->first);
  if (spec_.type == CorrelationType::kValueCount) {
    g.values = std::make_unique<StringMap<uint32_t>>();
  } else if (spec_.type == CorrelationType::kTemporal) {
    g.rule_hits = std::make_unique<std::vector<uint32_t>>(spec_.rule_count, 0);
  }
  return g;
}

void CorrelationState::Add(Group& g, const CorrelationMatch& match) {
  if (g.entries.empty() || match.time_ms < g.min_entry_time_ms) g.min_entry_time_ms = match.time_ms;
  g.max_time_ms = std::max(g.max_time_ms, match.time_ms);
  const uint32_t all_rules = spec_.rule_count >= 32 ? ~0u : (1u << spec_.rule_count) - 1;
  Entry e{match.time_ms, match.rules & all_rules, std::string(match.event_id), std::string()};
  if (g.values) {
    e.value = std::string(match.value);
    auto [it, inserted] = g.values->try_emplace(e.value, 0);
    ++it->second;
  }
  if (g.rule_hits) {
    for (uint32_t i = 0; i < spec_.rule_count; ++i) {
      if (e.rules & (1u << i)) ++(*g.rule_hits)[i];
    }
  }
  g.entries.push_back(std::move(e));
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
}

void CorrelationState::Forget(Group& g, const Entry& e) {
  if (g.values) {
    auto it = g.values->find(e.value);
    if (it != g.values->end() && --it->second == 0) g.values->erase(it);
  }
  if (g.rule_hits) {
    for (uint32_t i = 0; i < spec_.rule_count; ++i) {
      if (e.rules & (1u << i)) --(*g.rule_hits)[i];
    }
  }
}

void CorrelationState::Clear(Group& g) {
  g.entries.clear();
  if (g.values) g.values->clear();
  if (g.rule_hits) std::fill(g.rule_hits->begin(), g.rule_hits->end(), 0u);
}

uint64_t CorrelationState::Count(const Group& g) const {
  switch (spec_.type) {
    case CorrelationType::kEventCount:
      return g.entries.size();
    case CorrelationType::kValueCount:
      return g.values->size();
    case CorrelationType::kTemporal:
      return static_cast<uint64_t>(std::count_if(g.rule_hits->begin(), g.rule_hits->end(),
                                                 [](uint32_t n) { return n > 0; }));
  }
  return 0;
}

bool CorrelationState::Holds(uint64_t count) const {
  if (spec_.type == CorrelationType::kTemporal) return count >= spec_.rule_count;
  return spec_.greater ? count > spec_.threshold : count >= spec_.threshold;
}

CorrelationFiring CorrelationState::Fire(const std::string& key, const Group& g,
                                         uint64_t count) const {
  CorrelationFiring f;
  f.group = key;
  f.count = count;
  f.first_seen_ms = g.entries.front().time_ms;
  f.last_seen_ms = g.entries.front().time_ms;
  for (const Entry& e : g.entries) {
    f.first_seen_ms = std::min(f.first_seen_ms, e.time_ms);
    f.last_seen_ms = std::max(f.last_seen_ms, e.time_ms);
  }
  const size_t from = g.entries.size() > kMaxListed ? g.entries.size() - kMaxListed : 0;
  for (size_t i = from; i < g.entries.size(); ++i) f.events.push_back(g.entries[i].event_id);
  if (g.values) {
    for (const auto& [value, n] : *g.values) f.values.push_back(value);
    std::sort(f.values.begin(), f.values.end());
    if (f.values.size() > kMaxListed) f.values.resize(kMaxListed);
  }
  return f;
}

}  // namespace chipwatch
