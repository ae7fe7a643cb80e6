// GeoIp over the test databases written by tests/tools/make_test_mmdb.pl.
#include "enrich/geoip.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

namespace chipwatch {
namespace {

const std::string kDataDir = std::string(CHIPWATCH_TEST_DATA) + "/geoip";
const std::string kCountryDb = kDataDir + "/test-country.mmdb";
const std::string kFlatDb = kDataDir + "/test-flat.mmdb";
const std::string kAsnDb = kDataDir + "/test-asn.mmdb";

std::unique_ptr<GeoIp> OpenOrDie(const std::string& path) {
  auto geoip = GeoIp::Open(path);
  EXPECT_TRUE(geoip.ok()) << geoip.status().message();
  return geoip.ok() ? std::move(geoip).value() : nullptr;
}

std::string Country(const GeoIp& geoip, std::string_view ip) {
  return std::string(geoip.Country(ParseIp(ip)));
}

// The ranges both layouts share.
void ExpectCommonRanges(const GeoIp& geoip) {
  const std::pair<const char*, const char*> cases[] = {
      {"1.202.3.4", "CN"},        {"36.110.0.1", "CN"},         {"5.255.255.77", "RU"},
      {"2.147.255.255", "IR"},    {"175.45.179.1", "KP"},       {"81.23.1.1", "AE"},
      {"3.5.6.7", "US"},          {"203.0.113.9", "US"},        {"198.51.100.200", "DE"},
      {"2001:db8:cc::1", "CN"},   {"2001:db8:cc:ffff::", "CN"}, {"2001:DB8:DE:1::5", "DE"},
      {"::ffff:1.202.0.1", "CN"},  // IPv4-mapped IPv6
      {"001.202.003.004", "CN"},   // leading zeros as ParseIp accepts them
  };
  for (const auto& [ip, country] : cases) EXPECT_EQ(Country(geoip, ip), country) << ip;
  const char* unknown[] = {"8.8.8.8", "2.148.0.0", "203.0.114.1", "2001:db8:cd::1",
                           "::1",     "10.0.0.1",  "0.0.0.0"};
  for (const char* ip : unknown) EXPECT_EQ(Country(geoip, ip), "") << ip;
}

TEST(GeoIpTest, MaxMindLayout) {
  auto geoip = OpenOrDie(kCountryDb);
  ASSERT_NE(geoip, nullptr);
  EXPECT_EQ(geoip->database_type(), "chipwatch-Test-Country");
  ExpectCommonRanges(*geoip);
  // A record with only registered_country falls back to it.
  EXPECT_EQ(Country(*geoip, "192.0.2.10"), "HK");
}

TEST(GeoIpTest, FlatCountryCodeLayout) {
  auto geoip = OpenOrDie(kFlatDb);
  ASSERT_NE(geoip, nullptr);
  EXPECT_EQ(geoip->database_type(), "geo-whois-asn-country");
  ExpectCommonRanges(*geoip);
  EXPECT_EQ(Country(*geoip, "192.0.2.10"), "");
}

TEST(GeoIpTest, InvalidAddress) {
  auto geoip = OpenOrDie(kCountryDb);
  ASSERT_NE(geoip, nullptr);
  EXPECT_EQ(geoip->Country(IpAddress{}), "");
  EXPECT_EQ(Country(*geoip, "not an ip"), "");
  EXPECT_EQ(Country(*geoip, "1.202.3.4.5"), "");
  EXPECT_EQ(Country(*geoip, ""), "");
}

TEST(GeoIpTest, ReturnsStableInternedViews) {
  auto geoip = OpenOrDie(kCountryDb);
  ASSERT_NE(geoip, nullptr);
  std::string_view first = geoip->Country(ParseIp("1.202.3.4"));
  std::string_view second = geoip->Country(ParseIp("36.110.0.1"));
  EXPECT_EQ(first.data(), second.data());  // the same table slot for the same code
  geoip.reset();
  EXPECT_EQ(first, "CN");  // still valid after the database is closed
}

TEST(GeoIpTest, MissingFile) {
  auto geoip = GeoIp::Open(kDataDir + "/no-such.mmdb");
  ASSERT_FALSE(geoip.ok());
  EXPECT_EQ(geoip.status().code(), Status::Code::kIoError);
  EXPECT_EQ(geoip.status().message(),
            "GeoIP database " + kDataDir + "/no-such.mmdb: cannot open: No such file or directory");
}

TEST(GeoIpTest, NotAnMmdbFile) {
  std::string path = ::testing::TempDir() + "/chipwatch-not-an-mmdb.csv";
  {
    std::ofstream out(path);
    out << "1.202.0.0,1.202.255.255,CN\n";
  }
  auto geoip = GeoIp::Open(path);
  std::filesystem::remove(path);
  ASSERT_FALSE(geoip.ok());
  EXPECT_EQ(geoip.status().code(), Status::Code::kParseError);
  EXPECT_EQ(
      geoip.status().message().rfind("GeoIP database " + path + ": not a MaxMind DB file (", 0), 0u)
      << geoip.status().message();
}

TEST(GeoIpTest, DatabaseWithoutCountryData) {
  auto geoip = GeoIp::Open(kAsnDb);
  ASSERT_FALSE(geoip.ok());
  EXPECT_EQ(geoip.status().message(),
            "GeoIP database " + kAsnDb +
                " (type 'chipwatch-Test-ASN'): no country data (expected country.iso_code, "
                "registered_country.iso_code or country_code)");
}

TEST(GeoIpTest, ConcurrentLookups) {
  auto geoip = OpenOrDie(kCountryDb);
  ASSERT_NE(geoip, nullptr);
  const IpAddress cn = ParseIp("1.202.3.4");
  const IpAddress de = ParseIp("2001:db8:de::1");
  std::vector<std::thread> threads;
  std::vector<int> wrong(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 2000; ++i) {
        if (geoip->Country(cn) != "CN" || geoip->Country(de) != "DE") ++wrong[t];
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (int w : wrong) EXPECT_EQ(w, 0);
}

TEST(GeoIpTest, MoveOnly) {
  static_assert(!std::is_copy_constructible_v<GeoIp>);
  static_assert(std::is_move_constructible_v<GeoIp>);
  auto geoip = OpenOrDie(kFlatDb);
  ASSERT_NE(geoip, nullptr);
  GeoIp moved(std::move(*geoip));
  EXPECT_EQ(Country(moved, "5.255.255.1"), "RU");
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// The committed databases are what the script writes (it pins the build epoch).
TEST(GeoIpTest, CommittedDatabasesMatchTheGenerator) {
  if (std::system("perl -MMaxMind::DB::Writer::Tree -e 1 >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "perl MaxMind::DB::Writer not installed (Debian: libmaxmind-db-writer-perl)";
  }
  std::string dir = ::testing::TempDir() + "/chipwatch-mmdb-regen";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  std::string command =
      std::string("perl ") + CHIPWATCH_SOURCE_DIR + "/tests/tools/make_test_mmdb.pl " + dir;
  ASSERT_EQ(std::system(command.c_str()), 0) << command;
  for (const char* name : {"test-country.mmdb", "test-flat.mmdb", "test-asn.mmdb"}) {
    EXPECT_EQ(ReadAll(dir + "/" + name), ReadAll(kDataDir + "/" + name))
        << name << " differs: regenerate with perl tests/tools/make_test_mmdb.pl tests/data/geoip";
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace chipwatch
