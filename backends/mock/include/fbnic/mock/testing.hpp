// The device model's test kit, for tests of code built on fbnic (hosted, no test framework):
// frame builders, a NIC on the model, two NICs cabled back to back, a reflecting far end.
// docs/mock.md describes it.
#pragma once

#include "fbnic/mock/testing/frames.hpp"
#include "fbnic/mock/testing/nic.hpp"
#include "fbnic/mock/testing/pair.hpp"
#include "fbnic/mock/testing/reflector.hpp"
