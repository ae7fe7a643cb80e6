// Directory: CSV parsing, bad rows with line numbers, fatal header problems.
#include "enrich/directory.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace chipwatch {
namespace {

// Each diagnostic as "line: message [code]".
std::vector<std::string> Lines(const Diagnostics& diags) {
  std::vector<std::string> out;
  for (const auto& d : diags.items()) {
    EXPECT_EQ(d.pos.file, "tenants.csv");
    out.push_back(std::to_string(d.pos.line) + ": " + d.message + " [" + d.code + "]");
  }
  return out;
}

TEST(DirectoryTest, ParsesRowsInAnyColumnOrder) {
  Diagnostics diags;
  auto dir = Directory::LoadFromString(
      "# tenant directory, exported 2025-01-01\n"
      "\n"
      "country,kyc_status,owner_email,tenant,org\n"
      "CN,Pending,a@example.com,ml-team-7,Example Holdings\n"
      "us,VERIFIED,b@example.com,123456789012,Acme Corp\n"
      "   \n"
      "# a comment between rows\n"
      ",,c@example.com,sandbox,\n",
      "tenants.csv", diags);
  ASSERT_NE(dir, nullptr);
  EXPECT_TRUE(diags.items().empty()) << ::testing::PrintToString(Lines(diags));
  EXPECT_EQ(dir->size(), 3u);
  const DirectoryEntry* e = dir->Find("ml-team-7");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->tenant, "ml-team-7");
  EXPECT_EQ(e->org, "Example Holdings");
  EXPECT_EQ(e->country, "CN");
  EXPECT_EQ(e->kyc_status, "pending");
  const DirectoryEntry* account = dir->Find("123456789012");
  ASSERT_NE(account, nullptr);
  EXPECT_EQ(account->country, "US");           // upper-cased
  EXPECT_EQ(account->kyc_status, "verified");  // lower-cased
  const DirectoryEntry* sandbox = dir->Find("sandbox");
  ASSERT_NE(sandbox, nullptr);
  EXPECT_EQ(sandbox->country, "");
  EXPECT_EQ(dir->Find("ML-TEAM-7"), nullptr);  // keys are case-sensitive
  EXPECT_EQ(dir->Find(""), nullptr);
}

TEST(DirectoryTest, OwnershipColumnsAreOptional) {
  Diagnostics diags;
  auto dir = Directory::LoadFromString(
      "tenant,org,country,kyc_status,parent_org,parent_country\n"
      "210987654321,Lumen Compute Pte Ltd,SG,verified,Beijing Lumen Technology Co Ltd,cn\n"
      "ml-team-7,Example Holdings,US,verified,,\n"
      "bad-parent,Fronts Ltd,SG,verified,X,China\n",
      "tenants.csv", diags);
  ASSERT_NE(dir, nullptr);
  EXPECT_EQ(Lines(diags),
            (std::vector<std::string>{"4: parent_country 'China' of tenant 'bad-parent' is not an "
                                      "ISO 3166 alpha-2 code (e.g. CN) [directory-row]"}));
  const DirectoryEntry* e = dir->Find("210987654321");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->parent_org, "Beijing Lumen Technology Co Ltd");
  EXPECT_EQ(e->parent_country, "CN");
  const DirectoryEntry* no_parent = dir->Find("ml-team-7");
  ASSERT_NE(no_parent, nullptr);
  EXPECT_EQ(no_parent->parent_country, "");
  EXPECT_EQ(dir->Find("bad-parent"), nullptr);
}

TEST(DirectoryTest, FindTakesAnyStringView) {
  Diagnostics diags;
  auto dir = Directory::LoadFromString("tenant,org,country,kyc_status\nteam,Org,DE,verified\n",
                                       "tenants.csv", diags);
  ASSERT_NE(dir, nullptr);
  const char buffer[] = "teamXYZ";
  EXPECT_NE(dir->Find(std::string_view(buffer, 4)), nullptr);
  EXPECT_EQ(dir->Find(std::string_view(buffer, 5)), nullptr);
}

TEST(DirectoryTest, Rfc4180Quoting) {
  Diagnostics diags;
  auto dir = Directory::LoadFromString(
      "\xEF\xBB\xBF\"tenant\",\"org\",country,kyc_status\r\n"
      "t1,\"Acme, Inc.\",US,verified\r\n"
      "t2,\"The \"\"Quoted\"\" Org\",CN,pending\r\n"
      "t3,\"Two\nLines\",RU,\"\"\r\n"
      "\"t,4\",  spaced out  ,\"de\" ,x\r\n"
      "t5,bad\"quote,CN,verified\r\n",
      "tenants.csv", diags);
  ASSERT_NE(dir, nullptr);
  EXPECT_EQ(dir->size(), 4u);
  EXPECT_EQ(dir->Find("t1")->org, "Acme, Inc.");
  EXPECT_EQ(dir->Find("t2")->org, "The \"Quoted\" Org");
  EXPECT_EQ(dir->Find("t3")->org, "Two\nLines");
  EXPECT_EQ(dir->Find("t3")->kyc_status, "");
  ASSERT_NE(dir->Find("t,4"), nullptr);
  EXPECT_EQ(dir->Find("t,4")->org, "spaced out");
  EXPECT_EQ(dir->Find("t,4")->country, "DE");
  // The multi-line field in row t3 (lines 4-5) does not throw the line count off.
  EXPECT_EQ(Lines(diags),
            (std::vector<std::string>{"7: quote inside an unquoted field (quote the whole field) "
                                      "[csv-syntax]"}));
}

TEST(DirectoryTest, BadRowsAreReportedWithLineNumbersAndSkipped) {
  Diagnostics diags;
  auto dir = Directory::LoadFromString(
      "tenant,org,country,kyc_status,notes\n"  // 1
      "good1,Org,CN,verified,\n"               // 2
      "short,Org,CN\n"                         // 3
      ",Org,CN,verified,\n"                    // 4
      "china,Org,China,verified,\n"            // 5
      "good1,Again,US,verified,\n"             // 6
      "long,Org,CN,verified,,extra\n"          // 7
      "\"closed\"x,Org,CN,verified,\n"         // 8
      "good2,Org,,verified,\n"                 // 9
      "open,\"never closed,CN,verified,\n"     // 10
      "lost,Org,CN,verified,\n",               // 11 (inside the open quote)
      "tenants.csv", diags);
  ASSERT_NE(dir, nullptr);
  EXPECT_EQ(dir->size(), 2u);
  EXPECT_NE(dir->Find("good1"), nullptr);
  EXPECT_EQ(dir->Find("good1")->org, "Org");  // the first entry is kept
  EXPECT_NE(dir->Find("good2"), nullptr);
  EXPECT_EQ(diags.error_count(), 7u);
  EXPECT_EQ(Lines(diags),
            (std::vector<std::string>{
                "3: row has 3 field(s), the header has 5 [directory-row]",
                "4: empty tenant [directory-row]",
                "5: country 'China' of tenant 'china' is not an ISO 3166 alpha-2 code (e.g. CN) "
                "[directory-row]",
                "6: tenant 'good1' is already defined at tenants.csv:2 (the first entry is kept) "
                "[directory-duplicate]",
                "7: row has 6 field(s), the header has 5 [directory-row]",
                "8: unexpected character 'x' after a closing quote [csv-syntax]",
                "10: unterminated quoted field [csv-syntax]",
            }));
}

TEST(DirectoryTest, MissingColumnsAreFatal) {
  Diagnostics diags;
  auto dir = Directory::LoadFromString("# header below\ntenant,organisation,country\nt,o,CN\n",
                                       "tenants.csv", diags);
  EXPECT_EQ(dir, nullptr);
  EXPECT_EQ(Lines(diags),
            (std::vector<std::string>{
                "2: header row lacks column(s) org, kyc_status (expected "
                "tenant,org,country,kyc_status in any order, optionally parent_org,parent_country) "
                "[directory-header]"}));
}

TEST(DirectoryTest, DuplicateHeaderColumnIsFatal) {
  Diagnostics diags;
  auto dir =
      Directory::LoadFromString("tenant,org,country,kyc_status,Country\n", "tenants.csv", diags);
  EXPECT_EQ(dir, nullptr);
  EXPECT_EQ(Lines(diags),
            (std::vector<std::string>{"1: column 'country' appears twice in the header "
                                      "[directory-header]"}));
}

TEST(DirectoryTest, EmptyFileIsFatalHeaderOnlyIsEmptyDirectory) {
  Diagnostics diags;
  EXPECT_EQ(Directory::LoadFromString("# nothing\n\n", "tenants.csv", diags), nullptr);
  EXPECT_EQ(diags.error_count(), 1u);
  Diagnostics ok;
  auto dir = Directory::LoadFromString("tenant,org,country,kyc_status", "tenants.csv", ok);
  ASSERT_NE(dir, nullptr);
  EXPECT_EQ(dir->size(), 0u);
  EXPECT_FALSE(ok.has_errors());
}

TEST(DirectoryTest, LoadsFromFile) {
  std::string path = ::testing::TempDir() + "/chipwatch-directory-test.csv";
  {
    std::ofstream out(path);
    out << "tenant,org,country,kyc_status\nteam-a,Org A,ir,unverified\nbad,Org,XYZ,x\n";
  }
  Diagnostics diags;
  auto dir = Directory::Load(path, diags);
  ASSERT_NE(dir, nullptr);
  EXPECT_EQ(dir->size(), 1u);
  EXPECT_EQ(dir->Find("team-a")->country, "IR");
  ASSERT_EQ(diags.items().size(), 1u);
  EXPECT_EQ(diags.items()[0].pos.ToString().rfind(path + ":3", 0), 0u);
  std::filesystem::remove(path);
}

TEST(DirectoryTest, MissingFileIsFatal) {
  Diagnostics diags;
  EXPECT_EQ(Directory::Load("/nonexistent/chipwatch/tenants.csv", diags), nullptr);
  ASSERT_EQ(diags.items().size(), 1u);
  EXPECT_EQ(diags.items()[0].code, "directory-io");
  EXPECT_EQ(diags.items()[0].pos.file, "/nonexistent/chipwatch/tenants.csv");
  EXPECT_EQ(diags.items()[0].message, "cannot read the directory file: No such file or directory");
}

}  // namespace
}  // namespace chipwatch
