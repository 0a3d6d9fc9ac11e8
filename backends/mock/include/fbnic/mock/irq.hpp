// IrqSink: where the model delivers MSI-X messages. A plain function pointer and a
// context, so that the model core needs no heap and no <functional>.
#pragma once

#include <cstdint>

namespace fbnic::mock {

struct IrqSink {
  void (*fn)(void* ctx, std::uint32_t vector) = nullptr;
  void* ctx = nullptr;

  void operator()(std::uint32_t vector) const {
    if (fn != nullptr) fn(ctx, vector);
  }
};

}  // namespace fbnic::mock
