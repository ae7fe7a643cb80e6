// CatalogIndex::Build: validation errors with positions, overrides.
#include "enrich/catalog_index.h"

#include <gtest/gtest.h>

#include <string>

#include "test_catalog.h"

namespace chipwatch {
namespace {

using testing::CatalogBuilder;
using testing::Day;
using Attrs = std::vector<std::pair<std::string, std::string>>;

// The single error of a failed build, as "line:col: message [code]".
std::string OnlyError(const PolicyDefinitions& defs) {
  Diagnostics diags;
  auto index = CatalogIndex::Build(defs, diags);
  EXPECT_EQ(index, nullptr);
  EXPECT_EQ(diags.error_count(), 1u);
  if (diags.items().empty()) return "";
  const Diagnostic& d = diags.items().front();
  EXPECT_EQ(d.pos.file, "catalog.yaml");
  return std::to_string(d.pos.line) + ":" + std::to_string(d.pos.column) + ": " + d.message + " [" +
         d.code + "]";
}

void AddH100(CatalogBuilder& b) {
  b.Add("accelerators", "H100", Attrs{{"status", "restricted"}}, {R"(\bh100\b)"});  // lines 1-3
}

TEST(CatalogIndexTest, ValidCatalogBuilds) {
  CatalogBuilder b;
  testing::AddDefaultCatalog(b);
  Diagnostics diags;
  auto index = CatalogIndex::Build(b.defs, diags);
  EXPECT_NE(index, nullptr);
  EXPECT_EQ(diags.items().size(), 0u);
}

TEST(CatalogIndexTest, UnknownStatus) {
  CatalogBuilder b;
  b.Add("accelerators", "H100", Attrs{{"status", "banned"}}, {"h100"});
  EXPECT_EQ(OnlyError(b.defs),
            "2:7: accelerators entry 'H100': unknown status 'banned' (expected restricted, "
            "not_controlled or unclear) [catalog-bad-value]");
}

TEST(CatalogIndexTest, UnknownTier) {
  CatalogBuilder b;
  b.Add("destinations", "CN", Attrs{{"country", "China"}, {"tier", "license-required"}});
  EXPECT_EQ(OnlyError(b.defs),
            "3:7: destinations entry 'CN': unknown tier 'license-required' (expected embargoed or "
            "licence-required) [catalog-bad-value]");
}

TEST(CatalogIndexTest, InstanceTypeNamingAnUnknownAccelerator) {
  CatalogBuilder b;
  AddH100(b);
  b.Add("instance_types", "p5.48xlarge", Attrs{{"accelerator", "H1OO"}, {"count", "8"}});
  EXPECT_EQ(OnlyError(b.defs),
            "5:7: instance_types entry 'p5.48xlarge': accelerator 'H1OO' is not an accelerators "
            "entry [catalog-unknown-accelerator]");
}

TEST(CatalogIndexTest, BadCounts) {
  for (const char* count : {"eight", "0", "-1", "8x", "", "99999999"}) {
    CatalogBuilder b;
    AddH100(b);
    b.Add("instance_types", "p5.48xlarge", Attrs{{"accelerator", "H100"}, {"count", count}});
    EXPECT_EQ(OnlyError(b.defs), "6:7: instance_types entry 'p5.48xlarge': count '" +
                                     std::string(count) +
                                     "' is not a whole number from 1 to 65536 [catalog-bad-value]")
        << count;
  }
}

TEST(CatalogIndexTest, RegexThatDoesNotCompile) {
  CatalogBuilder b;
  b.Add("accelerators", "H100", Attrs{{"status", "restricted"}}, {R"(\bh100\b)", "h1(00"});
  std::string error = OnlyError(b.defs);
  EXPECT_EQ(error.rfind("3:7: accelerators entry 'H100': regex 'h1(00' does not compile: ", 0), 0u)
      << error;
  EXPECT_NE(error.find("[catalog-bad-regex]"), std::string::npos);
}

TEST(CatalogIndexTest, RegexMatchingEverything) {
  CatalogBuilder b;
  b.Add("frontier_models", "all", Attrs{{"vendor", "Everyone"}}, {"x*"});
  EXPECT_EQ(OnlyError(b.defs),
            "3:7: frontier_models entry 'all': regex 'x*' matches the empty string (every name) "
            "[catalog-bad-regex]");
}

TEST(CatalogIndexTest, WholeNamePatternCannotEscapeItsAnchors) {
  // Wrapped naively as \A(?:a)|(b)\z this would compile and match any name containing "b".
  CatalogBuilder b;
  AddH100(b);
  b.Add("instance_types", "odd", Attrs{{"accelerator", "H100"}}, {"a)|(b"});
  std::string error = OnlyError(b.defs);
  EXPECT_NE(error.find("regex 'a)|(b' does not compile"), std::string::npos) << error;
}

TEST(CatalogIndexTest, MissingSource) {
  CatalogBuilder b;
  AddH100(b);
  b.defs.catalogs["accelerators"].back()->source.clear();
  EXPECT_EQ(OnlyError(b.defs),
            "1:5: accelerators entry 'H100': no `source` (every catalog entry must say where it "
            "comes from) [catalog-missing-source]");
}

TEST(CatalogIndexTest, UnknownAttributeKey) {
  CatalogBuilder b;
  b.Add("frontier_models", "claude", Attrs{{"vendr", "Anthropic"}, {"vendor", "Anthropic"}},
        {"anthropic"});
  EXPECT_EQ(OnlyError(b.defs),
            "2:7: frontier_models entry 'claude': unknown key 'vendr' (frontier_models entries "
            "take vendor, description, notes, plus name, source, effective_from, effective_until, "
            "override, match) "
            "[catalog-unknown-key]");
}

TEST(CatalogIndexTest, RestrictedTiersAndFigures) {
  {
    CatalogBuilder b;
    b.Add("accelerators", "H20",
          Attrs{{"status", "restricted"}, {"restricted_tiers", "embargoed, D:5"}},
          {R"(\bh20\b)"});  // lines 1-4
    EXPECT_EQ(OnlyError(b.defs),
              "3:7: accelerators entry 'H20': unknown tier 'D:5' in restricted_tiers (expected "
              "embargoed or licence-required) [catalog-bad-value]");
  }
  {
    CatalogBuilder b;
    b.Add("accelerators", "L4",
          Attrs{{"status", "restricted"}, {"tpp", "1,940"}, {"performance_density", "6.6"}},
          {R"(\bl4\b)"});
    EXPECT_EQ(OnlyError(b.defs),
              "3:7: accelerators entry 'L4': tpp '1,940' is not a non-negative number "
              "[catalog-bad-value]");
  }
  {
    CatalogBuilder b;
    b.Add("accelerators", "L4",
          Attrs{{"status", "restricted"},
                {"tpp", "1940"},
                {"performance_density", "6.6"},
                {"restricted_tiers", "embargoed, licence-required"}},
          {R"(\bl4\b)"});
    b.Add("accelerators", "A10G", Attrs{{"status", "unclear"}}, {R"(\ba10g\b)"});
    Diagnostics diags;
    auto index = CatalogIndex::Build(b.defs, diags);
    EXPECT_NE(index, nullptr);
    ASSERT_EQ(diags.items().size(), 1u);
    EXPECT_EQ(diags.error_count(), 0u);
    EXPECT_EQ(diags.items()[0].code, "catalog-unclear-without-reason");
  }
}

// A destination whose tier changed has an entry per period; the event's time picks one.
TEST(CatalogIndexTest, DestinationPeriods) {
  {
    CatalogBuilder b;
    b.Add("destinations", "KH", Attrs{{"tier", "embargoed"}}, {}, Day("2023-11-17"),
          Day("2025-11-07"));
    b.Add("destinations", "KH", Attrs{{"tier", "licence-required"}}, {}, Day("2025-11-07"));
    Diagnostics diags;
    auto index = CatalogIndex::Build(b.defs, diags);
    ASSERT_NE(index, nullptr);
    EXPECT_TRUE(diags.items().empty());
    EXPECT_EQ(index->entry_count("destinations"), 2u);
    auto scratch = index->NewScratch();
    Arena arena;
    auto tier_at = [&](const char* date) {
      Event event;
      event.Clear();
      if (date != nullptr) event.SetNum(FieldId::kEventTime, Day(date));
      event.SetStr(FieldId::kSourceCountry, "KH");
      index->Enrich(event, *scratch, arena);
      return std::string(event.Str(FieldId::kSourceTier));
    };
    EXPECT_EQ(tier_at("2023-11-16"), "");
    EXPECT_EQ(tier_at("2024-06-01"), "embargoed");
    EXPECT_EQ(tier_at("2025-11-06"), "embargoed");
    EXPECT_EQ(tier_at("2025-11-07"), "licence-required");
    EXPECT_EQ(tier_at(nullptr), "licence-required");  // no time: the latest period
  }
  {
    CatalogBuilder b;
    b.Add("destinations", "KH", Attrs{{"tier", "embargoed"}}, {}, Day("2023-11-17"));  // 1-2
    b.Add("destinations", "KH", Attrs{{"tier", "licence-required"}}, {}, Day("2025-11-07"));
    EXPECT_EQ(OnlyError(b.defs).substr(0, 65),
              "3:5: destinations entry 'KH' overlaps the entry at catalog.yaml:1");
  }
}

TEST(CatalogIndexTest, UnknownCatalog) {
  CatalogBuilder b;
  b.Add("acelerators", "H100", Attrs{{"status", "restricted"}}, {"h100"});
  EXPECT_EQ(OnlyError(b.defs),
            "1:5: unknown catalog 'acelerators' (expected accelerators, instance_types, "
            "destinations, regions, frontier_models or model_vendors) [unknown-catalog]");
}

TEST(CatalogIndexTest, MissingRequiredKeys) {
  CatalogBuilder b;
  b.Add("accelerators", "H100", Attrs{{"classification", "3A090.a"}});
  b.Add("instance_types", "p5.48xlarge", Attrs{{"count", "8"}});
  b.Add("regions", "cn-north-1", Attrs{{"provider", "aws"}});
  b.Add("frontier_models", "claude", Attrs{}, {"claude"});
  Diagnostics diags;
  EXPECT_EQ(CatalogIndex::Build(b.defs, diags), nullptr);
  std::vector<std::string> messages;
  for (const auto& d : diags.items()) messages.push_back(d.pos.ToString() + " " + d.message);
  EXPECT_EQ(messages, (std::vector<std::string>{
                          "catalog.yaml:1:5 accelerators entry 'H100': missing `status`",
                          "catalog.yaml:1:5 accelerators entry 'H100': missing `match` (regexes "
                          "over the normalized accelerator name)",
                          "catalog.yaml:3:5 instance_types entry 'p5.48xlarge': missing "
                          "`accelerator`",
                          "catalog.yaml:5:5 regions entry 'cn-north-1': missing `country`",
                          "catalog.yaml:7:5 frontier_models entry 'claude': missing `vendor`",
                      }));
}

TEST(CatalogIndexTest, BadCountryProviderAndDates) {
  CatalogBuilder b;
  b.Add("destinations", "China", Attrs{{"tier", "embargoed"}});                       // 1-2
  b.Add("regions", "cn-north-1", Attrs{{"provider", "amazon"}, {"country", "CHN"}});  // 3-5
  b.Add("regions", "x", Attrs{{"provider", "AWS"}, {"country", "cn"}}, {}, Day("2024-01-01"),
        Day("2023-01-01"));  // 6-8
  Diagnostics diags;
  EXPECT_EQ(CatalogIndex::Build(b.defs, diags), nullptr);
  std::vector<std::string> messages;
  for (const auto& d : diags.items()) messages.push_back(d.pos.ToString() + " " + d.message);
  // Catalogs are checked in a fixed order (accelerators, instance_types, destinations, ...).
  EXPECT_EQ(messages,
            (std::vector<std::string>{
                "catalog.yaml:1:5 destinations entry 'China': a destination's name must be an ISO "
                "3166 alpha-2 code (e.g. CN)",
                "catalog.yaml:4:7 regions entry 'cn-north-1': unknown provider 'amazon' (expected "
                "aws, gcp, azure, oci or alibaba)",
                "catalog.yaml:5:7 regions entry 'cn-north-1': country 'CHN' is not an ISO 3166 "
                "alpha-2 code (e.g. CN)",
                "catalog.yaml:6:5 regions entry 'x': effective_until must be after "
                "effective_from",
                "catalog.yaml:7:7 regions entry 'x': unknown provider 'AWS' (expected aws, gcp, "
                "azure, oci or alibaba)",
            }));
}

TEST(CatalogIndexTest, DuplicateNameNeedsOverride) {
  CatalogBuilder b;
  AddH100(b);
  b.Add("accelerators", "h100", Attrs{{"status", "unclear"}}, {"h100"});
  EXPECT_EQ(OnlyError(b.defs),
            "4:5: accelerators entry 'h100' is already defined at catalog.yaml:1:5 (add "
            "`override: true` to replace its keys) [duplicate-catalog-entry]");
}

TEST(CatalogIndexTest, OverrideWithoutEarlierEntry) {
  CatalogBuilder b;
  b.Add("accelerators", "L4", Attrs{{"status", "restricted"}, {"override", "true"}});
  EXPECT_EQ(OnlyError(b.defs),
            "3:7: accelerators entry 'L4' has `override: true` but no earlier entry of that name "
            "[catalog-override-unknown]");
}

// The operator's switch from docs/rules.md: `{name: L4, status: restricted, override: true}`.
TEST(CatalogIndexTest, OverrideReplacesKeys) {
  CatalogBuilder b;
  b.Add("accelerators", "L4", Attrs{{"status", "unclear"}, {"classification", "none"}},
        {R"(\bl4\b)"});
  CatalogEntry& over =
      b.Add("accelerators", "L4", Attrs{{"status", "restricted"}, {"override", "true"}});
  over.source.clear();  // inherits the earlier entry's source
  Diagnostics diags;
  auto index = CatalogIndex::Build(b.defs, diags);
  for (const auto& d : diags.items()) ADD_FAILURE() << d.ToString();
  ASSERT_NE(index, nullptr);
  EXPECT_EQ(index->entry_count("accelerators"), 1u);

  auto scratch = index->NewScratch();
  Arena arena;
  Event event;
  event.SetStr(FieldId::kAcceleratorModel, "NVIDIA L4");
  index->Enrich(event, *scratch, arena);
  EXPECT_EQ(event.Str(FieldId::kAcceleratorStatus), "restricted");
  ASSERT_NE(event.accelerator_entry, nullptr);
  EXPECT_EQ(event.accelerator_entry->Attr("classification") != nullptr, true);
  EXPECT_EQ(*event.accelerator_entry->Attr("classification"), "none");
  EXPECT_EQ(event.accelerator_entry->source, "test source");
  EXPECT_EQ(event.accelerator_entry->Attr("override"), nullptr);
}

TEST(CatalogIndexTest, ReportsEveryProblemAtOnce) {
  CatalogBuilder b;
  b.Add("accelerators", "A", Attrs{{"status", "x"}}, {"("});
  b.Add("accelerators", "B", Attrs{{"status", "restricted"}, {"colour", "green"}}, {"[z-a]"});
  b.Add("instance_types", "i", Attrs{{"accelerator", "C"}, {"count", "many"}});
  b.Add("destinations", "CN", Attrs{{"tier", "nope"}}, {"cn"});
  Diagnostics diags;
  EXPECT_EQ(CatalogIndex::Build(b.defs, diags), nullptr);
  EXPECT_EQ(diags.error_count(), 8u);
  for (const auto& d : diags.items()) EXPECT_GT(d.pos.line, 0) << d.ToString();
}

// As the policy reader gives them: unnamed pattern-only entries, free-text description/notes.
TEST(CatalogIndexTest, ReaderShapesAreAccepted) {
  CatalogBuilder b;
  b.Add("accelerators", "L40S", Attrs{{"status", "restricted"}, {"notes", "density rule"}},
        {R"(\bl40s\b)"});
  b.Add("instance_types", "", Attrs{{"accelerator", "L40S"}, {"description", "AWS g6e"}},
        {R"(g6e\..*)"});
  b.Add("regions", "", Attrs{{"country", "CN"}}, {"cn-.*"});
  b.Add("accelerators", "", Attrs{{"status", "restricted"}}, {"x"});  // still needs a name
  Diagnostics diags;
  EXPECT_EQ(CatalogIndex::Build(b.defs, diags), nullptr);
  ASSERT_EQ(diags.error_count(), 1u);
  EXPECT_EQ(diags.items()[0].message, "accelerators entry without a name");
  b.defs.catalogs["accelerators"].pop_back();

  Diagnostics ok;
  auto index = CatalogIndex::Build(b.defs, ok);
  ASSERT_NE(index, nullptr);
  auto scratch = index->NewScratch();
  Arena arena;
  Event event;
  event.SetStr(FieldId::kInstanceType, "g6e.48xlarge");
  event.SetStr(FieldId::kRegion, "cn-shanghai");
  index->Enrich(event, *scratch, arena);
  EXPECT_EQ(event.Str(FieldId::kAcceleratorFamily), "L40S");
  EXPECT_EQ(event.Str(FieldId::kAcceleratorModel), "L40S");
  EXPECT_EQ(event.Str(FieldId::kRegionCountry), "CN");
}

// A catalog with more patterns than one Hyperscan database holds (12) is compiled in several;
// the lowest matching entry still wins across them, and filters still apply.
TEST(CatalogIndexTest, ManyPatternsStillGiveTheFirstMatchingEntry) {
  CatalogBuilder b;
  // Entry 0's only pattern that can match comes 14th, in the second database.
  std::vector<std::string> early;
  for (int i = 0; i < 13; ++i) early.push_back("\\bnever" + std::to_string(i) + "\\b");
  early.push_back(R"(\bzeta\b)");
  b.Add("accelerators", "Early", Attrs{{"status", "restricted"}}, early);
  for (int i = 1; i < 30; ++i) {
    b.Add("accelerators", "E" + std::to_string(i),
          Attrs{{"status", "unclear"}, {"notes", "filler"}}, {"\\bp" + std::to_string(i) + "\\b"});
  }
  b.Add("accelerators", "Late", Attrs{{"status", "restricted"}}, {R"(\bzeta\b)", R"(\bp2\b)"});
  // Regions: a gcp entry in the first database, 14 others, an aws entry in the second.
  b.Add("regions", "", Attrs{{"provider", "gcp"}, {"country", "DE"}}, {"x-.*"});
  for (int i = 0; i < 14; ++i) {
    b.Add("regions", "", Attrs{{"country", "FR"}}, {"filler" + std::to_string(i) + "-.*"});
  }
  b.Add("regions", "", Attrs{{"provider", "aws"}, {"country", "JP"}}, {"x-.*"});
  Diagnostics diags;
  auto index = CatalogIndex::Build(b.defs, diags);
  for (const auto& d : diags.items()) ADD_FAILURE() << d.ToString();
  ASSERT_NE(index, nullptr);
  auto scratch = index->NewScratch();
  ASSERT_NE(scratch, nullptr);
  Arena arena;
  // `out` of an event with only `in` set, after enrichment.
  auto enriched = [&](std::initializer_list<std::pair<FieldId, std::string_view>> in, FieldId out) {
    Event event;
    event.Clear();
    for (const auto& [field, value] : in) event.SetStr(field, value);
    index->Enrich(event, *scratch, arena);
    return std::string(event.Str(out));
  };
  auto family = [&](std::string_view model) {
    return enriched({{FieldId::kAcceleratorModel, model}}, FieldId::kAcceleratorFamily);
  };
  EXPECT_EQ(family("zeta"), "Early");
  EXPECT_EQ(family("p29 zeta"), "Early");
  EXPECT_EQ(family("p2"), "E2");
  EXPECT_EQ(family("p25 p2"), "E2");
  EXPECT_EQ(family("p29"), "E29");
  EXPECT_EQ(family("never0 p17"), "Early");
  EXPECT_EQ(family("p30"), "");
  auto country = [&](std::string_view provider, std::string_view region) {
    return enriched({{FieldId::kProvider, provider}, {FieldId::kRegion, region}},
                    FieldId::kRegionCountry);
  };
  EXPECT_EQ(country("gcp", "x-1"), "DE");
  EXPECT_EQ(country("aws", "x-1"), "JP");
  EXPECT_EQ(country("kubernetes", "x-1"), "DE");
  EXPECT_EQ(country("aws", "filler13-a"), "FR");
}

// Regex problems are reported in catalog order, then entry order, however the catalogs' databases
// are compiled.
TEST(CatalogIndexTest, RegexErrorsKeepTheirOrder) {
  CatalogBuilder b;
  for (int i = 0; i < 20; ++i) {
    std::string pattern = i == 3 ? "h1(00" : i == 17 ? "a*" : "\\bg" + std::to_string(i) + "\\b";
    b.Add("accelerators", "G" + std::to_string(i), Attrs{{"status", "restricted"}}, {pattern});
  }
  b.Add("frontier_models", "bad", Attrs{{"vendor", "V"}}, {"[z-a]"});
  // Passes the check alone but not once anchored: fails when the catalog's regexes compile, in
  // the second of its databases.
  for (int i = 0; i < 15; ++i) {
    b.Add("regions", "", Attrs{{"country", "FR"}},
          {i == 13 ? R"(\Qr13)" : "r" + std::to_string(i)});
  }
  b.Add("instance_types", "i", Attrs{{"accelerator", "G0"}}, {"i-("});
  Diagnostics diags;
  EXPECT_EQ(CatalogIndex::Build(b.defs, diags), nullptr);
  std::vector<std::string> messages;
  for (const auto& d : diags.items()) {
    EXPECT_EQ(d.code, "catalog-bad-regex") << d.ToString();
    messages.push_back(std::to_string(d.pos.line) + ": " + d.message);
  }
  ASSERT_EQ(messages.size(), 5u);
  EXPECT_EQ(messages[0].rfind("12: accelerators entry 'G3': regex 'h1(00' does not compile: ", 0),
            0u)
      << messages[0];
  EXPECT_EQ(messages[1],
            "54: accelerators entry 'G17': regex 'a*' matches the empty string (every name)");
  EXPECT_EQ(messages[2].rfind("111: instance_types entry 'i': regex 'i-(' does not compile: ", 0),
            0u)
      << messages[2];
  EXPECT_EQ(
      messages[3].rfind("105: regions entry with pattern '\\Qr13': a regex does not compile: ", 0),
      0u)
      << messages[3];
  EXPECT_EQ(
      messages[4].rfind("63: frontier_models entry 'bad': regex '[z-a]' does not compile: ", 0), 0u)
      << messages[4];
}

TEST(CatalogIndexTest, IndexOutlivesDefinitions) {
  std::unique_ptr<const CatalogIndex> index;
  {
    CatalogBuilder b;
    testing::AddDefaultCatalog(b);
    Diagnostics diags;
    index = CatalogIndex::Build(b.defs, diags);
  }
  ASSERT_NE(index, nullptr);
  auto scratch = index->NewScratch();
  Arena arena;
  Event event;
  event.SetStr(FieldId::kInstanceType, "p4d.24xlarge");
  index->Enrich(event, *scratch, arena);
  EXPECT_EQ(event.Str(FieldId::kAcceleratorModel), "NVIDIA A100-SXM4-40GB");
  EXPECT_EQ(event.Str(FieldId::kAcceleratorFamily), "A100");
}

}  // namespace
}  // namespace chipwatch
