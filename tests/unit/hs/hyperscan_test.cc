// Tests for the shared Hyperscan wrapper (hs/hyperscan.h).
#include "hs/hyperscan.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <type_traits>
#include <vector>

namespace chipwatch::hs {
namespace {

static_assert(!std::is_copy_constructible_v<Database>);
static_assert(std::is_nothrow_move_constructible_v<Database>);
static_assert(!std::is_copy_constructible_v<Scratch>);
static_assert(std::is_nothrow_move_constructible_v<Scratch>);

int Collect(unsigned int id, unsigned long long, unsigned long long, unsigned int, void* ctx) {
  static_cast<std::vector<unsigned>*>(ctx)->push_back(id);
  return 0;
}

int Stop(unsigned int, unsigned long long, unsigned long long, unsigned int, void*) { return 1; }

std::vector<unsigned> ScanIds(const Database& db, Scratch& scratch, std::string_view text) {
  std::vector<unsigned> ids;
  EXPECT_TRUE(Scan(db, text, scratch, Collect, &ids));
  return ids;
}

TEST(HyperscanTest, CompilesScansAndReportsIds) {
  PatternSet set;
  set.Add("h100", kCaseless | kSingleMatch, 7);
  set.Add("^a100$", kSingleMatch, 9);
  Compiled compiled = Compile(set);
  ASSERT_TRUE(compiled.db);
  EXPECT_TRUE(compiled.errors.empty());
  Scratch scratch;
  EXPECT_FALSE(scratch);
  ASSERT_TRUE(scratch.Reserve(compiled.db));
  EXPECT_TRUE(scratch);
  EXPECT_EQ(ScanIds(compiled.db, scratch, "NVIDIA H100"), std::vector<unsigned>{7});
  EXPECT_EQ(ScanIds(compiled.db, scratch, "a100"), std::vector<unsigned>{9});
  EXPECT_TRUE(ScanIds(compiled.db, scratch, "A100").empty());  // case-sensitive pattern
  EXPECT_TRUE(ScanIds(compiled.db, scratch, "").empty());
}

TEST(HyperscanTest, EmptyPatternMatchesEmptyTextWithAllowEmpty) {
  PatternSet set;
  set.Add("^$", kSingleMatch | kAllowEmpty, 1);
  Compiled compiled = Compile(set);
  ASSERT_TRUE(compiled.db);
  Scratch scratch;
  ASSERT_TRUE(scratch.Reserve(compiled.db));
  EXPECT_EQ(ScanIds(compiled.db, scratch, ""), std::vector<unsigned>{1});
}

TEST(HyperscanTest, AStoppedScanIsReportedAsNotCompleted) {
  PatternSet set;
  set.Add("x", 0, 0);
  Compiled compiled = Compile(set);
  ASSERT_TRUE(compiled.db);
  Scratch scratch;
  ASSERT_TRUE(scratch.Reserve(compiled.db));
  EXPECT_FALSE(Scan(compiled.db, "xx", scratch, Stop, nullptr));
}

TEST(HyperscanTest, ScratchGrowsForSeveralDatabasesAndClones) {
  PatternSet small, large;
  small.Add("a", 0, 0);
  for (unsigned i = 0; i < 50; ++i) large.Add("b{" + std::to_string(i + 1) + "}c", 0, i);
  Compiled a = Compile(small), b = Compile(large);
  ASSERT_TRUE(a.db);
  ASSERT_TRUE(b.db);
  Scratch scratch;
  ASSERT_TRUE(scratch.Reserve(a.db));
  ASSERT_TRUE(scratch.Reserve(b.db));
  std::optional<Scratch> clone = scratch.Clone();
  ASSERT_TRUE(clone.has_value());
  ASSERT_TRUE(*clone);
  EXPECT_EQ(ScanIds(a.db, *clone, "a"), std::vector<unsigned>{0});
  EXPECT_EQ(ScanIds(b.db, *clone, "bc").size(), 1u);
  std::optional<Scratch> empty = Scratch().Clone();
  ASSERT_TRUE(empty.has_value());
  EXPECT_FALSE(*empty);
}

TEST(HyperscanTest, WithoutRetriesTheFirstRejectedExpressionEndsTheCompile) {
  PatternSet set;
  set.Add("ok", 0, 0);
  set.Add("(unbalanced", 0, 1);
  set.Add("also(bad", 0, 2);
  Compiled compiled = Compile(set);
  EXPECT_FALSE(compiled.db);
  ASSERT_EQ(compiled.errors.size(), 1u);
  EXPECT_EQ(compiled.errors[0].expression, 1);
  EXPECT_FALSE(compiled.errors[0].message.empty());
}

TEST(HyperscanTest, RetriesReportEachRejectedExpressionOnceAndKeepTheRest) {
  PatternSet set;
  set.Add("(unbalanced", 0, 10);
  set.Add("good", 0, 11);
  set.Add("also(bad", 0, 12);
  set.Add("fine", 0, 13);
  Compiled compiled = Compile(set, 20);
  ASSERT_TRUE(compiled.db);
  ASSERT_EQ(compiled.errors.size(), 2u);
  EXPECT_EQ(compiled.errors[0].expression, 0);  // positions in the original set
  EXPECT_EQ(compiled.errors[1].expression, 2);
  Scratch scratch;
  ASSERT_TRUE(scratch.Reserve(compiled.db));
  std::vector<unsigned> ids = ScanIds(compiled.db, scratch, "fine good");
  std::sort(ids.begin(), ids.end());  // reported in the order the matches end
  EXPECT_EQ(ids, (std::vector<unsigned>{11, 13}));
}

TEST(HyperscanTest, RetriesAreBounded) {
  PatternSet set;
  for (int i = 0; i < 5; ++i) set.Add("(bad", 0, static_cast<unsigned>(i));
  set.Add("good", 0, 5);
  Compiled compiled = Compile(set, 2);
  EXPECT_FALSE(compiled.db);
  EXPECT_EQ(compiled.errors.size(), 3u);  // the first attempt and two retries
}

TEST(HyperscanTest, ChunksAreConsecutiveEvenAndBounded) {
  EXPECT_TRUE(Chunks(0, 12).empty());
  EXPECT_EQ(Chunks(5, 12), (std::vector<std::pair<size_t, size_t>>{{0, 5}}));
  EXPECT_EQ(Chunks(12, 12), (std::vector<std::pair<size_t, size_t>>{{0, 12}}));
  EXPECT_EQ(Chunks(13, 12), (std::vector<std::pair<size_t, size_t>>{{0, 6}, {6, 13}}));
  const auto chunks = Chunks(1000, 256);
  ASSERT_EQ(chunks.size(), 4u);
  size_t next = 0;
  for (const auto& [begin, end] : chunks) {
    EXPECT_EQ(begin, next);
    EXPECT_LE(end - begin, 256u);
    EXPECT_GE(end - begin, 249u);
    next = end;
  }
  EXPECT_EQ(next, 1000u);
}

TEST(HyperscanTest, CompileAllKeepsTheSetsOrder) {
  std::vector<PatternSet> sets(6);
  for (unsigned i = 0; i < sets.size(); ++i) {
    sets[i].Add("word" + std::to_string(i), 0, i);
    if (i == 3) sets[i].Add("(bad", 0, 100);
  }
  std::vector<Compiled> compiled = CompileAll(sets);
  ASSERT_EQ(compiled.size(), sets.size());
  for (unsigned i = 0; i < sets.size(); ++i) {
    if (i == 3) {
      EXPECT_FALSE(compiled[i].db);
      ASSERT_EQ(compiled[i].errors.size(), 1u);
      EXPECT_EQ(compiled[i].errors[0].expression, 1);
      continue;
    }
    ASSERT_TRUE(compiled[i].db) << i;
    Scratch scratch;
    ASSERT_TRUE(scratch.Reserve(compiled[i].db));
    EXPECT_EQ(ScanIds(compiled[i].db, scratch, "word" + std::to_string(i)),
              std::vector<unsigned>{i});
  }
}

TEST(HyperscanTest, AnalyzeExpression) {
  ExpressionInfo info = AnalyzeExpression("ab+c", kSingleMatch);
  EXPECT_TRUE(info.ok);
  EXPECT_EQ(info.min_width, 3u);
  EXPECT_EQ(AnalyzeExpression("x*", kSingleMatch | kAllowEmpty).min_width, 0u);
  info = AnalyzeExpression("(oops", kSingleMatch);
  EXPECT_FALSE(info.ok);
  EXPECT_FALSE(info.message.empty());
}

}  // namespace
}  // namespace chipwatch::hs
