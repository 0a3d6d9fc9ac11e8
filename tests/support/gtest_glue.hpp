// GoogleTest glue for fbnic values: statuses print by name, and ASSERT_OK / EXPECT_OK
// say which error came back. The test kit itself (frames, NICs on the model, cabled pairs)
// is part of the mock backend: <fbnic/mock/testing.hpp>.
#pragma once

#include <gtest/gtest.h>

#include <fbnic/base/result.hpp>
#include <fbnic/base/status.hpp>

#include <ostream>

namespace fbnic {
inline void PrintTo(const Status& s, std::ostream* os) { *os << s.name(); }
}  // namespace fbnic

#define EXPECT_OK(expr)                                                           \
  do {                                                                            \
    const ::fbnic::Status fbnic_expect_ok = ::fbnic::detail_status_of(expr);      \
    EXPECT_TRUE(fbnic_expect_ok.ok()) << #expr << ": " << fbnic_expect_ok.name(); \
  } while (0)
#define ASSERT_OK(expr)                                                           \
  do {                                                                            \
    const ::fbnic::Status fbnic_assert_ok = ::fbnic::detail_status_of(expr);      \
    ASSERT_TRUE(fbnic_assert_ok.ok()) << #expr << ": " << fbnic_assert_ok.name(); \
  } while (0)
