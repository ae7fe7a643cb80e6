// The per-event side of CompiledRules: candidate selection and condition evaluation over the
// layout the compiler built (match/internal.h). Never throws; does not allocate once the
// scratch's buffers have grown to the policy's needs.
#include <algorithm>
#include <cstring>

#include "match/compiled_rules.h"
#include "match/internal.h"

namespace chipwatch {

namespace match_internal {
namespace {

struct MatchContext {
  const uint32_t* offsets;
  const uint32_t* preds;
  uint64_t* bits;
  bool matched = false;  // some pattern matched
};

int OnMatch(unsigned int id, unsigned long long /*from*/, unsigned long long /*to*/,
            unsigned int /*flags*/, void* ctx) {
  auto* m = static_cast<MatchContext*>(ctx);
  m->matched = true;
  for (uint32_t k = m->offsets[id]; k < m->offsets[id + 1]; ++k) {
    uint32_t p = m->preds[k];
    m->bits[p >> 6] |= uint64_t{1} << (p & 63);
  }
  return 0;
}

// One event's evaluation against one program with one thread's scratch.
class Evaluator {
 public:
  Evaluator(const RuleProgram& program, const Event& event, ScratchState& state,
            MatchScratch::Stats& stats)
      : p_(program), event_(event), s_(state), stats_(stats) {}

  bool EvalNode(uint32_t index);
  // Sets the field's predicate bits for the event; true when any is set.
  bool ScanField(FieldId field);
  // Rules whose trigger (literal, pattern, composite key or address) the event sets, into
  // s_.triggered (unsorted; each rule at most once).
  void CollectTriggered();
  void EvalRule(const CompiledRule& rule, std::vector<RuleMatch>& out);

 private:
  bool EvalIpSet(const Node& n) const;
  bool EvalNumber(const Node& n) const;

  const RuleProgram& p_;
  const Event& event_;
  ScratchState& s_;
  MatchScratch::Stats& stats_;
};

bool Evaluator::ScanField(FieldId field) {
  const size_t f = static_cast<size_t>(field);
  s_.scanned |= uint64_t{1} << f;
  const FieldIndex& fdb = p_.fields[f];
  if (fdb.end_word > fdb.first_word) {
    std::memset(s_.bits.data() + fdb.first_word, 0,
                (fdb.end_word - fdb.first_word) * sizeof(uint64_t));
  }
  if (!event_.Has(field)) return false;
  std::string_view value = event_.str[f];
  uint64_t* bits = s_.bits.data();
  bool any = false;
  auto set_bits = [bits, &any](const std::vector<uint32_t>& preds) {
    for (uint32_t p : preds) bits[p >> 6] |= uint64_t{1} << (p & 63);
    any = true;
  };
  if (const auto* preds = fdb.exact.Find(value)) set_bits(*preds);
  if (!fdb.folded.empty()) {
    AsciiLowerAssign(value, s_.folded_value);
    if (const auto* preds = fdb.folded.Find(s_.folded_value)) set_bits(*preds);
  }
  if (fdb.dbs.empty() || !s_.hs_scratch) return any;
  MatchContext ctx{p_.pattern_offsets.data(), p_.pattern_preds.data(), s_.bits.data()};
  for (const auto& db : fdb.dbs) {
    ++stats_.fields_scanned;
    if (!hs::Scan(db, value, s_.hs_scratch, OnMatch, &ctx)) {
      ++stats_.scan_errors;
      std::memset(s_.bits.data() + fdb.first_word, 0,
                  (fdb.end_word - fdb.first_word) * sizeof(uint64_t));
      return false;
    }
  }
  return any || ctx.matched;
}

bool Evaluator::EvalIpSet(const Node& n) const {
  if (!event_.Has(n.field) || !event_.source_addr.valid) return false;
  const auto& set = p_.ip_sets[n.a];
  const auto& addr = event_.source_addr.bytes;
  // First range whose last address is >= addr.
  auto it = std::lower_bound(set.begin(), set.end(), addr,
                             [](const IpRange& r, const auto& a) { return Less(r.last, a); });
  return it != set.end() && !Less(addr, it->first);
}

bool Evaluator::EvalNumber(const Node& n) const {
  if (!event_.Has(n.field)) return false;
  const int64_t v = event_.num[static_cast<size_t>(n.field)];
  switch (n.op) {
    case Op::kNumEq:
      return v == n.value;
    case Op::kGt:
      return v > n.value;
    case Op::kGte:
      return v >= n.value;
    case Op::kLt:
      return v < n.value;
    case Op::kLte:
      return v <= n.value;
    default:
      return false;
  }
}

bool Evaluator::EvalNode(uint32_t index) {
  const Node& n = p_.nodes[index];
  switch (n.op) {
    case Op::kFalse:
      return false;
    case Op::kTrue:
      return true;
    case Op::kAll:
      for (uint32_t i = 0; i < n.b; ++i) {
        if (!EvalNode(p_.children[n.a + i])) return false;
      }
      return true;
    case Op::kAny:
      for (uint32_t i = 0; i < n.b; ++i) {
        if (EvalNode(p_.children[n.a + i])) return true;
      }
      return false;
    case Op::kNot:
      return !EvalNode(n.a);
    case Op::kStrPred:
      if (!(s_.scanned >> static_cast<size_t>(n.field) & 1)) ScanField(n.field);
      return (s_.bits[n.a >> 6] >> (n.a & 63)) & 1;
    case Op::kExists:
      return event_.Has(n.field);
    case Op::kIpSet:
      return EvalIpSet(n);
    default:
      return EvalNumber(n);
  }
}

void Evaluator::EvalRule(const CompiledRule& rule, std::vector<RuleMatch>& out) {
  if ((rule.effective_from_ms || rule.effective_until_ms) && event_.Has(FieldId::kEventTime)) {
    const int64_t t = event_.num[static_cast<size_t>(FieldId::kEventTime)];
    if (rule.effective_from_ms && t < *rule.effective_from_ms) return;
    if (rule.effective_until_ms && t >= *rule.effective_until_ms) return;
  }
  ++stats_.candidates;
  ++stats_.last_candidates;
  if (!EvalNode(rule.root)) return;
  Severity severity = rule.severity;
  if (rule.severity_field != FieldId::kCount && event_.Has(rule.severity_field)) {
    std::string_view value = event_.str[static_cast<size_t>(rule.severity_field)];
    for (const auto& [key, s] : rule.severity_map) {
      if (key == value) {
        severity = s;
        break;
      }
    }
  }
  out.push_back({&rule, severity});
}

void Evaluator::CollectTriggered() {
  std::vector<uint32_t>& triggered = s_.triggered;
  triggered.clear();
  for (uint64_t fields = p_.trigger_fields; fields != 0; fields &= fields - 1) {
    const FieldId field = static_cast<FieldId>(__builtin_ctzll(fields));
    if (!ScanField(field)) continue;  // absent, or no predicate set
    const FieldIndex& fdb = p_.fields[static_cast<size_t>(field)];
    for (uint32_t w = fdb.first_word; w < fdb.end_word; ++w) {
      for (uint64_t bits = s_.bits[w]; bits != 0; bits &= bits - 1) {
        const uint32_t p = w * 64 + static_cast<uint32_t>(__builtin_ctzll(bits));
        for (uint32_t r = p_.trigger_offsets[p]; r < p_.trigger_offsets[p + 1]; ++r) {
          triggered.push_back(p_.trigger_rules[r]);  // within reserved capacity
        }
      }
    }
  }
  if (p_.composite_fields != 0 && event_.Has(FieldId::kAction)) {
    const std::string_view action = event_.str[static_cast<size_t>(FieldId::kAction)];
    std::string& key = s_.composite_key;
    for (uint64_t fields = p_.composite_fields; fields != 0; fields &= fields - 1) {
      const FieldId field = static_cast<FieldId>(__builtin_ctzll(fields));
      if (!event_.Has(field)) continue;
      AppendCompositeKey(key, field, action, event_.str[static_cast<size_t>(field)]);
      if (const auto* rules = p_.composite.Find(key)) {
        triggered.insert(triggered.end(), rules->begin(), rules->end());
      }
    }
  }
  if (!p_.ip_bounds.empty() && event_.Has(FieldId::kSourceIp) && event_.source_addr.valid) {
    const auto& addr = event_.source_addr.bytes;
    auto it = std::upper_bound(p_.ip_bounds.begin(), p_.ip_bounds.end(), addr, Less);
    if (it != p_.ip_bounds.begin()) {
      const size_t i = static_cast<size_t>(it - p_.ip_bounds.begin()) - 1;
      triggered.insert(triggered.end(), p_.ip_rules.begin() + p_.ip_offsets[i],
                       p_.ip_rules.begin() + p_.ip_offsets[i + 1]);
    }
  }
}

}  // namespace
}  // namespace match_internal

using match_internal::Evaluator;

std::unique_ptr<MatchScratch> CompiledRules::NewScratch() const {
  std::unique_ptr<MatchScratch> scratch(new MatchScratch());
  match_internal::ScratchState& s = *scratch->state_;
  std::optional<hs::Scratch> hs = program_->prototype_scratch.Clone();
  if (!hs) return nullptr;
  s.hs_scratch = std::move(*hs);
  s.bits.assign(program_->bit_words, 0);
  s.folded_action.reserve(256);
  s.folded_value.reserve(1024);
  s.composite_key.reserve(256);
  s.triggered.reserve(program_->trigger_rule_count);
  return scratch;
}

bool CompiledRules::MayMatch(const Event& event, MatchScratch& scratch) const {
  const match_internal::RuleProgram& p = *program_;
  match_internal::ScratchState& s = *scratch.state_;
  if (!p.always.empty()) return true;
  if (event.Has(FieldId::kAction)) {
    std::string_view action = event.str[static_cast<size_t>(FieldId::kAction)];
    if (p.by_action.Find(action) != nullptr) return true;
    if (!p.by_action_folded.empty()) {
      AsciiLowerAssign(action, s.folded_action);
      if (p.by_action_folded.Find(s.folded_action) != nullptr) return true;
    }
  }
  if (p.trigger_rule_count == 0) return false;
  // Triggered rules whose action gate holds. Triggers and gates read decoder-set fields only.
  s.scanned = 0;
  Evaluator evaluator(p, event, s, scratch.stats_);
  evaluator.CollectTriggered();
  for (uint32_t rule : s.triggered) {
    if (evaluator.EvalNode(p.gates[rule])) return true;
  }
  return false;
}

void CompiledRules::Evaluate(const Event& event, MatchScratch& scratch,
                             std::vector<RuleMatch>& out) const {
  const match_internal::RuleProgram& p = *program_;
  match_internal::ScratchState& s = *scratch.state_;
  ++scratch.stats_.events;
  scratch.stats_.last_candidates = 0;
  s.scanned = 0;
  static const std::vector<uint32_t> kNone;
  const std::vector<uint32_t>* exact = &kNone;
  const std::vector<uint32_t>* folded = &kNone;
  if (event.Has(FieldId::kAction)) {
    std::string_view action = event.str[static_cast<size_t>(FieldId::kAction)];
    if (const auto* rules = p.by_action.Find(action)) exact = rules;
    if (!p.by_action_folded.empty()) {
      AsciiLowerAssign(action, s.folded_action);
      if (const auto* rules = p.by_action_folded.Find(s.folded_action)) folded = rules;
    }
  }
  // Rules reached through a trigger (a rule has one trigger, so each appears once).
  Evaluator evaluator(p, event, s, scratch.stats_);
  evaluator.CollectTriggered();
  std::vector<uint32_t>& triggered = s.triggered;
  if (triggered.size() > 1) std::sort(triggered.begin(), triggered.end());
  // Four sorted, disjoint lists of rule indexes, merged to keep load order.
  size_t i = 0, j = 0, k = 0, l = 0;
  const size_t ni = p.always.size(), nj = exact->size(), nk = folded->size(), nl = triggered.size();
  constexpr uint32_t kEnd = UINT32_MAX;
  while (i < ni || j < nj || k < nk || l < nl) {
    uint32_t a = i < ni ? p.always[i] : kEnd;
    uint32_t b = j < nj ? (*exact)[j] : kEnd;
    uint32_t c = k < nk ? (*folded)[k] : kEnd;
    uint32_t d = l < nl ? triggered[l] : kEnd;
    uint32_t next = std::min({a, b, c, d});
    if (next == a) ++i;
    if (next == b) ++j;
    if (next == c) ++k;
    if (next == d) ++l;
    evaluator.EvalRule(rules_[next], out);
  }
}

}  // namespace chipwatch
