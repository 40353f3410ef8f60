// GET_ROWS: dst[:, i10, i11, i12] = src0[:, idx[i10, i11, i12], i11, i12], dequantized to F32.
// idx I32 (any strides); src0 rows contiguous; dst dense. One thread per output element,
// launched as tiles (ops::tiles) over ne00 x (ne10 * ne11 * ne12). One kernel per weight type:
// ucn_get_rows_{f32,f16,bf16,q4_0,q5_0,q8_0,q4_K,q5_K,q6_K}.
//
// Values are ggml-base's `to_float` (dequantize_row_*), built without FMA: the K-quants' products
// and difference are rounded one by one (ucn_mul_rn, ucn_sub_rn), so results match to the bit.
// A negative index reads row 0, as the reference does; an index past the rows yields NaN rather
// than a read outside the tensor.
#include "common.cuh"

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

// Element j of a row of type T.
template <int T>
static __device__ __forceinline__ float ucn_get_rows_elem(const uint8_t *row, size_t j) {
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

template <int T>
static __device__ __forceinline__ void ucn_get_rows(const ucn_get_rows_args &a, const ucn_ptrs &p) {
    const size_t i0 = ucn_tile_col(), r = ucn_tile_row();
    const size_t ne0 = a.src.ne[0], ne10 = a.idx.ne[0], ne11 = a.idx.ne[1];
    if (i0 >= ne0 || r >= ne10 * ne11 * a.idx.ne[2]) {
        return;
    }
    // dst row r is index element (i10, i11, i12).
    const ucn_row3 i = ucn_split_row(r, ne10, ne11);
    const char *ip = (const char *)p.src[1] + i.i1 * a.idx.nb[0] + i.i2 * a.idx.nb[1] + i.i3 * a.idx.nb[2];
    const int32_t idx = *(const int32_t *)ip;
    const size_t row = idx < 0 ? 0 : (size_t)idx;
    float *out = (float *)p.dst + r * ne0 + i0;
    if (row >= a.src.ne[1]) {
        *out = __int_as_float(0x7fc00000);
        return;
    }
    const uint8_t *src = (const uint8_t *)p.src[0] + ucn_row_offset(a.src, row, i.i2, i.i3);
    *out = ucn_get_rows_elem<T>(src, i0);
}

#define UCN_GET_ROWS(name, T) \
    UCN_KERNEL void ucn_get_rows_##name(const ucn_get_rows_args a, const ucn_ptrs p) { ucn_get_rows<T>(a, p); }
UCN_GET_ROWS(f32, UCN_TYPE_F32)
UCN_GET_ROWS(f16, UCN_TYPE_F16)
UCN_GET_ROWS(bf16, UCN_TYPE_BF16)
UCN_GET_ROWS(q4_0, UCN_TYPE_Q4_0)
UCN_GET_ROWS(q5_0, UCN_TYPE_Q5_0)
UCN_GET_ROWS(q8_0, UCN_TYPE_Q8_0)
UCN_GET_ROWS(q4_K, UCN_TYPE_Q4_K)
UCN_GET_ROWS(q5_K, UCN_TYPE_Q5_K)
UCN_GET_ROWS(q6_K, UCN_TYPE_Q6_K)
#undef UCN_GET_ROWS
