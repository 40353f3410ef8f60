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

// How the warps get their weight bytes: straight into registers (16-byte aligned DIRECT formats),
// through shared memory with 16-byte copies (16-byte aligned rows) or with 2-byte copies.
enum { UCN_DIRECT = 0, UCN_STAGED16 = 1, UCN_STAGED2 = 2 };

// x elements (all columns) a block keeps in shared memory as int8 (1.5 bytes each with the
// scales): 24 KB on NVIDIA (a 14336-wide K in one chunk), 12 KB on AMD, where a workgroup
// processor's 64 KB of LDS then holds two blocks.
#if defined(UCN_HIP)
#define UCN_MMV_X_ELEMS 8192
#else
#define UCN_MMV_X_ELEMS 16384
#endif

template <class T, int NC>
struct ucn_mmv_shared {
    static constexpr int R = UCN_MMV_ROWS(NC, T::G);
    static constexpr int KC = UCN_MMV_X_ELEMS / NC < 2048 ? 2048 : UCN_MMV_X_ELEMS / NC; // x per chunk
    static constexpr int GPC = KC / 16;           // x groups per column and chunk
    static constexpr int S = 32 / T::UPB * T::BB; // bytes per row and warp step
    uint4 xq[NC * GPC];                           // x as int8, 16 per group
    float2 xds[NC * GPC];                         // (d, d * sum(q)) per group
    uint4 stage[8 * R * S / 16];                  // each warp's step bytes, R rows
    float red[8][R * NC];
};

// The 16-byte vectors of step s of each row (clamped to the row's last vector, which may reach
// past the row's end by less than 16 bytes: within its 16-byte aligned chunk, never past a page).
template <int R, int NV>
static __device__ __forceinline__ void ucn_stage_fetch(uint32_t (&pre)[R][NV][4], const uint8_t *const (&wrow)[R], int s, int S,
                                                       int row_bytes, int lane) {
    const int nvec = (ucn_min(S, row_bytes - s * S) + 15) / 16;
#pragma unroll
    for (int r = 0; r < R; ++r) {
        const uint4 *src = (const uint4 *)(wrow[r] + (size_t)s * S);
#pragma unroll
        for (int i = 0; i < NV; ++i) {
            const uint4 t = src[ucn_min(lane + 32 * i, nvec - 1)];
            pre[r][i][0] = t.x, pre[r][i][1] = t.y, pre[r][i][2] = t.z, pre[r][i][3] = t.w;
        }
    }
}

// Work of a block: row groups of blockDim.z * R rows, g = blockIdx.x, blockIdx.x + gridDim.x, ...
// (one group when K is split over warps: the launch then has a block per group). Each warp of a
// group owns R rows and the steps ks, ks + KS, ... of every x chunk.
template <class T, int NC, int MODE>
static __device__ __forceinline__ void ucn_mul_mat_vec_q_body(const ucn_mul_mat_args &a, const ucn_ptrs &p,
                                                              ucn_mmv_shared<T, NC> &sh) {
    typedef ucn_mmv_shared<T, NC> SH;
    constexpr int R = SH::R, KC = SH::KC, GPC = SH::GPC, S = SH::S;
    constexpr int EPU = T::QK / T::UPB;    // weights per unit
    constexpr int ES = 32 * EPU;           // weights per warp step (32 units)
    constexpr int NV = (S / 16 + 31) / 32; // 16-byte copies per lane and row
    static_assert(KC % ES == 0 && S % 16 == 0, "steps tile the chunks; steps stay 16-byte aligned");

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
    const int NU = (int)(K / EPU); // units per row
    const int NS = (NU + 31) / 32; // steps per row
    const int row_bytes = (int)(K / T::QK) * T::BB;
    const size_t rows_per_group = (size_t)blockDim.z * R;
    const size_t n_groups = (M + rows_per_group - 1) / rows_per_group;
    uint8_t *stage = (uint8_t *)sh.stage + warp * R * S;

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

    // The next work item (group, step) of this warp, its bytes in flight while the current one
    // computes: raw units (DIRECT) or the step's 16-byte vectors (STAGED16).
    typename T::unit_raw pu[R];
    uint32_t pre[R][NV][4];
    bool have_pre = false;
    auto prefetch = [&](size_t g, int s) {
        const uint8_t *wr[R];
        rows_of(g, wr);
        if (MODE == UCN_DIRECT) {
            const int u = ucn_min(s * 32 + lane, NU - 1);
#pragma unroll
            for (int r = 0; r < R; ++r) {
                T::template unit_load<true>(pu[r], wr[r] + (size_t)(u / T::UPB) * T::BB, u % T::UPB);
            }
        } else if (MODE == UCN_STAGED16) {
            ucn_stage_fetch<R, NV>(pre, wr, s, S, row_bytes, lane);
        }
    };
    if (MODE != UCN_STAGED2 && (size_t)blockIdx.x < n_groups && ks < NS) {
        prefetch(blockIdx.x, ks); // in flight while x is quantized
        have_pre = true;
    }

    for (size_t k0 = 0; k0 < K; k0 += KC) {
        const int ng = (int)(ucn_min(K - k0, (size_t)KC) / 16); // x groups of this chunk
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

        const int s_begin = (int)(k0 / ES), s_end = ucn_min(NS, (int)((k0 + KC) / ES));
        for (size_t g = blockIdx.x; g < n_groups; g += gridDim.x) {
            const uint8_t *wrow[R];
            const size_t row0 = rows_of(g, wrow);
            for (int s = s_begin + ks; s < s_end; s += KS) {
                const int u = ucn_min(s * 32 + lane, NU - 1); // lanes past the row redo the last unit
                const float on = s * 32 + lane < NU ? 1.0f : 0.0f;
                const int c = u % T::UPB;
                if (!have_pre && MODE != UCN_STAGED2) {
                    prefetch(g, s);
                }
                // The item after this one: the next step, else the next group's first step.
                const bool more = s + KS < s_end || (g + gridDim.x < n_groups && s_begin + ks < s_end);
                const size_t g_next = s + KS < s_end ? g : g + gridDim.x;
                const int s_next = s + KS < s_end ? s + KS : s_begin + ks;

                typename T::unit_raw cur[R];
                if (MODE == UCN_DIRECT) {
#pragma unroll
                    for (int r = 0; r < R; ++r) {
                        cur[r] = pu[r];
                    }
                    if (more) {
                        prefetch(g_next, s_next);
                    }
                    have_pre = more;
                } else {
                    // The step's bytes [s * S, + nbytes) of each row into the warp's stage.
                    const int nbytes = ucn_min(S, row_bytes - s * S);
                    if (MODE == UCN_STAGED16) {
                        const int nvec = (nbytes + 15) / 16;
#pragma unroll
                        for (int r = 0; r < R; ++r) {
#pragma unroll
                            for (int i = 0; i < NV; ++i) {
                                if (lane + 32 * i < nvec) {
                                    ((uint4 *)(stage + r * S))[lane + 32 * i] =
                                        ucn_u4(pre[r][i][0], pre[r][i][1], pre[r][i][2], pre[r][i][3]);
                                }
                            }
                        }
                        if (more) {
                            prefetch(g_next, s_next);
                        }
                        have_pre = more;
                    } else {
                        for (int i = lane; i < nbytes / 2; i += 32) {
#pragma unroll
                            for (int r = 0; r < R; ++r) {
                                ((uint16_t *)(stage + r * S))[i] = ((const uint16_t *)(wrow[r] + (size_t)s * S))[i];
                            }
                        }
                    }
                    ucn_syncwarp();
                    const uint8_t *blk = stage + (u - s * 32) / T::UPB * T::BB;
#pragma unroll
                    for (int r = 0; r < R; ++r) {
                        T::template unit_load<T::DIRECT>(cur[r], blk + r * S, c);
                    }
                    ucn_syncwarp(); // the stage is read; the next step may overwrite it
                }

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
#pragma unroll
                    for (int cc = 0; cc < NC; ++cc) {
                        const int xi = cc * GPC + ((eb + T::elem(c, gg)) >> 4);
                        const uint4 xw = sh.xq[xi];
                        const float2 xd = sh.xds[xi];
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
// of G * R rows; with KS > 1 the grid has a block per group.
template <class T, int NC>
static __device__ __forceinline__ void ucn_mul_mat_vec_q(const ucn_mul_mat_args &a, const ucn_ptrs &p) {
    __shared__ ucn_mmv_shared<T, NC> sh;
    const size_t bi = blockIdx.y + (size_t)blockIdx.z * gridDim.y;
    if (bi >= a.src1.ne[2] * a.src1.ne[3] || a.src0.ne[1] == 0 || a.src1.ne[1] == 0) {
        return;
    }
    const size_t wal = (uintptr_t)p.src[0] | a.src0.nb[1] | a.src0.nb[2] | a.src0.nb[3];
    if ((wal & 15) == 0) {
        ucn_mul_mat_vec_q_body<T, NC, T::DIRECT ? UCN_DIRECT : UCN_STAGED16>(a, p, sh);
    } else {
        ucn_mul_mat_vec_q_body<T, NC, UCN_STAGED2>(a, p, sh);
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

// FAST: rows and x 16-byte aligned, K a multiple of 8: unconditional vector loads (lanes past K
// load the last 8 and count nothing). Otherwise element by element where needed.
template <uint32_t TYPE, int NC, bool FAST>
static __device__ __forceinline__ void ucn_mul_mat_vec_f_body(const ucn_mul_mat_args &a, const ucn_ptrs &p,
                                                              float (&red)[8][UCN_MMV_ROWS(NC, 2) * NC]) {
    constexpr int R = UCN_MMV_ROWS(NC, 2);
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
    __shared__ float red[8][UCN_MMV_ROWS(NC, 2) * NC];
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
        ucn_mul_mat_vec_q<T, nc>(a, p);                                                                   \
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
