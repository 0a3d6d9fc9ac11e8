#include <fbnic/fbnic.hpp>
// There are 128 queue register blocks: queue 128 must not compile.
constexpr auto a = fbnic::regs::Twq0Tail::at(128);
