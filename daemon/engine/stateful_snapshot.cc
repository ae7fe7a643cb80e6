// StatefulStage::Save and Restore (engine/stateful.h): the stage's state in a StateSnapshot
// (state/snapshot_file.h). A file of its own, so that a binary that never snapshots (replay) does
// not link the snapshot code.
#include <algorithm>
#include <limits>

#include "engine/policy.h"
#include "engine/stateful.h"
#include "state/bytes.h"
#include "state/snapshot_file.h"

namespace chipwatch {

// A section's data: u8 format (1), string state (the state's Save), then for a correlation varint
// alerts, varint missing; for a suppression varint summaries, varint n, n x (string key, event_id,
// event, matched, origin, group, group_text, u8 severity) in key order. The stage section: u8
// format (1), i64 greatest event time.

namespace {

constexpr uint8_t kSectionFormat = 1;

}  // namespace

void StatefulStage::SaveSuppression(const Suppression& s, std::string& out) const {
  PutU8(out, kSectionFormat);
  std::string state;
  s.state.Save(state);
  PutString(out, state);
  PutVarint(out, s.summaries);
  std::vector<const std::pair<const std::string, LastSuppressed>*> last;
  for (const auto& entry : s.last) last.push_back(&entry);
  std::sort(last.begin(), last.end(), [](auto* a, auto* b) { return a->first < b->first; });
  PutVarint(out, last.size());
  for (const auto* entry : last) {
    const LastSuppressed& l = entry->second;
    for (std::string_view part :
         {std::string_view(entry->first), std::string_view(l.event_id), std::string_view(l.event),
          std::string_view(l.matched), std::string_view(l.origin), std::string_view(l.group),
          std::string_view(l.group_text)}) {
      PutString(out, part);
    }
    PutU8(out, static_cast<uint8_t>(l.severity));
  }
}

void StatefulStage::Save(StateSnapshot& snapshot) const {
  // One buffer for every section: their views stay valid, and copies of the snapshot share it.
  auto storage = std::make_shared<std::string>();
  std::vector<std::pair<size_t, size_t>> spans;
  std::string& data = *storage;
  for (const Correlation& c : correlations_) {
    const size_t begin = data.size();
    PutU8(data, kSectionFormat);
    std::string state;
    c.state.Save(state);
    PutString(data, state);
    PutVarint(data, c.alerts);
    PutVarint(data, c.missing);
    spans.emplace_back(begin, data.size() - begin);
  }
  for (const Suppression& s : suppressions_) {
    const size_t begin = data.size();
    SaveSuppression(s, data);
    spans.emplace_back(begin, data.size() - begin);
  }
  const size_t begin = data.size();
  PutU8(data, kSectionFormat);
  PutI64(data, max_time_ms_);
  spans.emplace_back(begin, data.size() - begin);
  snapshot.sections.clear();
  size_t i = 0;
  for (const Correlation& c : correlations_) {
    snapshot.sections.push_back({c.plan->id, c.plan->fingerprint, {}});
  }
  for (const Suppression& s : suppressions_) {
    snapshot.sections.push_back({s.plan->rule->id, s.plan->fingerprint, {}});
  }
  snapshot.sections.push_back({std::string(kStageSection), "", {}});
  for (StateSection& section : snapshot.sections) {
    section.data = std::string_view(data).substr(spans[i].first, spans[i].second);
    ++i;
  }
  snapshot.storage = std::move(storage);
}

Status StatefulStage::LoadCorrelation(std::string_view data, Correlation& c) {
  ByteReader in(data);
  uint8_t format = 0;
  std::string_view state;
  uint64_t alerts = 0, missing = 0;
  if (in.U8(format) && format != kSectionFormat) in.Fail(0, "unknown format");
  if (!in.String(state) || !in.Varint(alerts) || !in.Varint(missing)) {
    return Status::ParseError(in.Error());
  }
  if (!in.at_end())
    return Status::ParseError("unexpected bytes at byte " + std::to_string(in.pos()));
  auto loaded = CorrelationState::Load(state, c.plan->spec);
  if (!loaded.ok()) return loaded.status();
  c.state = std::move(loaded).value();
  c.alerts = alerts;
  c.missing = missing;
  return Status::Ok();
}

Status StatefulStage::LoadSuppression(std::string_view data, Suppression& s) {
  ByteReader in(data);
  uint8_t format = 0;
  std::string_view state;
  uint64_t summaries = 0, n = 0;
  if (in.U8(format) && format != kSectionFormat) in.Fail(0, "unknown format");
  if (!in.String(state) || !in.Varint(summaries) || !in.Varint(n)) {
    return Status::ParseError(in.Error());
  }
  auto loaded = SuppressionState::Load(state, s.plan->for_ms, s.plan->max_keys);
  if (!loaded.ok()) return loaded.status();
  StringMap<LastSuppressed> last;
  for (uint64_t k = 0; k < n && !in.failed(); ++k) {
    std::string_view parts[7];
    for (std::string_view& part : parts) in.String(part);
    uint8_t severity = 0;
    if (in.U8(severity) && severity > static_cast<uint8_t>(Severity::kCritical)) {
      in.Fail(in.pos() - 1, "bad severity");
    }
    if (in.failed()) break;
    LastSuppressed l{std::string(parts[1]),          std::string(parts[2]), std::string(parts[3]),
                     std::string(parts[4]),          std::string(parts[5]), std::string(parts[6]),
                     static_cast<Severity>(severity)};
    if (!last.emplace(std::string(parts[0]), std::move(l)).second) {
      in.Fail(in.pos(), "a key twice");
    }
  }
  if (in.failed()) return Status::ParseError(in.Error());
  if (!in.at_end())
    return Status::ParseError("unexpected bytes at byte " + std::to_string(in.pos()));
  s.state = std::move(loaded).value();
  s.last = std::move(last);
  s.summaries = summaries;
  return Status::Ok();
}

Result<StageRestore> StatefulStage::Restore(const StateSnapshot& snapshot) {
  StageRestore report;
  auto restore = [&](const std::string& id, const std::string& fingerprint, auto load) -> Status {
    auto data = snapshot.Matching(id, fingerprint);
    if (!data) {
      report.fresh.push_back(id);
      return Status::Ok();
    }
    Status st = load(*data);
    if (!st.ok()) return Status::ParseError("state of " + id + ": " + st.message());
    report.restored.push_back(id);
    return Status::Ok();
  };
  Status st = Status::Ok();
  for (Correlation& c : correlations_) {
    if (st.ok()) {
      st = restore(c.plan->id, c.plan->fingerprint,
                   [&](std::string_view d) { return LoadCorrelation(d, c); });
    }
  }
  for (Suppression& s : suppressions_) {
    if (st.ok()) {
      st = restore(s.plan->rule->id, s.plan->fingerprint,
                   [&](std::string_view d) { return LoadSuppression(d, s); });
    }
  }
  if (const StateSection* stage = snapshot.Find(kStageSection); st.ok() && stage != nullptr) {
    ByteReader in(stage->data);
    uint8_t format = 0;
    int64_t max_time = 0;
    if (in.U8(format) && format != kSectionFormat) in.Fail(0, "unknown format");
    if (!in.I64(max_time) || !in.at_end()) {
      st = Status::ParseError("stage section: " + (in.failed() ? in.Error() : "unexpected bytes"));
    } else {
      max_time_ms_ = max_time;
    }
  }
  if (!st.ok()) {
    Reset();
    return st;
  }
  return report;
}

void StatefulStage::Reset() {
  for (Suppression& s : suppressions_) {
    s.state = SuppressionState(s.plan->for_ms, s.plan->max_keys);
    s.last.clear();
    s.summaries = 0;
  }
  for (Correlation& c : correlations_) {
    c.state = CorrelationState(c.plan->spec);
    c.alerts = 0;
    c.missing = 0;
  }
  max_time_ms_ = std::numeric_limits<int64_t>::min();
}

}  // namespace chipwatch
