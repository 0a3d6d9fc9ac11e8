// The device model and the platform that serves it: the freestanding part of fbnic::mock.
#pragma once

#include "fbnic/mock/access_log.hpp"
#include "fbnic/mock/arena.hpp"
#include "fbnic/mock/config.hpp"
#include "fbnic/mock/device.hpp"
#include "fbnic/mock/dma_space.hpp"
#include "fbnic/mock/fault.hpp"
#include "fbnic/mock/firmware.hpp"
#include "fbnic/mock/intr_block.hpp"
#include "fbnic/mock/irq.hpp"
#include "fbnic/mock/platform.hpp"
#include "fbnic/mock/regfile.hpp"
