// Text to a UEFI console (SimpleTextOutput): ASCII widened to the UCS-2 the firmware
// takes, "\n" sent as CR LF, in pieces on the stack, so that a string of any length goes
// out with no allocation.
#pragma once

#include <cstddef>

#include "fbnic/bare/uefi/efi.hpp"

namespace fbnic::bare::uefi {

inline void print(SimpleTextOutput* out, const char* s) {
  constexpr std::size_t kPiece = 128;
  char16_t buf[kPiece + 1];
  std::size_t n = 0;
  auto flush = [&] {
    buf[n] = 0;
    out->output_string(out, buf);
    n = 0;
  };
  for (; *s != '\0'; ++s) {
    if (n + 2 > kPiece) flush();  // room for a CR LF pair
    if (*s == '\n') buf[n++] = u'\r';
    buf[n++] = static_cast<char16_t>(static_cast<unsigned char>(*s));
  }
  if (n != 0) flush();
}

inline void print_line(SimpleTextOutput* out, const char* s) {
  print(out, s);
  print(out, "\n");
}

}  // namespace fbnic::bare::uefi
