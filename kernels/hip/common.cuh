// Device helpers shared by the op files: number formats and warp reductions.
#pragma once
#include "vendor.h"
#include "args.h"

#define UCN_KERNEL extern "C" __global__

static __device__ __forceinline__ float ucn_f16_to_f32(uint16_t h) {
    return __half2float(__ushort_as_half(h));
}
static __device__ __forceinline__ uint16_t ucn_f32_to_f16(float x) {
    return __half_as_ushort(__float2half_rn(x));
}
static __device__ __forceinline__ float ucn_bf16_to_f32(uint16_t h) {
    return __uint_as_float((uint32_t)h << 16);
}
// Round to nearest even, NaN kept quiet (as ggml's GGML_FP32_TO_BF16).
static __device__ __forceinline__ uint16_t ucn_f32_to_bf16(float x) {
    uint32_t u = __float_as_uint(x);
    if ((u & 0x7fffffffu) > 0x7f800000u) {
        return (uint16_t)((u >> 16) | 64);
    }
    return (uint16_t)((u + (0x7fffu + ((u >> 16) & 1u))) >> 16);
}

// Reads element i of a row of F32, F16 or BF16 values.
static __device__ __forceinline__ float ucn_load_float(uint32_t type, const char *row, size_t i) {
    switch (type) {
    case UCN_TYPE_F16: return ucn_f16_to_f32(((const uint16_t *)row)[i]);
    case UCN_TYPE_BF16: return ucn_bf16_to_f32(((const uint16_t *)row)[i]);
    default: return ((const float *)row)[i];
    }
}
static __device__ __forceinline__ void ucn_store_float(uint32_t type, char *row, size_t i, float v) {
    switch (type) {
    case UCN_TYPE_F16: ((uint16_t *)row)[i] = ucn_f32_to_f16(v); break;
    case UCN_TYPE_BF16: ((uint16_t *)row)[i] = ucn_f32_to_bf16(v); break;
    default: ((float *)row)[i] = v; break;
    }
}

static __device__ __forceinline__ float ucn_warp_sum(float v) {
#pragma unroll
    for (int o = UCN_WARP / 2; o > 0; o >>= 1) {
        v += __shfl_xor_sync(UCN_FULL_MASK, v, o, UCN_WARP);
    }
    return v;
}
static __device__ __forceinline__ float ucn_warp_max(float v) {
#pragma unroll
    for (int o = UCN_WARP / 2; o > 0; o >>= 1) {
        v = fmaxf(v, __shfl_xor_sync(UCN_FULL_MASK, v, o, UCN_WARP));
    }
    return v;
}

// Sum over a block of up to 1024 threads (blockDim.x a multiple of 32); every thread gets it.
// `scratch` holds at least 32 floats of shared memory.
static __device__ __forceinline__ float ucn_block_sum(float v, float *scratch) {
    const int lane = threadIdx.x % UCN_WARP, warp = threadIdx.x / UCN_WARP;
    const int n_warps = blockDim.x / UCN_WARP;
    v = ucn_warp_sum(v);
    if (n_warps == 1) {
        return v;
    }
    __syncthreads();
    if (lane == 0) {
        scratch[warp] = v;
    }
    __syncthreads();
    v = lane < n_warps ? scratch[lane] : 0.0f;
    return ucn_warp_sum(v);
}

// Byte offset of row (i1, i2, i3) / of element (i0, i1, i2, i3).
static __device__ __forceinline__ size_t ucn_row_offset(const ucn_layout &l, size_t i1, size_t i2, size_t i3) {
    return i1 * l.nb[1] + i2 * l.nb[2] + i3 * l.nb[3];
}
static __device__ __forceinline__ size_t ucn_offset(const ucn_layout &l, size_t i0, size_t i1, size_t i2, size_t i3) {
    return i0 * l.nb[0] + i1 * l.nb[1] + i2 * l.nb[2] + i3 * l.nb[3];
}

// --- Tiles: element-wise kernels over (ne0 columns) x (rows) --------------------------------
// Launched by ops::tiles (Rust): blocks of (tx, ty) threads, tx a power of two covering ne0 (at
// most 256), so short rows share a block; grid x over columns, row blocks over grid y and z.
// The Rust side declines more than 2^32 - 1 rows, so a row index fits 32 bits.
static __device__ __forceinline__ size_t ucn_tile_col() {
    return (size_t)blockIdx.x * blockDim.x + threadIdx.x;
}
static __device__ __forceinline__ size_t ucn_tile_row() {
    return ((size_t)blockIdx.y + (size_t)blockIdx.z * gridDim.y) * blockDim.y + threadIdx.y;
}

// (i1, i2, i3) of flat row r (< 2^32) of a tensor with ne1 x ne2 x ... rows.
struct ucn_row3 {
    uint32_t i1, i2, i3;
};
static __device__ __forceinline__ ucn_row3 ucn_split_row(size_t r, size_t ne1, size_t ne2) {
    const uint32_t r32 = (uint32_t)r, n1 = (uint32_t)ne1, n2 = (uint32_t)ne2;
    const uint32_t t = r32 / n1;
    return ucn_row3{r32 - t * n1, t % n2, t / n2};
}

// x * y rounded on its own, never fused with a neighbouring add into an FMA (for results that
// mirror code built without FMA, such as ggml-base's dequantization).
static __device__ __forceinline__ float ucn_mul_rn(float x, float y) {
#ifdef UCN_HIP
#pragma clang fp contract(off)
    return x * y;
#else
    return __fmul_rn(x, y);
#endif
}
static __device__ __forceinline__ float ucn_sub_rn(float x, float y) {
#ifdef UCN_HIP
#pragma clang fp contract(off)
    return x - y;
#else
    return __fsub_rn(x, y);
#endif
}
static __device__ __forceinline__ float ucn_add_rn(float x, float y) {
#ifdef UCN_HIP
#pragma clang fp contract(off)
    return x + y;
#else
    return __fadd_rn(x, y);
#endif
}

// __launch_bounds__(threads, blocks per multiprocessor) where the register allocation aims at an
// occupancy (sm_90: ptxas then keeps to it); HIP's second argument means something else, so
// gfx1103 gets the first only.
#if defined(UCN_CUDA)
#define UCN_LAUNCH_BOUNDS(threads, blocks) __launch_bounds__(threads, blocks)
#else
#define UCN_LAUNCH_BOUNDS(threads, blocks) __launch_bounds__(threads)
#endif
