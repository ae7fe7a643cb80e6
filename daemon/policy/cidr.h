// CIDR networks as 128-bit address ranges (IPv4 mapped into ::ffff:0:0/96), shared by the
// collector (validation) and the rule compiler (range sets). Plain values; thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"

namespace chipwatch {

struct IpRange {
  std::array<uint8_t, 16> first{};  // inclusive, network byte order
  std::array<uint8_t, 16> last{};   // inclusive
};

// Parses "10.0.0.0/8", "2001:db8::/32" or a single address ("192.0.2.1" = /32). Host bits below
// the prefix are ignored. An InvalidArgument status says what is malformed.
Result<IpRange> ParseCidr(std::string_view text);

}  // namespace chipwatch
