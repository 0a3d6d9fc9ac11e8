// Replaces the global allocation functions with counting ones.
#include "alloc_counter.hpp"

#include <cstdlib>
#include <new>

namespace {
std::uint64_t g_allocations = 0;  // benchmarks run single-threaded
}

namespace fbnic::bench {
std::uint64_t allocations() { return g_allocations; }
}  // namespace fbnic::bench

void* operator new(std::size_t n) {
  ++g_allocations;
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) { return operator new(n); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
