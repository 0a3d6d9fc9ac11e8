// Result<T>: a value or the Status saying why there is none.
#pragma once

#include <type_traits>
#include <utility>

#include "fbnic/base/status.hpp"

namespace fbnic {

// T must be default-constructible: every value this library returns is a plain
// struct or register value, and that keeps Result usable in constant expressions.
template <class T>
class [[nodiscard]] Result {
  static_assert(std::is_default_constructible_v<T>, "Result<T> needs a default T");
  static_assert(!std::is_reference_v<T>, "Result holds values");
  static_assert(!std::is_same_v<std::remove_cv_t<T>, Status>, "use Status directly");

 public:
  constexpr Result(const T& value) : value_(value) {}        // NOLINT(google-explicit-constructor)
  constexpr Result(T&& value) : value_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  // An error. An ok Status here is a caller bug and becomes kInvalidArgument.
  constexpr Result(Status status)  // NOLINT(google-explicit-constructor)
      : status_(status.ok() ? Status(Error::kInvalidArgument) : status) {}
  constexpr Result(Error code) : Result(Status(code)) {}  // NOLINT(google-explicit-constructor)
  // A default T, to be filled in place (saves a copy of a large T).
  constexpr explicit Result(std::in_place_t /*tag*/) {}

  [[nodiscard]] constexpr bool ok() const { return status_.ok(); }
  [[nodiscard]] constexpr Status status() const { return status_; }

  // Reading the value of an error gives a default T; check ok() first.
  constexpr T& value() & { return value_; }
  constexpr const T& value() const& { return value_; }
  constexpr T&& value() && { return std::move(value_); }
  constexpr T* operator->() { return &value_; }
  constexpr const T* operator->() const { return &value_; }
  constexpr T& operator*() & { return value_; }
  constexpr const T& operator*() const& { return value_; }

  constexpr T value_or(T fallback) const { return ok() ? value_ : fallback; }

 private:
  T value_{};
  Status status_{};
};

template <class T>
constexpr Status detail_status_of(const Result<T>& r) {
  return r.status();
}

}  // namespace fbnic
