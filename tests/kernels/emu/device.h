// The emulated GPU as kernel code sees it, for both spellings: qualifiers, built-in variables,
// __syncthreads, the warp collective the shuffles are built on, and device math. The CUDA
// spelling's runtime header (cuda_runtime.h) and the HIP one (hip/hip_runtime.h) add their own
// names on top.
//
// Execution model (emu.cpp): a launch runs its blocks one after another; the threads of a block
// are fibers (one stack each) on one OS thread. A fiber runs until it reaches __syncthreads()
// or a warp collective (shuffle, __syncwarp, wmma), where it waits for the other threads of its
// block or lanes of its warp, as on the GPU. Lanes of a warp do not run in lockstep (CUDA's
// independent thread scheduling), so warp-synchronous code without __syncwarp shows up. The
// first warp with a runnable lane runs, so a warp gets as far ahead of the others as barriers
// let it. Each launch runs twice, threads, warps and blocks in forward then reverse order, and
// the two results must agree to the bit (a missing barrier shows up as a difference).
//
// What this proves is the kernel's logic (indexing, barriers, reductions, formats), not the GPU
// compilers or hardware: math functions are the host's libm, and the host compiler contracts no
// multiply-add that the kernel does not write as fmaf (nvcc and hipcc may).
#pragma once
#include <algorithm>
#include <climits>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __noinline__
#define __launch_bounds__(...)
#define __restrict__ __restrict
// Static storage: one instance, shared by the threads of the block that runs (blocks run one at
// a time). The runner poisons the kernels' static storage before every block (emu.cpp), so a
// read of shared memory that no thread of the block wrote is seen. (So the emulation headers,
// compiled into the kernels' object, keep no static storage of their own.)
#define __shared__ static

// Vector types (CUDA's vector_types.h).
struct uint3 {
    unsigned int x, y, z;
};
struct dim3 {
    unsigned int x = 1, y = 1, z = 1;
    constexpr dim3(unsigned int x_ = 1, unsigned int y_ = 1, unsigned int z_ = 1) : x(x_), y(y_), z(z_) {}
};
#define UCN_EMU_VEC2(T, N)                                                                                             \
    struct alignas(2 * sizeof(T)) N {                                                                                  \
        T x, y;                                                                                                        \
    };
#define UCN_EMU_VEC4(T, N, A)                                                                                          \
    struct alignas(A) N {                                                                                              \
        T x, y, z, w;                                                                                                  \
    };
UCN_EMU_VEC2(unsigned int, uint2)
UCN_EMU_VEC2(int, int2)
UCN_EMU_VEC2(float, float2)
UCN_EMU_VEC2(unsigned short, ushort2)
UCN_EMU_VEC4(unsigned int, uint4, 16)
UCN_EMU_VEC4(int, int4, 16)
UCN_EMU_VEC4(float, float4, 16)
UCN_EMU_VEC4(unsigned char, uchar4, 4)
UCN_EMU_VEC4(signed char, char4, 4)
#undef UCN_EMU_VEC2
#undef UCN_EMU_VEC4

// Built-in variables: set by the runner for the fiber that runs.
extern uint3 threadIdx, blockIdx;
extern dim3 blockDim, gridDim;
constexpr int warpSize = 32;

namespace ucn_emu {
// Waits until every live thread of the block has arrived.
void syncthreads();
// Warp collective: this lane contributes `n` (<= SLOT) bytes and waits for the lanes of `mask`
// that are alive; returns the 32 slots of SLOT bytes (slot i: lane i's bytes) and, in *part,
// the lanes that took part.
constexpr size_t SLOT = 96;
const unsigned char *warp_exchange(const void *v, size_t n, unsigned mask, unsigned *part);
unsigned lane();
// A kernel-side fault (a shuffle that reads a lane that did not take part, ...): recorded, the
// launch fails.
void fault(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

template <typename T> inline T shfl(unsigned mask, T v, int src_lane, int mode, int width) {
    static_assert(sizeof(T) <= SLOT && std::is_trivially_copyable_v<T>, "shuffle of a type over SLOT bytes");
    unsigned part;
    const unsigned char *slots = warp_exchange(&v, sizeof(T), mask, &part);
    const int lane = (int)ucn_emu::lane();
    const int seg = lane & ~(width - 1), pos = lane - seg;
    int src;
    switch (mode) {
    case 0: src = seg + (src_lane & (width - 1)); break;                     // __shfl_sync
    case 1: src = lane ^ src_lane; src = src >= seg + width ? lane : src; break; // xor
    case 2: src = pos + src_lane < width ? lane + src_lane : lane; break;   // down
    default: src = pos >= src_lane ? lane - src_lane : lane; break;         // up
    }
    if (!(part >> src & 1u)) {
        fault("lane %d shuffles from lane %d, which is not in the collective (mask %08x, present %08x)", lane, src, mask,
              part);
        return v;
    }
    T r;
    memcpy(&r, slots + SLOT * src, sizeof(T));
    return r;
}
} // namespace ucn_emu

inline void __syncthreads() { ucn_emu::syncthreads(); }
// Bit reinterpretation and integer intrinsics.
inline float __int_as_float(int i) { float f; memcpy(&f, &i, 4); return f; }
inline float __uint_as_float(unsigned int i) { float f; memcpy(&f, &i, 4); return f; }
inline int __float_as_int(float f) { int i; memcpy(&i, &f, 4); return i; }
inline unsigned int __float_as_uint(float f) { unsigned int i; memcpy(&i, &f, 4); return i; }
inline int __clz(int x) { return x == 0 ? 32 : __builtin_clz((unsigned)x); }
inline int __clzll(long long x) { return x == 0 ? 64 : __builtin_clzll((unsigned long long)x); }
inline int __popc(unsigned int x) { return __builtin_popcount(x); }
inline int __ffs(int x) { return __builtin_ffs(x); }
inline int __dp4a(int a, int b, int c) {
    for (int i = 0; i < 4; ++i) {
        c += (int)(int8_t)(a >> 8 * i) * (int)(int8_t)(b >> 8 * i);
    }
    return c;
}
inline unsigned int __byte_perm(unsigned int x, unsigned int y, unsigned int s) {
    const uint64_t v = (uint64_t)y << 32 | x;
    unsigned int r = 0;
    for (int i = 0; i < 4; ++i) {
        r |= (unsigned int)(v >> 8 * ((s >> 4 * i) & 7) & 0xff) << 8 * i;
    }
    return r;
}
template <typename T> inline T __ldg(const T *p) { return *p; }
inline unsigned int __funnelshift_r(unsigned int lo, unsigned int hi, unsigned int shift) {
    return (unsigned int)((((uint64_t)hi << 32) | lo) >> (shift & 31));
}
inline unsigned int __funnelshift_l(unsigned int lo, unsigned int hi, unsigned int shift) {
    return (unsigned int)(((((uint64_t)hi << 32) | lo) << (shift & 31)) >> 32);
}

// Float intrinsics: rounded like the plain operations on the host (no contraction).
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fsub_rn(float a, float b) { return a - b; }
inline float __fdiv_rn(float a, float b) { return a / b; }
inline float __fmaf_rn(float a, float b, float c) { return fmaf(a, b, c); }
inline float __frcp_rn(float a) { return 1.0f / a; }
inline float __fsqrt_rn(float a) { return sqrtf(a); }
inline float __fdividef(float a, float b) { return a / b; }
inline float __expf(float x) { return expf(x); }
inline float __logf(float x) { return logf(x); }
inline float __sinf(float x) { return sinf(x); }
inline float __cosf(float x) { return cosf(x); }
inline float __powf(float a, float b) { return powf(a, b); }
inline float __saturatef(float x) { return x < 0.0f ? 0.0f : x > 1.0f ? 1.0f : x; }
inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }
inline float exp10f(float x) { return powf(10.0f, x); }

// Atomics: blocks and threads run one at a time, so plain read-modify-writes are atomic here.
template <typename T> inline T atomicAdd(T *p, T v) { const T o = *p; *p = o + v; return o; }
template <typename T> inline T atomicSub(T *p, T v) { const T o = *p; *p = o - v; return o; }
template <typename T> inline T atomicMax(T *p, T v) { const T o = *p; *p = o < v ? v : o; return o; }
template <typename T> inline T atomicMin(T *p, T v) { const T o = *p; *p = v < o ? v : o; return o; }
template <typename T> inline T atomicExch(T *p, T v) { const T o = *p; *p = v; return o; }
template <typename T> inline T atomicCAS(T *p, T c, T v) { const T o = *p; if (o == c) *p = v; return o; }
inline void __threadfence() {}
inline void __threadfence_block() {}
