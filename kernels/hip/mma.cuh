// The matrix cores behind one interface: one 16x16x16 tile product per warp (NVIDIA) or wave32
// (AMD RDNA3), f16 inputs, f32 accumulation.
//
//   ucn_mma_a   A, 16x16 (m, k), loaded from shared memory stored row by row:    s[m * ld + k]
//   ucn_mma_b   B, 16x16 (k, n), loaded from shared memory stored by column:     s[n * ld + k]
//   ucn_mma_c   C, 16x16 (m, n) f32; ucn_mma_store_c writes it column by column: s[n * ld + m]
//   ucn_mma(c, a, b)   c += a * b
//
// Every lane of the warp calls each function (the warp's lanes are threadIdx.x % 32: a 1-D
// block whose size is a multiple of 32). `ld` counts elements: a multiple of 8 for the f16
// inputs, of 4 for the f32 output; each 16-row/column tile starts 32-byte aligned.
//
// Implementations:
// - NVIDIA sm_70+: nvcuda::wmma (m16n16k16, f16 x f16 -> f32).
// - AMD gfx11 (RDNA3, wave32): __builtin_amdgcn_wmma_f32_16x16x16_f16_w32. Its lane layout
//   (AMD's RDNA3 ISA; the same as ggml-cuda's mma.cuh for RDNA3): lane l holds row l % 16 of A
//   and column l % 16 of B, all 16 k values each (lanes 16-31 repeat lanes 0-15); the 8 results
//   of lane l are C[2 * i + l / 16][l % 16], i = 0..7.
// - Anything else (the host pass, other GPUs): plain arithmetic from shared memory with the RDNA3
//   result layout. Correct, slow; never the product path.
#pragma once
#include "common.cuh"

#if defined(UCN_NV_TENSOR_CORES)
#include <mma.h>

struct ucn_mma_a {
    nvcuda::wmma::fragment<nvcuda::wmma::matrix_a, 16, 16, 16, __half, nvcuda::wmma::row_major> f;
};
struct ucn_mma_b {
    nvcuda::wmma::fragment<nvcuda::wmma::matrix_b, 16, 16, 16, __half, nvcuda::wmma::col_major> f;
};
struct ucn_mma_c {
    nvcuda::wmma::fragment<nvcuda::wmma::accumulator, 16, 16, 16, float> f;
};
static __device__ __forceinline__ void ucn_mma_zero(ucn_mma_c &c) {
    nvcuda::wmma::fill_fragment(c.f, 0.0f);
}
static __device__ __forceinline__ void ucn_mma_load_a(ucn_mma_a &a, const uint16_t *s, int ld) {
    nvcuda::wmma::load_matrix_sync(a.f, (const __half *)s, ld);
}
static __device__ __forceinline__ void ucn_mma_load_b(ucn_mma_b &b, const uint16_t *s, int ld) {
    nvcuda::wmma::load_matrix_sync(b.f, (const __half *)s, ld);
}
static __device__ __forceinline__ void ucn_mma(ucn_mma_c &c, const ucn_mma_a &a, const ucn_mma_b &b) {
    nvcuda::wmma::mma_sync(c.f, a.f, b.f, c.f);
}
static __device__ __forceinline__ void ucn_mma_store_c(float *s, int ld, const ucn_mma_c &c) {
    nvcuda::wmma::store_matrix_sync(s, c.f, ld, nvcuda::wmma::mem_col_major);
}

#elif defined(UCN_RDNA3)
typedef _Float16 ucn_v16h __attribute__((ext_vector_type(16)));
typedef float ucn_v8f __attribute__((ext_vector_type(8)));

struct ucn_mma_a {
    ucn_v16h v;
};
struct ucn_mma_b {
    ucn_v16h v;
};
struct ucn_mma_c {
    ucn_v8f v;
};
// Row (A) or column (B) l % 16 of the tile: 16 halves, two 16-byte loads.
static __device__ __forceinline__ ucn_v16h ucn_mma_line(const uint16_t *s, int ld) {
    const uint4 *p = (const uint4 *)(s + (__lane_id() & 15) * ld);
    const uint4 lo = p[0], hi = p[1];
    ucn_v16h v;
    __builtin_memcpy(&v, &lo, 16);
    __builtin_memcpy((char *)&v + 16, &hi, 16);
    return v;
}
static __device__ __forceinline__ void ucn_mma_zero(ucn_mma_c &c) {
#pragma unroll
    for (int i = 0; i < 8; ++i) {
        c.v[i] = 0.0f;
    }
}
static __device__ __forceinline__ void ucn_mma_load_a(ucn_mma_a &a, const uint16_t *s, int ld) {
    a.v = ucn_mma_line(s, ld);
}
static __device__ __forceinline__ void ucn_mma_load_b(ucn_mma_b &b, const uint16_t *s, int ld) {
    b.v = ucn_mma_line(s, ld);
}
static __device__ __forceinline__ void ucn_mma(ucn_mma_c &c, const ucn_mma_a &a, const ucn_mma_b &b) {
    c.v = __builtin_amdgcn_wmma_f32_16x16x16_f16_w32(a.v, b.v, c.v);
}
static __device__ __forceinline__ void ucn_mma_store_c(float *s, int ld, const ucn_mma_c &c) {
    const int lane = __lane_id() & 31;
#pragma unroll
    for (int i = 0; i < 8; ++i) {
        s[(lane & 15) * ld + 2 * i + (lane >> 4)] = c.v[i];
    }
}

#else
// Reference arithmetic (host pass, GPUs without the instructions): the fragments remember where
// the tiles are; ucn_mma reads them there.
struct ucn_mma_a {
    const uint16_t *s;
    int ld;
};
struct ucn_mma_b {
    const uint16_t *s;
    int ld;
};
struct ucn_mma_c {
    float v[8];
};
static __device__ __forceinline__ void ucn_mma_zero(ucn_mma_c &c) {
    for (int i = 0; i < 8; ++i) {
        c.v[i] = 0.0f;
    }
}
static __device__ __forceinline__ void ucn_mma_load_a(ucn_mma_a &a, const uint16_t *s, int ld) {
    a.s = s;
    a.ld = ld;
}
static __device__ __forceinline__ void ucn_mma_load_b(ucn_mma_b &b, const uint16_t *s, int ld) {
    b.s = s;
    b.ld = ld;
}
static __device__ __forceinline__ void ucn_mma(ucn_mma_c &c, const ucn_mma_a &a, const ucn_mma_b &b) {
    const int lane = threadIdx.x & 31, n = lane & 15;
    for (int i = 0; i < 8; ++i) {
        const int m = 2 * i + (lane >> 4);
        float t = 0.0f;
        for (int k = 0; k < 16; ++k) {
            t += ucn_f16_to_f32(a.s[m * a.ld + k]) * ucn_f16_to_f32(b.s[n * b.ld + k]);
        }
        c.v[i] += t;
    }
}
static __device__ __forceinline__ void ucn_mma_store_c(float *s, int ld, const ucn_mma_c &c) {
    const int lane = threadIdx.x & 31;
    for (int i = 0; i < 8; ++i) {
        s[(lane & 15) * ld + 2 * i + (lane >> 4)] = c.v[i];
    }
}
#endif
