// Little-endian byte encoding for the persisted state (docs/stateful.md, "Persistence"):
// fixed-width integers, LEB128 varints and length-prefixed strings, appended to a std::string, and
// a bounds-checked reader that never reads past its input and remembers where it failed.
//
// Thread contract: plain values; a ByteReader belongs to one thread.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>

namespace chipwatch {

// The little-endian form of `v` (a no-op on the little-endian hosts chipwatch ships for).
inline uint64_t ToLittleEndian64(uint64_t v) {
  if constexpr (std::endian::native == std::endian::big) return __builtin_bswap64(v);
  return v;
}
inline uint32_t ToLittleEndian32(uint32_t v) {
  if constexpr (std::endian::native == std::endian::big) return __builtin_bswap32(v);
  return v;
}

inline void StoreU32(char* p, uint32_t v) {
  v = ToLittleEndian32(v);
  std::memcpy(p, &v, sizeof v);
}
inline void StoreI64(char* p, int64_t v) {
  const uint64_t u = ToLittleEndian64(static_cast<uint64_t>(v));
  std::memcpy(p, &u, sizeof u);
}
inline uint32_t LoadU32(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, sizeof v);
  return ToLittleEndian32(v);
}
inline int64_t LoadI64(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, sizeof v);
  return static_cast<int64_t>(ToLittleEndian64(v));
}

// The number of bytes PutVarint writes for `v`.
inline size_t VarintSize(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

// Writes `v` as LEB128 at `p`; returns the bytes written (VarintSize(v)).
inline size_t StoreVarint(char* p, uint64_t v) {
  size_t n = 0;
  while (v >= 0x80) {
    p[n++] = static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  p[n++] = static_cast<char>(v);
  return n;
}

// Decodes a LEB128 varint from trusted memory (written by StoreVarint).
inline uint64_t LoadVarint(const char*& p) {
  uint64_t v = 0;
  for (int shift = 0;; shift += 7) {
    const auto b = static_cast<uint8_t>(*p++);
    v |= static_cast<uint64_t>(b & 0x7f) << shift;
    if ((b & 0x80) == 0) return v;
  }
}

inline void PutU8(std::string& out, uint8_t v) { out.push_back(static_cast<char>(v)); }
inline void PutU32(std::string& out, uint32_t v) {
  char b[4];
  StoreU32(b, v);
  out.append(b, sizeof b);
}
inline void PutU64(std::string& out, uint64_t v) {
  char b[8];
  StoreI64(b, static_cast<int64_t>(v));
  out.append(b, sizeof b);
}
inline void PutI64(std::string& out, int64_t v) { PutU64(out, static_cast<uint64_t>(v)); }
inline void PutVarint(std::string& out, uint64_t v) {
  char b[10];
  out.append(b, StoreVarint(b, v));
}
// A varint length, then the bytes.
inline void PutString(std::string& out, std::string_view s) {
  PutVarint(out, s.size());
  out.append(s);
}

// Reads what the Put functions wrote. Every read checks the bounds; the first failure sets
// failed() and every later read fails too, so a caller may check once after a group of reads.
class ByteReader {
 public:
  explicit ByteReader(std::string_view data) : data_(data) {}

  bool U8(uint8_t& v) {
    if (!Need(1)) return false;
    v = static_cast<uint8_t>(data_[pos_++]);
    return true;
  }
  bool U32(uint32_t& v) {
    if (!Need(4)) return false;
    v = LoadU32(data_.data() + pos_);
    pos_ += 4;
    return true;
  }
  bool I64(int64_t& v) {
    if (!Need(8)) return false;
    v = LoadI64(data_.data() + pos_);
    pos_ += 8;
    return true;
  }
  bool U64(uint64_t& v) {
    int64_t s = 0;
    if (!I64(s)) return false;
    v = static_cast<uint64_t>(s);
    return true;
  }
  // A LEB128 varint of at most 10 bytes whose value fits 64 bits.
  bool Varint(uint64_t& v) {
    v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      uint8_t b = 0;
      if (!U8(b)) return false;
      if (shift == 63 && b > 1) return Fail(pos_ - 1, "varint overflows 64 bits");
      v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) return true;
    }
    return Fail(pos_, "varint longer than 10 bytes");
  }
  bool Bytes(size_t n, std::string_view& v) {
    if (!Need(n)) return false;
    v = data_.substr(pos_, n);
    pos_ += n;
    return true;
  }
  bool String(std::string_view& v) {
    uint64_t n = 0;
    return Varint(n) && Bytes(n, v);
  }

  // Marks the input bad at byte `at` (for a value that was read but makes no sense).
  bool Fail(size_t at, std::string what) {
    if (!failed_) {
      failed_ = true;
      error_pos_ = at;
      error_ = std::move(what);
    }
    return false;
  }

  bool failed() const { return failed_; }
  bool at_end() const { return pos_ == data_.size(); }
  size_t pos() const { return pos_; }
  size_t size() const { return data_.size(); }
  size_t remaining() const { return data_.size() - pos_; }
  // "<what> at byte N of M", e.g. "truncated (8 bytes needed, 3 left) at byte 120 of 123".
  std::string Error() const {
    if (!failed_) return {};
    return error_ + " at byte " + std::to_string(error_pos_) + " of " +
           std::to_string(data_.size());
  }

 private:
  bool Need(size_t n) {
    if (failed_) return false;
    if (n > data_.size() - pos_) {
      return Fail(pos_, "truncated (" + std::to_string(n) + " bytes needed, " +
                            std::to_string(data_.size() - pos_) + " left)");
    }
    return true;
  }

  std::string_view data_;
  size_t pos_ = 0;
  bool failed_ = false;
  size_t error_pos_ = 0;
  std::string error_;
};

}  // namespace chipwatch
