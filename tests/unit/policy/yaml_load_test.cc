// Tests for LoadYamlDocuments (policy/yaml_load.h): text on which yaml-cpp 0.7.0's LoadAll loops
// forever (a stray ',' where a document's root starts) is refused with the ','s position, in
// bounded time; every other text loads exactly as YAML::LoadAll loads it. Through the rule loader
// too; the config loader's side is in tests/unit/config/loader_test.cc and tests/e2e/cli.sh.
#include "policy/yaml_load.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "policy/loader.h"

namespace chipwatch {
namespace {

struct Looping {
  std::string text;
  int line;  // 1-based position of the stray ','
  int column;
};

// Each of these makes YAML::LoadAll of yaml-cpp 0.7.0 loop while allocating (checked by hand with
// a 3 s timeout; see the header for why).
const Looping kLooping[] = {
    {",", 1, 1},
    {", ", 1, 1},
    {",,,", 1, 1},
    {",\n,\n,\n", 1, 1},
    {" ,", 1, 2},
    {"\t,", 1, 2},
    {"# comment\n,", 2, 1},
    {"---\n,", 2, 1},
    {"--- ,", 1, 5},
    {"... ,", 1, 5},
    {"%YAML 1.2\n---\n,", 3, 1},
    {"\"x\", \"y\"", 1, 4},
    {"'x',", 1, 4},
    {"[a],", 1, 4},
    {"{a: 1}, {b: 2}", 1, 7},
    {"[a]\n,", 2, 1},
    {"- a\n- b\n,", 3, 1},
    {"|\n a\n,", 3, 1},
    {"x\n...\n,", 3, 1},
    {"&a ,", 1, 4},
    {"!t ,", 1, 4},
    {"!!str ,", 1, 7},
    {"\xEF\xBB\xBF,", 1, 1},
    {"- rule: r1\n  condition: x\n,\n", 3, 1},
};

TEST(LoadYamlDocuments, StrayCommaAtADocumentRootIsRefusedWithItsPosition) {
  for (const Looping& c : kLooping) {
    SCOPED_TRACE(c.text);
    try {
      LoadYamlDocuments(c.text);
      ADD_FAILURE() << "accepted";
    } catch (const YAML::ParserException& e) {
      EXPECT_EQ(e.mark.line + 1, c.line) << e.what();
      EXPECT_EQ(e.mark.column + 1, c.column) << e.what();
    }
  }
}

// Text the guard's cheap scan flags or not, that yaml-cpp handles without looping: the same
// documents, or the same exception, as YAML::LoadAll.
TEST(LoadYamlDocuments, OtherTextLoadsAsLoadAllLoadsIt) {
  const std::string kTexts[] = {
      "a: b, c\n",
      "a: [1, 2,]\n",
      "a: {x: 1, y: 2}\n",
      "- \"quoted, with comma\"\n- 'x', \n",
      "a\n,",  // a plain scalar continued: "a ,"
      "a: 1\n  , b\n",
      "condition: >\n  evt.name in (RunInstances\n  , StartInstances)\n",
      "a: \"x\"\n---\nb: [1,\n  2]\n",
      "[,]",
      "{,}",
      "a: b\n,",
      "- ,",
      ": ,",
      "key: \"x\", \"y\"\n",
      "[:",
      "{:",
      "]",
      "*x ,",
      "",
      "---\n---\n...\n",
  };
  for (const std::string& text : kTexts) {
    SCOPED_TRACE(text);
    std::string want;
    size_t want_docs = 0;
    try {
      want_docs = YAML::LoadAll(text).size();
    } catch (const YAML::Exception& e) {
      want = e.what();
    }
    std::string got;
    size_t got_docs = 0;
    try {
      got_docs = LoadYamlDocuments(text).size();
    } catch (const YAML::Exception& e) {
      got = e.what();
    }
    EXPECT_EQ(got, want);
    EXPECT_EQ(got_docs, want_docs);
  }
}

TEST(LoadYamlDocuments, ScanFlagsEveryLoopingTextAndNoOrdinaryRuleText) {
  for (const Looping& c : kLooping) {
    EXPECT_TRUE(yaml_load_internal::MayHoldStrayComma(c.text)) << c.text;
  }
  // Commas inside a root block sequence or mapping at column 0 cost no second parse.
  EXPECT_FALSE(yaml_load_internal::MayHoldStrayComma(
      "# c, d\n- rule: r\n  desc: a, b and c\n  condition: evt.name in (A, B)\n  tags: ['x', y]\n"
      "  output: \"i=%x, t=%y\",\n- list: l\n  items: [\"a\", \"b\"]\n"));
  EXPECT_FALSE(yaml_load_internal::MayHoldStrayComma(
      "---\nrules: [a, 'b']\nsinks:\n  - {type: file, path: \"x\"}\n"));
  // ... unless the root ends: every line from there on is looked at.
  EXPECT_TRUE(yaml_load_internal::MayHoldStrayComma("- a\n\"x\"\n  ,\n"));
  EXPECT_TRUE(yaml_load_internal::MayHoldStrayComma("a: 1\n[b]\n  , c\n"));
  // The default pack and the shipped configs: none takes the second parse.
  for (const char* dir : {"/rules", "/config"}) {
    for (const auto& entry :
         std::filesystem::recursive_directory_iterator(std::string(CHIPWATCH_SOURCE_DIR) + dir)) {
      if (entry.path().extension() != ".yaml") continue;
      std::ifstream in(entry.path());
      std::stringstream text;
      text << in.rdbuf();
      EXPECT_FALSE(yaml_load_internal::MayHoldStrayComma(text.str())) << entry.path();
    }
  }
}

// Found by fuzz_config (a 10 s timeout): yaml-cpp reads NUL bytes as line ends, so a ',' after
// "\0&\0..." stood at a document's start unseen by the line scan. Text with a NUL always takes
// the checking parse.
TEST(LoadYamlDocuments, StrayCommaAfterNulBytesIsRefused) {
  const std::string minimal("\0&\0\0\0\0\0,", 8);
  EXPECT_THROW(LoadYamlDocuments(minimal), YAML::ParserException);
  std::ifstream in(std::string(CHIPWATCH_SOURCE_DIR) +
                       "/tests/data/fuzz-regressions/config/nul-anchor-comma.yaml",
                   std::ios::binary);
  std::stringstream fuzzed;
  fuzzed << in.rdbuf();
  ASSERT_GT(fuzzed.str().size(), 1000u);
  EXPECT_THROW(LoadYamlDocuments(fuzzed.str()), YAML::ParserException);
}

// Found by fuzz_config in its hour: a quoted scalar whose second line starts with '#' (not a
// comment: the inside of the scalar), closed and followed by a ','. The scan skipped the line as
// a comment, and yaml-cpp looped (2 GB in under 10 s).
TEST(LoadYamlDocuments, StrayCommaAfterAQuotedScalarLineThatLooksLikeAComment) {
  for (const std::string text : {"'\n#',", "\"x\n  # y\", z\n", "x: 1\n'\n#a',\n"}) {
    SCOPED_TRACE(text);
    EXPECT_THROW(LoadYamlDocuments(text), YAML::ParserException);
  }
  std::ifstream in(std::string(CHIPWATCH_SOURCE_DIR) +
                       "/tests/data/fuzz-regressions/config/quoted-comment-line-comma.yaml",
                   std::ios::binary);
  std::stringstream fuzzed;
  fuzzed << in.rdbuf();
  ASSERT_GT(fuzzed.str().size(), 1000u);
  EXPECT_THROW(LoadYamlDocuments(fuzzed.str()), YAML::ParserException);
  // A real comment with commas after the root has ended costs a checking parse, nothing more.
  EXPECT_EQ(LoadYamlDocuments("\"x\"\n# a, b: , c\n").size(), 1u);
}

// Texts where the root ends and a stray ',' follows on an indented line: refused, not looped on.
TEST(LoadYamlDocuments, StrayCommaAfterTheRootEndsOnAnIndentedLine) {
  for (const std::string text : {"- a\n\"x\"\n  ,\n", "[a]\n  ,\n", "\"x\"\n   ,"}) {
    SCOPED_TRACE(text);
    EXPECT_THROW(LoadYamlDocuments(text), YAML::ParserException);
  }
}

TEST(LoadYamlDocuments, RuleLoaderRefusesAStrayCommaWithFileLine) {
  for (const std::string text : {",", ", ", ",,,,,,\n", "- list: a\n  items: [x]\n,\n"}) {
    SCOPED_TRACE(text);
    Diagnostics diags;
    LoadDefinitionsFromStrings({{"rules/bad.yaml", text}}, diags);
    ASSERT_TRUE(diags.has_errors());
    const Diagnostic& d = diags.items().front();
    EXPECT_EQ(d.code, "yaml-syntax");
    EXPECT_EQ(d.pos.file, "rules/bad.yaml");
    EXPECT_GE(d.pos.line, 1);
    EXPECT_NE(d.message.find("','"), std::string::npos) << d.message;
  }
}

}  // namespace
}  // namespace chipwatch
