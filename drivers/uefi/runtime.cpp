// The few functions a freestanding build still calls: the compiler emits memcpy, memset and
// memcmp for copies, zero-initialization and comparisons of aggregates (and the core's
// copy_bytes/fill_bytes/equal_bytes are those builtins). There is no C library to provide
// them in a UEFI image. They are byte loops on purpose: small, and never the hot path here.
#include <cstddef>

// The optimizer must not turn these loops back into calls to themselves.
#define FBNIC_NO_BUILTIN __attribute__((no_builtin))

extern "C" {

FBNIC_NO_BUILTIN void* memcpy(void* dst, const void* src, std::size_t n) {
  auto* d = static_cast<unsigned char*>(dst);
  const auto* s = static_cast<const unsigned char*>(src);
  while (n-- != 0) *d++ = *s++;
  return dst;
}

FBNIC_NO_BUILTIN void* memmove(void* dst, const void* src, std::size_t n) {
  auto* d = static_cast<unsigned char*>(dst);
  const auto* s = static_cast<const unsigned char*>(src);
  if (d < s) {
    while (n-- != 0) *d++ = *s++;
  } else {
    while (n-- != 0) d[n] = s[n];
  }
  return dst;
}

FBNIC_NO_BUILTIN void* memset(void* dst, int c, std::size_t n) {
  auto* d = static_cast<unsigned char*>(dst);
  while (n-- != 0) *d++ = static_cast<unsigned char>(c);
  return dst;
}

FBNIC_NO_BUILTIN int memcmp(const void* a, const void* b, std::size_t n) {
  const auto* x = static_cast<const unsigned char*>(a);
  const auto* y = static_cast<const unsigned char*>(b);
  for (; n != 0; --n, ++x, ++y) {
    if (*x != *y) return *x < *y ? -1 : 1;
  }
  return 0;
}

}  // extern "C"
