// MUL_MAT: dst[i01, i11, i12, i13] = dot(weight row (i01, i12/r2, i13/r3), src1 row (i11, i12, i13)),
// r2 = ne12/ne02, r3 = ne13/ne03. src0: the weight (F32, F16, BF16, Q4_0, Q5_0, Q8_0, Q4_K, Q5_K,
// Q6_K; rows contiguous); src1: F32 (rows contiguous, any row strides); dst: F32, dense.
//
// Three kernels; ops/mul_mat.rs `gpu` picks one per node (the rules are in kernels/hip/mul_mat.md):
//
// ucn_mul_mat_vec_<type>_<nc>  few activation columns (ne11 <= nc <= 8: decode). Streams the
//     weights once. Block: 8 warps as blockDim (32, KS, 8 / KS): each group of KS warps owns R
//     rows and splits their K among its warps. Quantized weights: the block quantizes its x
//     columns to int8 (groups of 16, scale d and d * sum(q)) in shared memory; each lane takes one
//     unit of a weight block (32 or 64 weights: UPB units per block), unpacks it to int8 and
//     dot-products it with dp4a. Weights are read straight into registers with 16-byte loads
//     where the block format allows (Q4_K, Q5_K, rows 16-byte aligned), otherwise the warp copies
//     each step's contiguous bytes into shared memory with coalesced 16-byte loads (one step
//     ahead, in registers) and the lanes unpack from there. Float weights: f32 FMAs against x
//     read through the cache.
// ucn_mul_mat_mma_<type>  many columns (prefill): 128 x 64 output tiles, 8 warps of 32 x 32, k
//     steps of 32 on the matrix cores (mma.cuh: f16 x f16 -> f32). Each step's weights are
//     dequantized to f16 and x converted to f16 (clamped to +-65504) into shared memory, double
//     buffered, the next step's global loads in flight during the current step's products.
// ucn_mul_mat_small_k  float weights, K <= 32 (Gemma3n's altup mixes, K = 4): one thread per
//     output, consecutive threads on consecutive rows. A warp per output would leave most lanes
//     idle and, with a row per warp, launch a warp for every few bytes.
// ucn_mul_mat_generic  anything: one warp per output, scalar dequantization. Simple and slow:
//     the fallback, and the reference to compare the others with on a GPU.
#include "common.cuh"
#include "mma.cuh"

// ---- small helpers ----------------------------------------------------------------------------

// Orders one warp's shared-memory writes before its reads (and reads before later writes).
static __device__ __forceinline__ void ucn_syncwarp() {
#if defined(UCN_HIP)
#if defined(__HIP_DEVICE_COMPILE__)
    __builtin_amdgcn_fence(__ATOMIC_RELEASE, "wavefront");
    __builtin_amdgcn_wave_barrier();
    __builtin_amdgcn_fence(__ATOMIC_ACQUIRE, "wavefront");
#endif
#else
    __syncwarp();
#endif
}

// dot of four signed bytes, plus c.
static __device__ __forceinline__ int ucn_dp4a(int a, int b, int c) {
#if defined(UCN_RDNA3)
    return __builtin_amdgcn_sudot4(true, a, true, b, c, false);
#elif defined(UCN_CUDA) && defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 610
    return __dp4a(a, b, c);
#else
    for (int i = 0; i < 4; ++i) {
        c += (int)(int8_t)(a >> (8 * i)) * (int)(int8_t)(b >> (8 * i));
    }
    return c;
#endif
}

// The 32 bits at bit s (s = 0 or 16) of the 64-bit pair hi:lo.
static __device__ __forceinline__ uint32_t ucn_funnel(uint32_t lo, uint32_t hi, uint32_t s) {
#if defined(__CUDA_ARCH__) || defined(__HIP_DEVICE_COMPILE__)
    return __funnelshift_r(lo, hi, s); // 32-bit operations: the compilers keep the words in registers
#else
    return (uint32_t)((((uint64_t)hi << 32) | lo) >> s);
#endif
}

static __device__ __forceinline__ uint4 ucn_u4(uint32_t x, uint32_t y, uint32_t z, uint32_t w) {
    uint4 r;
    r.x = x, r.y = y, r.z = z, r.w = w;
    return r;
}
static __device__ __forceinline__ float2 ucn_f2(float x, float y) {
    float2 r;
    r.x = x, r.y = y;
    return r;
}

template <class V>
static __device__ __forceinline__ V ucn_min(V a, V b) {
    return a < b ? a : b;
}

static __device__ __forceinline__ uint32_t ucn_ld_u16(const uint8_t *p) {
    return *(const uint16_t *)p;
}

// 16 bytes as loaded: five words and the shift that aligns them (word i = get(i)).
struct ucn_raw16 {
    uint32_t v[5];
    uint32_t s;
    __device__ __forceinline__ uint32_t get(int i) const { return ucn_funnel(v[i], v[i + 1], s); }
};
// A16: p is 16-byte aligned (one 16-byte load); otherwise p is 2-byte aligned: the aligned words
// that hold the bytes are read (never a word without one of them, so never past the data's page).
template <bool A16>
static __device__ __forceinline__ void ucn_load16(ucn_raw16 &r, const uint8_t *p) {
    if (A16) {
        const uint4 t = *(const uint4 *)p;
        r.v[0] = t.x, r.v[1] = t.y, r.v[2] = t.z, r.v[3] = t.w, r.v[4] = t.w;
        r.s = 0;
    } else {
        const uint32_t mis = (uint32_t)(uintptr_t)p & 2u;
        const uint32_t *w = (const uint32_t *)(p - mis);
#pragma unroll
        for (int i = 0; i < 4; ++i) {
            r.v[i] = w[i];
        }
        r.v[4] = w[3 + (mis >> 1)];
        r.s = mis * 8;
    }
}
// 4 bytes at a 2-byte aligned address.
static __device__ __forceinline__ uint32_t ucn_ld_u32_a2(const uint8_t *p) {
    const uint32_t mis = (uint32_t)(uintptr_t)p & 2u;
    const uint32_t *w = (const uint32_t *)(p - mis);
    return ucn_funnel(w[0], w[mis >> 1], mis * 8);
}

// Bit i (i < 4) of b to bit 4 of byte i.
static __device__ __forceinline__ uint32_t ucn_spread4(uint32_t b) {
    return ((b & 0xFu) * 0x02040810u) & 0x10101010u;
}

// Bytes I and I + 1 of w (I = 0 or 2) as the f16 pair (1024 + b_I, 1024 + b_I+1): one byte
// permute with 0x64 (the high byte of 1024.0 in f16) as the fill.
template <int I>
static __device__ __forceinline__ uint32_t ucn_bytes_h2_1024(uint32_t w) {
#if defined(UCN_HIP) && defined(__HIP_DEVICE_COMPILE__)
    return __builtin_amdgcn_perm(0x64646464u, w, I == 0 ? 0x04010400u : 0x04030402u);
#elif defined(__CUDA_ARCH__)
    return __byte_perm(w, 0x64646464u, I == 0 ? 0x4140u : 0x4342u);
#else
    return ((w >> (8 * I)) & 0xFFu) | (((w >> (8 * I + 8)) & 0xFFu) << 16) | 0x64006400u;
#endif
}
static __device__ __forceinline__ __half2 ucn_u32_h2(uint32_t u) {
    __half2 h;
    memcpy(&h, &u, 4);
    return h;
}
static __device__ __forceinline__ uint32_t ucn_h2_u32(__half2 h) {
    uint32_t u;
    memcpy(&u, &h, 4);
    return u;
}

static __device__ __forceinline__ uint32_t ucn_pack_f16x2(float lo, float hi) {
    const __half2 h = __floats2half2_rn(lo, hi);
    uint32_t u;
    memcpy(&u, &h, 4);
    return u;
}
static __device__ __forceinline__ float ucn_clamp_f16(float x) {
    return fminf(fmaxf(x, -65504.0f), 65504.0f);
}

// Q4_K / Q5_K: the 6-bit scale and min of sub-block sb (0..7) from scales[0..3], [4..7], [8..11].
static __device__ __forceinline__ void ucn_k4_scale_min(uint32_t h1, uint32_t h2, uint32_t h3, int sb, int &sc, int &m) {
    // Both halves, then a select: no branch, so no load is sunk into one (it would wait there).
    const uint32_t s_lo = h1 & 0x3F3F3F3Fu, n_lo = h2 & 0x3F3F3F3Fu;
    const uint32_t s_hi = (h3 & 0x0F0F0F0Fu) | ((h1 >> 2) & 0x30303030u);
    const uint32_t n_hi = ((h3 >> 4) & 0x0F0F0F0Fu) | ((h2 >> 2) & 0x30303030u);
    const uint32_t s = sb < 4 ? s_lo : s_hi, n = sb < 4 ? n_lo : n_hi;
    const int sh = 8 * (sb & 3);
    sc = (int)((s >> sh) & 0xFFu);
    m = (int)((n >> sh) & 0xFFu);
}

// ---- weight formats ---------------------------------------------------------------------------
// Each quantized type decodes a run of 16 consecutive weights at element e (a multiple of 16) of a
// block into 16 small integers q (4 words of int8, little-endian) and a scale and offset:
// weight = A * q + B. `load` reads the bytes (raw), `decode` unpacks them, so the loads of a
// later step can be in flight while this one computes.
//   QK, BB    elements and bytes per block
//   UPB, G    the mat-vec kernel's lane units: UPB units per block, G runs of 16 per unit;
//             elem(c, g) = element of run g of unit c; unit_load / unit_decode read a unit's
//             bytes once and unpack its runs
//   DIRECT    blocks of a 16-byte aligned row are 16-byte aligned (loads straight to registers)
//   SIGNED    q are signed bytes (else 0..255)

struct ucn_q4_0 {
    static constexpr int QK = 32, BB = 18, UPB = 1, G = 2;
    static constexpr bool DIRECT = false, SIGNED = false;
    struct raw {
        uint32_t d;
        ucn_raw16 qs;
    };
    template <bool A16>
    static __device__ __forceinline__ void load(raw &r, const uint8_t *b, int e) {
        r.d = ucn_ld_u16(b);
        ucn_load16<false>(r.qs, b + 2);
    }
    static __device__ __forceinline__ void decode(const raw &r, int e, uint32_t (&q)[4], float &A, float &B) {
        const int sh = e & 16 ? 4 : 0;
#pragma unroll
        for (int i = 0; i < 4; ++i) {
            q[i] = (r.qs.get(i) >> sh) & 0x0F0F0F0Fu;
        }
        A = ucn_f16_to_f32((uint16_t)r.d);
        B = -8.0f * A;
    }
    static __device__ __forceinline__ int elem(int c, int g) { return 16 * g; }
    typedef raw unit_raw;
    template <bool A16>
    static __device__ __forceinline__ void unit_load(unit_raw &r, const uint8_t *b, int c) { load<A16>(r, b, 0); }
    static __device__ __forceinline__ void unit_decode(const unit_raw &r, int c, int g, uint32_t (&q)[4], float &A, float &B) {
        decode(r, elem(c, g), q, A, B);
    }
};

struct ucn_q5_0 {
    static constexpr int QK = 32, BB = 22, UPB = 1, G = 2;
    static constexpr bool DIRECT = false, SIGNED = false;
    struct raw {
        uint32_t d, qh;
        ucn_raw16 qs;
    };
    template <bool A16>
    static __device__ __forceinline__ void load(raw &r, const uint8_t *b, int e) {
        r.d = ucn_ld_u16(b);
        r.qh = ucn_ld_u32_a2(b + 2);
        ucn_load16<false>(r.qs, b + 6);
    }
    static __device__ __forceinline__ void decode(const raw &r, int e, uint32_t (&q)[4], float &A, float &B) {
        const int hi = e & 16; // elements 16..31: high nibbles, qh bits 16..31
#pragma unroll
        for (int i = 0; i < 4; ++i) {
            q[i] = ((r.qs.get(i) >> (hi ? 4 : 0)) & 0x0F0F0F0Fu) | ucn_spread4(r.qh >> (hi + 4 * i));
        }
        A = ucn_f16_to_f32((uint16_t)r.d);
        B = -16.0f * A;
    }
    static __device__ __forceinline__ int elem(int c, int g) { return 16 * g; }
    typedef raw unit_raw;
    template <bool A16>
    static __device__ __forceinline__ void unit_load(unit_raw &r, const uint8_t *b, int c) { load<A16>(r, b, 0); }
    static __device__ __forceinline__ void unit_decode(const unit_raw &r, int c, int g, uint32_t (&q)[4], float &A, float &B) {
        decode(r, elem(c, g), q, A, B);
    }
};

struct ucn_q8_0 {
    static constexpr int QK = 32, BB = 34, UPB = 1, G = 2;
    static constexpr bool DIRECT = false, SIGNED = true;
    struct raw {
        uint32_t d;
        ucn_raw16 qs;
    };
    template <bool A16>
    static __device__ __forceinline__ void load(raw &r, const uint8_t *b, int e) {
        r.d = ucn_ld_u16(b);
        ucn_load16<false>(r.qs, b + 2 + e);
    }
    static __device__ __forceinline__ void decode(const raw &r, int e, uint32_t (&q)[4], float &A, float &B) {
#pragma unroll
        for (int i = 0; i < 4; ++i) {
            q[i] = r.qs.get(i);
        }
        A = ucn_f16_to_f32((uint16_t)r.d);
        B = 0.0f;
    }
    static __device__ __forceinline__ int elem(int c, int g) { return 16 * g; }
    struct unit_raw {
        uint32_t d;
        ucn_raw16 qs[2];
    };
    template <bool A16>
    static __device__ __forceinline__ void unit_load(unit_raw &r, const uint8_t *b, int c) {
        r.d = ucn_ld_u16(b);
        ucn_load16<false>(r.qs[0], b + 2);
        ucn_load16<false>(r.qs[1], b + 18);
    }
    static __device__ __forceinline__ void unit_decode(const unit_raw &r, int c, int g, uint32_t (&q)[4], float &A, float &B) {
#pragma unroll
        for (int i = 0; i < 4; ++i) {
            q[i] = r.qs[g].get(i);
        }
        A = ucn_f16_to_f32((uint16_t)r.d);
        B = 0.0f;
    }
};

// 256 weights: d, dmin (f16), scales[12], qs[128]. Weights 64j + l (l < 32) are the low nibbles of
// qs[32j + l] (sub-block 2j), 64j + 32 + l the high nibbles (sub-block 2j + 1).
// Unit c = 2j + h: qs[32j + 16h .. +16] -> runs 64j + 16h and 64j + 32 + 16h.
struct ucn_q4_K {
    static constexpr int QK = 256, BB = 144, UPB = 8, G = 2;
    static constexpr bool DIRECT = true, SIGNED = false;
    struct raw {
        ucn_raw16 hdr, qs;
    };
    template <bool A16>
    static __device__ __forceinline__ void load(raw &r, const uint8_t *b, int e) {
        ucn_load16<A16>(r.hdr, b);
        ucn_load16<A16>(r.qs, b + 16 + 32 * (e >> 6) + (e & 16));
    }
    static __device__ __forceinline__ void decode(const raw &r, int e, uint32_t (&q)[4], float &A, float &B) {
        const int sb = e >> 5;
#pragma unroll
        for (int i = 0; i < 4; ++i) {
            q[i] = (r.qs.get(i) >> (4 * (sb & 1))) & 0x0F0F0F0Fu;
        }
        int sc, m;
        ucn_k4_scale_min(r.hdr.get(1), r.hdr.get(2), r.hdr.get(3), sb, sc, m);
        const uint32_t dm = r.hdr.get(0);
        A = ucn_f16_to_f32((uint16_t)dm) * (float)sc;
        B = -ucn_f16_to_f32((uint16_t)(dm >> 16)) * (float)m;
    }
    static __device__ __forceinline__ int elem(int c, int g) { return 64 * (c >> 1) + 32 * g + 16 * (c & 1); }
    typedef raw unit_raw; // both runs of a unit share the header and the 16 bytes of qs
    template <bool A16>
    static __device__ __forceinline__ void unit_load(unit_raw &r, const uint8_t *b, int c) { load<A16>(r, b, elem(c, 0)); }
    static __device__ __forceinline__ void unit_decode(const unit_raw &r, int c, int g, uint32_t (&q)[4], float &A, float &B) {
        decode(r, elem(c, g), q, A, B);
    }
};

// 256 weights: d, dmin, scales[12], qh[32], qs[128]: as Q4_K plus a fifth bit, bit (2j + hi) of
// qh[l] for the weight 64j + 32hi + l.
struct ucn_q5_K {
    static constexpr int QK = 256, BB = 176, UPB = 8, G = 2;
    static constexpr bool DIRECT = true, SIGNED = false;
    struct raw {
        ucn_raw16 hdr, qh, qs;
    };
    template <bool A16>
    static __device__ __forceinline__ void load(raw &r, const uint8_t *b, int e) {
        ucn_load16<A16>(r.hdr, b);
        ucn_load16<A16>(r.qh, b + 16 + (e & 16));
        ucn_load16<A16>(r.qs, b + 48 + 32 * (e >> 6) + (e & 16));
    }
    static __device__ __forceinline__ void decode(const raw &r, int e, uint32_t (&q)[4], float &A, float &B) {
        const int sb = e >> 5;
#pragma unroll
        for (int i = 0; i < 4; ++i) {
            q[i] = ((r.qs.get(i) >> (4 * (sb & 1))) & 0x0F0F0F0Fu) | (((r.qh.get(i) >> sb) & 0x01010101u) << 4);
        }
        int sc, m;
        ucn_k4_scale_min(r.hdr.get(1), r.hdr.get(2), r.hdr.get(3), sb, sc, m);
        const uint32_t dm = r.hdr.get(0);
        A = ucn_f16_to_f32((uint16_t)dm) * (float)sc;
        B = -ucn_f16_to_f32((uint16_t)(dm >> 16)) * (float)m;
    }
    static __device__ __forceinline__ int elem(int c, int g) { return 64 * (c >> 1) + 32 * g + 16 * (c & 1); }
    typedef raw unit_raw; // both runs of a unit share the header and the 16 bytes of qs
    template <bool A16>
    static __device__ __forceinline__ void unit_load(unit_raw &r, const uint8_t *b, int c) { load<A16>(r, b, elem(c, 0)); }
    static __device__ __forceinline__ void unit_decode(const unit_raw &r, int c, int g, uint32_t (&q)[4], float &A, float &B) {
        decode(r, elem(c, g), q, A, B);
    }
};

// 256 weights: ql[128], qh[64], scales[16] (int8), d (f16); 2-byte aligned. In half n (128
// weights), quarter Q, the weight 128n + 32Q + l (l < 32) is nibble Q >> 1 of ql[64n + 32(Q & 1) + l]
// with bits 2Q, 2Q + 1 of qh[32n + l] above, minus 32, times scales[8n + l / 16 + 2Q].
// Unit c = 2n + u: l in [16u, 16u + 16) of half n, all four quarters.
struct ucn_q6_K {
    static constexpr int QK = 256, BB = 210, UPB = 4, G = 4;
    static constexpr bool DIRECT = false, SIGNED = false;
    struct raw {
        ucn_raw16 ql, qh;
        uint32_t sc, d;
    };
    template <bool A16>
    static __device__ __forceinline__ void load(raw &r, const uint8_t *b, int e) {
        const int n = e >> 7, Q = (e >> 5) & 3, l0 = e & 16;
        ucn_load16<false>(r.ql, b + 64 * n + 32 * (Q & 1) + l0);
        ucn_load16<false>(r.qh, b + 128 + 32 * n + l0);
        r.sc = ucn_ld_u16(b + 192 + 8 * n + 2 * Q); // scales[8n + 2Q] and [8n + 2Q + 1]
        r.d = ucn_ld_u16(b + 208);
    }
    static __device__ __forceinline__ void decode(const raw &r, int e, uint32_t (&q)[4], float &A, float &B) {
        const int Q = (e >> 5) & 3, u = (e >> 4) & 1;
#pragma unroll
        for (int i = 0; i < 4; ++i) {
            q[i] = ((r.ql.get(i) >> (4 * (Q >> 1))) & 0x0F0F0F0Fu) | (((r.qh.get(i) >> (2 * Q)) & 0x03030303u) << 4);
        }
        const int sc = (int8_t)(uint8_t)(r.sc >> (8 * u));
        A = ucn_f16_to_f32((uint16_t)r.d) * (float)sc;
        B = -32.0f * A;
    }
    static __device__ __forceinline__ int elem(int c, int g) { return 128 * (c >> 1) + 32 * g + 16 * (c & 1); }
    // Unit c = 2n + u: ql[64n + 16u ..] (quarters 0, 2), ql[64n + 32 + 16u ..] (quarters 1, 3),
    // qh[32n + 16u ..], scales[8n .. 8n + 8), d.
    struct unit_raw {
        ucn_raw16 ql[2], qh;
        uint32_t sc[2], d;
    };
    template <bool A16>
    static __device__ __forceinline__ void unit_load(unit_raw &r, const uint8_t *b, int c) {
        const int n = c >> 1, u = c & 1;
        ucn_load16<false>(r.ql[0], b + 64 * n + 16 * u);
        ucn_load16<false>(r.ql[1], b + 64 * n + 32 + 16 * u);
        ucn_load16<false>(r.qh, b + 128 + 32 * n + 16 * u);
        r.sc[0] = ucn_ld_u32_a2(b + 192 + 8 * n);
        r.sc[1] = ucn_ld_u32_a2(b + 196 + 8 * n);
        r.d = ucn_ld_u16(b + 208);
    }
    static __device__ __forceinline__ void unit_decode(const unit_raw &r, int c, int g, uint32_t (&q)[4], float &A, float &B) {
        const int u = c & 1;
#pragma unroll
        for (int i = 0; i < 4; ++i) {
            q[i] = ((r.ql[g & 1].get(i) >> (4 * (g >> 1))) & 0x0F0F0F0Fu) | (((r.qh.get(i) >> (2 * g)) & 0x03030303u) << 4);
        }
        const int sc = (int8_t)(uint8_t)(r.sc[g >> 1] >> (8 * (u + 2 * (g & 1))));
        A = ucn_f16_to_f32((uint16_t)r.d) * (float)sc;
        B = -32.0f * A;
    }
};

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

// ---- the general fallback -------------------------------------------------------------------

// Weight i of a row of any supported type (scalar reads; the reference arithmetic of ggml's
// dequantize_row_*).
static __device__ float ucn_weight(uint32_t type, const uint8_t *row, size_t i) {
    switch (type) {
    case UCN_TYPE_F32: return ((const float *)row)[i];
    case UCN_TYPE_F16: return ucn_f16_to_f32(((const uint16_t *)row)[i]);
    case UCN_TYPE_BF16: return ucn_bf16_to_f32(((const uint16_t *)row)[i]);
    case UCN_TYPE_Q4_0: {
        const uint8_t *b = row + i / 32 * 18;
        const int j = (int)(i % 32);
        const int q = j < 16 ? b[2 + j] & 0xF : b[2 + j - 16] >> 4;
        return ucn_f16_to_f32(*(const uint16_t *)b) * (float)(q - 8);
    }
    case UCN_TYPE_Q5_0: {
        const uint8_t *b = row + i / 32 * 22;
        const int j = (int)(i % 32);
        const uint32_t qh = b[2] | (uint32_t)b[3] << 8 | (uint32_t)b[4] << 16 | (uint32_t)b[5] << 24;
        const int q = (j < 16 ? b[6 + j] & 0xF : b[6 + j - 16] >> 4) | (int)((qh >> j) & 1) << 4;
        return ucn_f16_to_f32(*(const uint16_t *)b) * (float)(q - 16);
    }
    case UCN_TYPE_Q8_0: {
        const uint8_t *b = row + i / 32 * 34;
        return ucn_f16_to_f32(*(const uint16_t *)b) * (float)(int8_t)b[2 + i % 32];
    }
    case UCN_TYPE_Q4_K:
    case UCN_TYPE_Q5_K: {
        const bool q5 = type == UCN_TYPE_Q5_K;
        const uint8_t *b = row + i / 256 * (q5 ? 176 : 144);
        const int e = (int)(i % 256), sb = e / 32, l = e % 32;
        const uint8_t *s = b + 4;
        int sc, m;
        if (sb < 4) {
            sc = s[sb] & 63;
            m = s[sb + 4] & 63;
        } else {
            sc = (s[sb + 4] & 0xF) | ((s[sb - 4] >> 6) << 4);
            m = (s[sb + 4] >> 4) | ((s[sb] >> 6) << 4);
        }
        const uint8_t *qs = b + (q5 ? 48 : 16) + 32 * (sb / 2);
        int q = (qs[l] >> (4 * (sb % 2))) & 0xF;
        if (q5) {
            q |= ((b[16 + l] >> sb) & 1) << 4;
        }
        return ucn_f16_to_f32(*(const uint16_t *)b) * (float)sc * (float)q - ucn_f16_to_f32(*(const uint16_t *)(b + 2)) * (float)m;
    }
    case UCN_TYPE_Q6_K: {
        const uint8_t *b = row + i / 256 * 210;
        const int e = (int)(i % 256), n = e / 128, Q = (e % 128) / 32, l = e % 32;
        const int q = ((b[64 * n + 32 * (Q & 1) + l] >> (4 * (Q >> 1))) & 0xF) | ((b[128 + 32 * n + l] >> (2 * Q)) & 3) << 4;
        const int sc = (int8_t)b[192 + 8 * n + l / 16 + 2 * Q];
        return ucn_f16_to_f32(*(const uint16_t *)(b + 208)) * (float)sc * (float)(q - 32);
    }
    default: return 0.0f;
    }
}

// Grid (ceil(ne01 / 8), ne11 * ne12 * ne13 over y and z), 256 threads: one warp per output.
UCN_KERNEL void __launch_bounds__(256) ucn_mul_mat_generic(const ucn_mul_mat_args a, const ucn_ptrs p) {
    const int lane = threadIdx.x & 31;
    const size_t m = (size_t)blockIdx.x * 8 + (threadIdx.x >> 5);
    const size_t r = blockIdx.y + (size_t)blockIdx.z * gridDim.y;
    const size_t K = a.src0.ne[0], M = a.src0.ne[1];
    const size_t ne11 = a.src1.ne[1], ne12 = a.src1.ne[2], ne13 = a.src1.ne[3];
    if (m >= M || r >= ne11 * ne12 * ne13) {
        return;
    }
    const size_t i11 = r % ne11, i12 = (r / ne11) % ne12, i13 = r / (ne11 * ne12);
    const size_t r2 = ne12 / a.src0.ne[2], r3 = ne13 / a.src0.ne[3];
    const uint8_t *w = (const uint8_t *)p.src[0] + m * a.src0.nb[1] + (i12 / r2) * a.src0.nb[2] + (i13 / r3) * a.src0.nb[3];
    const float *x = (const float *)((const char *)p.src[1] + i11 * a.src1.nb[1] + i12 * a.src1.nb[2] + i13 * a.src1.nb[3]);
    float sum = 0.0f;
    for (size_t i = lane; i < K; i += 32) {
        sum = fmaf(ucn_weight(a.weight_type, w, i), x[i], sum);
    }
    sum = ucn_warp_sum(sum);
    if (lane == 0) {
        *(float *)((char *)p.dst + m * a.dst.nb[0] + i11 * a.dst.nb[1] + i12 * a.dst.nb[2] + i13 * a.dst.nb[3]) = sum;
    }
}

// Grid (ceil(ne01 * ne11 / 256), ne12 * ne13 over y and z), 256 threads: one thread per output,
// thread t on row t % ne01 of column t / ne01 (writes to dst are contiguous when dst is).
UCN_KERNEL void __launch_bounds__(256) ucn_mul_mat_small_k(const ucn_mul_mat_args a, const ucn_ptrs p) {
    const size_t t = (size_t)blockIdx.x * 256 + threadIdx.x;
    const size_t r = blockIdx.y + (size_t)blockIdx.z * gridDim.y;
    const size_t K = a.src0.ne[0], M = a.src0.ne[1];
    const size_t ne11 = a.src1.ne[1], ne12 = a.src1.ne[2], ne13 = a.src1.ne[3];
    const size_t m = t % M, i11 = t / M;
    if (i11 >= ne11 || r >= ne12 * ne13) {
        return;
    }
    const size_t i12 = r % ne12, i13 = r / ne12;
    const size_t r2 = ne12 / a.src0.ne[2], r3 = ne13 / a.src0.ne[3];
    const uint8_t *w = (const uint8_t *)p.src[0] + m * a.src0.nb[1] + (i12 / r2) * a.src0.nb[2] + (i13 / r3) * a.src0.nb[3];
    const float *x = (const float *)((const char *)p.src[1] + i11 * a.src1.nb[1] + i12 * a.src1.nb[2] + i13 * a.src1.nb[3]);
    float sum = 0.0f;
    for (size_t i = 0; i < K; ++i) {
        sum = fmaf(ucn_weight(a.weight_type, w, i), x[i], sum);
    }
    *(float *)((char *)p.dst + m * a.dst.nb[0] + i11 * a.dst.nb[1] + i12 * a.dst.nb[2] + i13 * a.dst.nb[3]) = sum;
}

// ---- the kernels ------------------------------------------------------------------------------

// Blocks per multiprocessor the sm_90 register allocation aims at (ptxas: no spills at these);
// HIP's second __launch_bounds__ argument means something else, so gfx1103 gets the first only.
#if defined(UCN_CUDA)
#define UCN_LAUNCH_BOUNDS(threads, blocks) __launch_bounds__(threads, blocks)
#else
#define UCN_LAUNCH_BOUNDS(threads, blocks) __launch_bounds__(threads)
#endif
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
#define UCN_MMA(name, W)                                                                                  \
    UCN_KERNEL void UCN_LAUNCH_BOUNDS(256, 2) ucn_mul_mat_mma_##name(const ucn_mul_mat_args a, const ucn_ptrs p) { \
        ucn_mul_mat_mma<W, 64>(a, p);                                                                     \
    }                                                                                                     \
    UCN_KERNEL void __launch_bounds__(256) ucn_mul_mat_mma128_##name(const ucn_mul_mat_args a, const ucn_ptrs p) { \
        ucn_mul_mat_mma<W, 128>(a, p);                                                                    \
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

UCN_MMA(f32, ucn_mma_wf<UCN_TYPE_F32>)
UCN_MMA(f16, ucn_mma_wf<UCN_TYPE_F16>)
UCN_MMA(bf16, ucn_mma_wf<UCN_TYPE_BF16>)
UCN_MMA(q4_0, ucn_mma_w<ucn_q4_0>)
UCN_MMA(q5_0, ucn_mma_w<ucn_q5_0>)
UCN_MMA(q8_0, ucn_mma_w<ucn_q8_0>)
UCN_MMA(q4_K, ucn_mma_w<ucn_q4_K>)
UCN_MMA(q5_K, ucn_mma_w<ucn_q5_K>)
UCN_MMA(q6_K, ucn_mma_w<ucn_q6_K>)
