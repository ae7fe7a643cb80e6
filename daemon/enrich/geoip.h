// GeoIp: IP address -> ISO 3166 alpha-2 country, from a MaxMind-format (MMDB) database.
//
// Two record layouts are understood: MaxMind's (`country.iso_code`, falling back to
// `registered_country.iso_code`, as in GeoLite2-Country/City) and the flat `country_code` of free
// databases such as ip-location-db's geo-whois-asn-country. The database is memory-mapped once by
// Open() and never changes afterwards.
//
// Thread contract: after Open(), every const method may be called from any number of threads at
// once (libmaxminddb lookups are read-only). Move-only; not copyable.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "core/event.h"
#include "core/status.h"

struct MMDB_s;  // <maxminddb.h>, kept out of this header

namespace chipwatch {

class GeoIp {
 public:
  // Opens and checks the database. Fails with a message naming `path` when the file is missing or
  // unreadable, is not an MMDB, or has no country data in either layout.
  static Result<std::unique_ptr<GeoIp>> Open(const std::string& path);

  GeoIp(GeoIp&&) noexcept = default;
  GeoIp& operator=(GeoIp&&) noexcept = default;
  GeoIp(const GeoIp&) = delete;
  GeoIp& operator=(const GeoIp&) = delete;
  ~GeoIp() = default;

  // The upper-case alpha-2 code of `ip`'s country, or empty when the address is invalid, not in
  // the database, or its record has no two-letter code. The view points into a static table and
  // stays valid for the life of the process. Never fails hard, never allocates.
  std::string_view Country(const IpAddress& ip) const;

  // The database's `database_type` metadata ("GeoLite2-Country", "geo-whois-asn-country", ...).
  std::string_view database_type() const;
  const std::string& path() const { return path_; }

 private:
  struct MmdbCloser {
    void operator()(MMDB_s* mmdb) const;
  };
  enum class Layout { kMaxMind, kFlat };

  GeoIp(std::unique_ptr<MMDB_s, MmdbCloser> mmdb, std::string path, Layout layout)
      : mmdb_(std::move(mmdb)), path_(std::move(path)), layout_(layout) {}

  std::unique_ptr<MMDB_s, MmdbCloser> mmdb_;
  std::string path_;
  Layout layout_;  // found by Open(), so a lookup reads only the keys that exist
};

}  // namespace chipwatch
