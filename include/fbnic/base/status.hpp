// Status: the error value every fallible call in the library returns.
#pragma once

#include <cstdint>

namespace fbnic {

// Each code names what a caller can act on, not where the failure happened.
enum class Error : std::uint8_t {
  kOk = 0,
  kTimeout,             // a bounded wait ran out (firmware silent, queue never idle)
  kDeviceRemoved,       // reads return all ones: surprise removal or a dead device
  kNoMemory,            // DMA memory or a fixed-capacity table is exhausted
  kBadMessage,          // malformed data from the device or firmware
  kBusy,                // try again later: ring full, request already outstanding
  kNotSupported,        // the device or firmware lacks the feature
  kInvalidArgument,     // the caller passed something out of range
  kLinkDown,            // the operation needs a link that is not up
  kOutOfRange,          // an index or length beyond a table or buffer
  kFailedPrecondition,  // called in the wrong state (e.g. queue not enabled)
  kFirmwareError,       // firmware answered with an error code
  kTooOld,              // firmware older than the minimum this library accepts
  kAborted,             // cancelled by teardown or by the peer
  kNotFound,            // no such device (or entry)
  kPermissionDenied,    // the system refuses access (device node, memory locking)
};

constexpr const char* error_name(Error e) {
  switch (e) {
    case Error::kOk: return "ok";
    case Error::kTimeout: return "timeout";
    case Error::kDeviceRemoved: return "device removed";
    case Error::kNoMemory: return "no memory";
    case Error::kBadMessage: return "bad message";
    case Error::kBusy: return "busy";
    case Error::kNotSupported: return "not supported";
    case Error::kInvalidArgument: return "invalid argument";
    case Error::kLinkDown: return "link down";
    case Error::kOutOfRange: return "out of range";
    case Error::kFailedPrecondition: return "failed precondition";
    case Error::kFirmwareError: return "firmware error";
    case Error::kTooOld: return "firmware too old";
    case Error::kAborted: return "aborted";
    case Error::kNotFound: return "not found";
    case Error::kPermissionDenied: return "permission denied";
  }
  return "unknown";
}

class [[nodiscard]] Status {
 public:
  constexpr Status() = default;
  constexpr Status(Error code) : code_(code) {}  // NOLINT(google-explicit-constructor)

  static constexpr Status ok_status() { return Status(); }

  [[nodiscard]] constexpr bool ok() const { return code_ == Error::kOk; }
  [[nodiscard]] constexpr Error code() const { return code_; }
  [[nodiscard]] constexpr const char* name() const { return error_name(code_); }

  // Drops the status on purpose; greppable, unlike a (void) cast.
  constexpr void ignore() const {}

  friend constexpr bool operator==(Status a, Status b) { return a.code_ == b.code_; }
  friend constexpr bool operator==(Status a, Error b) { return a.code_ == b; }

 private:
  Error code_ = Error::kOk;
};

constexpr Status ok_status() { return Status(); }

// The first error of steps that are each tried even after one failed: a teardown undoes
// what it can on a device that failed or vanished, and reports what went wrong first.
class FirstError {
 public:
  constexpr void keep(Status s) {
    if (first_.ok()) first_ = s;
  }
  [[nodiscard]] constexpr bool ok() const { return first_.ok(); }
  [[nodiscard]] constexpr Status status() const { return first_; }

 private:
  Status first_;
};

}  // namespace fbnic

#define FBNIC_CONCAT_INNER(a, b) a##b
#define FBNIC_CONCAT(a, b) FBNIC_CONCAT_INNER(a, b)

// Returns early from the enclosing function when a Status (or Result) is not ok.
#define FBNIC_TRY(expr)                                                                    \
  do {                                                                                     \
    if (auto fbnic_try_status = ::fbnic::detail_status_of(expr); !fbnic_try_status.ok()) { \
      return fbnic_try_status;                                                             \
    }                                                                                      \
  } while (0)

// `FBNIC_TRY_ASSIGN(auto x, call())` declares x from a Result or returns its error.
#define FBNIC_TRY_ASSIGN(lhs, expr) \
  FBNIC_TRY_ASSIGN_IMPL(FBNIC_CONCAT(fbnic_result_, __LINE__), lhs, expr)
// lhs is a declaration (`auto x`), which parentheses would break.
// NOLINTBEGIN(bugprone-macro-parentheses)
#define FBNIC_TRY_ASSIGN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                          \
  if (!tmp.ok()) return tmp.status();         \
  lhs = static_cast<decltype(tmp)&&>(tmp).value()
// NOLINTEND(bugprone-macro-parentheses)

namespace fbnic {
constexpr Status detail_status_of(Status s) { return s; }
}  // namespace fbnic
