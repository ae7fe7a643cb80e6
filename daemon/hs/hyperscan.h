// Hyperscan, wrapped once for the rule engine (match/) and the catalog index (enrich/): move-only
// databases and scratch space, a scan whose failure is a value, a check of one expression, and the
// compile of a large pattern set in chunks on several threads. <hs/hs.h> appears only in hs/*.cc.
//
// Thread contract: a Database is immutable once compiled and may be scanned by any number of
// threads at once, each with its own Scratch. A Scratch serves one scan at a time: Clone() it for
// each thread. The compile and check functions are reentrant; CompileAll uses up to
// hardware_concurrency threads and returns when every set is compiled. Nothing here throws or
// prints.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

struct hs_database;  // <hs/hs.h>, kept out of this header
struct hs_scratch;

namespace chipwatch::hs {

// Pattern flags: the values of Hyperscan's HS_FLAG_* (checked in hyperscan.cc).
inline constexpr unsigned kCaseless = 1;
inline constexpr unsigned kSingleMatch = 8;
inline constexpr unsigned kAllowEmpty = 16;

// Hyperscan's match_event_handler: called for each match with the pattern's id; return 0 to go on.
using MatchHandler = int (*)(unsigned int id, unsigned long long from, unsigned long long to,
                             unsigned int flags, void* context);

// A compiled block-mode database. Empty (false) when default-constructed or when a compile failed.
class Database {
 public:
  Database() = default;
  explicit operator bool() const { return db_ != nullptr; }

 private:
  friend class Scratch;
  friend struct Compiler;
  friend bool Scan(const Database&, std::string_view, class Scratch&, MatchHandler, void*);
  struct Free {
    void operator()(hs_database* db) const;
  };
  std::unique_ptr<hs_database, Free> db_;
};

// Scratch space for scanning: sized for every database it was Reserve()d for.
class Scratch {
 public:
  Scratch() = default;  // empty: allocates nothing until Reserve()
  explicit operator bool() const { return scratch_ != nullptr; }

  // Grows the scratch so that it can also scan `db`. False when Hyperscan cannot allocate (the
  // scratch is then unchanged).
  [[nodiscard]] bool Reserve(const Database& db);
  // A scratch of the same capacity for another thread (an empty one for an empty scratch); nullopt
  // when Hyperscan cannot allocate.
  std::optional<Scratch> Clone() const;

 private:
  friend bool Scan(const Database&, std::string_view, Scratch&, MatchHandler, void*);
  struct Free {
    void operator()(hs_scratch* scratch) const;
  };
  std::unique_ptr<hs_scratch, Free> scratch_;
};

// Scans `text` with `db`, calling `on_match(id, ..., context)` for each match. False when the scan
// did not complete (an unfit scratch, or a handler that asked to stop): the matches reported
// before then stand. Does not allocate.
bool Scan(const Database& db, std::string_view text, Scratch& scratch, MatchHandler on_match,
          void* context);

// Patterns for one database: expression i with flags[i] and Hyperscan id ids[i].
struct PatternSet {
  std::vector<std::string> expressions;
  std::vector<unsigned> flags;
  std::vector<unsigned> ids;

  void Add(std::string expression, unsigned flag, unsigned id) {
    expressions.push_back(std::move(expression));
    flags.push_back(flag);
    ids.push_back(id);
  }
  size_t size() const { return expressions.size(); }
};

struct CompileError {
  int expression = -1;  // index into the PatternSet of the rejected expression; -1: none named
  std::string message;  // Hyperscan's; empty when it gave none
};

struct Compiled {
  Database db;                       // empty when the set did not compile
  std::vector<CompileError> errors;  // in the order found
};

// Compiles `patterns` into one block-mode database. When Hyperscan rejects one expression, the
// error is recorded and, up to `retries` times, the set is compiled again without it, so that each
// bad expression is reported once (retries = 0: the first error ends the compile).
Compiled Compile(const PatternSet& patterns, int retries = 0);

// Compiles each set as Compile() does, on up to hardware_concurrency threads (RunConcurrently);
// the results are in the sets' order.
std::vector<Compiled> CompileAll(const std::vector<PatternSet>& sets, int retries = 0);

// [begin, end) ranges covering [0, count) in order, as few as hold at most `max_per_chunk` each,
// of equal sizes (within one). Hyperscan's compile time grows faster than the pattern count and
// one compile uses one core: a large set cut into chunks compiles concurrently, at the price of
// one more scan per chunk.
std::vector<std::pair<size_t, size_t>> Chunks(size_t count, size_t max_per_chunk);

// One expression parsed and analysed as a compile would (hs_expression_info), without building a
// database: a fraction of the cost.
struct ExpressionInfo {
  bool ok = false;
  std::string message;     // when !ok: Hyperscan's message (empty when it gave none)
  unsigned min_width = 0;  // when ok: the length of the shortest match
};
ExpressionInfo AnalyzeExpression(const std::string& expression, unsigned flags);

}  // namespace chipwatch::hs
