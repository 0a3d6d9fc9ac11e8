// A consumer of the core alone (fbnic::fbnic): register types, no backend.
#include <fbnic/fbnic.hpp>

#include <cstdio>

int main() {
  using fbnic::regs::TimCtl;
  constexpr auto ctl = TimCtl{}.set(TimCtl::kVector, 9);
  static_assert(ctl.get(TimCtl::kVector) == 9);
  std::printf("core consumer ok: C++ %ld, TIM_CTL(1) at 0x%x\n", __cplusplus,
              static_cast<unsigned>(TimCtl::at(1).offset));
  return 0;
}
