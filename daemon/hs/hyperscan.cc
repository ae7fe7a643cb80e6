#include "hs/hyperscan.h"

#include <hs/hs.h>

#include <cstdlib>
#include <type_traits>

#include "core/parallel.h"

namespace chipwatch::hs {

static_assert(kCaseless == HS_FLAG_CASELESS);
static_assert(kSingleMatch == HS_FLAG_SINGLEMATCH);
static_assert(kAllowEmpty == HS_FLAG_ALLOWEMPTY);
static_assert(std::is_same_v<MatchHandler, match_event_handler>);

void Database::Free::operator()(hs_database* db) const { hs_free_database(db); }
void Scratch::Free::operator()(hs_scratch* scratch) const { hs_free_scratch(scratch); }

bool Scratch::Reserve(const Database& db) {
  hs_scratch_t* scratch = scratch_.get();
  if (hs_alloc_scratch(db.db_.get(), &scratch) != HS_SUCCESS) return false;
  scratch_.release();  // hs_alloc_scratch reallocated it in place, or freed it and made `scratch`
  scratch_.reset(scratch);
  return true;
}

std::optional<Scratch> Scratch::Clone() const {
  Scratch copy;
  if (!scratch_) return copy;
  hs_scratch_t* clone = nullptr;
  if (hs_clone_scratch(scratch_.get(), &clone) != HS_SUCCESS) return std::nullopt;
  copy.scratch_.reset(clone);
  return copy;
}

bool Scan(const Database& db, std::string_view text, Scratch& scratch, MatchHandler on_match,
          void* context) {
  return hs_scan(db.db_.get(), text.empty() ? "" : text.data(), static_cast<unsigned>(text.size()),
                 0, scratch.scratch_.get(), on_match, context) == HS_SUCCESS;
}

// Builds databases; a friend of Database.
struct Compiler {
  static Compiled Run(const PatternSet& patterns, int retries) {
    Compiled out;
    std::vector<size_t> kept(patterns.size());  // positions still in the set
    for (size_t i = 0; i < kept.size(); ++i) kept[i] = i;
    std::vector<const char*> expressions;
    std::vector<unsigned> flags, ids;
    for (int attempt = 0; attempt <= retries; ++attempt) {
      expressions.clear();
      flags.clear();
      ids.clear();
      for (size_t i : kept) {
        expressions.push_back(patterns.expressions[i].c_str());
        flags.push_back(patterns.flags[i]);
        ids.push_back(patterns.ids[i]);
      }
      hs_database_t* db = nullptr;
      hs_compile_error_t* err = nullptr;
      if (hs_compile_multi(expressions.data(), flags.data(), ids.data(),
                           static_cast<unsigned>(expressions.size()), HS_MODE_BLOCK, nullptr, &db,
                           &err) == HS_SUCCESS) {
        out.db.db_.reset(db);
        return out;
      }
      CompileError& error = out.errors.emplace_back();
      if (err != nullptr && err->message != nullptr) error.message = err->message;
      const int bad = err != nullptr ? err->expression : -1;
      hs_free_compile_error(err);
      if (bad < 0 || static_cast<size_t>(bad) >= kept.size()) return out;
      error.expression = static_cast<int>(kept[bad]);
      kept.erase(kept.begin() + bad);
      if (kept.empty()) return out;
    }
    return out;
  }
};

Compiled Compile(const PatternSet& patterns, int retries) {
  return Compiler::Run(patterns, retries);
}

std::vector<Compiled> CompileAll(const std::vector<PatternSet>& sets, int retries) {
  std::vector<Compiled> out(sets.size());
  RunConcurrently(sets.size(), [&](size_t i) { out[i] = Compiler::Run(sets[i], retries); });
  return out;
}

std::vector<std::pair<size_t, size_t>> Chunks(size_t count, size_t max_per_chunk) {
  std::vector<std::pair<size_t, size_t>> out;
  const size_t chunks = (count + max_per_chunk - 1) / max_per_chunk;
  for (size_t c = 0; c < chunks; ++c)
    out.emplace_back(count * c / chunks, count * (c + 1) / chunks);
  return out;
}

ExpressionInfo AnalyzeExpression(const std::string& expression, unsigned flags) {
  ExpressionInfo out;
  hs_expr_info_t* info = nullptr;
  hs_compile_error_t* err = nullptr;
  if (hs_expression_info(expression.c_str(), flags, &info, &err) != HS_SUCCESS) {
    if (err != nullptr && err->message != nullptr) out.message = err->message;
    hs_free_compile_error(err);
    return out;
  }
  out.ok = true;
  out.min_width = info->min_width;
  std::free(info);  // allocated by Hyperscan's default allocator (malloc)
  return out;
}

}  // namespace chipwatch::hs
