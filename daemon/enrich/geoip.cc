#include "enrich/geoip.h"

#include <maxminddb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "enrich/country_code.h"

namespace chipwatch {

namespace {

using enrich_internal::InternCountryCode;

// How many data records Open() inspects for a country key before calling the database useless.
constexpr int kProbeRecords = 64;
// Bound on the nodes Open() visits while looking for data records (aliased subtrees are shared).
constexpr int kProbeNodes = 1 << 20;

std::string_view StringValue(MMDB_entry_s* entry, const char* const* path) {
  MMDB_entry_data_s data;
  if (MMDB_aget_value(entry, &data, path) != MMDB_SUCCESS || !data.has_data ||
      data.type != MMDB_DATA_TYPE_UTF8_STRING) {
    return {};
  }
  return {data.utf8_string, data.data_size};
}

constexpr const char* kCountryPath[] = {"country", "iso_code", nullptr};
constexpr const char* kRegisteredCountryPath[] = {"registered_country", "iso_code", nullptr};
constexpr const char* kFlatPath[] = {"country_code", nullptr};

// Looks at the first data records of the search tree (depth first from the root) and reports
// which layout carries a country, if any.
enum class Probe { kMaxMind, kFlat, kNone };
Probe ProbeLayout(const MMDB_s* mmdb) {
  const uint32_t node_count = mmdb->metadata.node_count;
  std::vector<uint32_t> stack = {0};
  int visits = 0;
  int records = 0;
  while (!stack.empty() && visits < kProbeNodes && records < kProbeRecords) {
    uint32_t node_number = stack.back();
    stack.pop_back();
    ++visits;
    MMDB_search_node_s node;
    if (MMDB_read_node(mmdb, node_number, &node) != MMDB_SUCCESS) break;
    // Right first so that the left (lower addresses) is visited first.
    const std::pair<uint8_t, uint64_t> kids[2] = {{node.right_record_type, node.right_record},
                                                  {node.left_record_type, node.left_record}};
    MMDB_entry_s entries[2] = {node.right_record_entry, node.left_record_entry};
    for (int i = 0; i < 2; ++i) {
      if (kids[i].first == MMDB_RECORD_TYPE_SEARCH_NODE && kids[i].second < node_count) {
        stack.push_back(static_cast<uint32_t>(kids[i].second));
      } else if (kids[i].first == MMDB_RECORD_TYPE_DATA) {
        ++records;
        if (!InternCountryCode(StringValue(&entries[i], kFlatPath)).empty()) return Probe::kFlat;
        if (!InternCountryCode(StringValue(&entries[i], kCountryPath)).empty() ||
            !InternCountryCode(StringValue(&entries[i], kRegisteredCountryPath)).empty()) {
          return Probe::kMaxMind;
        }
      }
    }
  }
  return Probe::kNone;
}

}  // namespace

void GeoIp::MmdbCloser::operator()(MMDB_s* mmdb) const {
  MMDB_close(mmdb);
  delete mmdb;
}

Result<std::unique_ptr<GeoIp>> GeoIp::Open(const std::string& path) {
  auto raw = std::make_unique<MMDB_s>();
  errno = 0;
  int status = MMDB_open(path.c_str(), MMDB_MODE_MMAP, raw.get());
  if (status != MMDB_SUCCESS) {
    // MMDB_open frees what it allocated on failure: only the struct itself is ours.
    if (status == MMDB_FILE_OPEN_ERROR) {
      int err = errno;
      return Status::IoError("GeoIP database " + path + ": cannot open: " +
                             (err != 0 ? std::strerror(err) : MMDB_strerror(status)));
    }
    if (status == MMDB_IO_ERROR) {
      return Status::IoError("GeoIP database " + path + ": " + MMDB_strerror(status));
    }
    return Status::ParseError("GeoIP database " + path + ": not a MaxMind DB file (" +
                              MMDB_strerror(status) + ")");
  }
  std::unique_ptr<MMDB_s, MmdbCloser> mmdb(raw.release());
  Layout layout;
  switch (ProbeLayout(mmdb.get())) {
    case Probe::kMaxMind:
      layout = Layout::kMaxMind;
      break;
    case Probe::kFlat:
      layout = Layout::kFlat;
      break;
    case Probe::kNone:
    default:
      return Status::InvalidArgument(
          "GeoIP database " + path + " (type '" + mmdb->metadata.database_type +
          "'): no country data (expected country.iso_code, registered_country.iso_code or "
          "country_code)");
  }
  return std::unique_ptr<GeoIp>(new GeoIp(std::move(mmdb), path, layout));
}

std::string_view GeoIp::Country(const IpAddress& ip) const {
  if (!ip.valid) return {};
  sockaddr_in v4{};
  sockaddr_in6 v6{};
  const sockaddr* address;
  if (ip.is_v4) {
    v4.sin_family = AF_INET;
    std::memcpy(&v4.sin_addr, ip.bytes.data() + 12, 4);
    address = reinterpret_cast<const sockaddr*>(&v4);
  } else {
    v6.sin6_family = AF_INET6;
    std::memcpy(&v6.sin6_addr, ip.bytes.data(), 16);
    address = reinterpret_cast<const sockaddr*>(&v6);
  }
  int mmdb_error = MMDB_SUCCESS;
  MMDB_lookup_result_s result = MMDB_lookup_sockaddr(mmdb_.get(), address, &mmdb_error);
  if (mmdb_error != MMDB_SUCCESS || !result.found_entry) return {};
  if (layout_ == Layout::kFlat) return InternCountryCode(StringValue(&result.entry, kFlatPath));
  std::string_view code = InternCountryCode(StringValue(&result.entry, kCountryPath));
  if (code.empty()) code = InternCountryCode(StringValue(&result.entry, kRegisteredCountryPath));
  return code;
}

std::string_view GeoIp::database_type() const {
  const char* type = mmdb_->metadata.database_type;
  return type != nullptr ? std::string_view(type) : std::string_view();
}

}  // namespace chipwatch
