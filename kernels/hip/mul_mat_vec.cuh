// MUL_MAT, few activation columns (decode, ne11 <= 8): the mat-vec kernels
// ucn_mul_mat_vec_<type>_<nc>. Included by mul_mat.cu (the op's file; the design is in mul_mat.md).
#pragma once
#include "quants.cuh"

// ---- x quantization (mat-vec, quantized weights) ------------------------------------------

// 16 floats -> 16 int8 (q = round(x / d), d = max|x| / 127) and (d, d * sum(q)).
static __device__ __forceinline__ void ucn_quantize16(const float (&v)[16], uint4 &q, float2 &ds) {
    float amax = 0.0f;
#pragma unroll
    for (int i = 0; i < 16; ++i) {
        amax = fmaxf(amax, fabsf(v[i]));
    }
    const float d = amax / 127.0f, id = amax > 0.0f ? 127.0f / amax : 0.0f;
    uint32_t w[4] = {0, 0, 0, 0};
    int sum = 0;
#pragma unroll
    for (int i = 0; i < 16; ++i) {
        const int qi = (int)rintf(v[i] * id);
        sum += qi;
        w[i / 4] |= ((uint32_t)qi & 0xFFu) << (8 * (i % 4));
    }
    q = ucn_u4(w[0], w[1], w[2], w[3]);
    ds = ucn_f2(d, d * (float)sum);
}

// 16 floats of an x row from element e (bounds-checked against n when not whole).
static __device__ __forceinline__ void ucn_load_x16(const float *x, size_t e, size_t n, bool a16, float (&v)[16]) {
    if (a16 && e + 16 <= n) {
#pragma unroll
        for (int i = 0; i < 4; ++i) {
            const float4 t = ((const float4 *)(x + e))[i];
            v[4 * i] = t.x, v[4 * i + 1] = t.y, v[4 * i + 2] = t.z, v[4 * i + 3] = t.w;
        }
    } else {
#pragma unroll
        for (int i = 0; i < 16; ++i) {
            v[i] = e + i < n ? x[e + i] : 0.0f;
        }
    }
}

// ---- mat-vec, quantized weights ---------------------------------------------------------------

// Rows per warp: two for one column (x read once for both) and units of 32 weights, one
// otherwise (ops/mul_mat.rs `vec_rows` says the same).
#define UCN_MMV_ROWS(nc, g) ((nc) == 1 && (g) == 2 ? 2 : 1)

// x elements (all columns) a block of the one-launch kernels keeps in shared memory as int8 (1.5
// bytes each with the scales): 24 KB on NVIDIA (a 14336-wide K in one chunk), 12 KB on AMD,
// where a workgroup processor's 64 KB of LDS then holds two blocks.
#if defined(UCN_HIP)
#define UCN_MMV_X_ELEMS 8192
#else
#define UCN_MMV_X_ELEMS 16384
#endif

// Where x comes from: quantized by each block into shared memory (XG false, the one-launch
// kernels ucn_mul_mat_vec_<type>_<nc>), or quantized once per product by ucn_mul_mat_quantize_x
// into a buffer the product reads through the cache (XG true, ucn_mul_mat_vecq_<type>_<nc>:
// shared memory only for the K-split sums).
template <class T, int NC, bool XG>
struct ucn_mmv_shared {
    static constexpr int R = UCN_MMV_ROWS(NC, T::G);
    static constexpr int KC = UCN_MMV_X_ELEMS / NC < 2048 ? 2048 : UCN_MMV_X_ELEMS / NC; // x per chunk
    static constexpr int GPC = XG ? 1 : KC / 16; // x groups per column and chunk
    uint4 xq[NC * GPC];                          // x as int8, 16 per group
    float2 xds[NC * GPC];                        // (d, d * sum(q)) per group
    float red[8][R * NC];
};

// The pre-quantized x (ucn_mul_mat_quantize_x's output, ops/mul_mat.rs `gpu_prequantized`): for
// every x row r = i11 + ne11 * (i12 + ne12 * i13) of the nrows = ne11 * ne12 * ne13, its K int8
// at byte r * K, then from byte nrows * K the (d, d * sum(q)) of each group of 16, K / 16 per row.
// Grid (ceil(nrows * K / 16 / 256)), 256 threads: one thread per group. p.src[1] = x, p.dst =
// the buffer (nrows * K * 3 / 2 bytes). K is a multiple of 32 (the quantized weights' blocks).
UCN_KERNEL void __launch_bounds__(256) ucn_mul_mat_quantize_x(const ucn_mul_mat_args a, const ucn_ptrs p) {
    const size_t K = a.src0.ne[0], KG = K / 16;
    const size_t ne11 = a.src1.ne[1], ne12 = a.src1.ne[2], nrows = ne11 * ne12 * a.src1.ne[3];
    const size_t g = (size_t)blockIdx.x * 256 + threadIdx.x;
    if (g >= nrows * KG) {
        return;
    }
    const size_t r = g / KG, j = g % KG;
    const size_t i11 = r % ne11, i12 = (r / ne11) % ne12, i13 = r / (ne11 * ne12);
    const float *x = (const float *)((const char *)p.src[1] + i11 * a.src1.nb[1] + i12 * a.src1.nb[2] + i13 * a.src1.nb[3]);
    float v[16];
    ucn_load_x16(x, 16 * j, K, ((uintptr_t)x & 15) == 0, v);
    uint4 q;
    float2 ds;
    ucn_quantize16(v, q, ds);
    ((uint4 *)p.dst)[g] = q;
    ((float2 *)((uint8_t *)p.dst + nrows * K))[g] = ds;
}

// Work of a block: row groups of blockDim.z * R rows, g = blockIdx.x, blockIdx.x + gridDim.x, ...
// (one group when K is split over warps: the launch then has a block per group). Each warp of a
// group owns R rows and the steps ks, ks + KS, ... of every x chunk (XG: one chunk, all of K).
// LD: how weight bytes are read (quants.cuh): UCN_LD_A16 for the 16-byte aligned formats (Q4_K,
// Q5_K) in 16-byte aligned rows (UCN_LD_WORDS if a row is not), UCN_LD_VEC2 (two aligned 16-byte
// loads per 16 bytes) for the 2-byte aligned ones; always straight into registers, one work item
// ahead.
template <class T, int NC, int LD, bool XG>
static __device__ __forceinline__ void ucn_mul_mat_vec_q_body(const ucn_mul_mat_args &a, const ucn_ptrs &p,
                                                              ucn_mmv_shared<T, NC, XG> &sh) {
    typedef ucn_mmv_shared<T, NC, XG> SH;
    constexpr int R = SH::R, GPC = SH::GPC;
    constexpr int EPU = T::QK / T::UPB; // weights per unit
    constexpr int ES = 32 * EPU;        // weights per warp step (32 units)
    static_assert(SH::KC % ES == 0, "steps tile the chunks");

    const int lane = threadIdx.x, ks = threadIdx.y, KS = blockDim.y, grp = threadIdx.z;
    const int warp = grp * KS + ks, tid = warp * 32 + lane, nthreads = 32 * KS * blockDim.z;
    const size_t K = a.src0.ne[0], M = a.src0.ne[1];
    const int ncols = (int)a.src1.ne[1];
    const size_t ne12 = a.src1.ne[2], ne13 = a.src1.ne[3];
    const size_t bi = blockIdx.y + (size_t)blockIdx.z * gridDim.y;
    const size_t i12 = bi % ne12, i13 = bi / ne12;
    const size_t r2 = ne12 / a.src0.ne[2], r3 = ne13 / a.src0.ne[3];
    const uint8_t *w0 = (const uint8_t *)p.src[0] + (i12 / r2) * a.src0.nb[2] + (i13 / r3) * a.src0.nb[3];
    const char *x0 = (const char *)p.src[1] + i12 * a.src1.nb[2] + i13 * a.src1.nb[3];
    char *d0 = (char *)p.dst + i12 * a.dst.nb[2] + i13 * a.dst.nb[3];
    const bool xa16 = (((uintptr_t)p.src[1] | a.src1.nb[1] | a.src1.nb[2] | a.src1.nb[3]) & 15) == 0;
    // XG: this batch's x rows (bi * ncols + column) in the pre-quantized buffer, K / 16 groups each.
    const size_t KG = K / 16, nrows_x = (size_t)ncols * ne12 * ne13;
    const uint4 *xgq = (const uint4 *)p.src[2] + bi * ncols * KG;
    const float2 *xgd = (const float2 *)((const uint8_t *)p.src[2] + nrows_x * K) + bi * ncols * KG;
    const int NU = (int)(K / EPU); // units per row
    const int NS = (NU + 31) / 32; // steps per row
    const size_t rows_per_group = (size_t)blockDim.z * R;
    const size_t n_groups = (M + rows_per_group - 1) / rows_per_group;

    // The rows of group g this warp owns (rows past M read the last row; they are not written).
    auto rows_of = [&](size_t g, const uint8_t *(&wr)[R]) {
        const size_t row0 = (g * blockDim.z + grp) * R;
#pragma unroll
        for (int r = 0; r < R; ++r) {
            wr[r] = w0 + (row0 + r < M ? row0 + r : M - 1) * a.src0.nb[1];
        }
        return row0;
    };

    float acc[R][NC];
#pragma unroll
    for (int r = 0; r < R; ++r) {
#pragma unroll
        for (int c = 0; c < NC; ++c) {
            acc[r][c] = 0.0f;
        }
    }

    // The next work item (group, step) of this warp: its units in flight while the current one
    // computes. Not with 4-byte words (rows off the 16-byte grid, which only a misaligned base
    // gives Q4_K/Q5_K): their shifts double the registers of a unit, and the look-ahead then made
    // Q5_K spill on sm_90; such a step loads its units when it starts.
    constexpr bool AHEAD = LD != UCN_LD_WORDS;
    typename T::unit_raw pu[R];
    bool have_pre = false;
    auto prefetch = [&](size_t g, int s) {
        const uint8_t *wr[R];
        rows_of(g, wr);
        const int u = ucn_min(s * 32 + lane, NU - 1);
#pragma unroll
        for (int r = 0; r < R; ++r) {
            T::template unit_load<LD>(pu[r], wr[r] + (size_t)(u / T::UPB) * T::BB, u % T::UPB);
        }
    };
    if (AHEAD && (size_t)blockIdx.x < n_groups && ks < NS) {
        prefetch(blockIdx.x, ks); // in flight while x is quantized
        have_pre = true;
    }

    const size_t KCH = XG ? K : (size_t)SH::KC;
    for (size_t k0 = 0; k0 < K; k0 += KCH) {
        if (!XG) {
            const int ng = (int)(ucn_min(K - k0, KCH) / 16); // x groups of this chunk
            __syncthreads(); // the previous chunk's x is no longer read
            for (int gi = tid; gi < NC * ng; gi += nthreads) {
                const int c = gi / ng, j = gi % ng;
                float v[16];
                if (c < ncols) {
                    ucn_load_x16((const float *)(x0 + c * a.src1.nb[1]), k0 + 16 * j, K, xa16, v);
                } else {
#pragma unroll
                    for (int i = 0; i < 16; ++i) {
                        v[i] = 0.0f;
                    }
                }
                ucn_quantize16(v, sh.xq[c * GPC + j], sh.xds[c * GPC + j]);
            }
            __syncthreads();
        }

        const int s_begin = (int)(k0 / ES), s_end = ucn_min(NS, (int)((k0 + KCH + ES - 1) / ES));
        for (size_t g = blockIdx.x; g < n_groups; g += gridDim.x) {
            const uint8_t *wrow[R];
            const size_t row0 = rows_of(g, wrow);
            for (int s = s_begin + ks; s < s_end; s += KS) {
                const int u = ucn_min(s * 32 + lane, NU - 1); // lanes past the row redo the last unit
                const float on = s * 32 + lane < NU ? 1.0f : 0.0f;
                const int c = u % T::UPB;
                if (!have_pre) {
                    prefetch(g, s);
                }
                // The item after this one: the next step, else the next group's first step.
                const bool more = s + KS < s_end || (g + gridDim.x < n_groups && s_begin + ks < s_end);
                const size_t g_next = s + KS < s_end ? g : g + gridDim.x;
                const int s_next = s + KS < s_end ? s + KS : s_begin + ks;

                typename T::unit_raw cur[R];
#pragma unroll
                for (int r = 0; r < R; ++r) {
                    cur[r] = pu[r];
                }
                if (AHEAD && more) {
                    prefetch(g_next, s_next);
                }
                have_pre = AHEAD && more;

                // Unpack and dot, run by run: run g of unit u against x group (u's block, elem(c, g)).
                const int eb = (u / T::UPB) * T::QK - (int)k0; // the block's first element in the chunk
#pragma unroll
                for (int gg = 0; gg < T::G; ++gg) {
                    uint32_t q[R][4];
                    float A[R], B[R];
#pragma unroll
                    for (int r = 0; r < R; ++r) {
                        T::unit_decode(cur[r], c, gg, q[r], A[r], B[r]);
                        A[r] *= on;
                        B[r] *= on;
                    }
                    const int xg = (eb + T::elem(c, gg)) >> 4;
#pragma unroll
                    for (int cc = 0; cc < NC; ++cc) {
                        uint4 xw;
                        float2 xd;
                        if (XG) { // columns past ncols read the last one (their sums are not written)
                            const size_t xi = (size_t)ucn_min(cc, ncols - 1) * KG + xg;
                            xw = xgq[xi];
                            xd = xgd[xi];
                        } else {
                            xw = sh.xq[cc * GPC + xg];
                            xd = sh.xds[cc * GPC + xg];
                        }
#pragma unroll
                        for (int r = 0; r < R; ++r) {
                            int dot = ucn_dp4a((int)q[r][0], (int)xw.x, 0);
                            dot = ucn_dp4a((int)q[r][1], (int)xw.y, dot);
                            dot = ucn_dp4a((int)q[r][2], (int)xw.z, dot);
                            dot = ucn_dp4a((int)q[r][3], (int)xw.w, dot);
                            acc[r][cc] += A[r] * xd.x * (float)dot + B[r] * xd.y;
                        }
                    }
                }
            }
            if (KS == 1) {
                // The warp owns its rows whole: the sum over its lanes, written (first chunk) or
                // added to what the earlier chunks wrote; lane r * NC + cc writes (r, cc).
#pragma unroll
                for (int r = 0; r < R; ++r) {
#pragma unroll
                    for (int cc = 0; cc < NC; ++cc) {
                        const float v = ucn_warp_sum(acc[r][cc]);
                        acc[r][cc] = 0.0f;
                        if (lane == r * NC + cc && row0 + r < M && cc < ncols) {
                            float *o = (float *)(d0 + (row0 + r) * a.dst.nb[0] + cc * a.dst.nb[1]);
                            *o = k0 == 0 ? v : *o + v;
                        }
                    }
                }
            }
        }
    }

    if (KS > 1) {
        // K split over the KS warps of a group (one group per block): sum over lanes, then over
        // the warps; lane j of the group's first warp writes (row r, column cc), j = r * NC + cc.
        const size_t row0 = ((size_t)blockIdx.x * blockDim.z + grp) * R;
#pragma unroll
        for (int r = 0; r < R; ++r) {
#pragma unroll
            for (int cc = 0; cc < NC; ++cc) {
                const float v = ucn_warp_sum(acc[r][cc]);
                if (lane == 0) {
                    sh.red[warp][r * NC + cc] = v;
                }
            }
        }
        __syncthreads();
        if (ks == 0 && lane < R * NC) {
            float v = 0.0f;
            for (int t = 0; t < KS; ++t) {
                v += sh.red[warp + t][lane];
            }
            const int r = lane / NC, cc = lane % NC;
            if (row0 + r < M && cc < ncols) {
                *(float *)(d0 + (row0 + r) * a.dst.nb[0] + cc * a.dst.nb[1]) = v;
            }
        }
    }
}

// Block (32, KS, G), KS * G = 8 warps; grid (groups or fewer, ne12 * ne13 over y and z), groups
// of G * R rows; with KS > 1 the grid has a block per group. XG: p.src[2] is the pre-quantized x.
template <class T, int NC, bool XG>
static __device__ __forceinline__ void ucn_mul_mat_vec_q(const ucn_mul_mat_args &a, const ucn_ptrs &p) {
    __shared__ ucn_mmv_shared<T, NC, XG> sh;
    const size_t bi = blockIdx.y + (size_t)blockIdx.z * gridDim.y;
    if (bi >= a.src1.ne[2] * a.src1.ne[3] || a.src0.ne[1] == 0 || a.src1.ne[1] == 0) {
        return;
    }
    const size_t wal = (uintptr_t)p.src[0] | a.src0.nb[1] | a.src0.nb[2] | a.src0.nb[3];
    if constexpr (T::DIRECT) {
        // Rows off the 16-byte grid (only a misaligned base can do that to 144- and 176-byte
        // blocks): 4-byte words, which keep the register count of the aligned body (two 16-byte
        // vectors per run made Q5_K with two rows spill on sm_90).
        if ((wal & 15) == 0) {
            ucn_mul_mat_vec_q_body<T, NC, UCN_LD_A16, XG>(a, p, sh);
        } else {
            ucn_mul_mat_vec_q_body<T, NC, UCN_LD_WORDS, XG>(a, p, sh);
        }
    } else {
        ucn_mul_mat_vec_q_body<T, NC, UCN_LD_VEC2, XG>(a, p, sh);
    }
}

// ---- mat-vec, float weights ---------------------------------------------------------------------

template <uint32_t TYPE>
static __device__ __forceinline__ float ucn_wf(const uint8_t *row, size_t i) {
    if (TYPE == UCN_TYPE_F32) {
        return ((const float *)row)[i];
    } else if (TYPE == UCN_TYPE_F16) {
        return ucn_f16_to_f32(((const uint16_t *)row)[i]);
    } else {
        return ucn_bf16_to_f32(((const uint16_t *)row)[i]);
    }
}
// 8 weights at element e (a multiple of 8) of a 16-byte aligned row.
template <uint32_t TYPE>
static __device__ __forceinline__ void ucn_load_w8_a16(const uint8_t *row, size_t e, float (&v)[8]) {
    if (TYPE == UCN_TYPE_F32) {
        const float4 t0 = ((const float4 *)(row + 4 * e))[0], t1 = ((const float4 *)(row + 4 * e))[1];
        v[0] = t0.x, v[1] = t0.y, v[2] = t0.z, v[3] = t0.w, v[4] = t1.x, v[5] = t1.y, v[6] = t1.z, v[7] = t1.w;
    } else {
        const uint4 t = *(const uint4 *)(row + 2 * e);
        const uint32_t w[4] = {t.x, t.y, t.z, t.w};
#pragma unroll
        for (int i = 0; i < 4; ++i) {
            if (TYPE == UCN_TYPE_F16) {
                v[2 * i] = ucn_f16_to_f32((uint16_t)w[i]);
                v[2 * i + 1] = ucn_f16_to_f32((uint16_t)(w[i] >> 16));
            } else {
                v[2 * i] = __uint_as_float(w[i] << 16);
                v[2 * i + 1] = __uint_as_float(w[i] & 0xFFFF0000u);
            }
        }
    }
}
static __device__ __forceinline__ void ucn_load_x8_a16(const float *x, size_t e, float (&v)[8]) {
    const float4 t0 = ((const float4 *)(x + e))[0], t1 = ((const float4 *)(x + e))[1];
    v[0] = t0.x, v[1] = t0.y, v[2] = t0.z, v[3] = t0.w, v[4] = t1.x, v[5] = t1.y, v[6] = t1.z, v[7] = t1.w;
}

// Rows per warp of the float kernels: two for one column, four for more, so that each x value a
// lane loads (through the cache) serves four rows: with one row per warp, n = 4..8 read 8 to 16
// bytes of x per byte of f16 weight and ran at 0.28-0.57x ggml-cuda (H100, 2026-11-23).
// ops/mul_mat.rs `vec_rows` says the same.
#define UCN_MMVF_ROWS(nc) ((nc) == 1 ? 2 : 4)

// FAST: rows and x 16-byte aligned, K a multiple of 8: unconditional vector loads (lanes past K
// load the last 8 and count nothing). Otherwise element by element where needed.
template <uint32_t TYPE, int NC, bool FAST>
static __device__ __forceinline__ void ucn_mul_mat_vec_f_body(const ucn_mul_mat_args &a, const ucn_ptrs &p,
                                                              float (&red)[8][UCN_MMVF_ROWS(NC) * NC]) {
    constexpr int R = UCN_MMVF_ROWS(NC);
    const int lane = threadIdx.x, ks = threadIdx.y, KS = blockDim.y, grp = threadIdx.z;
    const int warp = grp * KS + ks;
    const size_t K = a.src0.ne[0], M = a.src0.ne[1];
    const int ncols = (int)a.src1.ne[1];
    const size_t ne12 = a.src1.ne[2], ne13 = a.src1.ne[3];
    const size_t bi = blockIdx.y + (size_t)blockIdx.z * gridDim.y;
    const size_t i12 = bi % ne12, i13 = bi / ne12;
    const size_t r2 = ne12 / a.src0.ne[2], r3 = ne13 / a.src0.ne[3];
    const uint8_t *w0 = (const uint8_t *)p.src[0] + (i12 / r2) * a.src0.nb[2] + (i13 / r3) * a.src0.nb[3];
    const char *x0 = (const char *)p.src[1] + i12 * a.src1.nb[2] + i13 * a.src1.nb[3];
    const size_t row0 = ((size_t)blockIdx.x * blockDim.z + grp) * R;
    const uint8_t *wrow[R];
#pragma unroll
    for (int r = 0; r < R; ++r) {
        wrow[r] = w0 + (row0 + r < M ? row0 + r : M - 1) * a.src0.nb[1];
    }
    const bool xa16 = (((uintptr_t)p.src[1] | a.src1.nb[1] | a.src1.nb[2] | a.src1.nb[3]) & 15) == 0;
    const bool wa16 = (((uintptr_t)p.src[0] | a.src0.nb[1] | a.src0.nb[2] | a.src0.nb[3]) & 15) == 0;

    float acc[R][NC];
#pragma unroll
    for (int r = 0; r < R; ++r) {
#pragma unroll
        for (int c = 0; c < NC; ++c) {
            acc[r][c] = 0.0f;
        }
    }
    const size_t NS = (K + 255) / 256; // steps of 32 lanes x 8 weights
    for (size_t s = ks; s < NS; s += KS) {
        const size_t e = (s * 32 + lane) * 8;
        float w[R][8];
        if (FAST) { // lanes past K load the last 8 weights and add nothing (below)
#pragma unroll
            for (int r = 0; r < R; ++r) {
                ucn_load_w8_a16<TYPE>(wrow[r], ucn_min(e, K - 8), w[r]);
            }
        } else {
#pragma unroll
            for (int r = 0; r < R; ++r) {
                if (wa16 && e + 8 <= K) {
                    ucn_load_w8_a16<TYPE>(wrow[r], e, w[r]);
                } else {
#pragma unroll
                    for (int i = 0; i < 8; ++i) {
                        w[r][i] = e + i < K ? ucn_wf<TYPE>(wrow[r], e + i) : 0.0f;
                    }
                }
            }
        }
#pragma unroll
        for (int cc = 0; cc < NC; ++cc) {
            const float *x = (const float *)(x0 + ucn_min(cc, ncols - 1) * a.src1.nb[1]);
            float v[8];
            if (FAST) {
                ucn_load_x8_a16(x, ucn_min(e, K - 8), v);
            } else if (xa16 && e + 8 <= K) {
                ucn_load_x8_a16(x, e, v);
            } else {
#pragma unroll
                for (int i = 0; i < 8; ++i) {
                    v[i] = e + i < K ? x[e + i] : 0.0f;
                }
            }
#pragma unroll
            for (int r = 0; r < R; ++r) {
                float t = 0.0f;
#pragma unroll
                for (int i = 0; i < 8; ++i) {
                    t = fmaf(w[r][i], v[i], t);
                }
                acc[r][cc] += !FAST || e < K ? t : 0.0f;
            }
        }
    }

#pragma unroll
    for (int r = 0; r < R; ++r) {
#pragma unroll
        for (int cc = 0; cc < NC; ++cc) {
            const float v = ucn_warp_sum(acc[r][cc]);
            if (lane == 0) {
                red[warp][r * NC + cc] = v;
            }
        }
    }
    __syncthreads();
    if (ks == 0 && lane < R * NC) {
        float v = 0.0f;
        for (int t = 0; t < KS; ++t) {
            v += red[warp + t][lane];
        }
        const int r = lane / NC, cc = lane % NC;
        if (row0 + r < M && cc < ncols) {
            *(float *)((char *)p.dst + (row0 + r) * a.dst.nb[0] + cc * a.dst.nb[1] + i12 * a.dst.nb[2] + i13 * a.dst.nb[3]) = v;
        }
    }
}

template <uint32_t TYPE, int NC>
static __device__ __forceinline__ void ucn_mul_mat_vec_f(const ucn_mul_mat_args &a, const ucn_ptrs &p) {
    __shared__ float red[8][UCN_MMVF_ROWS(NC) * NC];
    const size_t bi = blockIdx.y + (size_t)blockIdx.z * gridDim.y;
    const size_t K = a.src0.ne[0];
    if (bi >= a.src1.ne[2] * a.src1.ne[3] || a.src0.ne[1] == 0 || a.src1.ne[1] == 0) {
        return;
    }
    const size_t al = (uintptr_t)p.src[0] | a.src0.nb[1] | a.src0.nb[2] | a.src0.nb[3] | (uintptr_t)p.src[1] |
                      a.src1.nb[1] | a.src1.nb[2] | a.src1.nb[3];
    if ((al & 15) == 0 && K % 8 == 0 && K >= 8) {
        ucn_mul_mat_vec_f_body<TYPE, NC, true>(a, p, red);
    } else {
        ucn_mul_mat_vec_f_body<TYPE, NC, false>(a, p, red);
    }
}

// ---- the kernels ------------------------------------------------------------------------------

// One column: 3 blocks of 8 warps per SM (80 registers; Q8_0: 2, the floats: 4 at 64 registers).
#define UCN_MMV_MINB(name, nc) ((nc) == 1 ? UCN_MMV_MINB1_##name : 1)
#define UCN_MMV_MINB1_f32 4
#define UCN_MMV_MINB1_f16 4
#define UCN_MMV_MINB1_bf16 4
#define UCN_MMV_MINB1_q4_0 3
#define UCN_MMV_MINB1_q5_0 3
#define UCN_MMV_MINB1_q8_0 2
#define UCN_MMV_MINB1_q4_K 3
#define UCN_MMV_MINB1_q5_K 3
#define UCN_MMV_MINB1_q6_K 3

#define UCN_MMV_Q(name, T, nc)                                                                            \
    UCN_KERNEL void UCN_LAUNCH_BOUNDS(256, UCN_MMV_MINB(name, nc))                                        \
        ucn_mul_mat_vec_##name##_##nc(const ucn_mul_mat_args a, const ucn_ptrs p) {                       \
        ucn_mul_mat_vec_q<T, nc, false>(a, p);                                                            \
    }                                                                                                     \
    UCN_KERNEL void UCN_LAUNCH_BOUNDS(256, UCN_MMV_MINB(name, nc))                                        \
        ucn_mul_mat_vecq_##name##_##nc(const ucn_mul_mat_args a, const ucn_ptrs p) {                      \
        ucn_mul_mat_vec_q<T, nc, true>(a, p);                                                             \
    }
#define UCN_MMV_F(name, TY, nc)                                                                           \
    UCN_KERNEL void UCN_LAUNCH_BOUNDS(256, UCN_MMV_MINB(name, nc))                                        \
        ucn_mul_mat_vec_##name##_##nc(const ucn_mul_mat_args a, const ucn_ptrs p) {                       \
        ucn_mul_mat_vec_f<TY, nc>(a, p);                                                                  \
    }
#define UCN_MMV_Q_ALL(name, T) UCN_MMV_Q(name, T, 1) UCN_MMV_Q(name, T, 2) UCN_MMV_Q(name, T, 4) UCN_MMV_Q(name, T, 8)
#define UCN_MMV_F_ALL(name, TY) UCN_MMV_F(name, TY, 1) UCN_MMV_F(name, TY, 2) UCN_MMV_F(name, TY, 4) UCN_MMV_F(name, TY, 8)

UCN_MMV_F_ALL(f32, UCN_TYPE_F32)
UCN_MMV_F_ALL(f16, UCN_TYPE_F16)
UCN_MMV_F_ALL(bf16, UCN_TYPE_BF16)
UCN_MMV_Q_ALL(q4_0, ucn_q4_0)
UCN_MMV_Q_ALL(q5_0, ucn_q5_0)
UCN_MMV_Q_ALL(q8_0, ucn_q8_0)
UCN_MMV_Q_ALL(q4_K, ucn_q4_K)
UCN_MMV_Q_ALL(q5_K, ucn_q5_K)
UCN_MMV_Q_ALL(q6_K, ucn_q6_K)
