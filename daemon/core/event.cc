#include "core/event.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <string>

namespace chipwatch {

namespace {

constexpr std::array<FieldSpec, kFieldCount> kFieldSpecs = {{
    {FieldId::kEventId, "event.id", FieldType::kString},
    {FieldId::kEventTime, "event.time", FieldType::kNumber},
    {FieldId::kFormat, "event.format", FieldType::kString},
    {FieldId::kProvider, "provider", FieldType::kString},
    {FieldId::kEventSource, "event.source", FieldType::kString},
    {FieldId::kAction, "action", FieldType::kString},
    {FieldId::kOutcome, "outcome", FieldType::kString},
    {FieldId::kErrorCode, "error.code", FieldType::kString},
    {FieldId::kErrorMessage, "error.message", FieldType::kString},
    {FieldId::kRegion, "region", FieldType::kString},
    {FieldId::kZone, "zone", FieldType::kString},
    {FieldId::kAccount, "account", FieldType::kString},
    {FieldId::kPrincipal, "principal", FieldType::kString},
    {FieldId::kPrincipalType, "principal.type", FieldType::kString},
    {FieldId::kTenant, "tenant", FieldType::kString},
    {FieldId::kSourceIp, "source.ip", FieldType::kIp},
    {FieldId::kUserAgent, "user_agent", FieldType::kString},
    {FieldId::kInstanceType, "instance.type", FieldType::kString},
    {FieldId::kInstanceTypes, "instance.types", FieldType::kString},
    {FieldId::kAcceleratorModel, "accelerator.model", FieldType::kString},
    {FieldId::kAcceleratorCount, "accelerator.count", FieldType::kNumber},
    {FieldId::kModelId, "model.id", FieldType::kString},
    {FieldId::kInferenceRegion, "inference.region", FieldType::kString},
    {FieldId::kResourceName, "resource.name", FieldType::kString},
    {FieldId::kCluster, "cluster", FieldType::kString},
    {FieldId::kNode, "node", FieldType::kString},
    {FieldId::kJobId, "job.id", FieldType::kString},
    {FieldId::kResponseCode, "response.code", FieldType::kNumber},
    {FieldId::kQuotaCode, "quota.code", FieldType::kString},
    {FieldId::kSourceCountry, "source.country", FieldType::kString},
    {FieldId::kSourceTier, "source.tier", FieldType::kString},
    {FieldId::kRegionCountry, "region.country", FieldType::kString},
    {FieldId::kRegionTier, "region.tier", FieldType::kString},
    {FieldId::kAcceleratorFamily, "accelerator.family", FieldType::kString},
    {FieldId::kAcceleratorStatus, "accelerator.status", FieldType::kString},
    {FieldId::kModelFrontier, "model.frontier", FieldType::kBool},
    {FieldId::kModelVendor, "model.vendor", FieldType::kString},
    {FieldId::kSourceVendorSupported, "source.vendor_supported", FieldType::kBool},
    {FieldId::kTenantKnown, "tenant.known", FieldType::kBool},
    {FieldId::kTenantOrg, "tenant.org", FieldType::kString},
    {FieldId::kTenantCountry, "tenant.country", FieldType::kString},
    {FieldId::kTenantTier, "tenant.tier", FieldType::kString},
    {FieldId::kTenantKyc, "tenant.kyc_status", FieldType::kString},
    {FieldId::kTenantParentOrg, "tenant.parent_org", FieldType::kString},
    {FieldId::kTenantParentCountry, "tenant.parent_country", FieldType::kString},
    {FieldId::kTenantParentTier, "tenant.parent_tier", FieldType::kString},
    {FieldId::kSourceInScope, "source.in_scope", FieldType::kBool},
    {FieldId::kRegionInScope, "region.in_scope", FieldType::kBool},
    {FieldId::kTenantInScope, "tenant.in_scope", FieldType::kBool},
    {FieldId::kTenantParentInScope, "tenant.parent_in_scope", FieldType::kBool},
}};

constexpr bool SpecsInOrder() {
  for (size_t i = 0; i < kFieldCount; ++i) {
    if (static_cast<size_t>(kFieldSpecs[i].id) != i) return false;
  }
  return true;
}
static_assert(SpecsInOrder(), "kFieldSpecs must list fields in FieldId order");

constexpr std::array<std::string_view, kFormatCount> kFormatNames = {
    "auto", "cloudtrail", "gcp_audit", "azure_activity", "k8s_audit", "gpu_alloc", "oci_audit"};

bool ParseDigits(std::string_view s, size_t pos, size_t n, int& out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  out = v;
  return true;
}

// Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's algorithm).
int64_t DaysFromCivil(int y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

bool ValidDate(int y, int m, int d) {
  static constexpr int kDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (y < 1970 || y > 9999 || m < 1 || m > 12 || d < 1) return false;
  if (d > kDays[m - 1]) return false;
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return !(m == 2 && d == 29 && !leap);
}

}  // namespace

std::string_view FormatName(Format f) { return kFormatNames[static_cast<size_t>(f)]; }

std::optional<Format> ParseFormat(std::string_view name) {
  for (size_t i = 0; i < kFormatNames.size(); ++i) {
    if (kFormatNames[i] == name) return static_cast<Format>(i);
  }
  return std::nullopt;
}

const std::array<FieldSpec, kFieldCount>& FieldSpecs() { return kFieldSpecs; }

std::optional<FieldId> FieldByName(std::string_view name) {
  for (const auto& spec : kFieldSpecs) {
    if (spec.name == name) return spec.id;
  }
  return std::nullopt;
}

namespace {

// Dotted-quad IPv4, each octet 1-3 decimal digits (leading zeros allowed, unlike inet_pton).
bool ParseIpv4(std::string_view text, uint8_t out[4]) {
  const char* p = text.data();
  const char* const end = p + text.size();
  for (int part = 0; part < 4; ++part) {
    if (part > 0) {
      if (p == end || *p != '.') return false;
      ++p;
    }
    unsigned octet = 0;
    const char* const first = p;
    while (p != end && p - first < 4 && static_cast<unsigned char>(*p - '0') <= 9) {
      octet = octet * 10 + static_cast<unsigned>(*p++ - '0');
    }
    const ptrdiff_t digits = p - first;
    if (digits == 0 || digits > 3 || octet > 255) return false;
    out[part] = static_cast<uint8_t>(octet);
  }
  return p == end;
}

}  // namespace

IpAddress ParseIp(std::string_view text) {
  IpAddress ip;
  if (text.empty() || text.size() > 45) return ip;
  uint8_t v4[4];
  if (ParseIpv4(text, v4)) {
    ip.bytes.fill(0);
    ip.bytes[10] = 0xff;
    ip.bytes[11] = 0xff;
    std::memcpy(&ip.bytes[12], v4, 4);
    ip.valid = true;
    ip.is_v4 = true;
    return ip;
  }
  // Text without a ':' is IPv4 or nothing (so "1.2.3.04" is 1.2.3.4 and never an inet_pton form).
  if (text.find(':') == std::string_view::npos) return ip;
  char buf[64];
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  in6_addr addr{};
  if (inet_pton(AF_INET6, buf, &addr) != 1) return ip;
  std::memcpy(ip.bytes.data(), &addr, 16);
  ip.valid = true;
  static constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  ip.is_v4 = std::memcmp(ip.bytes.data(), kMapped, 12) == 0;
  return ip;
}

int64_t WallClockMs() {
  struct timespec ts {};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

std::string_view FormatTimestampMs(int64_t ms, TimestampBuffer& buf) {
  const int64_t seconds = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
  const time_t t = static_cast<time_t>(seconds);
  struct tm tm {};
  gmtime_r(&t, &tm);
  const int n = std::snprintf(buf.data(), buf.size(), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                              tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                              tm.tm_sec, static_cast<int>(ms - seconds * 1000));
  return std::string_view(buf.data(), n > 0 ? std::min(static_cast<size_t>(n), buf.size() - 1) : 0);
}

std::string FormatTimestampMs(int64_t ms) {
  TimestampBuffer buf;
  return std::string(FormatTimestampMs(ms, buf));
}

std::optional<int64_t> ParseDateMs(std::string_view s) {
  int y, m, d;
  if (s.size() != 10 || s[4] != '-' || s[7] != '-') return std::nullopt;
  if (!ParseDigits(s, 0, 4, y) || !ParseDigits(s, 5, 2, m) || !ParseDigits(s, 8, 2, d)) {
    return std::nullopt;
  }
  if (!ValidDate(y, m, d)) return std::nullopt;
  return DaysFromCivil(y, static_cast<unsigned>(m), static_cast<unsigned>(d)) * 86400000LL;
}

std::optional<int64_t> ParseTimestampMs(std::string_view s) {
  // YYYY-MM-DDTHH:MM:SS[.fff...](Z|+hh:mm|-hh:mm)
  if (s.size() < 19) return std::nullopt;
  // Consecutive records of a stream almost always share the date: keep the last one per thread.
  struct LastDate {
    char text[10];
    int64_t ms = 0;
    bool set = false;
  };
  thread_local LastDate last;
  std::optional<int64_t> date;
  if (last.set && std::memcmp(last.text, s.data(), 10) == 0) {
    date = last.ms;
  } else if ((date = ParseDateMs(s.substr(0, 10)))) {
    std::memcpy(last.text, s.data(), 10);
    last.ms = *date;
    last.set = true;
  }
  if (!date || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || s[13] != ':' || s[16] != ':') {
    return std::nullopt;
  }
  int hh, mm, ss;
  if (!ParseDigits(s, 11, 2, hh) || !ParseDigits(s, 14, 2, mm) || !ParseDigits(s, 17, 2, ss)) {
    return std::nullopt;
  }
  if (hh > 23 || mm > 59 || ss > 60) return std::nullopt;
  int64_t ms = *date + (hh * 3600LL + mm * 60LL + ss) * 1000LL;
  size_t pos = 19;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    int64_t frac = 0;
    int digits = 0;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      if (digits < 3) frac = frac * 10 + (s[pos] - '0');
      ++digits;
      ++pos;
    }
    if (digits == 0) return std::nullopt;
    for (int i = digits; i < 3; ++i) frac *= 10;
    ms += frac;
  }
  if (pos == s.size()) return ms;  // no zone: taken as UTC
  if ((s[pos] == 'Z' || s[pos] == 'z') && pos + 1 == s.size()) return ms;
  if (s.substr(pos) == " UTC") return ms;  // BigQuery's TIMESTAMP text: "2024-05-03 12:00:00 UTC"
  if ((s[pos] == '+' || s[pos] == '-') && pos + 6 == s.size() && s[pos + 3] == ':') {
    int oh, om;
    if (!ParseDigits(s, pos + 1, 2, oh) || !ParseDigits(s, pos + 4, 2, om)) return std::nullopt;
    int64_t off = (oh * 3600LL + om * 60LL) * 1000LL;
    return s[pos] == '+' ? ms - off : ms + off;
  }
  return std::nullopt;
}

std::optional<int64_t> ParseDurationMs(std::string_view text) {
  if (text.size() < 2) return std::nullopt;
  int64_t unit = 0;
  switch (text.back()) {
    case 's':
      unit = 1000;
      break;
    case 'm':
      unit = 60 * 1000;
      break;
    case 'h':
      unit = 3600 * 1000;
      break;
    case 'd':
      unit = 24 * 3600 * 1000;
      break;
    default:
      return std::nullopt;
  }
  int64_t n = 0;
  for (char c : text.substr(0, text.size() - 1)) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + (c - '0');
    if (n > 100000000) return std::nullopt;  // beyond any sensible window; no overflow
  }
  if (n == 0) return std::nullopt;
  return n * unit;
}

}  // namespace chipwatch
