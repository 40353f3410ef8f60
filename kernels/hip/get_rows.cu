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
#include "quants.cuh"

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
    *out = ucn_dequant<T>(src, i0);
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
