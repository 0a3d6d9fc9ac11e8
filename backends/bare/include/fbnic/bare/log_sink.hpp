// LogSink: where the core's log lines go (a console, a serial port, a ring in memory).
// Lines above max_level are dropped before the call; with no function every line is.
#pragma once

#include "fbnic/base/log.hpp"

namespace fbnic::bare {

struct LogSink {
  void (*write)(void* ctx, LogLevel level, const char* line) = nullptr;
  void* ctx = nullptr;
  LogLevel max_level = LogLevel::kWarning;

  void operator()(LogLevel level, const char* line) const {
    if (write != nullptr && level <= max_level) write(ctx, level, line);
  }
};

}  // namespace fbnic::bare
