// Counts heap allocations made by the process, to show a code path makes none.
#pragma once

#include <cstdint>

namespace fbnic::bench {
std::uint64_t allocations();
}  // namespace fbnic::bench
