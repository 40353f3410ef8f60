// MUL_MAT, many activation columns (prefill, ne11 > 8): the matrix-core tiles
// ucn_mul_mat_mma_<type> (128 x 64) and ucn_mul_mat_mma128_<type> (128 x 128). Included by
// mul_mat.cu (the op's file; the design is in mul_mat.md).
#pragma once
#include "quants.cuh"
#include "mma.cuh"

// ---- mat-mat on the matrix cores ----------------------------------------------------------------

#define UCN_MMA_BM 128
#define UCN_MMA_BK 32
#define UCN_MMA_LD (UCN_MMA_BK + 8) // shared-memory row: 40 halves (80 bytes, no bank conflicts)

// The weight side of the tile loads: 16 weights at element k (a multiple of 16) of a row, as raw
// bytes (load) and as 8 words of f16 pairs (convert). FAST: the row is 16-byte aligned (where the
// format needs it) and k + 16 <= K.
template <class T>
struct ucn_mma_w {
    typedef typename T::raw raw;
    static constexpr bool NEEDS_A16 = T::DIRECT;
    template <bool FAST>
    static __device__ __forceinline__ void load(raw &r, const uint8_t *row, size_t k, size_t K, bool a16) {
        const uint8_t *b = row + (k / T::QK) * T::BB;
        if (FAST || a16) {
            T::template load<true>(r, b, (int)(k % T::QK));
        } else {
            T::template load<false>(r, b, (int)(k % T::QK));
        }
    }
    // In f16 pairs: q as 1024 + q by a byte permute, minus 1024 (exact), then A * q + B. A and B
    // rounded to f16 (relative 2^-11; the weights end up in f16 anyway).
    static __device__ __forceinline__ void convert(const raw &r, size_t k, uint32_t (&h)[8]) {
        uint32_t q[4];
        float A, B;
        T::decode(r, (int)(k % T::QK), q, A, B);
        const __half2 a2 = __float2half2_rn(A), b2 = __float2half2_rn(B);
        const __half2 off = __float2half2_rn(T::SIGNED ? -1152.0f : -1024.0f); // signed: bytes + 128
#pragma unroll
        for (int i = 0; i < 4; ++i) {
            const uint32_t w = T::SIGNED ? q[i] ^ 0x80808080u : q[i];
            h[2 * i] = ucn_h2_u32(__hfma2(__hadd2(ucn_u32_h2(ucn_bytes_h2_1024<0>(w)), off), a2, b2));
            h[2 * i + 1] = ucn_h2_u32(__hfma2(__hadd2(ucn_u32_h2(ucn_bytes_h2_1024<2>(w)), off), a2, b2));
        }
    }
};
template <uint32_t TYPE>
struct ucn_mma_wf {
    static constexpr bool NEEDS_A16 = true;
    struct raw {
        uint32_t w[TYPE == UCN_TYPE_F32 ? 16 : 8];
    };
    template <bool FAST>
    static __device__ __forceinline__ void load(raw &r, const uint8_t *row, size_t k, size_t K, bool a16) {
        if (TYPE == UCN_TYPE_F32) {
            if (FAST || (a16 && k + 16 <= K)) {
#pragma unroll
                for (int i = 0; i < 4; ++i) {
                    const uint4 t = ((const uint4 *)(row + 4 * k))[i];
                    r.w[4 * i] = t.x, r.w[4 * i + 1] = t.y, r.w[4 * i + 2] = t.z, r.w[4 * i + 3] = t.w;
                }
            } else {
#pragma unroll
                for (int i = 0; i < 16; ++i) {
                    r.w[i] = k + i < K ? ((const uint32_t *)row)[k + i] : 0u;
                }
            }
        } else {
            if (FAST || (a16 && k + 16 <= K)) {
#pragma unroll
                for (int i = 0; i < 2; ++i) {
                    const uint4 t = ((const uint4 *)(row + 2 * k))[i];
                    r.w[4 * i] = t.x, r.w[4 * i + 1] = t.y, r.w[4 * i + 2] = t.z, r.w[4 * i + 3] = t.w;
                }
            } else {
#pragma unroll
                for (int i = 0; i < 8; ++i) {
                    const uint32_t lo = k + 2 * i < K ? ((const uint16_t *)row)[k + 2 * i] : 0u;
                    const uint32_t hi = k + 2 * i + 1 < K ? ((const uint16_t *)row)[k + 2 * i + 1] : 0u;
                    r.w[i] = lo | (hi << 16);
                }
            }
        }
    }
    static __device__ __forceinline__ void convert(const raw &r, size_t k, uint32_t (&h)[8]) {
#pragma unroll
        for (int i = 0; i < 8; ++i) {
            if (TYPE == UCN_TYPE_F32) {
                h[i] = ucn_pack_f16x2(ucn_clamp_f16(__uint_as_float(r.w[2 * i])), ucn_clamp_f16(__uint_as_float(r.w[2 * i + 1])));
            } else if (TYPE == UCN_TYPE_F16) {
                h[i] = r.w[i];
            } else {
                h[i] = ucn_pack_f16x2(ucn_clamp_f16(__uint_as_float(r.w[i] << 16)), ucn_clamp_f16(__uint_as_float(r.w[i] & 0xFFFF0000u)));
            }
        }
    }
};

// The two buffers of the weight (As) and x (Bs) tiles as f16, rows of k; each 16-row tile of
// them starts 32-byte aligned (wmma's requirement).
template <int BN>
struct alignas(32) ucn_mma_smem {
    uint16_t As[2][UCN_MMA_BM * UCN_MMA_LD];
    uint16_t Bs[2][BN * UCN_MMA_LD];
};

// One block: a 128 x BN tile of dst (BN = 64 or 128), 8 warps as 4 (rows) x 2 (columns), each
// 32 x BN/2 (2 x BN/32 matrix-core tiles). FAST: x 16-byte aligned, the weights where the format
// needs it, K a multiple of 32: every load unconditional (rows and columns past the matrix load
// the last one). Otherwise checked loads and zeros past the edges and K.
template <class W, int BN, bool FAST>
static __device__ __forceinline__ void ucn_mul_mat_mma_body(const ucn_mul_mat_args &a, const ucn_ptrs &p,
                                                            ucn_mma_smem<BN> &sm) {
    constexpr int BM = UCN_MMA_BM, BK = UCN_MMA_BK, LD = UCN_MMA_LD;
    constexpr int NF = BN / 32;        // matrix-core tiles per warp along the columns
    constexpr int XT = 256 / BN;       // threads per x column
    constexpr int XE = BK / XT;        // x elements per thread and k step (8 or 16)
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const int wm = warp & 3, wn = warp >> 2;
    const size_t K = a.src0.ne[0], M = a.src0.ne[1];
    const size_t N = a.src1.ne[1];
    const size_t ne12 = a.src1.ne[2];
    const size_t bi = blockIdx.z;
    const size_t i12 = bi % ne12, i13 = bi / ne12;
    const size_t r2 = ne12 / a.src0.ne[2], r3 = a.src1.ne[3] / a.src0.ne[3];
    const uint8_t *w0 = (const uint8_t *)p.src[0] + (i12 / r2) * a.src0.nb[2] + (i13 / r3) * a.src0.nb[3];
    const char *x0 = (const char *)p.src[1] + i12 * a.src1.nb[2] + i13 * a.src1.nb[3];
    const size_t tile_m = (size_t)blockIdx.y * BM, tile_n = (size_t)blockIdx.x * BN;

    // Loading roles. Weights: thread t -> row t / 2, weights 16 * (t % 2) .. +16 of the k step.
    // x: thread t -> column t / XT, elements XE * (t % XT) .. +XE.
    const int ra = tid >> 1, ka = 16 * (tid & 1);
    const bool a_ok = tile_m + ra < M;
    const uint8_t *arow = w0 + (a_ok ? tile_m + ra : M - 1) * a.src0.nb[1];
    const bool wa16 = (((uintptr_t)p.src[0] | a.src0.nb[1] | a.src0.nb[2] | a.src0.nb[3]) & 15) == 0;
    const int cb = tid / XT, kb = XE * (tid % XT);
    const bool b_ok = tile_n + cb < N;
    const float *xcol = (const float *)(x0 + (b_ok ? tile_n + cb : N - 1) * a.src1.nb[1]);
    const bool xa16 = (((uintptr_t)p.src[1] | a.src1.nb[1] | a.src1.nb[2] | a.src1.nb[3]) & 15) == 0;

    // Two register sets of a step's global loads (weights raw, x), so that a step's loads are
    // issued two steps before they are stored to shared memory: set (step % 2).
    typename W::raw wraw0 = {}, wraw1 = {}; // rows past the matrix (checked loads) leave them as they are
    float xv0[XE], xv1[XE];
    const size_t nk = (K + BK - 1) / BK;
    ucn_mma_c acc[2][NF];
#pragma unroll
    for (int i = 0; i < 2; ++i) {
#pragma unroll
        for (int j = 0; j < NF; ++j) {
            ucn_mma_zero(acc[i][j]);
        }
    }
    // Step kt's global loads into registers (wraw, xv), and from there into buffer buf.
#define UCN_MMA_FETCH(wraw, xv, kt)                                                                           \
    do {                                                                                                      \
        const size_t k0_ = (kt) * BK;                                                                         \
        if (FAST) {                                                                                           \
            W::template load<true>(wraw, arow, k0_ + ka, K, true);                                            \
            for (int i_ = 0; i_ < XE; i_ += 8) {                                                              \
                float t_[8];                                                                                  \
                ucn_load_x8_a16(xcol, k0_ + kb + i_, t_);                                                     \
                for (int j_ = 0; j_ < 8; ++j_) {                                                              \
                    xv[i_ + j_] = t_[j_];                                                                     \
                }                                                                                             \
            }                                                                                                 \
        } else {                                                                                              \
            if (a_ok) {                                                                                       \
                W::template load<false>(wraw, arow, k0_ + ka, K, wa16);                                       \
            }                                                                                                 \
            const size_t k_ = k0_ + kb;                                                                       \
            if (b_ok && xa16 && k_ + XE <= K) {                                                               \
                for (int i_ = 0; i_ < XE; i_ += 8) {                                                          \
                    float t_[8];                                                                              \
                    ucn_load_x8_a16(xcol, k_ + i_, t_);                                                       \
                    for (int j_ = 0; j_ < 8; ++j_) {                                                          \
                        xv[i_ + j_] = t_[j_];                                                                 \
                    }                                                                                         \
                }                                                                                             \
            } else {                                                                                          \
                for (int i_ = 0; i_ < XE; ++i_) {                                                             \
                    xv[i_] = b_ok && k_ + i_ < K ? xcol[k_ + i_] : 0.0f;                                      \
                }                                                                                             \
            }                                                                                                 \
        }                                                                                                     \
    } while (0)
#define UCN_MMA_STORE(wraw, xv, buf, kt)                                                                      \
    do {                                                                                                      \
        uint32_t h_[8];                                                                                       \
        W::convert(wraw, (kt) * BK + ka, h_);                                                                 \
        /* FAST: a row or column past the matrix holds a copy of the last one; it only reaches  */           \
        /* outputs that are not written. Otherwise zeros (the K tail needs them in both).        */           \
        const bool za_ = !FAST && !a_ok, zb_ = !FAST && !b_ok;                                                \
        uint4 *da_ = (uint4 *)(sm.As[buf] + ra * LD + ka);                                                    \
        da_[0] = za_ ? ucn_u4(0, 0, 0, 0) : ucn_u4(h_[0], h_[1], h_[2], h_[3]);                               \
        da_[1] = za_ ? ucn_u4(0, 0, 0, 0) : ucn_u4(h_[4], h_[5], h_[6], h_[7]);                               \
        uint4 *db_ = (uint4 *)(sm.Bs[buf] + cb * LD + kb);                                                    \
        for (int i_ = 0; i_ < XE / 8; ++i_) {                                                                 \
            const float *v_ = xv + 8 * i_;                                                                    \
            db_[i_] = zb_ ? ucn_u4(0, 0, 0, 0)                                                                \
                          : ucn_u4(ucn_pack_f16x2(ucn_clamp_f16(v_[0]), ucn_clamp_f16(v_[1])),                \
                                   ucn_pack_f16x2(ucn_clamp_f16(v_[2]), ucn_clamp_f16(v_[3])),                \
                                   ucn_pack_f16x2(ucn_clamp_f16(v_[4]), ucn_clamp_f16(v_[5])),                \
                                   ucn_pack_f16x2(ucn_clamp_f16(v_[6]), ucn_clamp_f16(v_[7])));               \
        }                                                                                                     \
    } while (0)
    // One k step: the loads of step kt + 2 into set L, the products of buffer kt % 2, step kt + 1
    // from set S into the other buffer (past the last step: the last step again, into the idle
    // buffer; nothing reads it).
#define UCN_MMA_STEP(kt, wrawL, xvL, wrawS, xvS)                                                              \
    do {                                                                                                      \
        const size_t kt_ = (kt);                                                                              \
        UCN_MMA_FETCH(wrawL, xvL, kt_ + 2 < nk ? kt_ + 2 : nk - 1);                                           \
        const uint16_t *as_ = sm.As[kt_ & 1] + wm * 32 * LD, *bs_ = sm.Bs[kt_ & 1] + wn * (BN / 2) * LD;     \
        for (int kk_ = 0; kk_ < BK; kk_ += 16) {                                                              \
            ucn_mma_a fa_[2];                                                                                 \
            ucn_mma_b fb_[NF];                                                                                \
            for (int i_ = 0; i_ < 2; ++i_) {                                                                  \
                ucn_mma_load_a(fa_[i_], as_ + 16 * i_ * LD + kk_, LD);                                        \
            }                                                                                                 \
            for (int j_ = 0; j_ < NF; ++j_) {                                                                 \
                ucn_mma_load_b(fb_[j_], bs_ + 16 * j_ * LD + kk_, LD);                                        \
            }                                                                                                 \
            for (int i_ = 0; i_ < 2; ++i_) {                                                                  \
                for (int j_ = 0; j_ < NF; ++j_) {                                                             \
                    ucn_mma(acc[i_][j_], fa_[i_], fb_[j_]);                                                   \
                }                                                                                             \
            }                                                                                                 \
        }                                                                                                     \
        UCN_MMA_STORE(wrawS, xvS, (kt_ + 1) & 1, kt_ + 1 < nk ? kt_ + 1 : nk - 1);                            \
        __syncthreads();                                                                                      \
    } while (0)

    if (nk > 0) {
        UCN_MMA_FETCH(wraw0, xv0, 0);
        UCN_MMA_STORE(wraw0, xv0, 0, 0);
        UCN_MMA_FETCH(wraw1, xv1, nk > 1 ? 1 : 0);
    }
    __syncthreads();
    size_t kt = 0;
    for (; kt + 1 < nk; kt += 2) { // even steps load into set 0, odd ones into set 1
        UCN_MMA_STEP(kt, wraw0, xv0, wraw1, xv1);
        UCN_MMA_STEP(kt + 1, wraw1, xv1, wraw0, xv0);
    }
    if (kt < nk) {
        UCN_MMA_STEP(kt, wraw0, xv0, wraw1, xv1);
    }
#undef UCN_MMA_STEP
#undef UCN_MMA_FETCH
#undef UCN_MMA_STORE

    // Each 16 x 16 result through a per-warp shared scratch (column-major), then to dst.
    float *scratch = (float *)sm.As[0] + warp * 256;
#pragma unroll
    for (int i = 0; i < 2; ++i) {
#pragma unroll
        for (int j = 0; j < NF; ++j) {
            ucn_mma_store_c(scratch, 16, acc[i][j]);
            ucn_syncwarp();
            const size_t m = tile_m + wm * 32 + 16 * i + (lane & 15);
#pragma unroll
            for (int t = 0; t < 8; ++t) {
                const int nl = (lane >> 4) + 2 * t;
                const size_t n = tile_n + wn * (BN / 2) + 16 * j + nl;
                if (m < M && n < N) {
                    *(float *)((char *)p.dst + m * a.dst.nb[0] + n * a.dst.nb[1] + i12 * a.dst.nb[2] + i13 * a.dst.nb[3]) =
                        scratch[nl * 16 + (lane & 15)];
                }
            }
            ucn_syncwarp();
        }
    }
}

// Grid (ceil(ne11 / BN), ceil(ne01 / 128), ne12 * ne13), 256 threads.
template <class W, int BN>
static __device__ __forceinline__ void ucn_mul_mat_mma(const ucn_mul_mat_args &a, const ucn_ptrs &p) {
    __shared__ ucn_mma_smem<BN> sm;
    const size_t K = a.src0.ne[0];
    if (blockIdx.z >= a.src1.ne[2] * a.src1.ne[3] || a.src0.ne[1] == 0 || a.src1.ne[1] == 0) {
        return;
    }
    const bool wa16 = (((uintptr_t)p.src[0] | a.src0.nb[1] | a.src0.nb[2] | a.src0.nb[3]) & 15) == 0;
    const bool xa16 = (((uintptr_t)p.src[1] | a.src1.nb[1] | a.src1.nb[2] | a.src1.nb[3]) & 15) == 0;
    if (xa16 && (wa16 || !W::NEEDS_A16) && K % UCN_MMA_BK == 0) {
        ucn_mul_mat_mma_body<W, BN, true>(a, p, sm);
    } else {
        ucn_mul_mat_mma_body<W, BN, false>(a, p, sm);
    }
}

#define UCN_MMA(name, W)                                                                                  \
    UCN_KERNEL void UCN_LAUNCH_BOUNDS(256, 2) ucn_mul_mat_mma_##name(const ucn_mul_mat_args a, const ucn_ptrs p) { \
        ucn_mul_mat_mma<W, 64>(a, p);                                                                     \
    }                                                                                                     \
    UCN_KERNEL void __launch_bounds__(256) ucn_mul_mat_mma128_##name(const ucn_mul_mat_args a, const ucn_ptrs p) { \
        ucn_mul_mat_mma<W, 128>(a, p);                                                                    \
    }

UCN_MMA(f32, ucn_mma_wf<UCN_TYPE_F32>)
UCN_MMA(f16, ucn_mma_wf<UCN_TYPE_F16>)
UCN_MMA(bf16, ucn_mma_wf<UCN_TYPE_BF16>)
UCN_MMA(q4_0, ucn_mma_w<ucn_q4_0>)
UCN_MMA(q5_0, ucn_mma_w<ucn_q5_0>)
UCN_MMA(q8_0, ucn_mma_w<ucn_q8_0>)
UCN_MMA(q4_K, ucn_mma_w<ucn_q4_K>)
UCN_MMA(q5_K, ucn_mma_w<ucn_q5_K>)
UCN_MMA(q6_K, ucn_mma_w<ucn_q6_K>)
