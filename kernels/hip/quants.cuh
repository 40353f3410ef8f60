// Quantized weight blocks (Q4_0, Q5_0, Q8_0, Q4_K, Q5_K, Q6_K): their byte layouts, read two ways.
// - ucn_dequant<TYPE>(row, j): one element, the reference arithmetic of ggml-base (GET_ROWS, the
//   generic and small-K MUL_MAT kernels);
// - the block structs ucn_q4_0 ... ucn_q6_K: runs of 16 weights as int8 plus a scale and an offset,
//   loaded and decoded separately (the mat-vec and matrix-core kernels, mul_mat_vec.cuh and
//   mul_mat_mma.cuh), with the bit helpers they share.
// (ggml-cuda keeps the same split: its block structs and dequantizers in common.cuh/vecdotq.cuh,
// shared by getrows.cu, mmvq.cu and mmq.cu.)
#pragma once
#include "common.cuh"

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
// How 16 weight bytes at p are read (the LD template argument of the block structs' loads):
//   UCN_LD_WORDS  p 2-byte aligned: the aligned 4-byte words that hold the bytes (never a word
//                 without one of them, so never past the data's page);
//   UCN_LD_A16    p 16-byte aligned: one 16-byte load;
//   UCN_LD_VEC2   p 2-byte aligned: the aligned 16-byte vector that holds p and, when p is not
//                 16-byte aligned, the next one (both hold bytes of [p, p + 16)): two 16-byte
//                 loads in flight instead of five 4-byte ones, no shared-memory staging.
// (A bool A16 passed as LD means UCN_LD_A16 or UCN_LD_WORDS.)
enum { UCN_LD_WORDS = 0, UCN_LD_A16 = 1, UCN_LD_VEC2 = 2 };
template <int LD>
static __device__ __forceinline__ void ucn_load16(ucn_raw16 &r, const uint8_t *p) {
    if (LD == UCN_LD_A16) {
        const uint4 t = *(const uint4 *)p;
        r.v[0] = t.x, r.v[1] = t.y, r.v[2] = t.z, r.v[3] = t.w, r.v[4] = t.w;
        r.s = 0;
    } else if (LD == UCN_LD_VEC2) {
        const uint32_t off = (uint32_t)(uintptr_t)p & 15u;
        const uint4 *q = (const uint4 *)(p - off);
        const uint4 t0 = q[0], t1 = q[off != 0 ? 1 : 0]; // an address select: both loads unconditional
        const uint32_t w[8] = {t0.x, t0.y, t0.z, t0.w, t1.x, t1.y, t1.z, t1.w};
        const uint32_t wo = off >> 2;
#pragma unroll
        for (int i = 0; i < 5; ++i) { // w[wo + i] by selects (no indexed registers, no scratch)
            const uint32_t a = wo & 1 ? w[i + 1] : w[i];
            const uint32_t b = wo & 1 ? w[ucn_min(i + 3, 7)] : w[ucn_min(i + 2, 7)];
            r.v[i] = wo & 2 ? b : a;
        }
        r.s = (off & 2u) * 8;
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
    template <int LD>
    static __device__ __forceinline__ void load(raw &r, const uint8_t *b, int e) {
        r.d = ucn_ld_u16(b);
        ucn_load16<LD == UCN_LD_VEC2 ? UCN_LD_VEC2 : UCN_LD_WORDS>(r.qs, b + 2);
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
    template <int LD>
    static __device__ __forceinline__ void unit_load(unit_raw &r, const uint8_t *b, int c) { load<LD>(r, b, 0); }
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
    template <int LD>
    static __device__ __forceinline__ void load(raw &r, const uint8_t *b, int e) {
        r.d = ucn_ld_u16(b);
        r.qh = ucn_ld_u32_a2(b + 2);
        ucn_load16<LD == UCN_LD_VEC2 ? UCN_LD_VEC2 : UCN_LD_WORDS>(r.qs, b + 6);
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
    template <int LD>
    static __device__ __forceinline__ void unit_load(unit_raw &r, const uint8_t *b, int c) { load<LD>(r, b, 0); }
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
    template <int LD>
    static __device__ __forceinline__ void load(raw &r, const uint8_t *b, int e) {
        r.d = ucn_ld_u16(b);
        ucn_load16<LD == UCN_LD_VEC2 ? UCN_LD_VEC2 : UCN_LD_WORDS>(r.qs, b + 2 + e);
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
    template <int LD>
    static __device__ __forceinline__ void unit_load(unit_raw &r, const uint8_t *b, int c) {
        r.d = ucn_ld_u16(b);
        ucn_load16<LD == UCN_LD_VEC2 ? UCN_LD_VEC2 : UCN_LD_WORDS>(r.qs[0], b + 2);
        ucn_load16<LD == UCN_LD_VEC2 ? UCN_LD_VEC2 : UCN_LD_WORDS>(r.qs[1], b + 18);
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
    template <int LD>
    static __device__ __forceinline__ void load(raw &r, const uint8_t *b, int e) {
        ucn_load16<LD>(r.hdr, b);
        ucn_load16<LD>(r.qs, b + 16 + 32 * (e >> 6) + (e & 16));
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
    template <int LD>
    static __device__ __forceinline__ void unit_load(unit_raw &r, const uint8_t *b, int c) { load<LD>(r, b, elem(c, 0)); }
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
    template <int LD>
    static __device__ __forceinline__ void load(raw &r, const uint8_t *b, int e) {
        ucn_load16<LD>(r.hdr, b);
        ucn_load16<LD>(r.qh, b + 16 + (e & 16));
        ucn_load16<LD>(r.qs, b + 48 + 32 * (e >> 6) + (e & 16));
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
    template <int LD>
    static __device__ __forceinline__ void unit_load(unit_raw &r, const uint8_t *b, int c) { load<LD>(r, b, elem(c, 0)); }
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
    template <int LD>
    static __device__ __forceinline__ void load(raw &r, const uint8_t *b, int e) {
        const int n = e >> 7, Q = (e >> 5) & 3, l0 = e & 16;
        ucn_load16<LD == UCN_LD_VEC2 ? UCN_LD_VEC2 : UCN_LD_WORDS>(r.ql, b + 64 * n + 32 * (Q & 1) + l0);
        ucn_load16<LD == UCN_LD_VEC2 ? UCN_LD_VEC2 : UCN_LD_WORDS>(r.qh, b + 128 + 32 * n + l0);
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
    template <int LD>
    static __device__ __forceinline__ void unit_load(unit_raw &r, const uint8_t *b, int c) {
        const int n = c >> 1, u = c & 1;
        ucn_load16<LD == UCN_LD_VEC2 ? UCN_LD_VEC2 : UCN_LD_WORDS>(r.ql[0], b + 64 * n + 16 * u);
        ucn_load16<LD == UCN_LD_VEC2 ? UCN_LD_VEC2 : UCN_LD_WORDS>(r.ql[1], b + 64 * n + 32 + 16 * u);
        ucn_load16<LD == UCN_LD_VEC2 ? UCN_LD_VEC2 : UCN_LD_WORDS>(r.qh, b + 128 + 32 * n + 16 * u);
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


// ---- one element, as ggml-base ----------------------------------------------------------------

// 6-bit scale (sc) and min (m) of sub-block j (0..8) of a Q4_K / Q5_K block (get_scale_min_k4).
static __device__ __forceinline__ void ucn_scale_min_k4(int j, const uint8_t *q, int &sc, int &m) {
    if (j < 4) {
        sc = q[j] & 63;
        m = q[j + 4] & 63;
    } else {
        sc = (q[j + 4] & 0xf) | ((q[j - 4] >> 6) << 4);
        m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
    }
}

static __device__ __forceinline__ float ucn_half_at(const uint8_t *b) {
    return ucn_f16_to_f32(*(const uint16_t *)b);
}

// Element j of a row of type T, as ggml-base's `to_float` (dequantize_row_*) computes it: built
// without FMA, the K-quants' products and difference rounded one by one (ucn_mul_rn, ucn_sub_rn),
// so results match ggml-cpu to the bit.
template <int T>
static __device__ __forceinline__ float ucn_dequant(const uint8_t *row, size_t j) {
    if constexpr (T == UCN_TYPE_F32) {
        return ((const float *)row)[j];
    } else if constexpr (T == UCN_TYPE_F16) {
        return ucn_f16_to_f32(((const uint16_t *)row)[j]);
    } else if constexpr (T == UCN_TYPE_BF16) {
        return ucn_bf16_to_f32(((const uint16_t *)row)[j]);
    } else if constexpr (T == UCN_TYPE_Q4_0) {
        // d (f16), qs[16]: element l < 16 in the low nibble of qs[l], l >= 16 in the high one.
        const uint8_t *b = row + (j / 32) * 18;
        const int l = (int)(j % 32);
        const int q = l < 16 ? (b[2 + l] & 0xf) : (b[2 + l - 16] >> 4);
        return (float)(q - 8) * ucn_half_at(b);
    } else if constexpr (T == UCN_TYPE_Q5_0) {
        // d (f16), qh[4] (bit l: fifth bit of element l), qs[16] as in Q4_0.
        const uint8_t *b = row + (j / 32) * 22;
        const int l = (int)(j % 32);
        const int lo = l < 16 ? (b[6 + l] & 0xf) : (b[6 + l - 16] >> 4);
        const int hi = (b[2 + l / 8] >> (l % 8)) & 1;
        return (float)((lo | (hi << 4)) - 16) * ucn_half_at(b);
    } else if constexpr (T == UCN_TYPE_Q8_0) {
        // d (f16), qs[32] (int8).
        const uint8_t *b = row + (j / 32) * 34;
        return (float)(int8_t)b[2 + j % 32] * ucn_half_at(b);
    } else if constexpr (T == UCN_TYPE_Q4_K || T == UCN_TYPE_Q5_K) {
        // d, dmin (f16), scales[12], [qh[32] (Q5_K)], qs[128]: element 32s + l of the block is
        // nibble s%2 of qs[32(s/2) + l], fifth bit s of qh[l]; value d*sc*q - dmin*m.
        constexpr bool five = T == UCN_TYPE_Q5_K;
        const uint8_t *b = row + (j / 256) * (five ? 176 : 144);
        const int e = (int)(j % 256), s = e / 32, l = e % 32;
        int sc, m;
        ucn_scale_min_k4(s, b + 4, sc, m);
        int q = (b[(five ? 48 : 16) + 32 * (s / 2) + l] >> (4 * (s % 2))) & 0xf;
        if constexpr (five) {
            q |= ((b[16 + l] >> s) & 1) << 4;
        }
        const float d1 = ucn_mul_rn(ucn_half_at(b), (float)sc);
        const float m1 = ucn_mul_rn(ucn_half_at(b + 2), (float)m);
        return ucn_sub_rn(ucn_mul_rn(d1, (float)q), m1);
    } else { // UCN_TYPE_Q6_K
        // ql[128], qh[64], scales[16] (int8), d (f16). Element 128h + 32c + l: low nibble of
        // ql[64h + 32(c%2) + l] (high nibble for c >= 2), bits 2c..2c+1 of qh[32h + l], scale
        // scales[8h + 2c + l/16]; value d * sc * q, left to right.
        const uint8_t *b = row + (j / 256) * 210;
        const int e = (int)(j % 256), h = e / 128, c = (e % 128) / 32, l = e % 32;
        const int lo = (b[64 * h + 32 * (c % 2) + l] >> (4 * (c / 2))) & 0xf;
        const int hi = (b[128 + 32 * h + l] >> (2 * c)) & 3;
        const int sc = (int8_t)b[192 + 8 * h + 2 * c + l / 16];
        return ucn_mul_rn(ucn_mul_rn(ucn_half_at(b + 208), (float)sc), (float)((lo | (hi << 4)) - 32));
    }
}
