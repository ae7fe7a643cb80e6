#include "match/compiled_rules.h"

#include <hs/hs.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <set>
#include <unordered_map>

#include "core/parallel.h"
#include "match/regex_checker.h"

namespace chipwatch {

static_assert(kFieldCount <= 64, "MatchScratch::scanned_ is a 64-bit field mask");
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "Less() byte-swaps big-endian addresses");

namespace match_internal {
void HsDatabaseDeleter::operator()(hs_database* db) const { hs_free_database(db); }
void HsScratchDeleter::operator()(hs_scratch* scratch) const { hs_free_scratch(scratch); }

void KeyIndex::Seal() {
  filter_.clear();
  mask_ = 0;
  if (map_.empty()) return;
  uint64_t bits = 4096;
  while (bits < map_.size() * 16) bits *= 2;
  filter_.assign(bits / 64, 0);
  mask_ = bits - 1;
  for (const auto& [key, ids] : map_) {
    const uint64_t h = std::hash<std::string_view>()(key);
    for (const uint64_t bit : {h & mask_, (h >> 32) & mask_})
      filter_[bit >> 6] |= 1ull << (bit & 63);
  }
}

const std::vector<uint32_t>* KeyIndex::Find(std::string_view key) const {
  if (map_.empty()) return nullptr;
  if (!filter_.empty()) {
    const uint64_t h = std::hash<std::string_view>()(key);
    const uint64_t a = h & mask_, b = (h >> 32) & mask_;
    if (!(filter_[a >> 6] >> (a & 63) & 1) || !(filter_[b >> 6] >> (b & 63) & 1)) return nullptr;
  }
  auto it = map_.find(key);
  return it == map_.end() ? nullptr : &it->second;
}
}  // namespace match_internal

namespace {

using Kind = ConditionDef::Kind;
constexpr int kMaxExpansionDepth = 256;
constexpr int kMaxReportedHsErrors = 20;

char AsciiLower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string Lowered(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = AsciiLower(c);
  return out;
}

// Address order (network byte order), as two 64-bit words: no memcmp call on the hot path.
bool Less(const std::array<uint8_t, 16>& a, const std::array<uint8_t, 16>& b) {
  uint64_t a0, a1, b0, b1;
  std::memcpy(&a0, a.data(), 8);
  std::memcpy(&a1, a.data() + 8, 8);
  std::memcpy(&b0, b.data(), 8);
  std::memcpy(&b1, b.data() + 8, 8);
  a0 = __builtin_bswap64(a0);
  b0 = __builtin_bswap64(b0);
  if (a0 != b0) return a0 < b0;
  return __builtin_bswap64(a1) < __builtin_bswap64(b1);
}

// a + 1 == b (for merging adjacent ranges).
bool Adjacent(std::array<uint8_t, 16> a, const std::array<uint8_t, 16>& b) {
  for (int i = 15; i >= 0; --i) {
    if (++a[i] != 0) break;
    if (i == 0) return false;  // a was the maximum address
  }
  return a == b;
}

// The composite index's key: the field's id, then the lowercased action and value.
void AppendCompositeKey(std::string& key, FieldId field, std::string_view action,
                        std::string_view value) {
  key.resize(action.size() + value.size() + 2);
  char* out = key.data();
  *out++ = static_cast<char>(field);
  for (char c : action) *out++ = AsciiLower(c);
  *out++ = '\x1f';
  for (char c : value) *out++ = AsciiLower(c);
}

std::string CompositeKey(FieldId field, std::string_view action, std::string_view value) {
  std::string key;
  AppendCompositeKey(key, field, action, value);
  return key;
}

std::vector<IpRange> SortedMerged(std::vector<IpRange> ranges) {
  std::sort(ranges.begin(), ranges.end(),
            [](const IpRange& x, const IpRange& y) { return Less(x.first, y.first); });
  std::vector<IpRange> out;
  for (const auto& r : ranges) {
    if (!out.empty() && (!Less(out.back().last, r.first) || Adjacent(out.back().last, r.first))) {
      if (Less(out.back().last, r.last)) out.back().last = r.last;
    } else {
      out.push_back(r);
    }
  }
  return out;
}

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

}  // namespace

// Builds a CompiledRules from definitions; the one friend that writes its internals.
class RulesCompiler {
 public:
  RulesCompiler(const PolicyDefinitions& defs, Diagnostics& diags) : defs_(defs), diags_(diags) {}

  std::unique_ptr<const CompiledRules> Run() {
    out_.reset(new CompiledRules());
    nodes_.push_back({CompiledRules::Op::kFalse});  // node 0: constant false (disabled rules)
    nodes_.push_back({CompiledRules::Op::kTrue});   // node 1: constant true (index-implied)
    for (const auto& def : defs_.rules) CompileRule(def);
    if (ok_) BuildIpTriggerIndex();
    if (ok_) FinishPredicates();
    if (ok_) BuildDatabases();
    if (!ok_) return nullptr;
    // Flatten the tree: children of each all/any node are stored contiguously.
    out_->nodes_.reserve(nodes_.size());
    for (auto& n : nodes_) {
      CompiledRules::Node node{n.op, n.field, n.a, n.b, n.value};
      if (n.op == CompiledRules::Op::kAll || n.op == CompiledRules::Op::kAny) {
        node.a = static_cast<uint32_t>(out_->children_.size());
        node.b = static_cast<uint32_t>(n.kids.size());
        out_->children_.insert(out_->children_.end(), n.kids.begin(), n.kids.end());
      } else if (n.op == CompiledRules::Op::kStrPred) {
        node.a = pred_ids_[n.a];
      }
      out_->nodes_.push_back(node);
    }
    gates_.resize(out_->rules_.size(), true_node_);
    out_->gates_ = std::move(gates_);
    for (auto& [key, rules] : out_->by_action_) Dedupe(rules);
    for (auto& [key, rules] : out_->by_action_folded_) Dedupe(rules);
    out_->by_action_.Seal();
    out_->by_action_folded_.Seal();
    out_->composite_.Seal();
    for (auto& fdb : out_->databases_) {
      fdb.exact.Seal();
      fdb.folded.Seal();
    }
    return std::move(out_);
  }

 private:
  using Op = CompiledRules::Op;
  struct BuildNode {
    Op op = Op::kFalse;
    FieldId field = FieldId::kCount;
    uint32_t a = 0;
    uint32_t b = 0;
    int64_t value = 0;
    std::vector<uint32_t> kids;
  };
  // A string predicate before numbering: its field, patterns and where it was written.
  struct StringPredicate {
    FieldId field;
    std::vector<std::pair<std::string, unsigned>> patterns;  // Hyperscan expression, flags
    std::vector<std::string> literals;  // equals/in values (lowercased when folded)
    bool folded = false;
    SourcePos pos;
  };

  static void Dedupe(std::vector<uint32_t>& v) {
    std::sort(v.begin(), v.end());
    v.erase(std::unique(v.begin(), v.end()), v.end());
  }

  void Error(const SourcePos& pos, std::string code, std::string message) {
    diags_.Error(pos, std::move(code), std::move(message));
    ok_ = false;
  }

  uint32_t Add(BuildNode n) {
    nodes_.push_back(std::move(n));
    return static_cast<uint32_t>(nodes_.size() - 1);
  }

  const std::vector<std::string>* Items(const ConditionDef& c) {
    if (c.list.empty()) return &c.items;
    const ListDef* list = defs_.FindList(c.list);
    if (!list) {
      Error(c.pos, "unknown-list", "unknown list '" + c.list + "'");
      return nullptr;
    }
    return &list->items;
  }

  uint32_t StringPredicateId(const ConditionDef& c) {
    unsigned flags = HS_FLAG_SINGLEMATCH | HS_FLAG_ALLOWEMPTY;
    if (c.ignore_case) flags |= HS_FLAG_CASELESS;
    std::string key = std::to_string(static_cast<int>(c.kind)) + '|' +
                      std::to_string(static_cast<int>(c.field_id)) + '|' +
                      (c.ignore_case ? "i|" : "c|");
    StringPredicate pred{c.field_id, {}, {}, c.ignore_case, c.pos};
    switch (c.kind) {
      case Kind::kEquals:
        key += c.value;
        pred.literals.push_back(c.ignore_case ? Lowered(c.value) : c.value);
        break;
      case Kind::kContains:
        key += c.value;
        pred.patterns.emplace_back(EscapeHyperscanLiteral(c.value), flags);
        break;
      case Kind::kRegex:
        key += c.value;
        pred.patterns.emplace_back(c.value, flags);
        break;
      default: {  // kIn
        const auto* items = Items(c);
        if (!items) return 0;
        if (c.list.empty()) {
          for (const auto& item : *items) key += item + '\x1f';
        } else {
          key += "list:" + c.list;
        }
        for (const auto& item : *items) {
          pred.literals.push_back(c.ignore_case ? Lowered(item) : item);
        }
      }
    }
    auto [it, inserted] = pred_by_key_.emplace(key, static_cast<uint32_t>(preds_.size()));
    if (inserted) preds_.push_back(std::move(pred));
    return it->second;
  }

  // One set per condition (a macro's condition is compiled once per use, and again as a trigger).
  uint32_t IpSet(const ConditionDef& c) {
    auto [it, inserted] = ip_set_by_cond_.emplace(&c, 0);
    if (inserted) it->second = NewIpSet(c);
    return it->second;
  }

  uint32_t NewIpSet(const ConditionDef& c) {
    std::vector<IpRange> ranges;
    auto add = [&](const std::string& text, const SourcePos& pos) {
      std::string err;
      auto r = ParseCidr(text, &err);
      if (!r) {
        Error(pos, "invalid-cidr", "invalid CIDR '" + text + "': " + err);
        return;
      }
      ranges.push_back(*r);
    };
    if (c.kind == Kind::kEquals) {
      add(c.value, c.pos);
    } else if (const auto* items = Items(c)) {
      for (const auto& item : *items) add(item, c.pos);
    }
    out_->ip_sets_.push_back(SortedMerged(std::move(ranges)));
    return static_cast<uint32_t>(out_->ip_sets_.size() - 1);
  }

  // `on_path`: `c` is the root or reached from it through `all` and macros only, so the action
  // constraint chosen for the index (index_cond_) is known to hold there and compiles to true.
  uint32_t CompileCondition(const ConditionDef& c, int depth, bool on_path) {
    if (depth > kMaxExpansionDepth) {
      Error(c.pos, "macro-cycle", "condition too deep after macro expansion (a macro cycle?)");
      return 0;
    }
    if (on_path && &c == index_cond_) return true_node_;
    BuildNode n;
    switch (c.kind) {
      case Kind::kAll:
      case Kind::kAny: {
        n.op = c.kind == Kind::kAll ? Op::kAll : Op::kAny;
        std::vector<uint32_t> kids;
        for (const auto& child : c.children) {
          kids.push_back(CompileCondition(child, depth + 1, on_path && c.kind == Kind::kAll));
        }
        if (kids.size() == 1) return kids[0];
        n.kids = std::move(kids);
        return Add(std::move(n));
      }
      case Kind::kNot:
        if (c.children.size() != 1) {
          Error(c.pos, "internal", "'not' needs exactly one condition");
          return 0;
        }
        n.op = Op::kNot;
        n.a = CompileCondition(c.children[0], depth + 1, false);
        return Add(std::move(n));
      case Kind::kMacro: {
        const MacroDef* macro = defs_.FindMacro(c.macro);
        if (!macro) {
          Error(c.pos, "unknown-macro", "unknown macro '" + c.macro + "'");
          return 0;
        }
        return CompileCondition(macro->condition, depth + 1, on_path);
      }
      default:
        break;
    }
    if (c.field_id == FieldId::kCount) {
      Error(c.pos, "unknown-field",
            "unresolved field '" + c.field + "' (compile only definitions loaded without errors)");
      return 0;
    }
    n.field = c.field_id;
    const FieldType type = TypeOf(c.field_id);
    switch (c.kind) {
      case Kind::kExists:
        n.op = Op::kExists;
        break;
      case Kind::kEquals:
        if (type == FieldType::kString) {
          n.op = Op::kStrPred;
          n.a = StringPredicateId(c);
        } else if (type == FieldType::kIp) {
          n.op = Op::kIpSet;
          n.a = IpSet(c);
        } else {
          n.op = Op::kNumEq;
          n.value = c.number;
        }
        break;
      case Kind::kIn:
      case Kind::kRegex:
      case Kind::kContains:
        if (type != FieldType::kString) {
          Error(c.pos, "type-mismatch", "'" + c.field + "' is not a string field");
          return 0;
        }
        n.op = Op::kStrPred;
        n.a = StringPredicateId(c);
        break;
      case Kind::kCidr:
        if (type != FieldType::kIp) {
          Error(c.pos, "type-mismatch", "'" + c.field + "' is not an ip field");
          return 0;
        }
        n.op = Op::kIpSet;
        n.a = IpSet(c);
        break;
      case Kind::kGt:
        n.op = Op::kGt;
        n.value = c.number;
        break;
      case Kind::kGte:
        n.op = Op::kGte;
        n.value = c.number;
        break;
      case Kind::kLt:
        n.op = Op::kLt;
        n.value = c.number;
        break;
      case Kind::kLte:
        n.op = Op::kLte;
        n.value = c.number;
        break;
      default:
        return 0;
    }
    return Add(std::move(n));
  }

  // The action values the condition requires (equals/in on `action` in the top-level `all`, or an
  // `any` whose every branch requires some, through macros), choosing the smallest such set;
  // nullopt when there is none.
  struct ActionKeys {
    std::vector<std::string> keys;         // exact action values
    std::vector<std::string> folded_keys;  // lowercased values (ignore_case)
    // The node that holds exactly when the action is one of the keys (an equals/in, or an `any`
    // of such), which the index makes true; null when the keys are only necessary.
    const ConditionDef* cond = nullptr;
    size_t size() const { return keys.size() + folded_keys.size(); }
  };
  std::optional<ActionKeys> RequiredActions(const ConditionDef& c, int depth) {
    if (depth > kMaxExpansionDepth) return std::nullopt;
    if (c.kind == Kind::kMacro) {
      const MacroDef* macro = defs_.FindMacro(c.macro);
      return macro ? RequiredActions(macro->condition, depth + 1) : std::nullopt;
    }
    if (c.kind == Kind::kAll) {
      std::optional<ActionKeys> best;
      for (const auto& child : c.children) {
        auto keys = RequiredActions(child, depth + 1);
        if (keys && (!best || keys->size() < best->size())) best = std::move(keys);
      }
      return best;
    }
    if (c.kind == Kind::kAny) {
      // Every branch must constrain the action; the union of their keys is then required.
      if (c.children.empty()) return std::nullopt;
      ActionKeys all;
      bool exact = true;
      for (const auto& child : c.children) {
        auto keys = RequiredActions(child, depth + 1);
        if (!keys) return std::nullopt;
        exact = exact && keys->cond == ResolveMacros(child, depth + 1);
        all.keys.insert(all.keys.end(), keys->keys.begin(), keys->keys.end());
        all.folded_keys.insert(all.folded_keys.end(), keys->folded_keys.begin(),
                               keys->folded_keys.end());
      }
      all.cond = exact ? &c : nullptr;
      return all;
    }
    if (c.field_id != FieldId::kAction || (c.kind != Kind::kEquals && c.kind != Kind::kIn)) {
      return std::nullopt;
    }
    ActionKeys keys;
    keys.cond = &c;
    std::vector<std::string>& out = c.ignore_case ? keys.folded_keys : keys.keys;
    if (c.kind == Kind::kEquals) {
      out.push_back(c.value);
    } else {
      const ListDef* list = c.list.empty() ? nullptr : defs_.FindList(c.list);
      out = list ? list->items : c.items;
    }
    if (c.ignore_case) {
      for (auto& k : out) k = Lowered(k);
    }
    return keys;
  }

  // The condition a chain of macros stands for (c itself when it is not a macro).
  const ConditionDef* ResolveMacros(const ConditionDef& c, int depth) {
    const ConditionDef* p = &c;
    while (p->kind == Kind::kMacro && depth++ <= kMaxExpansionDepth) {
      const MacroDef* macro = defs_.FindMacro(p->macro);
      if (!macro) return nullptr;
      p = &macro->condition;
    }
    return p;
  }

  // The leaves the condition requires: reached from the root through `all` and macros only.
  void RequiredLeaves(const ConditionDef& c, int depth, std::vector<const ConditionDef*>& out) {
    if (depth > kMaxExpansionDepth) return;
    if (c.kind == Kind::kMacro) {
      if (const MacroDef* macro = defs_.FindMacro(c.macro)) {
        RequiredLeaves(macro->condition, depth + 1, out);
      }
      return;
    }
    if (c.kind == Kind::kAll) {
      for (const auto& child : c.children) RequiredLeaves(child, depth + 1, out);
      return;
    }
    out.push_back(&c);
  }

  // Fields with few distinct values, which select a large share of events: a rule is better
  // reached through its action than through these.
  static bool LowCardinality(FieldId f) {
    switch (f) {
      case FieldId::kFormat:
      case FieldId::kProvider:
      case FieldId::kEventSource:
      case FieldId::kOutcome:
      case FieldId::kErrorCode:
      case FieldId::kRegion:
      case FieldId::kZone:
      case FieldId::kPrincipalType:
      case FieldId::kInferenceRegion:
        return true;
      default:
        return false;
    }
  }

  // How good `c` is as the rule's trigger (lower is better), or 0 when it can't be one. Triggers
  // read only fields the decoder sets, so that MayMatch() can decide before enrichment. The action
  // index ranks kActionRank.
  static constexpr int kActionRank = 4;
  static constexpr int kLowCardinalityLiteralRank = 5;
  static constexpr size_t kMaxCompositeKeys = 4096;

  // The lowercased (field, action, value) keys of an action constraint and a literal on another
  // field; false (and no keys) when there would be more than kMaxCompositeKeys.
  bool CompositeKeys(const ActionKeys& actions, const ConditionDef& literal,
                     std::vector<std::string>& out) {
    std::vector<std::string> values;
    if (literal.kind == Kind::kEquals) {
      values.push_back(literal.value);
    } else {
      const auto* items = Items(literal);
      if (!items) return false;
      values = *items;
    }
    if (actions.size() * values.size() > kMaxCompositeKeys || values.empty()) return false;
    std::vector<const std::string*> all;
    for (const auto& k : actions.keys) all.push_back(&k);
    for (const auto& k : actions.folded_keys) all.push_back(&k);
    for (const std::string* action : all) {
      for (const auto& value : values) {
        out.push_back(CompositeKey(literal.field_id, *action, value));
      }
    }
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return true;
  }
  static int TriggerRank(const ConditionDef& c) {
    const FieldId f = c.field_id;
    if (f >= FieldId::kSourceCountry || f == FieldId::kAction) return 0;  // see FieldId
    const FieldType type = TypeOf(f);
    const bool literal = c.kind == Kind::kEquals || c.kind == Kind::kIn;
    const bool pattern = c.kind == Kind::kRegex || c.kind == Kind::kContains;
    if (type == FieldType::kIp) {
      return f == FieldId::kSourceIp && (c.kind == Kind::kCidr || c.kind == Kind::kEquals) ? 2 : 0;
    }
    if (type != FieldType::kString) return 0;
    if (literal) return LowCardinality(f) ? kLowCardinalityLiteralRank : 1;
    if (pattern) return LowCardinality(f) ? 6 : 3;
    return 0;
  }

  void AddToActionIndex(const ActionKeys& actions, uint32_t rule) {
    for (const auto& key : actions.keys) out_->by_action_[key].push_back(rule);
    for (const auto& key : actions.folded_keys) out_->by_action_folded_[key].push_back(rule);
    ++out_->indexed_rule_count_;
  }

  // The source.ip trigger index: the addresses covered by any trigger range, cut at every range
  // boundary into elementary intervals, each with the (sorted) rules whose ranges cover it. A rule
  // whose range spans more than kMaxIpSpan intervals (a /8 over thousands of /24s) would be copied
  // into every one of them: it is reached through its action (or meets every event) instead.
  static constexpr size_t kMaxIpSpan = 256;
  using Addr = std::array<uint8_t, 16>;
  static bool Increment(Addr& a) {  // false when a was the maximum address
    for (int i = 15; i >= 0; --i) {
      if (++a[i] != 0) return true;
    }
    return false;
  }

  void BuildIpTriggerIndex() {
    if (ip_triggers_.empty()) return;
    std::vector<Addr> bounds;
    for (const auto& t : ip_triggers_) {
      for (const IpRange& r : out_->ip_sets_[t.set]) {
        bounds.push_back(r.first);
        Addr end = r.last;
        if (Increment(end)) bounds.push_back(end);
      }
    }
    std::sort(bounds.begin(), bounds.end(), Less);
    bounds.erase(std::unique(bounds.begin(), bounds.end()), bounds.end());
    auto position = [&](const Addr& a) {
      return static_cast<size_t>(std::lower_bound(bounds.begin(), bounds.end(), a, Less) -
                                 bounds.begin());
    };
    // (interval, rule) pairs; rules in load order within an interval (ip_triggers_ is).
    std::vector<std::pair<uint32_t, uint32_t>> entries;
    for (const auto& t : ip_triggers_) {
      std::vector<std::pair<uint32_t, uint32_t>> mine;
      bool wide = false;
      for (const IpRange& r : out_->ip_sets_[t.set]) {
        const size_t lo = position(r.first);
        Addr end = r.last;
        const size_t hi = Increment(end) ? position(end) : bounds.size();
        if (hi - lo > kMaxIpSpan) {
          wide = true;
          break;
        }
        for (size_t i = lo; i < hi; ++i) mine.emplace_back(static_cast<uint32_t>(i), t.rule);
      }
      if (wide) {
        if (t.actions) {
          AddToActionIndex(*t.actions, t.rule);
        } else {
          out_->always_.push_back(t.rule);
        }
        continue;
      }
      entries.insert(entries.end(), mine.begin(), mine.end());
      ++out_->trigger_rule_count_;
    }
    std::stable_sort(entries.begin(), entries.end(),
                     [](const auto& x, const auto& y) { return x.first < y.first; });
    out_->ip_bounds_ = std::move(bounds);
    out_->ip_offsets_.assign(out_->ip_bounds_.size() + 1, 0);
    for (const auto& e : entries) ++out_->ip_offsets_[e.first + 1];
    for (size_t i = 1; i < out_->ip_offsets_.size(); ++i) {
      out_->ip_offsets_[i] += out_->ip_offsets_[i - 1];
    }
    out_->ip_rules_.reserve(entries.size());
    for (const auto& e : entries) out_->ip_rules_.push_back(e.second);
    std::sort(out_->always_.begin(), out_->always_.end());
  }

  void CompileRule(const RuleDef& def) {
    const uint32_t index = static_cast<uint32_t>(out_->rules_.size());
    CompiledRule rule;
    rule.id = def.id;
    rule.title = def.title;
    rule.description = def.description;
    rule.severity = def.severity;
    rule.tags = def.tags;
    rule.def = &def;
    rule.enabled = def.enabled;
    rule.effective_from_ms = def.effective_from_ms;
    rule.effective_until_ms = def.effective_until_ms;
    if (!def.reason.empty()) {
      std::string err = ParseReasonTemplate(def.reason, rule.reason);
      if (!err.empty()) Error(def.pos, "invalid-reason", "rule '" + def.id + "': " + err);
    }
    if (def.severity_from) {
      auto field = FieldByName(def.severity_from->field);
      if (!field) {
        Error(def.severity_from->pos, "unknown-field",
              "unknown field '" + def.severity_from->field + "' in 'severity_from'");
      } else {
        rule.severity_field = *field;
        rule.severity_map = def.severity_from->map;
      }
    }
    if (def.enabled) {
      // The rule is reached through ONE index (its trigger): a required literal, CIDR or pattern
      // on a decoder-set field, else its action, else nothing (it meets every event). With a
      // non-action trigger, the rule's action constraint becomes its gate in MayMatch().
      auto actions = RequiredActions(def.condition, 0);
      std::vector<const ConditionDef*> leaves;
      RequiredLeaves(def.condition, 0, leaves);
      const ConditionDef* trigger = nullptr;
      int best = actions ? kActionRank : 0;
      for (const ConditionDef* leaf : leaves) {
        const int rank = TriggerRank(*leaf);
        if (rank != 0 && (best == 0 || rank < best)) {
          best = rank;
          trigger = leaf;
        }
      }
      // An action list and a literal on a field of few values (region, provider, ...) are each
      // common, but their combination rarely is: index the (action, value) pairs together.
      std::vector<std::string> composite;
      if (actions && (trigger == nullptr || best > kActionRank)) {
        for (const ConditionDef* leaf : leaves) {
          if (TriggerRank(*leaf) == kLowCardinalityLiteralRank &&
              CompositeKeys(*actions, *leaf, composite)) {
            break;
          }
        }
      }
      const bool by_action =
          composite.empty() && actions && (trigger == nullptr || best > kActionRank);
      index_cond_ = by_action ? actions->cond : nullptr;
      rule.root = CompileCondition(def.condition, 0, true);
      index_cond_ = nullptr;
      uint32_t gate = true_node_;
      if (!by_action && actions && actions->cond) gate = CompileCondition(*actions->cond, 0, false);
      gates_.resize(index + 1, true_node_);
      gates_[index] = gate;
      if (by_action) {
        AddToActionIndex(*actions, index);
      } else if (!composite.empty()) {
        for (const auto& key : composite) out_->composite_[key].push_back(index);
        out_->composite_fields_ |= uint64_t{1} << static_cast<uint8_t>(composite[0][0]);
        ++out_->trigger_rule_count_;
      } else if (trigger != nullptr && TypeOf(trigger->field_id) == FieldType::kIp) {
        ip_triggers_.push_back({IpSet(*trigger), index, actions});
      } else if (trigger != nullptr) {
        triggers_.emplace_back(StringPredicateId(*trigger), index);
      } else {
        out_->always_.push_back(index);
      }
    }
    out_->rules_.push_back(std::move(rule));
  }

  // Numbers string predicates so that each field's bits are whole 64-bit words.
  void FinishPredicates() {
    pred_ids_.assign(preds_.size(), 0);
    uint32_t next = 0;
    for (size_t f = 0; f < kFieldCount; ++f) {
      const uint32_t begin = next;
      for (size_t p = 0; p < preds_.size(); ++p) {
        if (static_cast<size_t>(preds_[p].field) == f) pred_ids_[p] = next++;
      }
      auto& fdb = out_->databases_[f];
      fdb.first_word = begin / 64;
      next = (next + 63) / 64 * 64;
      fdb.end_word = next / 64;
    }
    out_->bit_words_ = next / 64;
    out_->string_predicate_count_ = preds_.size();
    // Trigger index, in CSR form over final predicate ids; rules stay in load order per predicate.
    std::vector<uint32_t> counts(next + 1, 0);
    for (const auto& [pred, rule] : triggers_) {
      ++counts[pred_ids_[pred] + 1];
      out_->trigger_fields_ |= uint64_t{1} << static_cast<size_t>(preds_[pred].field);
    }
    for (size_t i = 1; i < counts.size(); ++i) counts[i] += counts[i - 1];
    out_->trigger_offsets_ = counts;
    out_->trigger_rules_.resize(triggers_.size());
    for (const auto& [pred, rule] : triggers_)
      out_->trigger_rules_[counts[pred_ids_[pred]]++] = rule;
    out_->trigger_rule_count_ += triggers_.size();
  }

  void BuildDatabases() {
    out_->pattern_offsets_.push_back(0);
    std::vector<CompileJob> jobs;
    for (size_t f = 0; f < kFieldCount; ++f) {
      // Unique patterns of this field -> global pattern ids.
      std::vector<std::string> exprs;
      std::vector<unsigned> flags;
      std::vector<unsigned> ids;
      std::vector<std::vector<uint32_t>> pattern_preds;  // per local pattern
      std::vector<uint32_t> pattern_source;              // local pattern -> first predicate
      std::map<std::pair<std::string, unsigned>, size_t> seen;
      auto& fdb = out_->databases_[f];
      for (size_t p = 0; p < preds_.size(); ++p) {
        if (static_cast<size_t>(preds_[p].field) != f) continue;
        for (const auto& literal : preds_[p].literals) {
          auto& v = (preds_[p].folded ? fdb.folded : fdb.exact)[literal];
          if (v.empty() || v.back() != pred_ids_[p]) v.push_back(pred_ids_[p]);
          ++out_->literal_count_;
        }
        for (const auto& pat : preds_[p].patterns) {
          auto [it, inserted] = seen.emplace(pat, exprs.size());
          if (inserted) {
            exprs.push_back(CheaperTrailingWordBoundary(pat.first));
            flags.push_back(pat.second);
            pattern_preds.emplace_back();
            pattern_source.push_back(static_cast<uint32_t>(p));
          }
          auto& v = pattern_preds[it->second];
          if (v.empty() || v.back() != pred_ids_[p]) v.push_back(pred_ids_[p]);
        }
      }
      if (exprs.empty()) continue;
      const unsigned base = static_cast<unsigned>(out_->pattern_offsets_.size() - 1);
      for (size_t i = 0; i < exprs.size(); ++i) {
        ids.push_back(base + static_cast<unsigned>(i));
        out_->pattern_preds_.insert(out_->pattern_preds_.end(), pattern_preds[i].begin(),
                                    pattern_preds[i].end());
        out_->pattern_offsets_.push_back(static_cast<uint32_t>(out_->pattern_preds_.size()));
      }
      out_->pattern_count_ += exprs.size();
      // Hyperscan's compile time grows faster than the pattern count for some pattern sets
      // (anchored ones), and one compile uses one core: big sets are cut into chunks compiled in
      // parallel. Each chunk is one more hs_scan of the field per event.
      const size_t chunks = (exprs.size() + kPatternsPerDatabase - 1) / kPatternsPerDatabase;
      for (size_t c = 0; c < chunks; ++c) {
        const size_t b = exprs.size() * c / chunks, e = exprs.size() * (c + 1) / chunks;
        CompileJob job;
        job.field = static_cast<FieldId>(f);
        job.exprs.assign(exprs.begin() + b, exprs.begin() + e);
        job.flags.assign(flags.begin() + b, flags.begin() + e);
        job.ids.assign(ids.begin() + b, ids.begin() + e);
        job.source.assign(pattern_source.begin() + b, pattern_source.begin() + e);
        jobs.push_back(std::move(job));
      }
    }
    RunCompileJobs(jobs);
    if (!ok_) return;
    hs_scratch_t* scratch = nullptr;
    for (const auto& fdb : out_->databases_) {
      for (const auto& db : fdb.dbs) {
        if (hs_alloc_scratch(db.get(), &scratch) != HS_SUCCESS) {
          Error({}, "hyperscan", "cannot allocate Hyperscan scratch");
          return;
        }
      }
    }
    out_->prototype_scratch_.reset(scratch);
  }

  // Measured on the +10,000 rule benchmark pack (docs/benchmarks.md): 1,000 anchored
  // instance.type patterns take 6.3 s as one database, 2.2 s as four; scanning four databases
  // instead of one costs about 200 ns on a 100-byte user agent.
  static constexpr size_t kPatternsPerDatabase = 256;

  struct CompileJob {
    FieldId field;
    std::vector<std::string> exprs;
    std::vector<unsigned> flags;
    std::vector<unsigned> ids;
    std::vector<uint32_t> source;  // pattern -> build predicate (for error positions)
    match_internal::HsDatabasePtr db;
    struct Problem {
      SourcePos pos;
      std::string code, message;
    };
    std::vector<Problem> problems;
  };

  // Compiles the jobs on up to hardware_concurrency threads; then, in job order, reports their
  // problems and installs their databases.
  void RunCompileJobs(std::vector<CompileJob>& jobs) {
    RunConcurrently(jobs.size(), [&](size_t i) { CompileDatabase(jobs[i]); });
    for (auto& job : jobs) {
      for (auto& p : job.problems) Error(p.pos, std::move(p.code), std::move(p.message));
      if (job.db) out_->databases_[static_cast<size_t>(job.field)].dbs.push_back(std::move(job.db));
    }
  }

  // Compiles one job's patterns; on failure records the offending pattern at its rule's position
  // and retries without it, so that every bad pattern is reported once. Reads only preds_ (and
  // the job): runs on a compile thread.
  void CompileDatabase(CompileJob& job) const {
    const std::string field(FieldName(job.field));
    for (int attempt = 0; attempt <= kMaxReportedHsErrors; ++attempt) {
      std::vector<const char*> ptrs;
      for (const auto& e : job.exprs) ptrs.push_back(e.c_str());
      hs_database_t* db = nullptr;
      hs_compile_error_t* err = nullptr;
      hs_error_t rc = hs_compile_multi(ptrs.data(), job.flags.data(), job.ids.data(),
                                       static_cast<unsigned>(job.exprs.size()), HS_MODE_BLOCK,
                                       nullptr, &db, &err);
      if (rc == HS_SUCCESS) {
        job.db.reset(db);
        return;
      }
      std::string message = err && err->message ? err->message : "compile failed";
      int bad = err ? err->expression : -1;
      hs_free_compile_error(err);
      CompileJob::Problem& problem = job.problems.emplace_back();
      if (bad < 0 || static_cast<size_t>(bad) >= job.exprs.size()) {
        problem.code = "hyperscan";
        problem.message =
            "Hyperscan cannot compile the patterns of field '" + field + "': " + message;
        return;
      }
      problem.pos = preds_[job.source[bad]].pos;
      problem.code = "invalid-regex";
      problem.message = "Hyperscan cannot compile pattern '" + job.exprs[bad] + "' on '" + field +
                        "': " + message;
      job.exprs.erase(job.exprs.begin() + bad);
      job.flags.erase(job.flags.begin() + bad);
      job.ids.erase(job.ids.begin() + bad);
      job.source.erase(job.source.begin() + bad);
      if (job.exprs.empty()) return;
    }
  }

  const PolicyDefinitions& defs_;
  Diagnostics& diags_;
  bool ok_ = true;
  std::unique_ptr<CompiledRules> out_;
  std::vector<BuildNode> nodes_;
  std::vector<StringPredicate> preds_;
  std::unordered_map<std::string, uint32_t> pred_by_key_;
  std::vector<uint32_t> pred_ids_;            // build predicate -> final predicate (bit) id
  const ConditionDef* index_cond_ = nullptr;  // action constraint implied by the index
  std::vector<std::pair<uint32_t, uint32_t>> triggers_;  // (build predicate, rule)
  struct IpTrigger {
    uint32_t set;  // in out_->ip_sets_
    uint32_t rule;
    std::optional<ActionKeys> actions;  // for a rule too wide for the index
  };
  std::vector<IpTrigger> ip_triggers_;
  std::unordered_map<const ConditionDef*, uint32_t> ip_set_by_cond_;
  std::vector<uint32_t> gates_;  // rule -> node (before flattening) of its action gate
  static constexpr uint32_t true_node_ = 1;
};

CompiledRules::~CompiledRules() = default;

std::unique_ptr<const CompiledRules> CompiledRules::Compile(const PolicyDefinitions& defs,
                                                            Diagnostics& diags) {
  return RulesCompiler(defs, diags).Run();
}

std::unique_ptr<MatchScratch> CompiledRules::NewScratch() const {
  std::unique_ptr<MatchScratch> scratch(new MatchScratch());
  if (prototype_scratch_) {
    hs_scratch_t* clone = nullptr;
    if (hs_clone_scratch(prototype_scratch_.get(), &clone) != HS_SUCCESS) return nullptr;
    scratch->hs_.reset(clone);
  }
  scratch->bits_.assign(bit_words_, 0);
  scratch->folded_action_.reserve(256);
  scratch->folded_value_.reserve(1024);
  scratch->composite_key_.reserve(256);
  scratch->triggered_.reserve(trigger_rule_count_);
  return scratch;
}

const CompiledRule* CompiledRules::FindRule(std::string_view id) const {
  for (const auto& rule : rules_) {
    if (rule.id == id) return &rule;
  }
  return nullptr;
}

size_t CompiledRules::hyperscan_database_count() const {
  size_t n = 0;
  for (const auto& fdb : databases_) n += fdb.dbs.size();
  return n;
}

bool CompiledRules::has_database(FieldId field) const {
  return field < FieldId::kCount && !databases_[static_cast<size_t>(field)].dbs.empty();
}

bool CompiledRules::has_string_index(FieldId field) const {
  if (field >= FieldId::kCount) return false;
  const FieldDatabase& fdb = databases_[static_cast<size_t>(field)];
  return !fdb.dbs.empty() || !fdb.exact.empty() || !fdb.folded.empty();
}

bool CompiledRules::ScanField(FieldId field, const Event& event, MatchScratch& scratch) const {
  const size_t f = static_cast<size_t>(field);
  scratch.scanned_ |= uint64_t{1} << f;
  const FieldDatabase& fdb = databases_[f];
  if (fdb.end_word > fdb.first_word) {
    std::memset(scratch.bits_.data() + fdb.first_word, 0,
                (fdb.end_word - fdb.first_word) * sizeof(uint64_t));
  }
  if (!event.Has(field)) return false;
  std::string_view value = event.str[f];
  uint64_t* bits = scratch.bits_.data();
  bool any = false;
  auto set_bits = [bits, &any](const std::vector<uint32_t>& preds) {
    for (uint32_t p : preds) bits[p >> 6] |= uint64_t{1} << (p & 63);
    any = true;
  };
  if (const auto* preds = fdb.exact.Find(value)) set_bits(*preds);
  if (!fdb.folded.empty()) {
    std::string& lower = scratch.folded_value_;
    lower.assign(value);
    for (char& c : lower) c = AsciiLower(c);
    if (const auto* preds = fdb.folded.Find(lower)) set_bits(*preds);
  }
  if (fdb.dbs.empty() || !scratch.hs_) return any;
  MatchContext ctx{pattern_offsets_.data(), pattern_preds_.data(), scratch.bits_.data()};
  for (const auto& db : fdb.dbs) {
    ++scratch.stats_.fields_scanned;
    hs_error_t rc =
        hs_scan(db.get(), value.empty() ? "" : value.data(), static_cast<unsigned>(value.size()), 0,
                scratch.hs_.get(), OnMatch, &ctx);
    if (rc != HS_SUCCESS) {
      ++scratch.stats_.scan_errors;
      std::memset(scratch.bits_.data() + fdb.first_word, 0,
                  (fdb.end_word - fdb.first_word) * sizeof(uint64_t));
      return false;
    }
  }
  return any || ctx.matched;
}

bool CompiledRules::EvalNode(uint32_t index, const Event& event, MatchScratch& scratch) const {
  const Node& n = nodes_[index];
  switch (n.op) {
    case Op::kFalse:
      return false;
    case Op::kTrue:
      return true;
    case Op::kAll:
      for (uint32_t i = 0; i < n.b; ++i) {
        if (!EvalNode(children_[n.a + i], event, scratch)) return false;
      }
      return true;
    case Op::kAny:
      for (uint32_t i = 0; i < n.b; ++i) {
        if (EvalNode(children_[n.a + i], event, scratch)) return true;
      }
      return false;
    case Op::kNot:
      return !EvalNode(n.a, event, scratch);
    case Op::kStrPred: {
      if (!(scratch.scanned_ >> static_cast<size_t>(n.field) & 1))
        ScanField(n.field, event, scratch);
      return (scratch.bits_[n.a >> 6] >> (n.a & 63)) & 1;
    }
    case Op::kExists:
      return event.Has(n.field);
    case Op::kIpSet: {
      if (!event.Has(n.field) || !event.source_addr.valid) return false;
      const auto& set = ip_sets_[n.a];
      const auto& addr = event.source_addr.bytes;
      // First range whose last address is >= addr.
      auto it = std::lower_bound(set.begin(), set.end(), addr,
                                 [](const IpRange& r, const auto& a) { return Less(r.last, a); });
      return it != set.end() && !Less(addr, it->first);
    }
    default:
      break;
  }
  if (!event.Has(n.field)) return false;
  const int64_t v = event.num[static_cast<size_t>(n.field)];
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

void CompiledRules::EvalRule(uint32_t rule_index, const Event& event, MatchScratch& scratch,
                             std::vector<RuleMatch>& out) const {
  const CompiledRule& rule = rules_[rule_index];
  if ((rule.effective_from_ms || rule.effective_until_ms) && event.Has(FieldId::kEventTime)) {
    const int64_t t = event.num[static_cast<size_t>(FieldId::kEventTime)];
    if (rule.effective_from_ms && t < *rule.effective_from_ms) return;
    if (rule.effective_until_ms && t >= *rule.effective_until_ms) return;
  }
  ++scratch.stats_.candidates;
  ++scratch.stats_.last_candidates;
  if (!EvalNode(rule.root, event, scratch)) return;
  Severity severity = rule.severity;
  if (rule.severity_field != FieldId::kCount && event.Has(rule.severity_field)) {
    std::string_view value = event.str[static_cast<size_t>(rule.severity_field)];
    for (const auto& [key, s] : rule.severity_map) {
      if (key == value) {
        severity = s;
        break;
      }
    }
  }
  out.push_back({&rule, severity});
}

void CompiledRules::CollectTriggered(const Event& event, MatchScratch& scratch) const {
  std::vector<uint32_t>& triggered = scratch.triggered_;
  triggered.clear();
  for (uint64_t fields = trigger_fields_; fields != 0; fields &= fields - 1) {
    const FieldId field = static_cast<FieldId>(__builtin_ctzll(fields));
    if (!ScanField(field, event, scratch)) continue;  // absent, or no predicate set
    const FieldDatabase& fdb = databases_[static_cast<size_t>(field)];
    for (uint32_t w = fdb.first_word; w < fdb.end_word; ++w) {
      for (uint64_t bits = scratch.bits_[w]; bits != 0; bits &= bits - 1) {
        const uint32_t p = w * 64 + static_cast<uint32_t>(__builtin_ctzll(bits));
        for (uint32_t r = trigger_offsets_[p]; r < trigger_offsets_[p + 1]; ++r) {
          triggered.push_back(trigger_rules_[r]);  // within reserved capacity
        }
      }
    }
  }
  if (composite_fields_ != 0 && event.Has(FieldId::kAction)) {
    const std::string_view action = event.str[static_cast<size_t>(FieldId::kAction)];
    std::string& key = scratch.composite_key_;
    for (uint64_t fields = composite_fields_; fields != 0; fields &= fields - 1) {
      const FieldId field = static_cast<FieldId>(__builtin_ctzll(fields));
      if (!event.Has(field)) continue;
      AppendCompositeKey(key, field, action, event.str[static_cast<size_t>(field)]);
      if (const auto* rules = composite_.Find(key)) {
        triggered.insert(triggered.end(), rules->begin(), rules->end());
      }
    }
  }
  if (!ip_bounds_.empty() && event.Has(FieldId::kSourceIp) && event.source_addr.valid) {
    const auto& addr = event.source_addr.bytes;
    auto it = std::upper_bound(ip_bounds_.begin(), ip_bounds_.end(), addr, Less);
    if (it != ip_bounds_.begin()) {
      const size_t i = static_cast<size_t>(it - ip_bounds_.begin()) - 1;
      triggered.insert(triggered.end(), ip_rules_.begin() + ip_offsets_[i],
                       ip_rules_.begin() + ip_offsets_[i + 1]);
    }
  }
}

bool CompiledRules::MayMatch(const Event& event, MatchScratch& scratch) const {
  if (!always_.empty()) return true;
  if (event.Has(FieldId::kAction)) {
    std::string_view action = event.str[static_cast<size_t>(FieldId::kAction)];
    if (by_action_.Find(action) != nullptr) return true;
    if (!by_action_folded_.empty()) {
      std::string& lower = scratch.folded_action_;
      lower.assign(action);
      for (char& c : lower) c = AsciiLower(c);
      if (by_action_folded_.Find(lower) != nullptr) return true;
    }
  }
  if (trigger_rule_count_ == 0) return false;
  // Triggered rules whose action gate holds. Triggers and gates read decoder-set fields only.
  scratch.scanned_ = 0;
  CollectTriggered(event, scratch);
  for (uint32_t rule : scratch.triggered_) {
    if (EvalNode(gates_[rule], event, scratch)) return true;
  }
  return false;
}

void CompiledRules::Evaluate(const Event& event, MatchScratch& scratch,
                             std::vector<RuleMatch>& out) const {
  ++scratch.stats_.events;
  scratch.stats_.last_candidates = 0;
  scratch.scanned_ = 0;
  static const std::vector<uint32_t> kNone;
  const std::vector<uint32_t>* exact = &kNone;
  const std::vector<uint32_t>* folded = &kNone;
  if (event.Has(FieldId::kAction)) {
    std::string_view action = event.str[static_cast<size_t>(FieldId::kAction)];
    if (const auto* rules = by_action_.Find(action)) exact = rules;
    if (!by_action_folded_.empty()) {
      std::string& lower = scratch.folded_action_;
      lower.assign(action);
      for (char& c : lower) c = AsciiLower(c);
      if (const auto* rules = by_action_folded_.Find(lower)) folded = rules;
    }
  }
  // Rules reached through a trigger (a rule has one trigger, so each appears once).
  std::vector<uint32_t>& triggered = scratch.triggered_;
  CollectTriggered(event, scratch);
  if (triggered.size() > 1) std::sort(triggered.begin(), triggered.end());
  // Four sorted, disjoint lists of rule indexes, merged to keep load order.
  size_t i = 0, j = 0, k = 0, l = 0;
  const size_t ni = always_.size(), nj = exact->size(), nk = folded->size(), nl = triggered.size();
  constexpr uint32_t kEnd = UINT32_MAX;
  while (i < ni || j < nj || k < nk || l < nl) {
    uint32_t a = i < ni ? always_[i] : kEnd;
    uint32_t b = j < nj ? (*exact)[j] : kEnd;
    uint32_t c = k < nk ? (*folded)[k] : kEnd;
    uint32_t d = l < nl ? triggered[l] : kEnd;
    uint32_t next = std::min({a, b, c, d});
    if (next == a) ++i;
    if (next == b) ++j;
    if (next == c) ++k;
    if (next == d) ++l;
    EvalRule(next, event, scratch, out);
  }
}

std::string RenderReason(const CompiledRule& rule, const Event& event) {
  std::string out;
  for (const auto& part : rule.reason) {
    if (!part.field) {
      out += part.literal;
      continue;
    }
    const FieldId f = *part.field;
    if (!event.Has(f)) {
      out += '-';
      continue;
    }
    const size_t i = static_cast<size_t>(f);
    switch (TypeOf(f)) {
      case FieldType::kString:
      case FieldType::kIp:
        out += event.str[i];
        break;
      case FieldType::kBool:
        out += event.num[i] ? "true" : "false";
        break;
      case FieldType::kNumber:
        if (f == FieldId::kEventTime && !event.str[i].empty()) {
          out += event.str[i];
        } else {
          out += std::to_string(event.num[i]);
        }
        break;
    }
  }
  return out;
}

}  // namespace chipwatch
