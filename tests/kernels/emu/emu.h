// The runner's interface for the test harness (the kernels see only cuda_runtime.h).
#pragma once
#include "device.h"

#include <string>

namespace ucn_emu {
// Runs body(ctx) as every thread of a grid x block launch; blocks and threads in forward or
// reverse order. Returns "" or the first fault (deadlock, bad shuffle, invalid launch).
std::string launch(dim3 grid, dim3 block, void (*body)(void *), void *ctx, bool reverse);
// Whether p (a __shared__ variable of the kernels' object) lies in the region poisoned before
// each block, i.e. whether the link put the markers around the kernels' static storage.
bool shared_markers_hold(const void *p);
} // namespace ucn_emu
