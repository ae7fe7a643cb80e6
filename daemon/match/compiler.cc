// The rule compiler: definitions -> CompiledRules (expanded macros, the flattened condition
// array, string predicates numbered per field, the candidate indexes and the Hyperscan databases).
// Runs at load and reload, off the hot path.
#include <algorithm>
#include <map>
#include <set>
#include <unordered_map>

#include "match/compiled_rules.h"
#include "match/internal.h"
#include "match/regex_checker.h"

namespace chipwatch {
namespace match_internal {

namespace {

using Kind = ConditionDef::Kind;
constexpr int kMaxExpansionDepth = 256;
constexpr int kMaxReportedHsErrors = 20;

std::string CompositeKey(FieldId field, std::string_view action, std::string_view value) {
  std::string key;
  AppendCompositeKey(key, field, action, value);
  return key;
}

}  // namespace

// Builds a CompiledRules from definitions; the one friend that writes its internals.
class RulesCompiler {
 public:
  RulesCompiler(const PolicyDefinitions& defs, Diagnostics& diags) : defs_(defs), diags_(diags) {}

  std::unique_ptr<const CompiledRules> Run() {
    out_.reset(new CompiledRules());
    prog_ = std::make_unique<RuleProgram>();
    nodes_.push_back({Op::kFalse});  // node 0: constant false (disabled rules)
    nodes_.push_back({Op::kTrue});   // node 1: constant true (index-implied)
    for (const auto& def : defs_.rules) CompileRule(def);
    if (ok_) BuildIpTriggerIndex();
    if (ok_) FinishPredicates();
    if (ok_) BuildDatabases();
    if (!ok_) return nullptr;
    // Flatten the tree: children of each all/any node are stored contiguously.
    prog_->nodes.reserve(nodes_.size());
    for (auto& n : nodes_) {
      Node node{n.op, n.field, n.a, n.b, n.value};
      if (n.op == Op::kAll || n.op == Op::kAny) {
        node.a = static_cast<uint32_t>(prog_->children.size());
        node.b = static_cast<uint32_t>(n.kids.size());
        prog_->children.insert(prog_->children.end(), n.kids.begin(), n.kids.end());
      } else if (n.op == Op::kStrPred) {
        node.a = pred_ids_[n.a];
      }
      prog_->nodes.push_back(node);
    }
    gates_.resize(out_->rules_.size(), true_node_);
    prog_->gates = std::move(gates_);
    for (auto& [key, rules] : prog_->by_action) Dedupe(rules);
    for (auto& [key, rules] : prog_->by_action_folded) Dedupe(rules);
    prog_->by_action.Seal();
    prog_->by_action_folded.Seal();
    prog_->composite.Seal();
    for (auto& fdb : prog_->fields) {
      fdb.exact.Seal();
      fdb.folded.Seal();
    }
    out_->program_ = std::move(prog_);
    return std::move(out_);
  }

 private:
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
    unsigned flags = hs::kSingleMatch | hs::kAllowEmpty;
    if (c.ignore_case) flags |= hs::kCaseless;
    std::string key = std::to_string(static_cast<int>(c.kind)) + '|' +
                      std::to_string(static_cast<int>(c.field_id)) + '|' +
                      (c.ignore_case ? "i|" : "c|");
    StringPredicate pred{c.field_id, {}, {}, c.ignore_case, c.pos};
    switch (c.kind) {
      case Kind::kEquals:
        key += c.value;
        pred.literals.push_back(c.ignore_case ? AsciiLowered(c.value) : c.value);
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
          pred.literals.push_back(c.ignore_case ? AsciiLowered(item) : item);
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
      auto r = ParseCidr(text);
      if (!r.ok()) {
        Error(pos, "invalid-cidr", "invalid CIDR '" + text + "': " + r.status().message());
        return;
      }
      ranges.push_back(*r);
    };
    if (c.kind == Kind::kEquals) {
      add(c.value, c.pos);
    } else if (const auto* items = Items(c)) {
      for (const auto& item : *items) add(item, c.pos);
    }
    prog_->ip_sets.push_back(SortedMerged(std::move(ranges)));
    return static_cast<uint32_t>(prog_->ip_sets.size() - 1);
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
        return CompileLeaf(c);
    }
  }

  // A predicate on one field.
  uint32_t CompileLeaf(const ConditionDef& c) {
    if (c.field_id == FieldId::kCount) {
      Error(c.pos, "unknown-field",
            "unresolved field '" + c.field + "' (compile only definitions loaded without errors)");
      return 0;
    }
    BuildNode n;
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
      for (auto& k : out) k = AsciiLowered(k);
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
    for (const auto& key : actions.keys) prog_->by_action[key].push_back(rule);
    for (const auto& key : actions.folded_keys) prog_->by_action_folded[key].push_back(rule);
    ++prog_->indexed_rule_count;
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
      for (const IpRange& r : prog_->ip_sets[t.set]) {
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
      for (const IpRange& r : prog_->ip_sets[t.set]) {
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
          prog_->always.push_back(t.rule);
        }
        continue;
      }
      entries.insert(entries.end(), mine.begin(), mine.end());
      ++prog_->trigger_rule_count;
    }
    std::stable_sort(entries.begin(), entries.end(),
                     [](const auto& x, const auto& y) { return x.first < y.first; });
    prog_->ip_bounds = std::move(bounds);
    prog_->ip_offsets.assign(prog_->ip_bounds.size() + 1, 0);
    for (const auto& e : entries) ++prog_->ip_offsets[e.first + 1];
    for (size_t i = 1; i < prog_->ip_offsets.size(); ++i) {
      prog_->ip_offsets[i] += prog_->ip_offsets[i - 1];
    }
    prog_->ip_rules.reserve(entries.size());
    for (const auto& e : entries) prog_->ip_rules.push_back(e.second);
    std::sort(prog_->always.begin(), prog_->always.end());
  }

  void CompileRule(const RuleDef& def) {
    const uint32_t index = static_cast<uint32_t>(out_->rules_.size());
    CompiledRule rule = RuleHeader(def);
    if (def.enabled) CompileEnabledRule(def, index, rule);
    out_->rules_.push_back(std::move(rule));
  }

  // The rule's metadata, reason template and severity mapping (errors reported).
  CompiledRule RuleHeader(const RuleDef& def) {
    CompiledRule rule;
    rule.id = def.id;
    rule.title = def.title;
    rule.description = def.description;
    rule.severity = def.severity;
    rule.tags = def.tags;
    rule.def = &def;
    rule.enabled = def.enabled;
    rule.alert = def.alert;
    rule.effective_from_ms = def.effective_from_ms;
    rule.effective_until_ms = def.effective_until_ms;
    if (!def.reason.empty()) {
      auto parts = ParseReasonTemplate(def.reason);
      if (parts.ok()) {
        rule.reason = std::move(parts).value();
      } else {
        Error(def.pos, "invalid-reason", "rule '" + def.id + "': " + parts.status().message());
      }
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
    return rule;
  }

  // The required leaf of best (lowest non-zero) rank, ranked against the action index when the
  // rule has required actions; `best` gets the winning rank (0: no index at all).
  const ConditionDef* ChooseTrigger(const std::vector<const ConditionDef*>& leaves,
                                    bool has_actions, int& best) {
    const ConditionDef* trigger = nullptr;
    best = has_actions ? kActionRank : 0;
    for (const ConditionDef* leaf : leaves) {
      const int rank = TriggerRank(*leaf);
      if (rank != 0 && (best == 0 || rank < best)) {
        best = rank;
        trigger = leaf;
      }
    }
    return trigger;
  }

  // (action, value) keys from the first low-cardinality literal that yields them, else none.
  std::vector<std::string> CompositeIndexKeys(const ActionKeys& actions,
                                              const std::vector<const ConditionDef*>& leaves) {
    std::vector<std::string> composite;
    for (const ConditionDef* leaf : leaves) {
      if (TriggerRank(*leaf) == kLowCardinalityLiteralRank &&
          CompositeKeys(actions, *leaf, composite)) {
        break;
      }
    }
    return composite;
  }

  // The rule is reached through ONE index (its trigger): a required literal, CIDR or pattern on a
  // decoder-set field, else its action, else nothing (it meets every event). With a non-action
  // trigger, the rule's action constraint becomes its gate in MayMatch().
  void CompileEnabledRule(const RuleDef& def, uint32_t index, CompiledRule& rule) {
    auto actions = RequiredActions(def.condition, 0);
    std::vector<const ConditionDef*> leaves;
    RequiredLeaves(def.condition, 0, leaves);
    int best = 0;
    const ConditionDef* trigger = ChooseTrigger(leaves, actions.has_value(), best);
    const bool action_wins = actions && (trigger == nullptr || best > kActionRank);
    // An action list and a literal on a field of few values (region, provider, ...) are each
    // common, but their combination rarely is: index the (action, value) pairs together.
    std::vector<std::string> composite;
    if (action_wins) composite = CompositeIndexKeys(*actions, leaves);
    const bool by_action = composite.empty() && action_wins;
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
      for (const auto& key : composite) prog_->composite[key].push_back(index);
      prog_->composite_fields |= uint64_t{1} << static_cast<uint8_t>(composite[0][0]);
      ++prog_->trigger_rule_count;
    } else if (trigger != nullptr && TypeOf(trigger->field_id) == FieldType::kIp) {
      ip_triggers_.push_back({IpSet(*trigger), index, actions});
    } else if (trigger != nullptr) {
      triggers_.emplace_back(StringPredicateId(*trigger), index);
    } else {
      prog_->always.push_back(index);
    }
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
      auto& fdb = prog_->fields[f];
      fdb.first_word = begin / 64;
      next = (next + 63) / 64 * 64;
      fdb.end_word = next / 64;
    }
    prog_->bit_words = next / 64;
    prog_->string_predicate_count = preds_.size();
    // Trigger index, in CSR form over final predicate ids; rules stay in load order per predicate.
    std::vector<uint32_t> counts(next + 1, 0);
    for (const auto& [pred, rule] : triggers_) {
      ++counts[pred_ids_[pred] + 1];
      prog_->trigger_fields |= uint64_t{1} << static_cast<size_t>(preds_[pred].field);
    }
    for (size_t i = 1; i < counts.size(); ++i) counts[i] += counts[i - 1];
    prog_->trigger_offsets = counts;
    prog_->trigger_rules.resize(triggers_.size());
    for (const auto& [pred, rule] : triggers_)
      prog_->trigger_rules[counts[pred_ids_[pred]]++] = rule;
    prog_->trigger_rule_count += triggers_.size();
  }

  void BuildDatabases() {
    prog_->pattern_offsets.push_back(0);
    std::vector<Chunk> chunks;
    for (size_t f = 0; f < kFieldCount; ++f) {
      // Unique patterns of this field -> global pattern ids.
      std::vector<std::string> exprs;
      std::vector<unsigned> flags;
      std::vector<unsigned> ids;
      std::vector<std::vector<uint32_t>> pattern_preds;  // per local pattern
      std::vector<uint32_t> pattern_source;              // local pattern -> first predicate
      std::map<std::pair<std::string, unsigned>, size_t> seen;
      auto& fdb = prog_->fields[f];
      for (size_t p = 0; p < preds_.size(); ++p) {
        if (static_cast<size_t>(preds_[p].field) != f) continue;
        for (const auto& literal : preds_[p].literals) {
          auto& v = (preds_[p].folded ? fdb.folded : fdb.exact)[literal];
          if (v.empty() || v.back() != pred_ids_[p]) v.push_back(pred_ids_[p]);
          ++prog_->literal_count;
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
      const unsigned base = static_cast<unsigned>(prog_->pattern_offsets.size() - 1);
      for (size_t i = 0; i < exprs.size(); ++i) {
        ids.push_back(base + static_cast<unsigned>(i));
        prog_->pattern_preds.insert(prog_->pattern_preds.end(), pattern_preds[i].begin(),
                                    pattern_preds[i].end());
        prog_->pattern_offsets.push_back(static_cast<uint32_t>(prog_->pattern_preds.size()));
      }
      prog_->pattern_count += exprs.size();
      // Hyperscan's compile time grows faster than the pattern count for some pattern sets
      // (anchored ones), and one compile uses one core: big sets are cut into chunks compiled in
      // parallel. Each chunk is one more hs_scan of the field per event.
      for (const auto& [b, e] : hs::Chunks(exprs.size(), kPatternsPerDatabase)) {
        Chunk& chunk = chunks.emplace_back();
        chunk.field = static_cast<FieldId>(f);
        chunk.source.assign(pattern_source.begin() + b, pattern_source.begin() + e);
        for (size_t i = b; i < e; ++i) chunk.patterns.Add(exprs[i], flags[i], ids[i]);
      }
    }
    CompileChunks(chunks);
    if (!ok_) return;
    hs::Scratch scratch;
    for (const auto& fdb : prog_->fields) {
      for (const auto& db : fdb.dbs) {
        if (!scratch.Reserve(db)) {
          Error({}, "hyperscan", "cannot allocate Hyperscan scratch");
          return;
        }
      }
    }
    prog_->prototype_scratch = std::move(scratch);
  }

  // Measured on the +10,000 rule benchmark pack (docs/benchmarks.md): 1,000 anchored
  // instance.type patterns take 6.3 s as one database, 2.2 s as four; scanning four databases
  // instead of one costs about 200 ns on a 100-byte user agent.
  static constexpr size_t kPatternsPerDatabase = 256;

  // One database's patterns: a field's, or a chunk of them.
  struct Chunk {
    FieldId field;
    hs::PatternSet patterns;
    std::vector<uint32_t> source;  // pattern -> build predicate (for error positions)
  };

  // Compiles the chunks on up to hardware_concurrency threads; then, in chunk order, reports their
  // problems and installs their databases. A rejected pattern is reported at its rule's position
  // and the chunk compiled again without it, so that every bad pattern is reported once.
  void CompileChunks(const std::vector<Chunk>& chunks) {
    std::vector<hs::PatternSet> sets;
    for (const Chunk& chunk : chunks) sets.push_back(chunk.patterns);
    std::vector<hs::Compiled> compiled = hs::CompileAll(sets, kMaxReportedHsErrors);
    for (size_t i = 0; i < chunks.size(); ++i) {
      const Chunk& chunk = chunks[i];
      const std::string field(FieldName(chunk.field));
      for (const hs::CompileError& e : compiled[i].errors) {
        const std::string message = e.message.empty() ? "compile failed" : e.message;
        if (e.expression < 0) {
          Error({}, "hyperscan",
                "Hyperscan cannot compile the patterns of field '" + field + "': " + message);
          continue;
        }
        Error(preds_[chunk.source[e.expression]].pos, "invalid-regex",
              "Hyperscan cannot compile pattern '" + chunk.patterns.expressions[e.expression] +
                  "' on '" + field + "': " + message);
      }
      if (compiled[i].db) {
        prog_->fields[static_cast<size_t>(chunk.field)].dbs.push_back(std::move(compiled[i].db));
      }
    }
  }

  const PolicyDefinitions& defs_;
  Diagnostics& diags_;
  bool ok_ = true;
  std::unique_ptr<CompiledRules> out_;
  std::unique_ptr<RuleProgram> prog_;
  std::vector<BuildNode> nodes_;
  std::vector<StringPredicate> preds_;
  std::unordered_map<std::string, uint32_t> pred_by_key_;
  std::vector<uint32_t> pred_ids_;            // build predicate -> final predicate (bit) id
  const ConditionDef* index_cond_ = nullptr;  // action constraint implied by the index
  std::vector<std::pair<uint32_t, uint32_t>> triggers_;  // (build predicate, rule)
  struct IpTrigger {
    uint32_t set;  // in prog_->ip_sets
    uint32_t rule;
    std::optional<ActionKeys> actions;  // for a rule too wide for the index
  };
  std::vector<IpTrigger> ip_triggers_;
  std::unordered_map<const ConditionDef*, uint32_t> ip_set_by_cond_;
  std::vector<uint32_t> gates_;  // rule -> node (before flattening) of its action gate
  static constexpr uint32_t true_node_ = 1;
};

}  // namespace match_internal

std::unique_ptr<const CompiledRules> CompiledRules::Compile(const PolicyDefinitions& defs,
                                                            Diagnostics& diags) {
  return match_internal::RulesCompiler(defs, diags).Run();
}

}  // namespace chipwatch
