// The per-event enrichment path does not allocate once warm: counted with a replaced global
// operator new (this binary only; it forwards to malloc).
#include <gtest/gtest.h>

#include <string>

#include "../common/counting_new.h"
#include "enrich/catalog_index.h"
#include "enrich/enricher.h"
#include "test_catalog.h"

using counting_new::allocations;
using counting_new::counting;

namespace chipwatch {
namespace {

TEST(NoAllocationTest, EnrichDoesNotAllocateWhenWarm) {
  testing::CatalogBuilder builder;
  testing::AddDefaultCatalog(builder);
  Diagnostics diags;
  auto catalogs = CatalogIndex::Build(builder.defs, diags);
  ASSERT_NE(catalogs, nullptr);
  auto scratch = catalogs->NewScratch();
  auto geoip = GeoIp::Open(std::string(CHIPWATCH_TEST_DATA) + "/geoip/test-country.mmdb");
  ASSERT_TRUE(geoip.ok());
  auto directory = Directory::LoadFromString(
      "tenant,org,country,kyc_status\nml-team-7,Org,CN,pending\n", "tenants.csv", diags);
  ASSERT_NE(directory, nullptr);
  ExternalEnricher external(geoip->get(), directory.get());
  Arena arena;
  const std::string long_name = std::string(300, '-') + "NVIDIA H100" + std::string(300, '_');

  auto run = [&] {
    for (int round = 0; round < 3; ++round) {
      Event event;
      event.SetNum(FieldId::kEventTime, testing::Day("2024-01-01"));
      event.SetStr(FieldId::kProvider, "aws");
      event.SetStr(FieldId::kInstanceType, "ml.g6e.12xlarge");
      event.SetStr(FieldId::kRegion, "cn-north-1");
      event.SetStr(FieldId::kTenant, "ml-team-7");
      event.SetStr(FieldId::kModelId, "us.anthropic.claude-3-5-sonnet-20241022-v2:0");
      event.source_addr = ParseIp("2001:db8:cc::1");
      external.Enrich(event);
      catalogs->Enrich(event, *scratch, arena);
      EXPECT_EQ(event.Str(FieldId::kAcceleratorFamily), "L40S");
      EXPECT_EQ(event.Str(FieldId::kSourceTier), "embargoed");

      Event k8s;
      k8s.SetStr(FieldId::kAcceleratorModel, "NVIDIA-A100-SXM4-80GB-MIG-1g.10gb");
      k8s.SetStr(FieldId::kTenant, "unknown");
      external.Enrich(k8s);
      catalogs->Enrich(k8s, *scratch, arena);
      EXPECT_EQ(k8s.Str(FieldId::kAcceleratorFamily), "A100");

      Event long_model;
      long_model.SetStr(FieldId::kAcceleratorModel, long_name);  // via the arena
      catalogs->Enrich(long_model, *scratch, arena);
      EXPECT_EQ(long_model.Str(FieldId::kAcceleratorFamily), "H100");
      arena.Reset();
    }
  };
  run();  // warm-up: the arena gets its block

  // The counter works: allocations that the optimizer cannot remove.
  counting = true;
  auto* probe = new std::string(100, 'x');
  asm volatile("" : : "r"(probe) : "memory");
  delete probe;
  counting = false;
  ASSERT_GE(allocations.load(), 1);  // the string and its buffer

  EXPECT_EQ(counting_new::AllocationsDuring(run), 0);
}

}  // namespace
}  // namespace chipwatch
