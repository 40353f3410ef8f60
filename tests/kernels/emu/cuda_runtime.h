// Host stand-in for the CUDA runtime header that nvcc includes implicitly (the test build
// force-includes it with -include): the emulated GPU of device.h in CUDA's spelling.
// kernels/hip/vendor.h then takes its CUDA branch unchanged, finding the emulated <cuda_fp16.h>
// and <mma.h> beside this file.
#pragma once
// The device pass of nvcc for sm_90 (the CUDA target scripts/build-kernels.sh compiles): the
// kernels' sm_70+ paths (wmma on the tensor cores, dp4a, funnel shifts) are what runs here.
#define __CUDA_ARCH__ 900

#include "device.h"

inline void __syncwarp(unsigned mask = 0xffffffffu) {
    unsigned part;
    ucn_emu::warp_exchange(nullptr, 0, mask, &part);
}
template <typename T> inline T __shfl_sync(unsigned mask, T v, int src, int width = 32) {
    return ucn_emu::shfl(mask, v, src, 0, width);
}
template <typename T> inline T __shfl_xor_sync(unsigned mask, T v, int lane_mask, int width = 32) {
    return ucn_emu::shfl(mask, v, lane_mask, 1, width);
}
template <typename T> inline T __shfl_down_sync(unsigned mask, T v, unsigned delta, int width = 32) {
    return ucn_emu::shfl(mask, v, (int)delta, 2, width);
}
template <typename T> inline T __shfl_up_sync(unsigned mask, T v, unsigned delta, int width = 32) {
    return ucn_emu::shfl(mask, v, (int)delta, 3, width);
}
inline unsigned __ballot_sync(unsigned mask, int pred) {
    unsigned part;
    const int b = pred != 0;
    const unsigned char *s = ucn_emu::warp_exchange(&b, sizeof b, mask, &part);
    unsigned r = 0;
    for (int l = 0; l < 32; ++l) {
        int x;
        memcpy(&x, s + ucn_emu::SLOT * l, sizeof x);
        r |= (part >> l & 1u) && x ? 1u << l : 0u;
    }
    return r;
}
inline int __any_sync(unsigned mask, int pred) { return __ballot_sync(mask, pred) != 0; }
inline int __all_sync(unsigned mask, int pred) {
    unsigned part;
    const int b = pred != 0;
    const unsigned char *s = ucn_emu::warp_exchange(&b, sizeof b, mask, &part);
    for (int l = 0; l < 32; ++l) {
        int x;
        memcpy(&x, s + ucn_emu::SLOT * l, sizeof x);
        if ((part >> l & 1u) && !x) {
            return 0;
        }
    }
    return 1;
}

