// CatalogIndex::Enrich against a catalog modelled on the default pack (POLICY.md).
#include <gtest/gtest.h>

#include <string>

#include "enrich/catalog_index.h"
#include "test_catalog.h"

namespace chipwatch {
namespace {

using testing::AddDefaultCatalog;
using testing::CatalogBuilder;
using testing::Day;

class CatalogEnrichTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    CatalogBuilder builder;
    AddDefaultCatalog(builder);
    Diagnostics diags;
    index_ = CatalogIndex::Build(builder.defs, diags).release();
    for (const auto& d : diags.items()) ADD_FAILURE() << d.ToString();
    ASSERT_NE(index_, nullptr);
  }
  static void TearDownTestSuite() {
    delete index_;
    index_ = nullptr;
  }

  void SetUp() override {
    ASSERT_NE(index_, nullptr);
    scratch_ = index_->NewScratch();
    ASSERT_NE(scratch_, nullptr);
  }

  // An event at `date` (unless empty) with the given fields set.
  Event Make(std::initializer_list<std::pair<FieldId, std::string_view>> fields,
             const char* date = "2024-06-01") {
    Event event;
    event.Clear();
    if (date != nullptr) event.SetNum(FieldId::kEventTime, Day(date));
    for (const auto& [field, value] : fields) event.SetStr(field, value);
    return event;
  }
  Event EnrichAccelerator(std::string_view model, const char* date = "2024-06-01") {
    Event event = Make({{FieldId::kAcceleratorModel, model}}, date);
    index_->Enrich(event, *scratch_, arena_);
    return event;
  }
  void Enrich(Event& event) { index_->Enrich(event, *scratch_, arena_); }

  static const CatalogIndex* index_;
  std::unique_ptr<CatalogScratch> scratch_;
  Arena arena_;
};
const CatalogIndex* CatalogEnrichTest::index_ = nullptr;

TEST_F(CatalogEnrichTest, CountsEntries) {
  EXPECT_EQ(index_->entry_count("accelerators"), 16u);
  EXPECT_EQ(index_->entry_count("instance_types"), 10u);
  EXPECT_EQ(index_->entry_count("destinations"), 7u);
  EXPECT_EQ(index_->entry_count("regions"), 9u);
  EXPECT_EQ(index_->entry_count("frontier_models"), 2u);
  EXPECT_EQ(index_->entry_count("nonsense"), 0u);
}

TEST_F(CatalogEnrichTest, NormalizesAcceleratorNames) {
  auto normalize = [](std::string_view name) {
    std::string out(name.size(), '\0');
    out.resize(CatalogIndex::NormalizeAcceleratorName(name, out.data()));
    return out;
  };
  EXPECT_EQ(normalize("NVIDIA A100-SXM4-40GB"), "nvidia a100 sxm4 40gb");
  EXPECT_EQ(normalize("gpu:nvidia_h100_80gb_hbm3"), "gpu:nvidia h100 80gb hbm3");
  EXPECT_EQ(normalize("  NVIDIA--H100 _ PCIe  "), "nvidia h100 pcie");
  EXPECT_EQ(normalize("NVIDIA-A100-SXM4-80GB-MIG-1g.10gb"), "nvidia a100 sxm4 80gb mig 1g.10gb");
  EXPECT_EQ(normalize(""), "");
  EXPECT_EQ(normalize("-_- "), "");
}

// Every spelling from POLICY.md maps to its family.
TEST_F(CatalogEnrichTest, AcceleratorSpellings) {
  const std::pair<const char*, const char*> cases[] = {
      {"NVIDIA A100-SXM4-40GB", "A100"},
      {"NVIDIA A100 80GB PCIe", "A100"},
      {"nvidia-tesla-a100", "A100"},
      {"nvidia-a100-80gb", "A100"},
      {"NVIDIA-A100-SXM4-80GB", "A100"},
      {"NVIDIA-A100-SXM4-80GB-MIG-1g.10gb", "A100"},
      {"NVIDIA H100 80GB HBM3", "H100"},
      {"NVIDIA-H100-80GB-HBM3-SHARED", "H100"},
      {"gpu:nvidia_h100_80gb_hbm3", "H100"},
      {"H100 PCIe", "H100"},
      {"NVIDIA H100 NVL", "H100"},
      {"nvidia-h100-mega-80gb", "H100"},
      {"NVIDIA H800", "H800"},
      {"NVIDIA GH200 480GB", "GH200"},
      {"nvidia-h200-141gb", "H200"},
      {"NVIDIA H20", "H20"},
      {"NVIDIA B200", "B200"},
      {"nvidia-gb200", "GB200"},
      {"NVIDIA L40S", "L40S"},
      {"NVIDIA L40", "L40S"},
      {"AMD_Instinct_MI300X_OAM", "MI300X"},
      {"AMD Instinct MI300X", "MI300X"},
      {"Tesla T4", "T4"},
      {"Tesla V100-SXM2-16GB", "V100"},
      {"NVIDIA L4", "L4"},
      {"NVIDIA A10G", "A10G"},
  };
  for (const auto& [name, family] : cases) {
    Event event = EnrichAccelerator(name);
    EXPECT_EQ(event.Str(FieldId::kAcceleratorFamily), family) << name;
    ASSERT_NE(event.accelerator_entry, nullptr) << name;
    EXPECT_EQ(event.accelerator_entry->name, family) << name;
    EXPECT_EQ(event.Str(FieldId::kAcceleratorModel), name) << "the log's name is kept";
  }
}

TEST_F(CatalogEnrichTest, LookAlikesAreNotConfused) {
  // GH200 is not H200, H20 is not H200, L40S is not L4, A10G is not A100.
  EXPECT_EQ(EnrichAccelerator("NVIDIA GH200 480GB").Str(FieldId::kAcceleratorFamily), "GH200");
  EXPECT_EQ(EnrichAccelerator("NVIDIA H20").Str(FieldId::kAcceleratorFamily), "H20");
  EXPECT_EQ(EnrichAccelerator("NVIDIA H200").Str(FieldId::kAcceleratorFamily), "H200");
  EXPECT_EQ(EnrichAccelerator("NVIDIA L40S").Str(FieldId::kAcceleratorFamily), "L40S");
  EXPECT_EQ(EnrichAccelerator("NVIDIA L4").Str(FieldId::kAcceleratorFamily), "L4");
  EXPECT_EQ(EnrichAccelerator("NVIDIA A10G").Str(FieldId::kAcceleratorFamily), "A10G");
}

TEST_F(CatalogEnrichTest, StatusesAndUnknownAccelerators) {
  EXPECT_EQ(EnrichAccelerator("NVIDIA H100 80GB HBM3").Str(FieldId::kAcceleratorStatus),
            "restricted");
  EXPECT_EQ(EnrichAccelerator("Tesla T4").Str(FieldId::kAcceleratorStatus), "not_controlled");
  EXPECT_EQ(EnrichAccelerator("NVIDIA L4").Str(FieldId::kAcceleratorStatus), "unclear");
  Event unknown = EnrichAccelerator("Tesla K80");
  EXPECT_FALSE(unknown.Has(FieldId::kAcceleratorFamily));
  EXPECT_FALSE(unknown.Has(FieldId::kAcceleratorStatus));
  EXPECT_EQ(unknown.accelerator_entry, nullptr);
}

TEST_F(CatalogEnrichTest, EffectiveDatesDecideTheStatus) {
  // A800 controlled from 17 Nov 2023: the family is known before, the status is not_controlled.
  Event before = EnrichAccelerator("NVIDIA A800-SXM4-80GB", "2023-11-16");
  EXPECT_EQ(before.Str(FieldId::kAcceleratorFamily), "A800");
  EXPECT_EQ(before.Str(FieldId::kAcceleratorStatus), "not_controlled");
  Event on_the_day = EnrichAccelerator("NVIDIA A800-SXM4-80GB", "2023-11-17");
  EXPECT_EQ(on_the_day.Str(FieldId::kAcceleratorStatus), "restricted");
  // H20 from 9 Apr 2025.
  EXPECT_EQ(EnrichAccelerator("NVIDIA H20", "2025-01-01").Str(FieldId::kAcceleratorStatus),
            "not_controlled");
  EXPECT_EQ(EnrichAccelerator("NVIDIA H20", "2025-06-01").Str(FieldId::kAcceleratorStatus),
            "restricted");
  // No event time: entries are in effect.
  EXPECT_EQ(EnrichAccelerator("NVIDIA A800", nullptr).Str(FieldId::kAcceleratorStatus),
            "restricted");
}

TEST_F(CatalogEnrichTest, InstanceTypeFillsModelAndCount) {
  Event event = Make({{FieldId::kProvider, "aws"}, {FieldId::kInstanceType, "p5.48xlarge"}});
  Enrich(event);
  ASSERT_NE(event.instance_entry, nullptr);
  EXPECT_EQ(event.instance_entry->name, "p5.48xlarge");
  EXPECT_EQ(event.Str(FieldId::kAcceleratorModel), "NVIDIA H100 80GB HBM3");
  EXPECT_EQ(event.Num(FieldId::kAcceleratorCount), 8);
  EXPECT_EQ(event.Str(FieldId::kAcceleratorFamily), "H100");
  EXPECT_EQ(event.Str(FieldId::kAcceleratorStatus), "restricted");
  ASSERT_NE(event.accelerator_entry, nullptr);
  EXPECT_EQ(event.accelerator_entry->name, "H100");
}

TEST_F(CatalogEnrichTest, InstanceTypeLookupVariants) {
  struct Case {
    const char* type;
    const char* family;
    int64_t count;  // 0: not set
  } cases[] = {
      {"ml.p4d.24xlarge", "A100", 8},  // SageMaker prefix
      {"P5.4XLARGE", "H100", 1},       // case-insensitive
      {"ml.g6e.12xlarge", "L40S", 0},  // pattern after stripping ml.
      {"g6e.xlarge", "L40S", 0},       // pattern
      {"g4dn.xlarge", "T4", 0},        // not controlled
      {"a2-highgpu-4g", "A100", 0},    // GCP pattern
      {"standard_nd96isr_h100_v5", "H100", 8},
      {"BM.GPU.H100.8", "H100", 8},
  };
  for (const auto& c : cases) {
    Event event = Make({{FieldId::kInstanceType, c.type}});
    Enrich(event);
    EXPECT_EQ(event.Str(FieldId::kAcceleratorFamily), c.family) << c.type;
    EXPECT_EQ(event.Num(FieldId::kAcceleratorCount), c.count) << c.type;
    EXPECT_EQ(event.Has(FieldId::kAcceleratorCount), c.count != 0) << c.type;
  }
  // Whole-name patterns: g6e\..* does not match inside a longer name.
  for (const char* type : {"xg6e.xlarge", "ml.ml.p5.48xlarge", "p5.48xlarge2", "a2-highgpu-g"}) {
    Event event = Make({{FieldId::kInstanceType, type}});
    Enrich(event);
    EXPECT_EQ(event.instance_entry, nullptr) << type;
    EXPECT_FALSE(event.Has(FieldId::kAcceleratorFamily)) << type;
  }
  // An instance entry without `model` fills accelerator.model with its accelerator's name.
  Event h200 = Make({{FieldId::kInstanceType, "p5e.48xlarge"}});
  Enrich(h200);
  EXPECT_EQ(h200.Str(FieldId::kAcceleratorModel), "H200");
}

TEST_F(CatalogEnrichTest, LogValuesWinOverInstanceType) {
  // The log names the GPU and its count: they are kept; the family comes from the log's name.
  Event event =
      Make({{FieldId::kInstanceType, "p5.48xlarge"}, {FieldId::kAcceleratorModel, "NVIDIA H200"}});
  event.SetNum(FieldId::kAcceleratorCount, 2);
  Enrich(event);
  EXPECT_EQ(event.Str(FieldId::kAcceleratorModel), "NVIDIA H200");
  EXPECT_EQ(event.Num(FieldId::kAcceleratorCount), 2);
  EXPECT_EQ(event.Str(FieldId::kAcceleratorFamily), "H200");
  // A log name the catalog does not know falls back to the instance type's accelerator.
  Event odd = Make({{FieldId::kInstanceType, "p5.48xlarge"},
                    {FieldId::kAcceleratorModel, "NVIDIA Graphics Device"}});
  Enrich(odd);
  EXPECT_EQ(odd.Str(FieldId::kAcceleratorModel), "NVIDIA Graphics Device");
  EXPECT_EQ(odd.Str(FieldId::kAcceleratorFamily), "H100");
}

TEST_F(CatalogEnrichTest, InstanceTypeProviderFilter) {
  // An aws entry is not used for a gcp event; any provider outside the five clouds is unfiltered.
  Event gcp = Make({{FieldId::kProvider, "gcp"}, {FieldId::kInstanceType, "p5.48xlarge"}});
  Enrich(gcp);
  EXPECT_EQ(gcp.instance_entry, nullptr);
  Event k8s = Make({{FieldId::kProvider, "kubernetes"}, {FieldId::kInstanceType, "p5.48xlarge"}});
  Enrich(k8s);
  EXPECT_NE(k8s.instance_entry, nullptr);
}

TEST_F(CatalogEnrichTest, RegionsWithProviderFilter) {
  struct Case {
    const char* provider;  // nullptr: unset
    const char* region;
    const char* country;  // nullptr: none
    const char* tier;
  } cases[] = {
      {"aws", "cn-north-1", "CN", "embargoed"},
      {"aws", "ap-east-1", "HK", "embargoed"},
      {"aws", "me-central-1", "AE", "licence-required"},
      {"aws", "us-east-1", nullptr, nullptr},
      {"aws", "cn-hangzhou", nullptr, nullptr},  // the cn-.* pattern is for alibaba only
      {"alibaba", "cn-hangzhou", "CN", "embargoed"},
      {"alibaba", "cn-hongkong", "CN", "embargoed"},
      {"azure", "chinanorth", "CN", "embargoed"},
      {"azure", "ChinaNorth", "CN", "embargoed"},  // names compare case-insensitively
      {"gcp", "chinanorth", nullptr, nullptr},
      {"gcp", "me-central1", "QA", "licence-required"},
      {"gcp", "asia-east2", "HK", "embargoed"},
      {nullptr, "chinanorth", "CN", "embargoed"},  // no provider: every entry is a candidate
      {"slurm", "cn-north-1", "CN", "embargoed"},  // not a cloud provider: likewise
  };
  for (const auto& c : cases) {
    Event event = Make({{FieldId::kRegion, c.region}});
    if (c.provider != nullptr) event.SetStr(FieldId::kProvider, c.provider);
    Enrich(event);
    std::string label = std::string(c.provider ? c.provider : "-") + "/" + c.region;
    if (c.country == nullptr) {
      EXPECT_FALSE(event.Has(FieldId::kRegionCountry)) << label;
      EXPECT_EQ(event.region_entry, nullptr) << label;
      EXPECT_FALSE(event.Has(FieldId::kRegionTier)) << label;
      continue;
    }
    EXPECT_EQ(event.Str(FieldId::kRegionCountry), c.country) << label;
    EXPECT_EQ(event.Str(FieldId::kRegionTier), c.tier) << label;
    EXPECT_NE(event.region_entry, nullptr) << label;
    EXPECT_NE(event.region_dest_entry, nullptr) << label;
  }
}

TEST_F(CatalogEnrichTest, DestinationTiers) {
  Event event = Make({{FieldId::kSourceCountry, "CN"}, {FieldId::kTenantCountry, "ae"}});
  Enrich(event);
  EXPECT_EQ(event.Str(FieldId::kSourceTier), "embargoed");
  ASSERT_NE(event.source_dest_entry, nullptr);
  EXPECT_EQ(event.source_dest_entry->name, "CN");
  EXPECT_EQ(event.Str(FieldId::kTenantTier), "licence-required");
  EXPECT_NE(event.tenant_dest_entry, nullptr);

  for (const char* country : {"US", "DE", "", "C", "CHN", "1A"}) {
    Event other = Make({{FieldId::kSourceCountry, country}});
    Enrich(other);
    EXPECT_FALSE(other.Has(FieldId::kSourceTier)) << country;
    EXPECT_EQ(other.source_dest_entry, nullptr) << country;
  }
}

// H20 is licensable for the embargoed tier only: its restriction reaches China but not the UAE.
TEST_F(CatalogEnrichTest, RestrictedTiersLimitWhichDestinationsAreInScope) {
  Event h20 = Make({{FieldId::kAcceleratorModel, "NVIDIA H20"},
                    {FieldId::kSourceCountry, "AE"},
                    {FieldId::kRegionCountry, "CN"},
                    {FieldId::kTenantCountry, "SG"},
                    {FieldId::kTenantParentCountry, "cn"}},
                   "2025-06-01");
  Enrich(h20);
  EXPECT_EQ(h20.Str(FieldId::kAcceleratorStatus), "restricted");
  EXPECT_EQ(h20.Str(FieldId::kSourceTier), "licence-required");
  ASSERT_TRUE(h20.Has(FieldId::kSourceInScope));
  EXPECT_EQ(h20.Num(FieldId::kSourceInScope), 0);
  EXPECT_EQ(h20.Str(FieldId::kRegionTier), "embargoed");
  EXPECT_EQ(h20.Num(FieldId::kRegionInScope), 1);
  EXPECT_FALSE(h20.Has(FieldId::kTenantTier));  // SG is not a restricted destination
  EXPECT_FALSE(h20.Has(FieldId::kTenantInScope));
  EXPECT_EQ(h20.Str(FieldId::kTenantParentTier), "embargoed");
  EXPECT_EQ(h20.Num(FieldId::kTenantParentInScope), 1);
  ASSERT_NE(h20.parent_dest_entry, nullptr);
  EXPECT_EQ(h20.parent_dest_entry->name, "CN");

  // A family without restricted_tiers is in scope for every tier.
  Event h100 = Make({{FieldId::kAcceleratorModel, "NVIDIA H100"}, {FieldId::kSourceCountry, "AE"}});
  Enrich(h100);
  EXPECT_EQ(h100.Num(FieldId::kSourceInScope), 1);

  // No accelerator, no scope; a tier given by a stand-in is judged like the catalog's.
  Event none = Make({{FieldId::kSourceCountry, "AE"}});
  Enrich(none);
  EXPECT_FALSE(none.Has(FieldId::kSourceInScope));
  Event stand_in = Make({{FieldId::kAcceleratorModel, "AMD Instinct MI308X"},
                         {FieldId::kTenantTier, "licence-required"}},
                        "2025-06-01");
  Enrich(stand_in);
  EXPECT_EQ(stand_in.Num(FieldId::kTenantInScope), 0);
}

// A call naming several instance types stands for its first restricted one.
TEST_F(CatalogEnrichTest, SeveralInstanceTypesTheRestrictedOneCounts) {
  Event eks = Make({{FieldId::kInstanceType, "m7i.2xlarge"}}, "2025-06-01");
  eks.AddInstanceType("m7i.2xlarge");
  eks.AddInstanceType("g4dn.xlarge");
  eks.AddInstanceType("p5.48xlarge");
  eks.AddInstanceType("p4d.24xlarge");
  Enrich(eks);
  EXPECT_EQ(eks.Str(FieldId::kInstanceType), "p5.48xlarge");
  EXPECT_EQ(eks.Str(FieldId::kInstanceTypes), "m7i.2xlarge,g4dn.xlarge,p5.48xlarge,p4d.24xlarge");
  EXPECT_EQ(eks.Str(FieldId::kAcceleratorFamily), "H100");
  EXPECT_EQ(eks.Str(FieldId::kAcceleratorStatus), "restricted");
  EXPECT_EQ(eks.Num(FieldId::kAcceleratorCount), 8);
  ASSERT_NE(eks.instance_entry, nullptr);
  EXPECT_EQ(eks.instance_entry->name, "p5.48xlarge");

  // The primary one is restricted: it stays.
  Event primary = Make({{FieldId::kInstanceType, "p4d.24xlarge"}}, "2025-06-01");
  primary.AddInstanceType("p4d.24xlarge");
  primary.AddInstanceType("p5.48xlarge");
  Enrich(primary);
  EXPECT_EQ(primary.Str(FieldId::kInstanceType), "p4d.24xlarge");
  EXPECT_EQ(primary.Str(FieldId::kAcceleratorFamily), "A100");

  // None restricted: the first known one describes the call, nothing is restricted.
  Event cpu = Make({{FieldId::kInstanceType, "m7i.2xlarge"}}, "2025-06-01");
  cpu.AddInstanceType("m7i.2xlarge");
  cpu.AddInstanceType("g4dn.xlarge");
  Enrich(cpu);
  EXPECT_EQ(cpu.Str(FieldId::kInstanceType), "g4dn.xlarge");
  EXPECT_EQ(cpu.Str(FieldId::kAcceleratorStatus), "not_controlled");

  // A GPU name in the log that is not restricted does not hide a restricted type beside it.
  Event gke = Make(
      {{FieldId::kInstanceType, "g4dn.xlarge"}, {FieldId::kAcceleratorModel, "nvidia-tesla-t4"}},
      "2025-06-01");
  gke.AddInstanceType("g4dn.xlarge");
  gke.AddInstanceType("a3-highgpu-8g");
  Enrich(gke);
  EXPECT_EQ(gke.Str(FieldId::kInstanceType), "a3-highgpu-8g");
  EXPECT_EQ(gke.Str(FieldId::kAcceleratorFamily), "H100");

  // One type only: instance.types stays unset.
  Event one = Make({{FieldId::kInstanceType, "p5.48xlarge"}}, "2025-06-01");
  one.AddInstanceType("p5.48xlarge");
  one.AddInstanceType("p5.48xlarge");  // repeats are dropped
  EXPECT_EQ(one.instance_type_count, 1);
  Enrich(one);
  EXPECT_FALSE(one.Has(FieldId::kInstanceTypes));
}

TEST_F(CatalogEnrichTest, FrontierModels) {
  const char* frontier[] = {
      "anthropic.claude-3-5-sonnet-20240620-v1:0",
      "us.anthropic.claude-3-5-sonnet-20241022-v2:0",
      "eu.anthropic.claude-3-7-sonnet-20250219-v1:0",
      "arn:aws:bedrock:us-east-1:123456789012:inference-profile/"
      "us.anthropic.claude-3-7-sonnet-20250219-v1:0",
      "arn:aws:bedrock:us-west-2::foundation-model/anthropic.claude-v2",
      "Anthropic.Claude-Instant-v1",
  };
  for (const char* id : frontier) {
    Event event = Make({{FieldId::kModelId, id}});
    Enrich(event);
    EXPECT_TRUE(event.Has(FieldId::kModelFrontier)) << id;
    EXPECT_EQ(event.Num(FieldId::kModelFrontier), 1) << id;
    EXPECT_EQ(event.Str(FieldId::kModelVendor), "Anthropic") << id;
    ASSERT_NE(event.model_entry, nullptr) << id;
    EXPECT_EQ(event.model_entry->name, "anthropic-claude") << id;
  }
  for (const char* id : {"amazon.titan-text-express-v1", "meta.llama3-70b-instruct-v1:0",
                         "notanthropic.claude-v2", "anthropic-claude"}) {
    Event event = Make({{FieldId::kModelId, id}});
    Enrich(event);
    EXPECT_TRUE(event.Has(FieldId::kModelFrontier)) << id;
    EXPECT_EQ(event.Num(FieldId::kModelFrontier), 0) << id;
    EXPECT_FALSE(event.Has(FieldId::kModelVendor)) << id;
    EXPECT_EQ(event.model_entry, nullptr) << id;
  }
  Event no_model = Make({});
  Enrich(no_model);
  EXPECT_FALSE(no_model.Has(FieldId::kModelFrontier));
}

TEST_F(CatalogEnrichTest, ExistingValuesAreKept) {
  // A test's `enrich:` stand-ins are applied before the catalogs: they are not overwritten, and
  // the derived tiers follow them.
  Event event = Make({{FieldId::kRegion, "cn-north-1"},
                      {FieldId::kRegionCountry, "RU"},
                      {FieldId::kAcceleratorModel, "NVIDIA H100"},
                      {FieldId::kAcceleratorStatus, "unclear"}});
  Enrich(event);
  EXPECT_EQ(event.Str(FieldId::kRegionCountry), "RU");
  EXPECT_EQ(event.Str(FieldId::kRegionTier), "embargoed");
  EXPECT_EQ(event.Str(FieldId::kAcceleratorStatus), "unclear");
  EXPECT_EQ(event.Str(FieldId::kAcceleratorFamily), "H100");
}

TEST_F(CatalogEnrichTest, LongNamesUseTheArena) {
  std::string model(1000, '-');
  model += "NVIDIA H100";
  model += std::string(1000, '_');
  Event event = EnrichAccelerator(model);
  EXPECT_EQ(event.Str(FieldId::kAcceleratorFamily), "H100");
  std::string type = "ml." + std::string(600, 'x');
  Event long_type = Make({{FieldId::kInstanceType, type}});
  Enrich(long_type);
  EXPECT_EQ(long_type.instance_entry, nullptr);
}

TEST_F(CatalogEnrichTest, ReusedEventAfterClear) {
  Event event = Make({{FieldId::kInstanceType, "p5.48xlarge"}, {FieldId::kModelId, "x"}});
  Enrich(event);
  EXPECT_NE(event.instance_entry, nullptr);
  event.Clear();
  event.SetStr(FieldId::kAcceleratorModel, "Tesla T4");
  Enrich(event);
  EXPECT_EQ(event.instance_entry, nullptr);
  EXPECT_FALSE(event.Has(FieldId::kAcceleratorCount));
  EXPECT_FALSE(event.Has(FieldId::kModelFrontier));
  EXPECT_EQ(event.Str(FieldId::kAcceleratorFamily), "T4");
}

TEST(CatalogEnrichEmptyTest, EmptyPolicyEnrichesNothingButModelFrontier) {
  PolicyDefinitions defs;
  Diagnostics diags;
  auto index = CatalogIndex::Build(defs, diags);
  ASSERT_NE(index, nullptr);
  EXPECT_FALSE(diags.has_errors());
  auto scratch = index->NewScratch();
  ASSERT_NE(scratch, nullptr);
  Arena arena;
  Event event;
  event.SetStr(FieldId::kAcceleratorModel, "NVIDIA H100");
  event.SetStr(FieldId::kInstanceType, "p5.48xlarge");
  event.SetStr(FieldId::kSourceCountry, "CN");
  event.SetStr(FieldId::kModelId, "anthropic.claude-v2");
  index->Enrich(event, *scratch, arena);
  EXPECT_FALSE(event.Has(FieldId::kAcceleratorFamily));
  EXPECT_FALSE(event.Has(FieldId::kSourceTier));
  EXPECT_TRUE(event.Has(FieldId::kModelFrontier));
  EXPECT_EQ(event.Num(FieldId::kModelFrontier), 0);
}

}  // namespace
}  // namespace chipwatch
