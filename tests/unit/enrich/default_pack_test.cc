// The CatalogIndex built from the real default pack (rules/catalog/, read by the policy loader),
// checked against the cases of /work/shared/POLICY.md. Every test fails (never skips) when the
// shipped pack does not load or its catalogs do not build: a broken pack must stop the suite.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "enrich/catalog_index.h"
#include "policy/loader.h"
#include "test_catalog.h"

namespace chipwatch {
namespace {

class DefaultPackTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const std::string dir = std::string(CHIPWATCH_SOURCE_DIR) + "/rules/catalog";
    if (!std::filesystem::is_directory(dir)) {
      load_error_ = dir + " is not a directory";
      return;
    }
    Diagnostics load_diags;
    auto defs = LoadDefinitions({dir}, load_diags);
    if (defs == nullptr || load_diags.has_errors()) {
      load_error_ =
          "rules/catalog does not load: " +
          (load_diags.items().empty() ? std::string("?") : load_diags.items().front().ToString());
      return;
    }
    Diagnostics diags;
    index_ = CatalogIndex::Build(*defs, diags).release();
    for (const auto& d : diags.items()) build_errors_ += d.ToString() + "\n";
  }
  static void TearDownTestSuite() {
    delete index_;
    index_ = nullptr;
  }
  void SetUp() override {
    ASSERT_EQ(load_error_, "");
    ASSERT_EQ(build_errors_, "");
    ASSERT_NE(index_, nullptr) << "rules/catalog missing";
    scratch_ = index_->NewScratch();
  }
  Event Enrich(std::initializer_list<std::pair<FieldId, std::string_view>> fields,
               const char* date = "2025-06-01") {
    Event event;
    event.SetNum(FieldId::kEventTime, testing::Day(date));
    for (const auto& [field, value] : fields) event.SetStr(field, value);
    index_->Enrich(event, *scratch_, arena_);
    return event;
  }

  static const CatalogIndex* index_;
  static std::string load_error_;
  static std::string build_errors_;
  std::unique_ptr<CatalogScratch> scratch_;
  Arena arena_;
};
const CatalogIndex* DefaultPackTest::index_ = nullptr;
std::string DefaultPackTest::load_error_;
std::string DefaultPackTest::build_errors_;

TEST_F(DefaultPackTest, AcceleratorNamesFromPolicy) {
  const char* restricted[] = {
      "NVIDIA A100-SXM4-40GB", "NVIDIA A100 80GB PCIe", "NVIDIA A800-SXM4-80GB",
      "nvidia-tesla-a100", "nvidia-a100-80gb", "NVIDIA-A100-SXM4-80GB",
      "NVIDIA-A100-SXM4-80GB-MIG-1g.10gb", "NVIDIA H100 80GB HBM3", "NVIDIA H100 PCIe",
      "NVIDIA H100 NVL", "NVIDIA H800", "NVIDIA GH200 480GB", "nvidia-h100-80gb",
      "nvidia-h100-mega-80gb", "NVIDIA-H100-80GB-HBM3-SHARED", "gpu:nvidia_h100_80gb_hbm3",
      "H100 PCIe", "NVIDIA H200", "nvidia-h200-141gb", "NVIDIA H20", "NVIDIA B200", "NVIDIA GB200",
      "nvidia-b200", "nvidia-gb200", "NVIDIA L40S", "NVIDIA L40", "AMD_Instinct_MI300X_OAM",
      "AMD Instinct MI300X",
      // December 2026 review
      "NVIDIA L4", "nvidia-l4", "NVIDIA-RTX-PRO-6000-Blackwell-Server-Edition",
      "nvidia-rtx-pro-6000", "AMD Instinct MI355X", "tpu-v5p-slice", "tpu-v6e-slice", "Trainium2"};
  for (const char* name : restricted) {
    Event event = Enrich({{FieldId::kAcceleratorModel, name}});
    EXPECT_EQ(event.Str(FieldId::kAcceleratorStatus), "restricted") << name;
  }
  for (const char* name :
       {"Tesla T4", "Tesla V100-SXM2-16GB", "Tesla K80", "Tesla P100-PCIE-16GB"}) {
    Event event = Enrich({{FieldId::kAcceleratorModel, name}});
    EXPECT_EQ(event.Str(FieldId::kAcceleratorStatus), "not_controlled") << name;
  }
  for (const char* name : {"NVIDIA A10G", "Trainium1"}) {
    EXPECT_EQ(Enrich({{FieldId::kAcceleratorModel, name}}).Str(FieldId::kAcceleratorStatus),
              "unclear")
        << name;
  }
  EXPECT_NE(
      Enrich({{FieldId::kAcceleratorModel, "NVIDIA GH200 480GB"}}).Str(FieldId::kAcceleratorFamily),
      "H200");
  EXPECT_NE(Enrich({{FieldId::kAcceleratorModel, "NVIDIA H20"}}).Str(FieldId::kAcceleratorFamily),
            "H200");
  EXPECT_EQ(Enrich({{FieldId::kAcceleratorModel, "NVIDIA A800-SXM4-80GB"}}, "2023-11-16")
                .Str(FieldId::kAcceleratorStatus),
            "not_controlled");
  EXPECT_EQ(Enrich({{FieldId::kAcceleratorModel, "NVIDIA A800-SXM4-80GB"}}, "2023-11-17")
                .Str(FieldId::kAcceleratorStatus),
            "restricted");
}

TEST_F(DefaultPackTest, InstanceTypesFromPolicy) {
  struct Case {
    const char* provider;
    const char* type;
    int64_t count;  // 0: not checked
  } cases[] = {
      {"aws", "p4d.24xlarge", 8},
      {"aws", "p5.4xlarge", 1},
      {"aws", "p5.48xlarge", 8},
      {"aws", "ml.p5.48xlarge", 8},
      {"aws", "ml.p4d.24xlarge", 8},
      {"aws", "p6-b200.48xlarge", 8},
      {"aws", "g6e.xlarge", 0},
      {"gcp", "a2-highgpu-8g", 8},
      {"gcp", "a3-megagpu-8g", 8},
      {"gcp", "a3-ultragpu-8g", 8},
      {"azure", "Standard_ND96isr_H100_v5", 8},
      {"oci", "BM.GPU.H100.8", 8},
      // December 2026 review
      {"aws", "g7e.48xlarge", 8},
      {"aws", "g6.xlarge", 1},
      {"aws", "trn2.48xlarge", 16},
      {"aws", "p6e-gb300.36xlarge", 4},
      {"gcp", "g4-standard-384", 8},
      {"gcp", "a4x-maxgpu-4g-metal", 4},
      {"gcp", "ct5p-hightpu-4t", 4},
      {"gcp", "v5p-8", 0},
      {"gcp", "v6e-256", 0},
      {"azure", "Standard_ND128isr_GB300_v6", 4},
      {"oci", "BM.GPU.MI355X.8", 8},
  };
  for (const auto& c : cases) {
    Event event = Enrich({{FieldId::kProvider, c.provider}, {FieldId::kInstanceType, c.type}});
    EXPECT_NE(event.instance_entry, nullptr) << c.type;
    EXPECT_EQ(event.Str(FieldId::kAcceleratorStatus), "restricted") << c.type;
    EXPECT_TRUE(event.Has(FieldId::kAcceleratorModel)) << c.type;
    if (c.count != 0) {
      EXPECT_EQ(event.Num(FieldId::kAcceleratorCount), c.count) << c.type;
    }
  }
  for (const char* type : {"g4dn.xlarge", "g5.2xlarge", "trn1.32xlarge"}) {
    Event event = Enrich({{FieldId::kProvider, "aws"}, {FieldId::kInstanceType, type}});
    EXPECT_NE(event.Str(FieldId::kAcceleratorStatus), "restricted") << type;
  }
}

TEST_F(DefaultPackTest, RegionsDestinationsAndModels) {
  Event aws = Enrich({{FieldId::kProvider, "aws"}, {FieldId::kRegion, "cn-north-1"}});
  EXPECT_EQ(aws.Str(FieldId::kRegionCountry), "CN");
  EXPECT_EQ(aws.Str(FieldId::kRegionTier), "embargoed");
  Event me = Enrich({{FieldId::kProvider, "aws"}, {FieldId::kRegion, "me-central-1"}});
  EXPECT_EQ(me.Str(FieldId::kRegionTier), "licence-required");
  Event us = Enrich({{FieldId::kProvider, "aws"}, {FieldId::kRegion, "us-east-1"}});
  EXPECT_FALSE(us.Has(FieldId::kRegionCountry));
  Event ali = Enrich({{FieldId::kProvider, "alibaba"}, {FieldId::kRegion, "cn-hangzhou"}});
  EXPECT_EQ(ali.Str(FieldId::kRegionCountry), "CN");
  // Same region id, different providers: AWS me-central-1 is the UAE, Alibaba's is Riyadh.
  EXPECT_EQ(me.Str(FieldId::kRegionCountry), "AE");
  Event ali_sa = Enrich({{FieldId::kProvider, "alibaba"}, {FieldId::kRegion, "me-central-1"}});
  EXPECT_EQ(ali_sa.Str(FieldId::kRegionCountry), "SA");
  Event oci = Enrich({{FieldId::kProvider, "oci"}, {FieldId::kRegion, "me-dubai-1"}});
  EXPECT_EQ(oci.Str(FieldId::kRegionTier), "licence-required");

  for (const char* code : {"CN", "HK", "MO", "RU", "IR", "KP", "SY", "CU", "VE", "BY", "ET"}) {
    EXPECT_EQ(Enrich({{FieldId::kSourceCountry, code}}).Str(FieldId::kSourceTier), "embargoed")
        << code;
  }
  for (const char* code : {"AE", "SA", "VN", "KZ"}) {
    EXPECT_EQ(Enrich({{FieldId::kSourceCountry, code}}).Str(FieldId::kSourceTier),
              "licence-required")
        << code;
  }
  // KH: D:5 (embargoed) from the Oct 2023 rule until State lifted its arms embargo on 7 Nov 2025,
  // D:1 (licence-required) since (rules/catalog/destinations.yaml: two periods).
  EXPECT_EQ(Enrich({{FieldId::kSourceCountry, "KH"}}, "2025-06-01").Str(FieldId::kSourceTier),
            "embargoed");
  EXPECT_EQ(Enrich({{FieldId::kSourceCountry, "KH"}}, "2025-11-07").Str(FieldId::kSourceTier),
            "licence-required");
  EXPECT_FALSE(Enrich({{FieldId::kSourceCountry, "KH"}}, "2023-11-16").Has(FieldId::kSourceTier));
  EXPECT_FALSE(Enrich({{FieldId::kSourceCountry, "US"}}).Has(FieldId::kSourceTier));

  for (const char* id :
       {"anthropic.claude-3-5-sonnet-20240620-v1:0", "us.anthropic.claude-3-5-sonnet-20241022-v2:0",
        "arn:aws:bedrock:us-east-1:123456789012:inference-profile/"
        "us.anthropic.claude-3-7-sonnet-20250219-v1:0"}) {
    Event event = Enrich({{FieldId::kModelId, id}});
    EXPECT_EQ(event.Num(FieldId::kModelFrontier), 1) << id;
    EXPECT_EQ(event.Str(FieldId::kModelVendor), "Anthropic") << id;
  }
  Event titan = Enrich({{FieldId::kModelId, "amazon.titan-text-express-v1"}});
  EXPECT_TRUE(titan.Has(FieldId::kModelFrontier));
  EXPECT_EQ(titan.Num(FieldId::kModelFrontier), 0);
}

}  // namespace
}  // namespace chipwatch
