// CheaperTrailingWordBoundary: which patterns it rewrites, and that Hyperscan matches exactly the
// same strings with the rewritten form.
#include <gtest/gtest.h>
#include <hs/hs.h>

#include <string>
#include <vector>

#include "match/regex_checker.h"

namespace chipwatch {
namespace {

TEST(CheaperTrailingWordBoundary, RewritesOnlyABoundaryAfterALiteralWordCharacter) {
  const std::pair<std::string, std::string> cases[] = {
      {R"(ops-1234\b)", R"(ops-1234(?:\W|$))"},
      {R"(arn:aws:(iam|sts)::\d{12}:(user|assumed-role)/a-b-1\b)",
       R"(arn:aws:(iam|sts)::\d{12}:(user|assumed-role)/a-b-1(?:\W|$))"},
      {R"(foo\b|bar_\b)", R"(foo\b|bar_(?:\W|$))"},
      {R"(x\b)", R"(x(?:\W|$))"},
      // Left alone:
      {R"(\d\b)", R"(\d\b)"},        // an escape before it
      {R"(\x41\b)", R"(\x41\b)"},    // the end of a hex escape
      {R"(a\012\b)", R"(a\012\b)"},  // the end of an octal escape
      {R"(ab\\b)", R"(ab\\b)"},      // an escaped backslash, then a literal b
      {R"(a\\\b)", R"(a\\\b)"},      // a backslash before the boundary: not a word character
      {R"([ab]\b)", R"([ab]\b)"},    // a class
      {R"(a+\b)", R"(a+\b)"},        // a quantifier
      {R"((foo\b))", R"((foo\b))"},  // inside a group
      {R"(\Qa.b\b)", R"(\Qa.b\b)"},  // quoted: \b is literal text there
      {R"(\bfoo)", R"(\bfoo)"},      // only a trailing boundary
      {R"(\b)", R"(\b)"},
      {"", ""}};
  for (const auto& [in, want] : cases) EXPECT_EQ(CheaperTrailingWordBoundary(in), want) << in;
}

// `pattern` compiled as the rule compiler does; Matches(text): does it match somewhere in it.
class Compiled {
 public:
  Compiled(const std::string& pattern, bool caseless) {
    unsigned flags = HS_FLAG_SINGLEMATCH | HS_FLAG_ALLOWEMPTY;
    if (caseless) flags |= HS_FLAG_CASELESS;
    hs_compile_error_t* err = nullptr;
    if (hs_compile(pattern.c_str(), flags, HS_MODE_BLOCK, nullptr, &db_, &err) != HS_SUCCESS) {
      ADD_FAILURE() << pattern << ": " << (err ? err->message : "?");
      hs_free_compile_error(err);
      return;
    }
    EXPECT_EQ(hs_alloc_scratch(db_, &scratch_), HS_SUCCESS);
  }
  ~Compiled() {
    hs_free_scratch(scratch_);
    hs_free_database(db_);
  }
  bool Matches(const std::string& text) const {
    bool matched = false;
    hs_scan(
        db_, text.data(), static_cast<unsigned>(text.size()), 0, scratch_,
        [](unsigned, unsigned long long, unsigned long long, unsigned, void* ctx) {
          *static_cast<bool*>(ctx) = true;
          return 1;  // stop at the first match
        },
        &matched);
    return matched;
  }

 private:
  hs_database_t* db_ = nullptr;
  hs_scratch_t* scratch_ = nullptr;
};

TEST(CheaperTrailingWordBoundary, HyperscanMatchesTheSameStrings) {
  const std::string patterns[] = {R"(ops-1234\b)", R"(arn:aws:iam::\d{12}:user/Ops_9\b)",
                                  R"(foo\b|bar_\b)", R"(h100\b)", R"(^x\b)"};
  const std::string cores[] = {"ops-1234",
                               "arn:aws:iam::123456789012:user/Ops_9",
                               "arn:aws:iam::123456789012:user/OPS_9",
                               "foo",
                               "bar_",
                               "H100",
                               "h100",
                               "x"};
  const std::string before[] = {"", " ", "a", "-", "\xc3\xa9"};
  const std::string after[] = {"",   " ",   "a", "Z",    "0",        "_",  "-", "/",
                               "\n", "\n1", ".", "\x80", "\xc3\xa9", "\t", "x"};
  size_t checked = 0, matched = 0;
  for (const std::string& pattern : patterns) {
    const std::string rewritten = CheaperTrailingWordBoundary(pattern);
    ASSERT_NE(rewritten, pattern);
    for (bool caseless : {false, true}) {
      const Compiled original_db(pattern, caseless), rewritten_db(rewritten, caseless);
      for (const std::string& core : cores) {
        for (const std::string& b : before) {
          for (const std::string& a : after) {
            const std::string text = b + core + a;
            const bool original = original_db.Matches(text);
            EXPECT_EQ(original, rewritten_db.Matches(text))
                << pattern << " on '" << text << "' caseless=" << caseless;
            ++checked;
            matched += original;
          }
        }
      }
    }
  }
  EXPECT_EQ(checked, 5u * 2 * 8 * 5 * 15);
  EXPECT_GT(matched, checked / 10);  // both outcomes are well represented
  EXPECT_LT(matched, checked - checked / 10);
}

}  // namespace
}  // namespace chipwatch
