// Internal to daemon/decode/: the interface between the public Decoder (decoder.cc, compiled once)
// and its implementation, which is compiled once per simdjson On-Demand kernel (isa.h) and chosen
// at run time. Same thread contract as Decoder: one backend per Decoder, not thread-safe.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string_view>

#include "decode/decoder.h"

namespace chipwatch::decode_internal {

class DecoderBackend {
 public:
  virtual ~DecoderBackend() = default;
  // As Decoder::DecodeDocument; capacity >= doc.size().
  virtual size_t DecodeDocument(std::string_view doc, size_t capacity, Format format,
                                const Origin& origin, RecordHandler& handler) = 0;
  virtual std::optional<Format> Detect(std::string_view record) = 0;
};

// One factory per kernel compiled in (CHIPWATCH_DECODE_HAVE_HASWELL / _BASELINE).
namespace isa_haswell {
std::unique_ptr<DecoderBackend> NewDecoderBackend(const DecoderOptions& options);
}
namespace isa_baseline {
std::unique_ptr<DecoderBackend> NewDecoderBackend(const DecoderOptions& options);
}

}  // namespace chipwatch::decode_internal
