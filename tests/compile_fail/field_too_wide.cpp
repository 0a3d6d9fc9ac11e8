#include <fbnic/fbnic.hpp>
// TIM_CTL.vector is 8 bits wide: 256 must not compile.
constexpr auto v = fbnic::regs::TimCtl{}.set(fbnic::regs::TimCtl::kVector, 256);
