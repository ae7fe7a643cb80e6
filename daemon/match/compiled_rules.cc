#include "match/compiled_rules.h"

#include "match/internal.h"

namespace chipwatch {

MatchScratch::MatchScratch() : state_(std::make_unique<match_internal::ScratchState>()) {}
MatchScratch::~MatchScratch() = default;
MatchScratch::MatchScratch(MatchScratch&&) noexcept = default;
MatchScratch& MatchScratch::operator=(MatchScratch&&) noexcept = default;

CompiledRules::CompiledRules() = default;
CompiledRules::~CompiledRules() = default;

const CompiledRule* CompiledRules::FindRule(std::string_view id) const {
  for (const auto& rule : rules_) {
    if (rule.id == id) return &rule;
  }
  return nullptr;
}

size_t CompiledRules::hyperscan_database_count() const {
  size_t n = 0;
  for (const auto& fdb : program_->fields) n += fdb.dbs.size();
  return n;
}

size_t CompiledRules::pattern_count() const { return program_->pattern_count; }
size_t CompiledRules::literal_count() const { return program_->literal_count; }
size_t CompiledRules::predicate_count() const { return program_->string_predicate_count; }
size_t CompiledRules::node_count() const { return program_->nodes.size(); }
size_t CompiledRules::indexed_rule_count() const { return program_->indexed_rule_count; }
size_t CompiledRules::triggered_rule_count() const { return program_->trigger_rule_count; }
size_t CompiledRules::unindexed_rule_count() const { return program_->always.size(); }

bool CompiledRules::has_database(FieldId field) const {
  return field < FieldId::kCount && !program_->fields[static_cast<size_t>(field)].dbs.empty();
}

bool CompiledRules::has_string_index(FieldId field) const {
  if (field >= FieldId::kCount) return false;
  const match_internal::FieldIndex& fdb = program_->fields[static_cast<size_t>(field)];
  return !fdb.dbs.empty() || !fdb.exact.empty() || !fdb.folded.empty();
}

void AppendFieldText(std::string& out, const Event& event, FieldId f) {
  if (!event.Has(f)) return;
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

std::string RenderReason(const CompiledRule& rule, const Event& event) {
  std::string out;
  for (const auto& part : rule.reason) {
    if (!part.field) {
      out += part.literal;
    } else if (!event.Has(*part.field)) {
      out += '-';
    } else {
      AppendFieldText(out, event, *part.field);
    }
  }
  return out;
}

}  // namespace chipwatch
