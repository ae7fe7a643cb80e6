// Tests for the shared YAML walker (yaml/walker.h): positions, the mapping checks in a loader's
// wording, the typed getters, and yaml-cpp failures turned into diagnostics.
#include "yaml/walker.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "yaml/json.h"

namespace chipwatch::yaml {
namespace {

constexpr Wording kTestWording = {
    .not_a_mapping =
        [](std::string_view what, std::string_view kind) {
          return std::string(what) + " is " + std::string(kind);
        },
    .key_not_scalar =
        [](std::string_view what, std::string_view kind) {
          return std::string(what) + " key is " + std::string(kind);
        },
    .unknown_key =
        [](std::string_view what, const std::string& key, std::string_view allowed) {
          return std::string(what) + ": " + key + " not in " + std::string(allowed);
        },
    .duplicate_key =
        [](std::string_view what, const std::string& key) {
          return std::string(what) + ": " + key + " twice";
        },
    .missing_key =
        [](std::string_view what, std::string_view key) {
          return std::string(what) + ": no " + std::string(key);
        },
};

std::vector<std::string> Lines(const Diagnostics& diags) {
  std::vector<std::string> out;
  for (const auto& d : diags.items()) out.push_back(d.ToString());
  return out;
}

TEST(YamlWalkerTest, ReadMapReportsKeysInTheLoadersWording) {
  Diagnostics diags;
  YamlWalker w("f.yaml", diags, kTestWording);
  auto docs = w.Load("a: 1\nb: 2\na: 3\n[x]: 4\nz: 5\n");
  ASSERT_TRUE(docs);
  std::vector<MapEntry> entries;
  ASSERT_TRUE(w.ReadMap((*docs)[0], "top", {"a", "b", "c"}, entries));
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].key, "a");
  EXPECT_EQ(entries[1].key, "b");
  EXPECT_FALSE(w.RequireKeys((*docs)[0], entries, "top", {"a", "c"}));
  EXPECT_EQ(Lines(diags), (std::vector<std::string>{
                              "f.yaml:3:1: error: top: a twice [duplicate-key]",
                              "f.yaml:4:1: error: top key is a sequence [wrong-type]",
                              "f.yaml:5:1: error: top: z not in a, b, c [unknown-key]",
                              "f.yaml:1:1: error: top: no c [missing-key]",
                          }));
  EXPECT_FALSE(w.ReadMap((*docs)[0]["a"], "a", {}, entries));
  EXPECT_EQ(diags.items().back().ToString(), "f.yaml:1:4: error: a is a scalar [wrong-type]");
}

TEST(YamlWalkerTest, GettersReportAtTheValueOrAtAnEmptyValuesKey) {
  Diagnostics diags;
  YamlWalker w("f.yaml", diags, kTestWording);
  auto docs = w.Load("n: 70000000000000000000\nb: yes\ne:\nl: [a, {b: c}]\nt: TRUE\ni: -7\n");
  ASSERT_TRUE(docs);
  std::vector<MapEntry> e;
  ASSERT_TRUE(w.ReadMap((*docs)[0], "top", {"n", "b", "e", "l", "t", "i"}, e));
  int64_t n = 0;
  EXPECT_FALSE(w.GetInt(e[0], "n", 1, 10, n));
  bool b = false;
  EXPECT_FALSE(w.GetBool(e[1], "'b'", b));
  std::string s;
  EXPECT_FALSE(w.GetScalar(e[2], "'e'", s));
  std::vector<std::string> items;
  EXPECT_FALSE(w.GetStringList(e[3], "'l'", items));
  EXPECT_EQ(items, std::vector<std::string>{"a"});
  EXPECT_TRUE(w.GetBool(e[4], "'t'", b));
  EXPECT_TRUE(b);
  EXPECT_TRUE(w.GetInt(e[5], "i", -10, 10, n));
  EXPECT_EQ(n, -7);
  EXPECT_EQ(Lines(diags),
            (std::vector<std::string>{
                "f.yaml:1:4: error: n must be between 1 and 10, got 70000000000000000000 "
                "[out-of-range]",
                "f.yaml:2:4: error: 'b' must be true or false [wrong-type]",
                "f.yaml:3:1: error: 'e' must be a string, got nothing [wrong-type]",
                "f.yaml:4:8: error: items of 'l' must be strings, got a mapping [wrong-type]",
            }));
}

TEST(YamlWalkerTest, SyntaxErrorsAndStrayCommasAreDiagnostics) {
  Diagnostics diags;
  YamlWalker w("f.yaml", diags, kTestWording);
  EXPECT_FALSE(w.Load("a: [1, 2\n"));
  EXPECT_FALSE(w.Load(", "));  // yaml-cpp 0.7.0 would loop (yaml/load.h)
  ASSERT_EQ(diags.items().size(), 2u);
  for (const auto& d : diags.items()) EXPECT_EQ(d.code, "yaml-syntax");
  EXPECT_EQ(diags.items()[1].pos.line, 1);
}

TEST(YamlWalkerTest, GuardTurnsExceptionsIntoInternal) {
  Diagnostics diags;
  YamlWalker w("f.yaml", diags, kTestWording);
  w.Guard([] { throw std::runtime_error("boom"); });
  ASSERT_EQ(diags.items().size(), 1u);
  EXPECT_EQ(diags.items()[0].ToString(), "f.yaml: error: unexpected YAML error: boom [internal]");
}

TEST(YamlJsonTest, CoreSchemaScalars) {
  Diagnostics diags;
  YamlWalker w("f.yaml", diags, kTestWording);
  auto docs = w.Load("a: [~, true, 12, 007, 1.5, .5, '3', x, 1e3]\nb: {c: null}\n");
  ASSERT_TRUE(docs);
  std::string json;
  AppendJson((*docs)[0], json);
  EXPECT_EQ(json, R"({"a":[null,true,12,"007",1.5,0.5,"3","x",1e3],"b":{"c":null}})");
  EXPECT_TRUE(LooksLikeNumber("-1.5e3"));
  EXPECT_FALSE(LooksLikeNumber("1e"));
}

}  // namespace
}  // namespace chipwatch::yaml
