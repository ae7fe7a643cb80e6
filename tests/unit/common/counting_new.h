// Replaces the global allocation functions of a test binary with malloc/free pairs that count
// allocations while `counting_new::counting` is set: the "allocates nothing once warm" tests use
// it. Include it in exactly ONE source file of a test binary (it defines the replaceable
// operators).
#pragma once

#include <atomic>
#include <cstdlib>
#include <new>

namespace counting_new {
inline std::atomic<bool> counting{false};
inline std::atomic<long> allocations{0};

// How many allocations fn() makes.
template <typename Fn>
long AllocationsDuring(Fn&& fn) {
  allocations = 0;
  counting = true;
  fn();
  counting = false;
  return allocations.load();
}
}  // namespace counting_new

// The replaced new and delete are malloc/free pairs; GCC cannot see that they match.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

void* operator new(std::size_t size) {
  if (counting_new::counting.load(std::memory_order_relaxed)) counting_new::allocations++;
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t size) { return operator new(size); }
// The nothrow forms too (libhs uses them): every form freed by the deletes below must come from
// malloc, or ASan reports an alloc-dealloc mismatch.
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
  if (counting_new::counting.load(std::memory_order_relaxed)) counting_new::allocations++;
  return std::malloc(size == 0 ? 1 : size);
}
void* operator new[](std::size_t size, const std::nothrow_t& tag) noexcept {
  return operator new(size, tag);
}
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
