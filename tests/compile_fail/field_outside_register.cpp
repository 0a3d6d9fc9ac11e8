#include <fbnic/fbnic.hpp>
// A field past bit 31 must not compile.
constexpr fbnic::regs::Field<32, 30> kBad{};
