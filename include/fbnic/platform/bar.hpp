// The two PCI memory BARs the device exposes.
#pragma once

#include <cstdint>

namespace fbnic {

enum class Bar : std::uint8_t {
  kCsr = 0,  // BAR0: every device CSR
  kIpc = 4,  // BAR4: firmware mailbox descriptors and OTP status
};

}  // namespace fbnic
