// One kernel source, two platforms: the kernels are written in CUDA's spelling; compiled by
// hipcc (AMD, gfx11) this header maps that spelling onto HIP, the way ggml-cuda's
// vendors/hip.h does. Only what the kernels use is mapped.
#pragma once

#if defined(__HIPCC__) || defined(__HIP_PLATFORM_AMD__)
#define UCN_HIP 1
#include <hip/hip_runtime.h>
#include <hip/hip_fp16.h>
// RDNA runs 32-wide waves (wave32 is hipcc's default for gfx11), like an NVIDIA warp.
#define UCN_FULL_MASK 0xffffffffu
#define __shfl_xor_sync(mask, var, lane, width) __shfl_xor(var, lane, width)
#define __shfl_sync(mask, var, lane, width) __shfl(var, lane, width)
#else
#define UCN_CUDA 1
#include <cuda_fp16.h>
#define UCN_FULL_MASK 0xffffffffu
#endif

#define UCN_WARP 32

// The RDNA3 paths (WMMA, wave32) for the whole gfx11 family: gfx1100-gfx1103 (RDNA3: the
// 780M/760M of Phoenix, RX 7000) and gfx1150/gfx1151 (RDNA3.5: Strix Point's 890M, Strix Halo's
// 8060S). clang defines __GFX11__ for every one of them (checked with clang-17:
// `clang++-17 -x hip --offload-arch=gfx1150 --cuda-device-only -nogpulib -dM -E` lists
// __GFX11__ and __gfx1150__), so no single GPU's macro (__gfx1103__) decides.
#if defined(UCN_HIP) && defined(__GFX11__)
#define UCN_RDNA3 1
#endif
#if defined(UCN_CUDA) && defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 700
#define UCN_NV_TENSOR_CORES 1
#endif
