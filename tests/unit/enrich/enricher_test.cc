// ExternalEnricher, and the whole enrichment chain (external lookups, then catalogs).
#include "enrich/enricher.h"

#include <gtest/gtest.h>

#include "enrich/catalog_index.h"
#include "test_catalog.h"

namespace chipwatch {
namespace {

const std::string kCountryDb = std::string(CHIPWATCH_TEST_DATA) + "/geoip/test-country.mmdb";

class ExternalEnricherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto geoip = GeoIp::Open(kCountryDb);
    ASSERT_TRUE(geoip.ok()) << geoip.status().message();
    geoip_ = std::move(geoip).value();
    Diagnostics diags;
    directory_ = Directory::LoadFromString(
        "tenant,org,country,kyc_status,parent_org,parent_country\n"
        "ml-team-7,Example Holdings,cn,Pending,,\n"
        "123456789012,Acme Corp,US,verified,,\n"
        "no-details,,,,,\n"
        "sg-sub,Lumen Compute Pte Ltd,SG,verified,Beijing Lumen,CN\n",
        "tenants.csv", diags);
    ASSERT_NE(directory_, nullptr);
    ASSERT_FALSE(diags.has_errors());
  }

  static Event WithIp(std::string_view ip) {
    Event event;
    event.SetStr(FieldId::kSourceIp, ip);
    event.source_addr = ParseIp(ip);
    return event;
  }

  std::unique_ptr<GeoIp> geoip_;
  std::unique_ptr<Directory> directory_;
};

TEST_F(ExternalEnricherTest, SourceCountryFromGeoIp) {
  ExternalEnricher enricher(geoip_.get(), nullptr);
  Event cn = WithIp("1.202.3.4");
  enricher.Enrich(cn);
  EXPECT_EQ(cn.Str(FieldId::kSourceCountry), "CN");
  Event v6 = WithIp("2001:db8:cc::42");
  enricher.Enrich(v6);
  EXPECT_EQ(v6.Str(FieldId::kSourceCountry), "CN");
  Event unknown = WithIp("8.8.8.8");
  enricher.Enrich(unknown);
  EXPECT_FALSE(unknown.Has(FieldId::kSourceCountry));
  Event invalid = WithIp("bedrock.amazonaws.com");  // CloudTrail's sourceIPAddress for services
  enricher.Enrich(invalid);
  EXPECT_FALSE(invalid.Has(FieldId::kSourceCountry));
  Event preset = WithIp("1.202.3.4");
  preset.SetStr(FieldId::kSourceCountry, "IR");
  enricher.Enrich(preset);
  EXPECT_EQ(preset.Str(FieldId::kSourceCountry), "IR");
  // No directory: tenant fields untouched.
  Event tenant = WithIp("3.3.3.3");
  tenant.SetStr(FieldId::kTenant, "ml-team-7");
  enricher.Enrich(tenant);
  EXPECT_EQ(tenant.Str(FieldId::kSourceCountry), "US");
  EXPECT_FALSE(tenant.Has(FieldId::kTenantKnown));
}

TEST_F(ExternalEnricherTest, TenantFromDirectory) {
  ExternalEnricher enricher(nullptr, directory_.get());
  Event event;
  event.SetStr(FieldId::kTenant, "ml-team-7");
  enricher.Enrich(event);
  EXPECT_TRUE(event.Has(FieldId::kTenantKnown));
  EXPECT_EQ(event.Num(FieldId::kTenantKnown), 1);
  EXPECT_EQ(event.Str(FieldId::kTenantOrg), "Example Holdings");
  EXPECT_EQ(event.Str(FieldId::kTenantCountry), "CN");
  EXPECT_EQ(event.Str(FieldId::kTenantKyc), "pending");
  EXPECT_FALSE(event.Has(FieldId::kSourceCountry));
}

TEST_F(ExternalEnricherTest, ParentFromDirectory) {
  ExternalEnricher enricher(nullptr, directory_.get());
  Event event;
  event.SetStr(FieldId::kTenant, "sg-sub");
  enricher.Enrich(event);
  EXPECT_EQ(event.Str(FieldId::kTenantCountry), "SG");
  EXPECT_EQ(event.Str(FieldId::kTenantParentOrg), "Beijing Lumen");
  EXPECT_EQ(event.Str(FieldId::kTenantParentCountry), "CN");
  Event no_parent;
  no_parent.SetStr(FieldId::kTenant, "ml-team-7");
  enricher.Enrich(no_parent);
  EXPECT_FALSE(no_parent.Has(FieldId::kTenantParentOrg));
  EXPECT_FALSE(no_parent.Has(FieldId::kTenantParentCountry));
}

TEST_F(ExternalEnricherTest, AccountWhenTenantUnknown) {
  ExternalEnricher enricher(nullptr, directory_.get());
  Event event;
  event.SetStr(FieldId::kTenant, "not-listed");
  event.SetStr(FieldId::kAccount, "123456789012");
  enricher.Enrich(event);
  EXPECT_EQ(event.Num(FieldId::kTenantKnown), 1);
  EXPECT_EQ(event.Str(FieldId::kTenantOrg), "Acme Corp");
  EXPECT_EQ(event.Str(FieldId::kTenantKyc), "verified");
}

TEST_F(ExternalEnricherTest, KnownFalseUnsetAndEmptyValues) {
  ExternalEnricher enricher(geoip_.get(), directory_.get());
  Event unknown;
  unknown.SetStr(FieldId::kTenant, "stranger");
  enricher.Enrich(unknown);
  EXPECT_TRUE(unknown.Has(FieldId::kTenantKnown));
  EXPECT_EQ(unknown.Num(FieldId::kTenantKnown), 0);
  EXPECT_FALSE(unknown.Has(FieldId::kTenantOrg));

  Event account_only;
  account_only.SetStr(FieldId::kAccount, "999999999999");
  enricher.Enrich(account_only);
  EXPECT_EQ(account_only.Num(FieldId::kTenantKnown), 0);
  EXPECT_TRUE(account_only.Has(FieldId::kTenantKnown));

  Event neither;
  enricher.Enrich(neither);
  EXPECT_FALSE(neither.Has(FieldId::kTenantKnown));
  Event empty_tenant;
  empty_tenant.SetStr(FieldId::kTenant, "");
  enricher.Enrich(empty_tenant);
  EXPECT_FALSE(empty_tenant.Has(FieldId::kTenantKnown));

  Event no_details;
  no_details.SetStr(FieldId::kTenant, "no-details");
  enricher.Enrich(no_details);
  EXPECT_EQ(no_details.Num(FieldId::kTenantKnown), 1);
  EXPECT_FALSE(no_details.Has(FieldId::kTenantOrg));
  EXPECT_FALSE(no_details.Has(FieldId::kTenantCountry));
  EXPECT_FALSE(no_details.Has(FieldId::kTenantKyc));
}

TEST_F(ExternalEnricherTest, NullLookupsDoNothing) {
  ExternalEnricher enricher(nullptr, nullptr);
  Event event = WithIp("1.202.3.4");
  event.SetStr(FieldId::kTenant, "ml-team-7");
  enricher.Enrich(event);
  EXPECT_FALSE(event.Has(FieldId::kSourceCountry));
  EXPECT_FALSE(event.Has(FieldId::kTenantKnown));
}

// The pipeline's order: external lookups, then catalogs (CW-HW-001 and CW-HW-004 inputs).
TEST_F(ExternalEnricherTest, FullChain) {
  testing::CatalogBuilder builder;
  testing::AddDefaultCatalog(builder);
  Diagnostics diags;
  auto catalogs = CatalogIndex::Build(builder.defs, diags);
  ASSERT_NE(catalogs, nullptr);
  auto scratch = catalogs->NewScratch();
  Arena arena;
  ExternalEnricher enricher(geoip_.get(), directory_.get());

  // A GPU-scheduler allocation to a tenant registered in China, from a Russian address.
  Event event = WithIp("5.255.255.10");
  event.SetNum(FieldId::kEventTime, testing::Day("2024-03-01"));
  event.SetStr(FieldId::kProvider, "slurm");
  event.SetStr(FieldId::kTenant, "ml-team-7");
  event.SetStr(FieldId::kAcceleratorModel, "gpu:nvidia_h100_80gb_hbm3");
  event.SetStr(FieldId::kRegion, "cn-north-1");
  enricher.Enrich(event);
  catalogs->Enrich(event, *scratch, arena);
  EXPECT_EQ(event.Str(FieldId::kSourceCountry), "RU");
  EXPECT_EQ(event.Str(FieldId::kSourceTier), "embargoed");
  EXPECT_EQ(event.Str(FieldId::kTenantCountry), "CN");
  EXPECT_EQ(event.Str(FieldId::kTenantTier), "embargoed");
  EXPECT_EQ(event.Str(FieldId::kRegionCountry), "CN");
  EXPECT_EQ(event.Str(FieldId::kAcceleratorFamily), "H100");
  EXPECT_EQ(event.Str(FieldId::kAcceleratorStatus), "restricted");
  ASSERT_NE(event.tenant_dest_entry, nullptr);
  EXPECT_EQ(*event.tenant_dest_entry->Attr("country"), "China");
}

}  // namespace
}  // namespace chipwatch
