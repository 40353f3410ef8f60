// FLASH_ATTN_EXT: out = softmax(scale * Q K^T, soft-capped, + slope * mask, with an optional
// sink logit) V, per (q row, head, batch), with ggml-cpu's semantics (ops.cpp, one_chunk):
//   q F32 [Dk, n_q, n_head, ne3] (rows contiguous, any strides); k, v F32/F16/BF16
//   [D, n_kv, n_head_kv, ne3_kv] (rows contiguous, any strides; GQA: head h reads KV head
//   h / (n_head / n_head_kv), batch i3 reads i3 / (ne3 / ne3_kv)); mask F16 row
//   (iq1, h % mask.ne[2], iq3 % mask.ne[3]); dst F32 [Dv, n_head, n_q, ne3].
//   Q is rounded to K's type before the dots (as the CPU does); scores, the online softmax and
//   the V accumulation are f32, expf; -inf mask entries are skipped; a row whose every entry
//   is masked (and has no sink) is 0.
//
// One kernel, ucn_fa_kernel<DL, R, NW, C>, in two shapes (the launch is chosen by
// ops/flash_attn_ext.rs `gpu()`):
//   - a block owns R q rows that share one K head and one V head: G consecutive heads of a
//     GQA group (G = n_head / gridDim.x) times R / G consecutive positions; grid x = head
//     groups, grid y/z = (position block, batch) as Launch::rows spreads them;
//   - the block's NW warps split the KV sequence (warp w takes keys [w*C, w*C + C) + k*NW*C),
//     each warp keeps its own f32 running max / sum / accumulator for all R rows, and the
//     block merges them at the end (shared memory, a deterministic tree);
//   - inside a warp the head dimension is split over lanes: lane l owns dims [l*DL, l*DL+DL)
//     of Q, K, V and the output (DL = a bucket >= ceil(max(Dk, Dv) / 32)); a score is a lane
//     partial dot and a warp sum, so it is the same in every lane and every branch on it is
//     warp-uniform.
// R = 1, NW = 16 is the decode shape (few rows, long KV); R = 2..8 with NW = 4 shares each
// K/V row between R rows for prefill. K/V rows are read with 4- to 16-byte loads when the
// dims divide into lanes and pointers/strides allow it, else element by element.
#include "common.cuh"

// KV element types.
struct ucn_fa_f32 {
    static constexpr int bytes = 4;
};
struct ucn_fa_f16 {
    static constexpr int bytes = 2;
};
struct ucn_fa_bf16 {
    static constexpr int bytes = 2;
};

template <typename T> static __device__ __forceinline__ float ucn_fa_elem(const char *row, uint32_t d);
template <> __device__ __forceinline__ float ucn_fa_elem<ucn_fa_f32>(const char *row, uint32_t d) {
    return ((const float *)row)[d];
}
template <> __device__ __forceinline__ float ucn_fa_elem<ucn_fa_f16>(const char *row, uint32_t d) {
    return ucn_f16_to_f32(((const uint16_t *)row)[d]);
}
template <> __device__ __forceinline__ float ucn_fa_elem<ucn_fa_bf16>(const char *row, uint32_t d) {
    return ucn_bf16_to_f32(((const uint16_t *)row)[d]);
}

// Q rounded to K's type (ggml-cpu converts Q to K's vec_dot type before the dots).
template <typename T> static __device__ __forceinline__ float ucn_fa_round(float x);
template <> __device__ __forceinline__ float ucn_fa_round<ucn_fa_f32>(float x) {
    return x;
}
template <> __device__ __forceinline__ float ucn_fa_round<ucn_fa_f16>(float x) {
    return ucn_f16_to_f32(ucn_f32_to_f16(x));
}
template <> __device__ __forceinline__ float ucn_fa_round<ucn_fa_bf16>(float x) {
    return ucn_bf16_to_f32(ucn_f32_to_bf16(x));
}

// The widest load (16, 8 or 4 bytes) that tiles one lane's DL elements of type T.
template <typename T, int DL> struct ucn_fa_unit {
    static constexpr int value = (DL * T::bytes) % 16 == 0 ? 16 : (DL * T::bytes) % 8 == 0 ? 8 : 4;
};

// NB bytes at p (aligned to ucn_fa_unit) into 32-bit words.
template <int NB, int U> static __device__ __forceinline__ void ucn_fa_ld(const char *p, uint32_t (&w)[NB / 4]) {
    if constexpr (U == 16) {
#pragma unroll
        for (int i = 0; i < NB / 16; ++i) {
            const uint4 x = ((const uint4 *)p)[i];
            w[4 * i + 0] = x.x;
            w[4 * i + 1] = x.y;
            w[4 * i + 2] = x.z;
            w[4 * i + 3] = x.w;
        }
    } else if constexpr (U == 8) {
#pragma unroll
        for (int i = 0; i < NB / 8; ++i) {
            const uint2 x = ((const uint2 *)p)[i];
            w[2 * i + 0] = x.x;
            w[2 * i + 1] = x.y;
        }
    } else {
#pragma unroll
        for (int i = 0; i < NB / 4; ++i) {
            w[i] = ((const uint32_t *)p)[i];
        }
    }
}

template <typename T, int DL> struct ucn_fa_cvt;
template <int DL> struct ucn_fa_cvt<ucn_fa_f32, DL> {
    static __device__ __forceinline__ void run(const uint32_t (&w)[DL], float (&f)[DL]) {
#pragma unroll
        for (int i = 0; i < DL; ++i) {
            f[i] = __uint_as_float(w[i]);
        }
    }
};
template <int DL> struct ucn_fa_cvt<ucn_fa_f16, DL> {
    static __device__ __forceinline__ void run(const uint32_t (&w)[DL / 2], float (&f)[DL]) {
#pragma unroll
        for (int i = 0; i < DL / 2; ++i) {
            f[2 * i + 0] = ucn_f16_to_f32((uint16_t)(w[i] & 0xffffu));
            f[2 * i + 1] = ucn_f16_to_f32((uint16_t)(w[i] >> 16));
        }
    }
};
template <int DL> struct ucn_fa_cvt<ucn_fa_bf16, DL> {
    static __device__ __forceinline__ void run(const uint32_t (&w)[DL / 2], float (&f)[DL]) {
#pragma unroll
        for (int i = 0; i < DL / 2; ++i) {
            f[2 * i + 0] = __uint_as_float(w[i] << 16);
            f[2 * i + 1] = __uint_as_float(w[i] & 0xffff0000u);
        }
    }
};

// This lane's DL elements [d0, d0 + DL) of a K or V row of D elements, as f32 (0 past D).
// `vec`: D % DL == 0 and the row is aligned to ucn_fa_unit, so a lane's chunk is all in or
// all out. Lanes may diverge here (no shuffles, no barriers).
template <typename T, int DL>
static __device__ __forceinline__ void ucn_fa_load_row(const char *row, uint32_t d0, uint32_t D, bool vec, float (&f)[DL]) {
    if (vec) {
        if (d0 < D) {
            constexpr int NB = DL * T::bytes;
            uint32_t w[NB / 4];
            ucn_fa_ld<NB, ucn_fa_unit<T, DL>::value>(row + (size_t)d0 * T::bytes, w);
            ucn_fa_cvt<T, DL>::run(w, f);
        } else {
#pragma unroll
            for (int i = 0; i < DL; ++i) {
                f[i] = 0.0f;
            }
        }
    } else {
#pragma unroll
        for (int i = 0; i < DL; ++i) {
            f[i] = d0 + i < D ? ucn_fa_elem<T>(row, d0 + i) : 0.0f;
        }
    }
}

// ALiBi slope of head h, as ggml-cpu computes it (1 when max_bias is 0).
static __device__ __forceinline__ float ucn_fa_slope(float max_bias, uint32_t n_head, uint32_t h) {
    if (max_bias <= 0.0f) {
        return 1.0f;
    }
    const uint32_t n_head_log2 = 1u << (31 - __clz((int)n_head)); // 1 << floor(log2(n_head))
    const float m0 = powf(2.0f, -max_bias / (float)n_head_log2);
    const float m1 = powf(2.0f, -(max_bias / 2.0f) / (float)n_head_log2);
    return h < n_head_log2 ? powf(m0, (float)(h + 1)) : powf(m1, (float)(2 * (h - n_head_log2) + 1));
}

static __device__ __forceinline__ int ucn_fa_imin(int x, int y) {
    return x < y ? x : y;
}

// The KV-split buffer (ops/flash_attn_ext.rs `gpu_split`): a 16-byte header (the split count, a
// uint32), then per slot (output row o = h + n_head * (iq1 + n_q * iq3), split s: slot
// o * n_split + s) Dv floats of unnormalised accumulator, then per slot (M, L).
static __device__ __forceinline__ float *ucn_fa_split_acc(void *buf, uint32_t Dv, size_t slot) {
    return (float *)((char *)buf + 16) + slot * Dv;
}
static __device__ __forceinline__ float *ucn_fa_split_ml(void *buf, uint32_t Dv, size_t n_slots, size_t slot) {
    return (float *)((char *)buf + 16) + n_slots * Dv + 2 * slot;
}

// Shared memory of one block: every warp's running max and sum per row, and half the warps'
// accumulators for each round of the merge tree ([i][lane]: conflict-free).
template <int DL, int R, int NW> struct ucn_fa_smem {
    float m[NW][R];
    float l[NW][R];
    float acc[NW / 2][R][DL][UCN_WARP];
};

// SPLIT: the KV split across blocks (ops/flash_attn_ext.rs `gpu_split`): grid (head groups,
// splits, position blocks x batches); the block takes keys [split * chunk, + chunk) and writes its
// rows' unnormalised state to the buffer in p.dst (see ucn_fa_split_* below) instead of the output.
template <typename T, int DL, int R, int NW, int C, bool SPLIT>
static __device__ __forceinline__ void ucn_fa_body(const ucn_flash_attn_ext_args &a, const ucn_ptrs &p, ucn_fa_smem<DL, R, NW> &sm) {
    const int lane = threadIdx.x % UCN_WARP, warp = threadIdx.x / UCN_WARP;
    const uint32_t Dk = (uint32_t)a.q.ne[0], n_q = (uint32_t)a.q.ne[1];
    const uint32_t n_head = (uint32_t)a.q.ne[2], ne3 = (uint32_t)a.q.ne[3];
    const uint32_t Dv = (uint32_t)a.v.ne[0];
    const int n_kv = (int)a.k.ne[1];

    // This block's rows: heads [h0, h0 + G), positions [q0, q0 + QP), batch iq3. Every early
    // return below is block-uniform (it depends on block indices and arguments only).
    const uint32_t G = n_head / gridDim.x;
    if (G == 0 || R % G != 0 || blockDim.x != NW * UCN_WARP) {
        return;
    }
    const uint32_t QP = R / G;
    const uint32_t nqb = (n_q + QP - 1) / QP;
    const size_t b = SPLIT ? (size_t)blockIdx.z : blockIdx.y + (size_t)blockIdx.z * gridDim.y;
    if (b >= (size_t)nqb * ne3) {
        return;
    }
    // This block's keys [kb, ke): all of them, or its split's chunk.
    const int n_split = SPLIT ? (int)gridDim.y : 1;
    const int chunk = (n_kv + n_split - 1) / n_split;
    const int kb = SPLIT ? (int)blockIdx.y * chunk : 0;
    const int ke = SPLIT ? ucn_fa_imin(n_kv, kb + chunk) : n_kv;
    const uint32_t iq3 = (uint32_t)(b / nqb), q0 = (uint32_t)(b % nqb) * QP, h0 = blockIdx.x * G;

    // The K and V heads of the group (G divides both broadcast ratios: see gpu()).
    const uint32_t ik2 = h0 / (n_head / (uint32_t)a.k.ne[2]), ik3 = iq3 / (ne3 / (uint32_t)a.k.ne[3]);
    const uint32_t iv2 = h0 / (n_head / (uint32_t)a.v.ne[2]), iv3 = iq3 / (ne3 / (uint32_t)a.v.ne[3]);
    const char *kbase = (const char *)p.src[1] + ik2 * a.k.nb[2] + ik3 * a.k.nb[3];
    const char *vbase = (const char *)p.src[2] + iv2 * a.v.nb[2] + iv3 * a.v.nb[3];
    constexpr int U = ucn_fa_unit<T, DL>::value;
    const bool vec_k = Dk % DL == 0 && ((uintptr_t)p.src[1] | a.k.nb[1] | a.k.nb[2] | a.k.nb[3]) % U == 0;
    const bool vec_v = Dv % DL == 0 && ((uintptr_t)p.src[2] | a.v.nb[1] | a.v.nb[2] | a.v.nb[3]) % U == 0;
    const uint32_t d0 = (uint32_t)lane * DL;

    // Q rounded to K's type, per row (zero for rows past n_q).
    float q[R][DL];
#pragma unroll
    for (int r = 0; r < R; ++r) {
        const uint32_t h = h0 + r % G, iq1 = q0 + r / G;
        const float *qrow = (const float *)((const char *)p.src[0] + iq1 * a.q.nb[1] + h * a.q.nb[2] + iq3 * a.q.nb[3]);
#pragma unroll
        for (int i = 0; i < DL; ++i) {
            q[r][i] = iq1 < n_q && d0 + i < Dk ? ucn_fa_round<T>(qrow[d0 + i]) : 0.0f;
        }
    }
    // Lane t < R * C reads the mask entry of row t / C for key t % C of each step (the others
    // get it by a shuffle), scaled by the row's ALiBi slope; -inf for rows past n_q and keys
    // past n_kv. This keeps the per-row mask pointers out of the (scalar) registers.
    static_assert(R * C <= UCN_WARP, "one lane per (row, key) of a step");
    const int mr = lane / C, mj = lane % C;
    bool mact = false;
    float mslope = 1.0f;
    const uint16_t *mlane = nullptr;
    if (mr < R) {
        const uint32_t h = h0 + mr % G, iq1 = q0 + mr / G;
        mact = iq1 < n_q;
        mslope = ucn_fa_slope(a.max_bias, n_head, h);
        if (mact && a.has_mask) {
            mlane = (const uint16_t *)((const char *)p.src[3] + iq1 * a.mask.nb[1] + (h % a.mask.ne[2]) * a.mask.nb[2] +
                                       (iq3 % a.mask.ne[3]) * a.mask.nb[3]);
        }
    }

    const float softcap = a.logit_softcap;
    const float scale = softcap != 0.0f ? a.scale / softcap : a.scale;
    float m[R], l[R], acc[R][DL];
#pragma unroll
    for (int r = 0; r < R; ++r) {
        m[r] = -INFINITY;
        l[r] = 0.0f;
#pragma unroll
        for (int i = 0; i < DL; ++i) {
            acc[r][i] = 0.0f;
        }
    }

    // This warp's keys, C at a time. All control flow below depends on warp-uniform values
    // (key indices, mask entries shuffled to every lane, warp-summed scores). The mask entries
    // of the next step are read one step ahead, so the K/V loads (skipped for keys every row
    // masks) do not wait for them.
    auto mask_at = [&](int c) -> float {
        float x = -INFINITY;
        if (mact && c + mj < ke) {
            x = mlane ? mslope * ucn_f16_to_f32(mlane[c + mj]) : 0.0f;
        }
        return x;
    };
    float mnext = mask_at(kb + warp * C);
    for (int c0 = kb + warp * C; c0 < ke; c0 += NW * C) {
        const float mval = mnext;
        mnext = mask_at(c0 + NW * C);
        float mv[R][C];
        bool use[C], any = false;
#pragma unroll
        for (int j = 0; j < C; ++j) {
            use[j] = false;
#pragma unroll
            for (int r = 0; r < R; ++r) {
                mv[r][j] = __shfl_sync(UCN_FULL_MASK, mval, r * C + j, UCN_WARP);
                use[j] = use[j] || mv[r][j] != -INFINITY;
            }
            any = any || use[j];
        }
        if (!any) {
            continue; // every row masks every key of this step (causal, sliding window, padding)
        }
        float kf[C][DL], vf[C][DL];
#pragma unroll
        for (int j = 0; j < C; ++j) {
            if (use[j]) {
                ucn_fa_load_row<T, DL>(kbase + (size_t)(c0 + j) * a.k.nb[1], d0, Dk, vec_k, kf[j]);
                ucn_fa_load_row<T, DL>(vbase + (size_t)(c0 + j) * a.v.nb[1], d0, Dv, vec_v, vf[j]);
            } else {
#pragma unroll
                for (int i = 0; i < DL; ++i) {
                    kf[j][i] = 0.0f;
                    vf[j][i] = 0.0f;
                }
            }
        }
        float s[R][C];
#pragma unroll
        for (int j = 0; j < C; ++j) {
#pragma unroll
            for (int r = 0; r < R; ++r) {
                float d = 0.0f;
#pragma unroll
                for (int i = 0; i < DL; ++i) {
                    d = fmaf(q[r][i], kf[j][i], d);
                }
                s[r][j] = d;
            }
        }
#pragma unroll
        for (int j = 0; j < C; ++j) {
#pragma unroll
            for (int r = 0; r < R; ++r) {
                s[r][j] = ucn_warp_sum(s[r][j]);
            }
        }
        // The online softmax, key by key in order, as ggml-cpu updates it.
#pragma unroll
        for (int j = 0; j < C; ++j) {
#pragma unroll
            for (int r = 0; r < R; ++r) {
                if (mv[r][j] == -INFINITY) {
                    continue;
                }
                float sc = s[r][j] * scale;
                if (softcap != 0.0f) {
                    sc = softcap * tanhf(sc);
                }
                sc += mv[r][j];
                if (sc > m[r]) {
                    const float ms = expf(m[r] - sc); // 0 for the first key (m = -inf)
                    m[r] = sc;
#pragma unroll
                    for (int i = 0; i < DL; ++i) {
                        acc[r][i] = fmaf(acc[r][i], ms, vf[j][i]);
                    }
                    l[r] = fmaf(l[r], ms, 1.0f);
                } else {
                    const float vs = expf(sc - m[r]);
#pragma unroll
                    for (int i = 0; i < DL; ++i) {
                        acc[r][i] = fmaf(vf[j][i], vs, acc[r][i]);
                    }
                    l[r] += vs;
                }
            }
        }
    }

    // Merge the warps: the block max M per row, each warp's state rescaled to it, then the
    // accumulators summed by a tree over the warps (warp 0 ends with the total).
    if (lane == 0) {
#pragma unroll
        for (int r = 0; r < R; ++r) {
            sm.m[warp][r] = m[r];
            sm.l[warp][r] = l[r];
        }
    }
    __syncthreads();
    float M[R], L[R];
#pragma unroll
    for (int r = 0; r < R; ++r) {
        float mx = -INFINITY;
        for (int w = 0; w < NW; ++w) {
            mx = fmaxf(mx, sm.m[w][r]);
        }
        float sum = 0.0f;
        for (int w = 0; w < NW; ++w) {
            const float mw = sm.m[w][r];
            if (mw != -INFINITY) {
                sum += sm.l[w][r] * expf(mw - mx);
            }
        }
        M[r] = mx;
        L[r] = sum;
        const float f = m[r] == -INFINITY ? 0.0f : expf(m[r] - mx);
#pragma unroll
        for (int i = 0; i < DL; ++i) {
            acc[r][i] *= f;
        }
    }
#pragma unroll
    for (int half = NW / 2; half > 0; half /= 2) {
        if (warp >= half && warp < 2 * half) {
#pragma unroll
            for (int r = 0; r < R; ++r) {
#pragma unroll
                for (int i = 0; i < DL; ++i) {
                    sm.acc[warp - half][r][i][lane] = acc[r][i];
                }
            }
        }
        __syncthreads();
        if (warp < half) {
#pragma unroll
            for (int r = 0; r < R; ++r) {
#pragma unroll
                for (int i = 0; i < DL; ++i) {
                    acc[r][i] += sm.acc[warp][r][i][lane];
                }
            }
        }
        __syncthreads();
    }
    if (warp != 0) {
        return;
    }
    if constexpr (SPLIT) {
        // The split's state per row: acc (relative to M), M and L; the sink and the division
        // come in ucn_flash_attn_ext_combine.
        if (blockIdx.x == 0 && blockIdx.y == 0 && blockIdx.z == 0 && lane == 0) {
            *(uint32_t *)p.dst = (uint32_t)n_split;
        }
        const size_t n_out = (size_t)n_head * n_q * ne3;
#pragma unroll
        for (int r = 0; r < R; ++r) {
            const uint32_t h = h0 + r % G, iq1 = q0 + r / G;
            if (iq1 >= n_q) {
                continue;
            }
            const size_t o = h + (size_t)n_head * (iq1 + (size_t)n_q * iq3);
            const size_t slot = o * (size_t)n_split + blockIdx.y;
            float *pacc = ucn_fa_split_acc(p.dst, Dv, slot);
#pragma unroll
            for (int i = 0; i < DL; ++i) {
                if (d0 + i < Dv) {
                    pacc[d0 + i] = acc[r][i];
                }
            }
            if (lane == 0) {
                float *pml = ucn_fa_split_ml(p.dst, Dv, n_out * (size_t)n_split, slot);
                pml[0] = M[r];
                pml[1] = L[r];
            }
        }
    } else {
        // The sink (a logit with no value), then out = acc / sum (0 when nothing was summed).
#pragma unroll
        for (int r = 0; r < R; ++r) {
            const uint32_t h = h0 + r % G, iq1 = q0 + r / G;
            if (iq1 >= n_q) {
                continue;
            }
            float sum = L[r];
            if (a.has_sinks) {
                const float s = ((const float *)p.src[4])[h];
                if (s > M[r]) {
                    const float ms = expf(M[r] - s);
#pragma unroll
                    for (int i = 0; i < DL; ++i) {
                        acc[r][i] *= ms;
                    }
                    sum = fmaf(sum, ms, 1.0f);
                } else {
                    sum += expf(s - M[r]);
                }
            }
            const float inv = sum == 0.0f ? 0.0f : 1.0f / sum;
            float *out = (float *)((char *)p.dst + h * a.dst.nb[1] + iq1 * a.dst.nb[2] + iq3 * a.dst.nb[3]);
#pragma unroll
            for (int i = 0; i < DL; ++i) {
                if (d0 + i < Dv) {
                    out[d0 + i] = acc[r][i] * inv;
                }
            }
        }
    }
}

template <typename T, int DL, int R, int NW, int C, bool SPLIT = false>
static __device__ __forceinline__ void ucn_fa_kernel(const ucn_flash_attn_ext_args &a, const ucn_ptrs &p) {
    static_assert(DL % 2 == 0 && NW >= 2 && (NW & (NW - 1)) == 0 && (R & (R - 1)) == 0, "kernel shape");
    static_assert(sizeof(ucn_fa_smem<DL, R, NW>) <= 48 * 1024, "shared memory");
    __shared__ ucn_fa_smem<DL, R, NW> sm;
    ucn_fa_body<T, DL, R, NW, C, SPLIT>(a, p, sm);
}

// The KV split's second launch: merges the splits of each output row (p.src[0] = the buffer,
// p.src[4] = the sinks as for the op, p.dst = the op's output). Grid (ceil(Dv / 256), output
// rows over y and z), 256 threads: one thread per output element.
UCN_KERNEL void __launch_bounds__(256) ucn_flash_attn_ext_combine(const ucn_flash_attn_ext_args a, const ucn_ptrs p) {
    const uint32_t n_head = (uint32_t)a.q.ne[2], n_q = (uint32_t)a.q.ne[1], Dv = (uint32_t)a.v.ne[0];
    const size_t n_out = (size_t)n_head * n_q * a.q.ne[3];
    const size_t o = blockIdx.y + (size_t)blockIdx.z * gridDim.y;
    const uint32_t d = blockIdx.x * 256 + threadIdx.x;
    if (o >= n_out || d >= Dv) {
        return;
    }
    void *buf = (void *)p.src[0];
    const size_t S = *(const uint32_t *)buf;
    float mx = -INFINITY;
    for (size_t s = 0; s < S; ++s) {
        mx = fmaxf(mx, ucn_fa_split_ml(buf, Dv, n_out * S, o * S + s)[0]);
    }
    float sum = 0.0f, acc = 0.0f;
    for (size_t s = 0; s < S; ++s) {
        const float *ml = ucn_fa_split_ml(buf, Dv, n_out * S, o * S + s);
        if (ml[0] != -INFINITY) {
            const float f = expf(ml[0] - mx);
            sum = fmaf(ml[1], f, sum);
            acc = fmaf(ucn_fa_split_acc(buf, Dv, o * S + s)[d], f, acc);
        }
    }
    const uint32_t h = (uint32_t)(o % n_head), iq1 = (uint32_t)((o / n_head) % n_q), iq3 = (uint32_t)(o / ((size_t)n_head * n_q));
    if (a.has_sinks) {
        const float s = ((const float *)p.src[4])[h];
        if (s > mx) {
            const float ms = expf(mx - s); // 0 when no key counted (mx = -inf)
            acc *= ms;
            sum = fmaf(sum, ms, 1.0f);
        } else {
            sum += expf(s - mx);
        }
    }
    const float inv = sum == 0.0f ? 0.0f : 1.0f / sum;
    float *out = (float *)((char *)p.dst + h * a.dst.nb[1] + iq1 * a.dst.nb[2] + iq3 * a.dst.nb[3]);
    out[d] = acc * inv;
}

// ucn_flash_attn_ext_<kv type>_d<Dmax>_r<R>: K and V of that type, max(Dk, Dv) <= Dmax
// (DL = Dmax / 32 dims per lane), R rows per block; NW warps (blockDim.x = 32 * NW), C keys
// per warp step. One kernel per KV type rather than a switch inside: the three inlined bodies
// of a switch made gfx1103 spill scalar registers. Keep in step with the table in
// ops/flash_attn_ext.rs.
#define UCN_FA1(TN, DMAX, R, NW, C)                                                                                      \
    UCN_KERNEL void __launch_bounds__((NW) * UCN_WARP)                                                                   \
        ucn_flash_attn_ext_##TN##_d##DMAX##_r##R(const ucn_flash_attn_ext_args a, const ucn_ptrs p) {                  \
        ucn_fa_kernel<ucn_fa_##TN, (DMAX) / UCN_WARP, R, NW, C>(a, p);                                                   \
    }
#define UCN_FA(DMAX, R, NW, C)                                                                                           \
    UCN_FA1(f32, DMAX, R, NW, C)                                                                                         \
    UCN_FA1(f16, DMAX, R, NW, C)                                                                                         \
    UCN_FA1(bf16, DMAX, R, NW, C)
UCN_FA(64, 1, 16, 4)
UCN_FA(64, 2, 4, 4)
UCN_FA(64, 4, 4, 4)
UCN_FA(64, 8, 4, 2)
UCN_FA(128, 1, 16, 4)
UCN_FA(128, 2, 4, 4)
UCN_FA(128, 4, 4, 2)
UCN_FA(256, 1, 16, 4)
UCN_FA(256, 2, 4, 2)
UCN_FA(256, 4, 4, 1)
UCN_FA(512, 1, 16, 1)
UCN_FA(512, 2, 4, 1)
UCN_FA(576, 1, 16, 1)
UCN_FA(576, 2, 4, 1)

// ucn_flash_attn_ext_<kv type>_d<Dmax>_r<R>_split: the KV split's first launch (4 warps; the
// split count is the grid's y).
#define UCN_FAS1(TN, DMAX, R, C)                                                                                         \
    UCN_KERNEL void __launch_bounds__(4 * UCN_WARP)                                                                      \
        ucn_flash_attn_ext_##TN##_d##DMAX##_r##R##_split(const ucn_flash_attn_ext_args a, const ucn_ptrs p) {          \
        ucn_fa_kernel<ucn_fa_##TN, (DMAX) / UCN_WARP, R, 4, C, true>(a, p);                                              \
    }
#define UCN_FAS(DMAX, R, C)                                                                                              \
    UCN_FAS1(f32, DMAX, R, C)                                                                                            \
    UCN_FAS1(f16, DMAX, R, C)                                                                                            \
    UCN_FAS1(bf16, DMAX, R, C)
UCN_FAS(64, 1, 4)
UCN_FAS(64, 2, 4)
UCN_FAS(64, 4, 4)
UCN_FAS(128, 1, 4)
UCN_FAS(128, 2, 4)
UCN_FAS(128, 4, 2)
UCN_FAS(256, 1, 4)
UCN_FAS(256, 2, 2)
UCN_FAS(256, 4, 1)
#undef UCN_FAS
#undef UCN_FAS1
#undef UCN_FA
#undef UCN_FA1
