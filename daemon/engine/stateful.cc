#include "engine/stateful.h"

#include <algorithm>
#include <limits>
#include <optional>

#include "core/diagnostics.h"
#include "engine/alert_json.h"
#include "engine/policy.h"
#include "engine/processor.h"

namespace chipwatch {

namespace {

// ---- Fingerprints: canonical JSON of what gives a state its meaning ----------------------------

void Quote(std::string& out, std::string_view s) {
  out += '"';
  AppendJsonEscaped(out, s);
  out += '"';
}

void QuoteList(std::string& out, const std::vector<std::string>& items) {
  out += '[';
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += ',';
    Quote(out, items[i]);
  }
  out += ']';
}

std::string_view KindName(ConditionDef::Kind kind) {
  using K = ConditionDef::Kind;
  switch (kind) {
    case K::kAll:
      return "all";
    case K::kAny:
      return "any";
    case K::kNot:
      return "not";
    case K::kMacro:
      return "macro";
    case K::kEquals:
      return "equals";
    case K::kIn:
      return "in";
    case K::kRegex:
      return "regex";
    case K::kContains:
      return "contains";
    case K::kCidr:
      return "cidr";
    case K::kGt:
      return "gt";
    case K::kGte:
      return "gte";
    case K::kLt:
      return "lt";
    case K::kLte:
      return "lte";
    case K::kExists:
      return "exists";
  }
  return "?";
}

// A condition with its macros and lists expanded (a macro's or list's content changes the
// rule's meaning as much as the rule's own text). `depth` bounds macro nesting (the collector
// already refuses cycles).
void DumpCondition(std::string& out, const ConditionDef& c, const PolicyDefinitions& defs,
                   int depth) {
  using K = ConditionDef::Kind;
  out += "{\"";
  out += KindName(c.kind);
  out += "\":";
  if (c.kind == K::kAll || c.kind == K::kAny || c.kind == K::kNot) {
    out += '[';
    for (size_t i = 0; i < c.children.size(); ++i) {
      if (i > 0) out += ',';
      DumpCondition(out, c.children[i], defs, depth);
    }
    out += "]}";
    return;
  }
  if (c.kind == K::kMacro) {
    const MacroDef* macro = defs.FindMacro(c.macro);
    if (macro != nullptr && depth < 64) {
      DumpCondition(out, macro->condition, defs, depth + 1);
    } else {
      Quote(out, c.macro);
    }
    out += '}';
    return;
  }
  out += "{\"field\":";
  Quote(out, c.field);
  out += ",\"value\":";
  Quote(out, c.value);
  out += ",\"type\":" + std::to_string(static_cast<int>(c.value_type));
  out += c.ignore_case ? ",\"ignore_case\":true" : "";
  out += ",\"items\":";
  const ListDef* list = c.list.empty() ? nullptr : defs.FindList(c.list);
  QuoteList(out, list != nullptr ? list->items : c.items);
  out += "}}";
}

std::string RuleFingerprint(const RuleDef& rule, const PolicyDefinitions& defs) {
  std::string out = "{\"rule\":";
  Quote(out, rule.id);
  out += ",\"by\":";
  QuoteList(out, rule.suppress->by);
  out += ",\"for\":" + std::to_string(rule.suppress->for_ms);
  if (rule.effective_from_ms) out += ",\"from\":" + std::to_string(*rule.effective_from_ms);
  if (rule.effective_until_ms) out += ",\"until\":" + std::to_string(*rule.effective_until_ms);
  out += ",\"condition\":";
  DumpCondition(out, rule.condition, defs, 0);
  out += '}';
  return out;
}

std::string CorrelationFingerprint(const CorrelationDef& c) {
  std::string out = "{\"correlation\":";
  Quote(out, c.id);
  out += ",\"type\":\"";
  out += CorrelationTypeName(c.type);
  out += "\",\"rules\":";
  QuoteList(out, c.rules);
  out += ",\"group_by\":";
  QuoteList(out, c.group_by);
  out += ",\"field\":";
  Quote(out, c.field);
  out += ",\"timespan\":" + std::to_string(c.timespan_ms);
  if (c.type != CorrelationType::kTemporal) {
    out += c.greater ? ",\"gt\":" : ",\"gte\":";
    out += std::to_string(c.threshold.value_or(1));
  }
  out += ",\"suppress\":" + std::to_string(c.suppress_ms) + "}";
  return out;
}

// ---- Plans -----------------------------------------------------------------------------------

ReasonPart Literal(std::string text) { return ReasonPart{std::move(text), std::nullopt, false}; }

// Without a `reason`: what was counted, over what time, for which group.
std::vector<ReasonPart> DefaultReason(const CorrelationPlan& p) {
  std::vector<ReasonPart> parts;
  std::string rules;
  for (const std::string& id : p.def->rules) rules += (rules.empty() ? "" : ", ") + id;
  const std::string span = FormatDurationMs(p.spec.timespan_ms);
  parts.push_back(ReasonPart{std::string(), std::nullopt, true});
  switch (p.spec.type) {
    case CorrelationType::kEventCount:
      parts.push_back(Literal(" matches of " + rules + " within " + span + " for "));
      break;
    case CorrelationType::kValueCount:
      parts.push_back(Literal(" distinct " + p.def->field + " values in matches of " + rules +
                              " within " + span + " for "));
      break;
    case CorrelationType::kTemporal:
      parts.push_back(Literal(" rules (" + rules + ") all matched within " + span + " for "));
      break;
  }
  for (size_t i = 0; i < p.group_ids.size(); ++i) {
    parts.push_back(Literal((i > 0 ? ", " : "") + p.group_names[i] + "="));
    parts.push_back(ReasonPart{std::string(), p.group_ids[i], false});
  }
  return parts;
}

// The compiled index of definition `def_index` (the compiler keeps the definitions' order).
size_t CompiledIndex(const PolicyDefinitions& defs, const CompiledRules& rules, size_t def_index) {
  const auto& compiled = rules.rules();
  if (def_index < compiled.size() && compiled[def_index].def == &defs.rules[def_index]) {
    return def_index;
  }
  for (size_t i = 0; i < compiled.size(); ++i) {
    if (compiled[i].def == &defs.rules[def_index]) return i;
  }
  return compiled.size();
}

CorrelationPlan PlanCorrelation(const CorrelationDef& def, const PolicyDefinitions& defs,
                                const CompiledRules& rules, const StatefulOptions& options) {
  CorrelationPlan p;
  p.def = &def;
  p.id = def.id;
  p.title = def.title;
  p.severity = def.severity;
  p.tags = def.tags;
  p.spec.type = def.type;
  p.spec.timespan_ms = def.timespan_ms;
  p.spec.threshold = def.threshold.value_or(1);
  p.spec.greater = def.greater;
  p.spec.rule_count = static_cast<uint32_t>(std::max<size_t>(def.rules.size(), 1));
  p.spec.suppress_ms = def.suppress_ms;
  p.spec.max_groups = options.max_groups;
  p.group_ids = def.group_ids;
  p.group_names = def.group_by;
  if (def.type == CorrelationType::kValueCount) p.field_id = def.field_id;
  for (size_t index : def.rule_indexes) p.rule_indexes.push_back(CompiledIndex(defs, rules, index));
  p.reason = def.reason_parts.empty() ? DefaultReason(p) : def.reason_parts;
  p.fingerprint = CorrelationFingerprint(def);
  return p;
}

}  // namespace

std::string FormatDurationMs(int64_t ms) {
  struct Unit {
    int64_t ms;
    const char* suffix;
  };
  static constexpr Unit kUnits[] = {{86400000, "d"}, {3600000, "h"}, {60000, "m"}, {1000, "s"}};
  for (const Unit& u : kUnits) {
    if (ms > 0 && ms % u.ms == 0) return std::to_string(ms / u.ms) + u.suffix;
  }
  return std::to_string(ms) + "ms";
}

std::unique_ptr<const StatefulPolicy> StatefulPolicy::Build(const PolicyDefinitions& defs,
                                                            const CompiledRules& rules,
                                                            const StatefulOptions& options) {
  std::unique_ptr<StatefulPolicy> p(new StatefulPolicy());
  p->compiled_ = &rules;
  const auto& compiled = rules.rules();
  p->rules_.resize(compiled.size());
  for (size_t i = 0; i < compiled.size(); ++i) {
    const CompiledRule& rule = compiled[i];
    StatefulRule& s = p->rules_[i];
    if (rule.def == nullptr || !rule.enabled) continue;
    s.alert = rule.alert;
    s.stateful = !s.alert;
    if (s.alert && rule.def->suppress && rule.def->suppress->for_ms > 0) {
      SuppressionPlan plan;
      plan.rule = &rule;
      plan.rule_index = i;
      plan.for_ms = rule.def->suppress->for_ms;
      plan.by = rule.def->suppress->by_ids;
      plan.by_names = rule.def->suppress->by;
      plan.max_keys = options.max_groups;
      plan.fingerprint = RuleFingerprint(*rule.def, defs);
      s.suppression = static_cast<int32_t>(p->suppressions_.size());
      s.stateful = true;
      p->suppressions_.push_back(std::move(plan));
    }
  }
  for (const CorrelationDef& def : defs.correlations) {
    if (!def.enabled) continue;
    const uint32_t c = static_cast<uint32_t>(p->correlations_.size());
    p->correlations_.push_back(PlanCorrelation(def, defs, rules, options));
    const CorrelationPlan& plan = p->correlations_.back();
    for (size_t bit = 0; bit < plan.rule_indexes.size(); ++bit) {
      if (plan.rule_indexes[bit] >= compiled.size()) continue;
      StatefulRule& s = p->rules_[plan.rule_indexes[bit]];
      const uint32_t mask = bit < 32 ? 1u << bit : 0u;
      if (!s.feeds.empty() && s.feeds.back().first == c) {
        s.feeds.back().second |= mask;  // listed twice
      } else {
        s.feeds.emplace_back(c, mask);
      }
      s.stateful = true;
    }
  }
  p->any_stateful_ = std::any_of(p->rules_.begin(), p->rules_.end(),
                                 [](const StatefulRule& s) { return s.stateful; });
  return p;
}

// ---- The stage --------------------------------------------------------------------------------

StatefulStage::StatefulStage(std::shared_ptr<const LoadedPolicy> policy)
    : policy_(std::move(policy)),
      plan_(policy_->stateful.get()),
      max_time_ms_(std::numeric_limits<int64_t>::min()) {
  suppressions_.reserve(plan_->suppressions().size());
  for (const SuppressionPlan& p : plan_->suppressions()) {
    suppressions_.push_back(Suppression{&p, SuppressionState(p.for_ms, p.max_keys), {}, 0});
  }
  correlations_.reserve(plan_->correlations().size());
  for (const CorrelationPlan& p : plan_->correlations()) {
    correlations_.push_back(Correlation{&p, CorrelationState(p.spec), 0, 0});
  }
}

StatefulStage::~StatefulStage() = default;

void StatefulStage::Process(ProcessorOutput& in, ProcessorOutput& out) {
  if (in.records.empty() && !AnyOpenWindow() && out.alerts.empty() && out.refs.empty() &&
      out.failures.empty() && out.warnings.empty() && out.events == 0) {
    // Nothing stateful: the output as it is (the common case).
    max_time_ms_ = std::max(max_time_ms_, in.max_time_ms);
    std::swap(in, out);
    in.Clear();
    return;
  }
  size_t next = 0;
  for (StatefulRecord& record : in.records) {
    PassThrough(in, next, record.first_ref, out);
    ProcessRecord(in, record, out);
    next = record.end_ref;
  }
  PassThrough(in, next, in.refs.size(), out);
  max_time_ms_ = std::max(max_time_ms_, in.max_time_ms);
  out.max_time_ms = std::max(out.max_time_ms, in.max_time_ms);
  out.failures.insert(out.failures.end(), std::make_move_iterator(in.failures.begin()),
                      std::make_move_iterator(in.failures.end()));
  out.warnings.insert(out.warnings.end(), in.warnings.begin(), in.warnings.end());
  out.events += in.events;
  in.Clear();
}

bool StatefulStage::AnyOpenWindow() const {
  return std::any_of(suppressions_.begin(), suppressions_.end(),
                     [](const Suppression& s) { return s.state.open_windows() > 0; });
}

// Alerts of events without stateful matches: each after the summaries its event's time closes.
void StatefulStage::PassThrough(const ProcessorOutput& in, size_t begin, size_t end,
                                ProcessorOutput& out) {
  for (size_t i = begin; i < end; ++i) {
    if (in.refs[i].max_time_ms > max_time_ms_) {
      max_time_ms_ = in.refs[i].max_time_ms;
      CloseEnded(max_time_ms_, out);
    }
    CopyRefs(in, i, i + 1, out);
  }
}

void StatefulStage::Advance(ProcessorOutput& out) { CloseEnded(max_time_ms_, out); }

void StatefulStage::Flush(ProcessorOutput& out) {
  for (Suppression& s : suppressions_) {
    closed_.clear();
    s.state.Flush(closed_);
    EmitSummaries(s, out);
  }
}

void StatefulStage::CopyRefs(const ProcessorOutput& in, size_t begin, size_t end,
                             ProcessorOutput& out) {
  for (size_t i = begin; i < end; ++i) {
    AlertRef ref = in.refs[i];
    ref.begin = out.alerts.size();
    out.alerts.append(in.alerts, in.refs[i].begin, ref.length + 1);  // with its newline
    out.refs.push_back(std::move(ref));
    ++out.alert_count;
  }
}

void StatefulStage::ProcessRecord(const ProcessorOutput& in, StatefulRecord& r,
                                  ProcessorOutput& out) {
  max_time_ms_ = std::max(max_time_ms_, r.max_time_ms);
  CloseEnded(max_time_ms_, out);
  dropped_.assign(r.end_ref - r.first_ref, 0);
  suppressed_.clear();
  for (size_t k = 0; k < r.suppressed.size(); ++k) {
    const StatefulMatch& m = r.suppressed[k];
    Suppression& s = suppressions_[m.suppression];
    closed_.clear();
    const auto outcome = s.state.Offer(m.key, r.time_ms, r.event_id, closed_);
    EmitSummaries(s, out);  // empty: CloseEnded closed every window ended by r.time_ms
    if (outcome != SuppressionState::Outcome::kSuppressed) continue;
    dropped_[m.ref - r.first_ref] = 1;
    suppressed_.push_back(k);
  }
  for (uint32_t i = r.first_ref; i < r.end_ref; ++i) {
    if (dropped_[i - r.first_ref] == 0) CopyRefs(in, i, i + 1, out);
  }
  for (const StatefulOffer& offer : r.offers) Offer(r, offer, out);
  for (uint32_t c : r.missing) ++correlations_[c].missing;
  // What the summaries will show: this record, now the last suppressed match of its windows (the
  // record is done with: its strings move to the last window, the others get copies).
  for (size_t n = 0; n < suppressed_.size(); ++n) {
    StatefulMatch& m = r.suppressed[suppressed_[n]];
    LastSuppressed& last = suppressions_[m.suppression].last[m.key];
    const bool move = n + 1 == suppressed_.size();
    auto take = [move](std::string& from, std::string& to) {
      if (move) {
        to = std::move(from);
      } else {
        to = from;
      }
    };
    take(r.event_id, last.event_id);
    take(r.event, last.event);
    take(r.matched, last.matched);
    take(r.origin, last.origin);
    last.group = std::move(m.group);
    last.group_text = std::move(m.group_text);
    last.severity = m.severity;
  }
}

void StatefulStage::Offer(const StatefulRecord& r, const StatefulOffer& offer,
                          ProcessorOutput& out) {
  Correlation& c = correlations_[offer.correlation];
  CorrelationMatch match;
  match.group = offer.key;
  match.time_ms = r.time_ms;
  match.event_id = r.event_id;
  match.value = offer.value;
  match.rules = offer.rules;
  std::optional<CorrelationFiring> firing;
  if (c.state.Offer(match, firing) != CorrelationState::Outcome::kFired || !firing) return;
  ++c.alerts;
  const CorrelationPlan& plan = *c.plan;
  std::string reason;
  size_t from = 0;
  const std::string count = std::to_string(firing->count);
  for (uint32_t at : offer.count_at) {
    reason.append(offer.reason, from, at - from);
    reason += count;
    from = at;
  }
  reason.append(offer.reason, from);
  StatefulAlertJson a;
  a.kind = AlertKind::kCorrelation;
  a.rule_id = plan.id;
  a.title = plan.title;
  a.severity = plan.severity;
  a.event = r.event;
  a.reason = reason;
  a.group = offer.group;
  a.count = firing->count;
  a.first_seen_ms = firing->first_seen_ms;
  a.last_seen_ms = firing->last_seen_ms;
  a.events = &firing->events;
  if (plan.spec.type == CorrelationType::kValueCount) a.values = &firing->values;
  a.matched = r.matched;
  a.tags = &plan.tags;
  a.origin = r.origin;
  AlertRef ref;
  ref.begin = out.alerts.size();
  AppendStatefulAlertJson(out.alerts, a);
  ref.length = out.alerts.size() - ref.begin;
  out.alerts += '\n';
  ref.key = r.event_id;
  ref.kind = AlertKind::kCorrelation;
  ref.rule_id = plan.id;
  ref.severity = plan.severity;
  out.refs.push_back(std::move(ref));
  ++out.alert_count;
}

void StatefulStage::CloseEnded(int64_t time_ms, ProcessorOutput& out) {
  for (Suppression& s : suppressions_) {
    closed_.clear();
    s.state.AdvanceTo(time_ms, closed_);
    EmitSummaries(s, out);
  }
}

void StatefulStage::EmitSummaries(Suppression& s, ProcessorOutput& out) {
  for (SuppressionSummary& summary : closed_) EmitSummary(s, summary, out);
  closed_.clear();
}

void StatefulStage::EmitSummary(Suppression& s, SuppressionSummary& summary, ProcessorOutput& out) {
  auto it = s.last.find(summary.key);
  if (it == s.last.end()) return;  // cannot happen: a summary has a suppressed match
  const LastSuppressed& last = it->second;
  const CompiledRule& rule = *s.plan->rule;
  ++s.summaries;
  std::string reason = std::to_string(summary.count) + " more match" +
                       (summary.count == 1 ? "" : "es") + " of " + rule.id + " for " +
                       last.group_text + " not raised: suppressed for " +
                       FormatDurationMs(s.plan->for_ms) + " after its alert at " +
                       FormatTimestampMs(summary.window_start_ms);
  StatefulAlertJson a;
  a.kind = AlertKind::kSummary;
  a.rule_id = rule.id;
  a.title = rule.title;
  a.severity = last.severity;
  a.event = last.event;
  a.reason = reason;
  a.group = last.group;
  a.count = summary.count;
  a.first_seen_ms = summary.first_seen_ms;
  a.last_seen_ms = summary.last_seen_ms;
  a.events = &summary.events;
  a.matched = last.matched;
  a.tags = &rule.tags;
  a.origin = last.origin;
  AlertRef ref;
  ref.begin = out.alerts.size();
  AppendStatefulAlertJson(out.alerts, a);
  ref.length = out.alerts.size() - ref.begin;
  out.alerts += '\n';
  ref.key = last.event_id;
  ref.rule = &rule;
  ref.kind = AlertKind::kSummary;
  ref.rule_id = rule.id;
  ref.severity = last.severity;
  out.refs.push_back(std::move(ref));
  ++out.alert_count;
  s.last.erase(it);
}

std::vector<CorrelationStats> StatefulStage::correlation_stats() const {
  std::vector<CorrelationStats> correlations;
  std::vector<SuppressionStats> suppressions;
  CollectStats(correlations, suppressions);
  return correlations;
}

std::vector<SuppressionStats> StatefulStage::suppression_stats() const {
  std::vector<CorrelationStats> correlations;
  std::vector<SuppressionStats> suppressions;
  CollectStats(correlations, suppressions);
  return suppressions;
}

void StatefulStage::CollectStats(std::vector<CorrelationStats>& correlations,
                                 std::vector<SuppressionStats>& suppressions) const {
  correlations.resize(correlations_.size());
  for (size_t i = 0; i < correlations_.size(); ++i) {
    const Correlation& c = correlations_[i];
    correlations[i] =
        CorrelationStats{c.state.groups(),    c.alerts, c.state.suppressed(), c.state.late(),
                         c.state.evictions(), c.missing};
  }
  suppressions.resize(suppressions_.size());
  for (size_t i = 0; i < suppressions_.size(); ++i) {
    const Suppression& s = suppressions_[i];
    suppressions[i] = SuppressionStats{s.state.open_windows(), s.state.suppressed(), s.summaries,
                                       s.state.evictions()};
  }
}

std::unique_ptr<StatefulStage> StatefulStage::Rebuild(StatefulStage& old,
                                                      std::shared_ptr<const LoadedPolicy> policy,
                                                      ProcessorOutput& out, RebuildReport& report) {
  auto stage = std::make_unique<StatefulStage>(std::move(policy));
  stage->max_time_ms_ = old.max_time_ms_;
  // Suppressions: by fingerprint (which names the rule).
  StringMap<size_t> old_index;
  for (size_t i = 0; i < old.suppressions_.size(); ++i) {
    old_index.emplace(old.suppressions_[i].plan->fingerprint, i);
  }
  std::vector<uint8_t> taken(old.suppressions_.size(), 0);
  for (Suppression& s : stage->suppressions_) {
    auto it = old_index.find(s.plan->fingerprint);
    if (it == old_index.end()) {
      report.added.push_back(s.plan->rule->id);
      continue;
    }
    Suppression& from = old.suppressions_[it->second];
    s.state = std::move(from.state);
    s.last = std::move(from.last);
    s.summaries = from.summaries;
    taken[it->second] = 1;
    report.kept.push_back(s.plan->rule->id);
  }
  for (size_t i = 0; i < old.suppressions_.size(); ++i) {
    if (taken[i] != 0) continue;
    Suppression& s = old.suppressions_[i];
    old.closed_.clear();
    s.state.Flush(old.closed_);
    old.EmitSummaries(s, out);
    report.dropped.push_back(s.plan->rule->id);
  }
  // Correlations: likewise; a dropped one's windows raise nothing.
  old_index.clear();
  for (size_t i = 0; i < old.correlations_.size(); ++i) {
    old_index.emplace(old.correlations_[i].plan->fingerprint, i);
  }
  taken.assign(old.correlations_.size(), 0);
  for (Correlation& c : stage->correlations_) {
    auto it = old_index.find(c.plan->fingerprint);
    if (it == old_index.end()) {
      report.added.push_back(c.plan->id);
      continue;
    }
    Correlation& from = old.correlations_[it->second];
    c.state = std::move(from.state);
    c.alerts = from.alerts;
    c.missing = from.missing;
    taken[it->second] = 1;
    report.kept.push_back(c.plan->id);
  }
  for (size_t i = 0; i < old.correlations_.size(); ++i) {
    if (taken[i] == 0) report.dropped.push_back(old.correlations_[i].plan->id);
  }
  return stage;
}

}  // namespace chipwatch
