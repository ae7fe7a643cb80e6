#include "policy/cidr.h"

#include <charconv>

#include "core/event.h"

namespace chipwatch {

Result<IpRange> ParseCidr(std::string_view text) {
  auto fail = [](std::string message) { return Status::InvalidArgument(std::move(message)); };
  size_t slash = text.find('/');
  std::string_view addr_text = text.substr(0, slash);
  IpAddress addr = ParseIp(addr_text);
  if (!addr.valid) return fail("'" + std::string(addr_text) + "' is not an IPv4 or IPv6 address");
  int max_prefix = addr.is_v4 && addr_text.find(':') == std::string_view::npos ? 32 : 128;
  int prefix = max_prefix;
  if (slash != std::string_view::npos) {
    std::string_view len = text.substr(slash + 1);
    auto [end, ec] = std::from_chars(len.data(), len.data() + len.size(), prefix);
    if (len.empty() || ec != std::errc() || end != len.data() + len.size() || prefix < 0 ||
        prefix > max_prefix) {
      return fail("bad prefix length '/" + std::string(len) + "' (0.." +
                  std::to_string(max_prefix) + ")");
    }
  }
  if (max_prefix == 32) prefix += 96;
  IpRange range;
  for (int i = 0; i < 16; ++i) {
    int bits = prefix - i * 8;  // network bits in this byte
    uint8_t mask = bits >= 8 ? 0xff : bits <= 0 ? 0 : static_cast<uint8_t>(0xff << (8 - bits));
    range.first[i] = addr.bytes[i] & mask;
    range.last[i] = addr.bytes[i] | static_cast<uint8_t>(~mask);
  }
  return range;
}

}  // namespace chipwatch
