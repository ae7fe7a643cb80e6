// CRC-32C (Castagnoli, the iSCSI/ext4 polynomial 0x1EDC6F41, reflected): the checksum of the state
// snapshot file (docs/stateful.md). Software, slice-by-8 (about 1-2 GB/s): no CPU dispatch needed.
// Thread-safe (the tables are constant).
#pragma once

#include <cstdint>
#include <string_view>

namespace chipwatch {

// The CRC-32C of `data`, continuing from `crc` (the CRC of what came before; 0 to start):
// Crc32c(b, Crc32c(a)) == Crc32c(a + b). Crc32c("123456789") == 0xE3069283.
uint32_t Crc32c(std::string_view data, uint32_t crc = 0);

}  // namespace chipwatch
