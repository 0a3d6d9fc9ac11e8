// A consumer of the installed or embedded library: the umbrella header, a register type
// and the device model, through the fbnic::fbnic and fbnic::mock targets.
#include <fbnic/fbnic.hpp>
#include <fbnic/mock/mock.hpp>

#include <cstdio>
#include <vector>

int main() {
  fbnic::mock::Device<> device;
  std::vector<std::byte> ram(1 << 16);
  fbnic::mock::Platform platform(device, ram);
  fbnic::Io io(platform);
  using fbnic::regs::TimCtl;
  if (!io.write(TimCtl::at(1), TimCtl{}.set(TimCtl::kVector, 9)).ok()) return 1;
  auto v = io.read(TimCtl::at(1));
  if (!v.ok() || v->get(TimCtl::kVector) != 9) return 2;
  std::printf("consumer ok: TIM_CTL(1).vector = %u\n", v->get(TimCtl::kVector));
  return 0;
}
