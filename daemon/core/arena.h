// Arena: bump allocator for per-event strings (unescaped, lower-cased or synthesized values).
//
// Views handed out stay valid until Reset(). Blocks are kept across Reset() so that, after warm-up,
// decoding an event allocates nothing. Not thread-safe: one arena per worker thread.
#pragma once

#include <cstddef>
#include <cstring>
#include <memory>
#include <string_view>
#include <vector>

namespace chipwatch {

class Arena {
 public:
  explicit Arena(size_t block_size = 64 * 1024) : block_size_(block_size) {}
  Arena(const Arena&) = delete;
  Arena& operator=(const Arena&) = delete;

  // Returns `n` bytes of writable storage.
  char* Allocate(size_t n) {
    if (current_ < blocks_.size() && used_ + n <= blocks_[current_].size) {
      char* p = blocks_[current_].data.get() + used_;
      used_ += n;
      return p;
    }
    // Move to the next block that fits, or add one.
    while (++current_ < blocks_.size()) {
      if (blocks_[current_].size >= n) {
        used_ = n;
        return blocks_[current_].data.get();
      }
    }
    size_t size = n > block_size_ ? n : block_size_;
    blocks_.push_back(Block{std::make_unique<char[]>(size), size});
    current_ = blocks_.size() - 1;
    used_ = n;
    return blocks_[current_].data.get();
  }

  std::string_view Copy(std::string_view s) {
    if (s.empty()) return {};
    char* p = Allocate(s.size());
    std::memcpy(p, s.data(), s.size());
    return {p, s.size()};
  }

  // Concatenates the parts into arena storage.
  std::string_view Concat(std::initializer_list<std::string_view> parts) {
    size_t n = 0;
    for (auto part : parts) n += part.size();
    if (n == 0) return {};
    char* p = Allocate(n);
    size_t off = 0;
    for (auto part : parts) {
      std::memcpy(p + off, part.data(), part.size());
      off += part.size();
    }
    return {p, n};
  }

  void Reset() {
    current_ = 0;
    used_ = 0;
  }

 private:
  struct Block {
    std::unique_ptr<char[]> data;
    size_t size;
  };
  size_t block_size_;
  std::vector<Block> blocks_;
  size_t current_ = 0;
  size_t used_ = 0;
};

}  // namespace chipwatch
