// Links the whole core with no C or C++ runtime: -ffreestanding -nostdlib, own entry point.
// The exit status says whether the register types and Io behaved.
#include <fbnic/fbnic.hpp>
#if !defined(__s390x__)  // no memory-mapped PCI there (see fbnic/platform/mmio.hpp)
#include <fbnic/platform/mmio.hpp>
#endif

#include <cstddef>
#include <cstdint>

// What the compiler may emit calls to; a firmware build provides these the same way.
extern "C" void* memcpy(void* dst, const void* src, std::size_t n) {
  auto* d = static_cast<unsigned char*>(dst);
  const auto* s = static_cast<const unsigned char*>(src);
  while (n-- != 0) *d++ = *s++;
  return dst;
}
extern "C" void* memset(void* dst, int c, std::size_t n) {
  auto* d = static_cast<unsigned char*>(dst);
  while (n-- != 0) *d++ = static_cast<unsigned char>(c);
  return dst;
}
extern "C" int memcmp(const void* a, const void* b, std::size_t n) {
  const auto* x = static_cast<const unsigned char*>(a);
  const auto* y = static_cast<const unsigned char*>(b);
  for (; n != 0; --n, ++x, ++y) {
    if (*x != *y) return *x < *y ? -1 : 1;
  }
  return 0;
}

namespace {

// A register file in static memory stands in for the BARs.
struct TinyPlatform {
  std::uint32_t bar0[0x200000 / 4];
  std::uint64_t clock = 0;

  std::uint32_t read32(fbnic::Bar bar, std::uint32_t off) {
    return bar == fbnic::Bar::kCsr && off < sizeof bar0 ? bar0[off / 4] : 0;
  }
  void write32(fbnic::Bar bar, std::uint32_t off, std::uint32_t v) {
    if (bar == fbnic::Bar::kCsr && off < sizeof bar0) bar0[off / 4] = v;
  }
  fbnic::Result<fbnic::DmaBuffer> dma_alloc(std::size_t, std::size_t) {
    return fbnic::Error::kNoMemory;
  }
  void dma_free(const fbnic::DmaBuffer&) {}
  std::uint64_t now_ns() { return clock; }
  void delay_us(std::uint32_t us) { clock += us * 1000ull; }
  void log(fbnic::LogLevel, const char*) {}
};
static_assert(fbnic::Platform<TinyPlatform>);

constinit TinyPlatform platform{};

int run() {
  using namespace fbnic::regs;
  fbnic::Io io(platform);
  constexpr auto ctl = TimCtl{}.set(TimCtl::kVector, 7);
  if (!io.write(TimCtl::at(3), ctl).ok()) return 1;
  auto back = io.read(TimCtl::at(3));
  if (!back.ok() || back->get(TimCtl::kVector) != 7) return 2;
  if (platform.bar0[TimCtl::at(3).offset / 4] != 7) return 3;
  if (io.write(TimCtl::at(128), ctl).ok()) return 4;  // out of range: refused
  auto st = fbnic::poll_until(platform, fbnic::Deadline::after_us(platform.now_ns(), 100), 10,
                              [] { return false; });
  if (st.code() != fbnic::Error::kTimeout) return 5;
  // The barrier and register-access instructions run in user mode too, and registers hold
  // their bytes little-endian whatever the CPU (a word of RAM stands in for a register).
  fbnic::dma_wmb();
  fbnic::dma_rmb();
#if !defined(__s390x__)
  alignas(4) static std::uint8_t reg[4];
  const auto at = reinterpret_cast<std::uintptr_t>(reg);
  fbnic::mmio_write32(at, 0x1122'3344u);
  if (reg[0] != 0x44 || reg[1] != 0x33 || reg[2] != 0x22 || reg[3] != 0x11) return 6;
  if (fbnic::mmio_read32(at) != 0x1122'3344u) return 7;
#endif
  return 0;
}

}  // namespace

// The kernel enters _start with the stack 16-byte aligned, not as after a call: realign.
#if defined(__x86_64__) || defined(__i386__)
#define FBNIC_ENTRY __attribute__((force_align_arg_pointer))
#else
#define FBNIC_ENTRY
#endif

// exit(status) by the Linux system call of each CPU tests/cross/run.sh runs this on.
extern "C" [[noreturn]] FBNIC_ENTRY void _start() {
  const long status = run();
#if defined(__x86_64__)
  __asm__ volatile("syscall" : : "a"(60), "D"(status) : "rcx", "r11", "memory");
#elif defined(__i386__)
  __asm__ volatile("int $0x80" : : "a"(1), "b"(status) : "memory");
#elif defined(__aarch64__)
  register long x0 __asm__("x0") = status;
  register long x8 __asm__("x8") = 93;
  __asm__ volatile("svc 0" : : "r"(x0), "r"(x8) : "memory");
#elif defined(__arm__)
  register long r0 __asm__("r0") = status;
  register long r7 __asm__("r7") = 1;
  __asm__ volatile("svc 0" : : "r"(r0), "r"(r7) : "memory");
#elif defined(__riscv)
  register long a0 __asm__("a0") = status;
  register long a7 __asm__("a7") = 93;
  __asm__ volatile("ecall" : : "r"(a0), "r"(a7) : "memory");
#elif defined(__powerpc64__)
  register long r0 __asm__("r0") = 1;
  register long r3 __asm__("r3") = status;
  __asm__ volatile("sc" : : "r"(r0), "r"(r3) : "memory", "cr0");
#elif defined(__s390x__)
  register long r2 __asm__("r2") = status;
  __asm__ volatile("svc 1" : : "r"(r2) : "memory");
#elif defined(__loongarch__)
  register long a0 __asm__("$a0") = status;
  register long a7 __asm__("$a7") = 93;
  __asm__ volatile("syscall 0" : : "r"(a0), "r"(a7) : "memory");
#else
#error "tests/freestanding: add this CPU's exit system call"
#endif
  for (;;) {
  }
}
