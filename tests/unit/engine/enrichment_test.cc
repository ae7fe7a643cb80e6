// LoadEnrichment: what the options name is opened, and every problem is a diagnostic naming the
// file (and the line, for the tenant directory), never a message printed somewhere.
#include "engine/enrichment.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>

namespace chipwatch {
namespace {

const std::string kSource = CHIPWATCH_SOURCE_DIR;

std::string WriteTemp(const std::string& name, const std::string& text) {
  std::string path = ::testing::TempDir() + name;
  std::ofstream(path) << text;
  return path;
}

TEST(LoadEnrichmentTest, NothingNamedGivesAnEnricherWithoutData) {
  Diagnostics diags;
  auto e = LoadEnrichment(EnrichOptions{}, diags);
  ASSERT_TRUE(e.has_value());
  EXPECT_NE(e->external, nullptr);
  EXPECT_EQ(e->geoip, nullptr);
  EXPECT_EQ(e->directory, nullptr);
  EXPECT_TRUE(diags.items().empty());
}

TEST(LoadEnrichmentTest, OpensTheDatabaseAndTheDirectory) {
  EnrichOptions options;
  options.geoip = kSource + "/tests/data/geoip/test-country.mmdb";
  options.directory = kSource + "/tests/data/directory.csv";
  Diagnostics diags;
  auto e = LoadEnrichment(options, diags);
  ASSERT_TRUE(e.has_value());
  EXPECT_NE(e->geoip, nullptr);
  EXPECT_NE(e->directory, nullptr);
  EXPECT_NE(e->external, nullptr);
  EXPECT_TRUE(diags.items().empty());
}

TEST(LoadEnrichmentTest, ABadDatabaseIsADiagnosticOnItsFile) {
  EnrichOptions options;
  options.geoip = kSource + "/README.md";
  Diagnostics diags;
  EXPECT_FALSE(LoadEnrichment(options, diags).has_value());
  ASSERT_EQ(diags.items().size(), 1u);
  EXPECT_EQ(diags.items()[0].code, "geoip");
  EXPECT_EQ(diags.items()[0].pos.file, options.geoip);
  EXPECT_NE(diags.items()[0].message.find("not a MaxMind DB file"), std::string::npos);
}

TEST(LoadEnrichmentTest, EveryProblemIsReportedNotOnlyTheFirst) {
  EnrichOptions options;
  options.geoip = ::testing::TempDir() + "no-such.mmdb";
  options.directory =
      WriteTemp("enrichment_test.csv", "tenant,org,country,kyc_status\nt1,o,China,verified\n");
  Diagnostics diags;
  EXPECT_FALSE(LoadEnrichment(options, diags).has_value());
  ASSERT_EQ(diags.items().size(), 2u);
  EXPECT_EQ(diags.items()[0].code, "geoip");
  EXPECT_EQ(diags.items()[1].ToString(),
            options.directory +
                ":2: error: country 'China' of tenant 't1' is not an ISO 3166 alpha-2 code (e.g. "
                "CN) [directory-row]");
}

TEST(LoadEnrichmentTest, EarlierErrorsInTheSameDiagnosticsDoNotFailIt) {
  Diagnostics diags;
  diags.Error({"rules.yaml", 1, 1}, DiagCode::kWrongType, "an earlier problem");
  EXPECT_TRUE(LoadEnrichment(EnrichOptions{}, diags).has_value());
}

}  // namespace
}  // namespace chipwatch
