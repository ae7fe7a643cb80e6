// CatalogIndex: the model_vendors catalog (vendors' own supported / unsupported countries) and the
// source.vendor_supported field it sets (docs/rules.md "Catalogs", "Enrichment").
#include <gtest/gtest.h>

#include <string>

#include "enrich/catalog_index.h"
#include "test_catalog.h"

namespace chipwatch {
namespace {

using testing::CatalogBuilder;
using testing::Day;
using Attrs = std::vector<std::pair<std::string, std::string>>;

class ModelVendorsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    b_.Add("frontier_models", "claude", Attrs{{"vendor", "Anthropic"}}, {"claude"});
    b_.Add("frontier_models", "gpt", Attrs{{"vendor", "OpenAI"}}, {"^gpt-4"});
    b_.Add("frontier_models", "gemini", Attrs{{"vendor", "Google"}}, {"gemini"});
    // A supported list (the reader joins a YAML sequence with ", "), an unsupported list, and an
    // entry that starts later.
    b_.Add("model_vendors", "anthropic", Attrs{{"supported_countries", "US, GB, DE,AE"}});
    b_.Add("model_vendors", "OpenAI", Attrs{{"unsupported_countries", "CN, RU"}});
    b_.Add("model_vendors", "Google", Attrs{{"unsupported_countries", "CN"}}, {},
           Day("2026-01-01"));
  }
  Event Enrich(const char* model, const char* country, const char* date = "2026-06-01") {
    if (!index_) {
      Diagnostics diags;
      index_ = CatalogIndex::Build(b_.defs, diags);
      for (const auto& d : diags.items()) ADD_FAILURE() << d.ToString();
      scratch_ = index_->NewScratch();
    }
    Event event;
    event.Clear();
    event.SetNum(FieldId::kEventTime, Day(date));
    event.SetStr(FieldId::kModelId, model);
    if (country != nullptr) event.SetStr(FieldId::kSourceCountry, country);
    index_->Enrich(event, *scratch_, arena_);
    return event;
  }
  static std::string Supported(const Event& e) {
    if (!e.Has(FieldId::kSourceVendorSupported)) return "unset";
    return e.Num(FieldId::kSourceVendorSupported) ? "true" : "false";
  }

  CatalogBuilder b_;
  std::unique_ptr<const CatalogIndex> index_;
  std::unique_ptr<CatalogScratch> scratch_;
  Arena arena_;
};

TEST_F(ModelVendorsTest, SupportedListServesOnlyTheListedCountries) {
  EXPECT_EQ(Supported(Enrich("claude-sonnet-4", "DE")), "true");
  EXPECT_EQ(Supported(Enrich("claude-sonnet-4", "ae")), "true");  // codes in any case
  // Brazil is in no export tier, but not on this (test) vendor's list.
  const Event br = Enrich("claude-sonnet-4", "BR");
  EXPECT_EQ(Supported(br), "false");
  ASSERT_NE(br.vendor_entry, nullptr);
  EXPECT_EQ(br.vendor_entry->name, "anthropic");
}

TEST_F(ModelVendorsTest, UnsupportedListRefusesOnlyTheListedCountries) {
  EXPECT_EQ(Supported(Enrich("gpt-4o", "RU")), "false");
  EXPECT_EQ(Supported(Enrich("gpt-4o", "BR")), "true");
}

TEST_F(ModelVendorsTest, UnsetWithoutCountryVendorEntryOrFrontierModel) {
  EXPECT_EQ(Supported(Enrich("gpt-4o", nullptr)), "unset");
  EXPECT_EQ(Supported(Enrich("llama-3", "RU")), "unset");  // not a frontier model: no vendor
  EXPECT_EQ(Supported(Enrich("gemini-2.5-pro", "CN", "2025-06-01")), "unset");  // not yet in effect
  EXPECT_EQ(Supported(Enrich("gemini-2.5-pro", "CN")), "false");
  EXPECT_EQ(Supported(Enrich("gpt-4o", "not a code")), "unset");
}

TEST_F(ModelVendorsTest, AStandInIsNotOverwritten) {
  Diagnostics diags;
  auto index = CatalogIndex::Build(b_.defs, diags);
  ASSERT_NE(index, nullptr);
  auto scratch = index->NewScratch();
  Event event;
  event.Clear();
  event.SetStr(FieldId::kModelId, "gpt-4o");
  event.SetStr(FieldId::kSourceCountry, "RU");
  event.SetBool(FieldId::kSourceVendorSupported, true);
  index->Enrich(event, *scratch, arena_);
  EXPECT_EQ(Supported(event), "true");
}

TEST(ModelVendorsCatalog, Validation) {
  CatalogBuilder both;
  both.Add("model_vendors", "X",
           Attrs{{"supported_countries", "US"}, {"unsupported_countries", "CN"}});
  Diagnostics diags;
  EXPECT_EQ(CatalogIndex::Build(both.defs, diags), nullptr);
  ASSERT_EQ(diags.error_count(), 1u);
  EXPECT_EQ(diags.items()[0].message,
            "model_vendors entry 'X': needs exactly one of `supported_countries` and "
            "`unsupported_countries`");

  CatalogBuilder bad;
  bad.Add("model_vendors", "X", Attrs{{"unsupported_countries", "CN, China"}});
  Diagnostics bad_diags;
  EXPECT_EQ(CatalogIndex::Build(bad.defs, bad_diags), nullptr);
  ASSERT_EQ(bad_diags.error_count(), 1u);
  EXPECT_EQ(bad_diags.items()[0].message,
            "model_vendors entry 'X': 'China' is not an ISO 3166 alpha-2 code (e.g. CN)");
  EXPECT_EQ(bad_diags.items()[0].pos.line, 2);

  CatalogBuilder pattern;
  pattern.Add("model_vendors", "X", Attrs{{"unsupported_countries", "CN"}}, {"x"});
  Diagnostics pattern_diags;
  EXPECT_EQ(CatalogIndex::Build(pattern.defs, pattern_diags), nullptr);
}

}  // namespace
}  // namespace chipwatch
