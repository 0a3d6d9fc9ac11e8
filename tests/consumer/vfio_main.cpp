// A consumer of the VFIO library (fbnic-vfio through pkg-config): a malformed address is
// refused with its explanation, which needs the library's code, not just its headers.
#include <fbnic/vfio/platform.hpp>

#include <cstdio>

int main() {
  fbnic::vfio::Options options;
  options.log = [](fbnic::LogLevel, const char*) {};
  fbnic::vfio::Platform platform(options);
  const fbnic::Status st = platform.open("not-a-pci-address");
  if (st != fbnic::Error::kInvalidArgument) return 1;
  std::printf("vfio consumer ok: %s\n", platform.last_error().c_str());
  return 0;
}
