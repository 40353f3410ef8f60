// SET_ROWS: dst[:, idx[i01, i02 % ne11, i03 % ne12], i02, i03] = src0[:, i01, i02, i03], converted
// to dst's type (F32, F16 or BF16): how the KV cache is written. src0 F32, rows contiguous; idx
// I32 or I64 (any strides); dst rows contiguous (any row strides). Rows whose index falls outside
// [0, dst ne1) are skipped, as in the reference. One thread per source element, launched as
// tiles (ops::tiles) over ne00 x (ne01 * ne02 * ne03): ucn_set_rows_f32.
#include "common.cuh"

UCN_KERNEL void ucn_set_rows_f32(const ucn_set_rows_args a, const ucn_ptrs p) {
    const size_t i0 = ucn_tile_col(), r = ucn_tile_row();
    const size_t ne0 = a.src.ne[0], ne1 = a.src.ne[1], ne2 = a.src.ne[2];
    if (i0 >= ne0 || r >= ne1 * ne2 * a.src.ne[3]) {
        return;
    }
    const ucn_row3 i = ucn_split_row(r, ne1, ne2);
    const char *ip = (const char *)p.src[1] + i.i1 * a.idx.nb[0] + (i.i2 % (uint32_t)a.idx.ne[1]) * a.idx.nb[1] +
                     (i.i3 % (uint32_t)a.idx.ne[2]) * a.idx.nb[2];
    const int64_t row = a.idx_is_i64 ? *(const int64_t *)ip : (int64_t) * (const int32_t *)ip;
    if (row < 0 || (uint64_t)row >= (uint64_t)a.dst.ne[1]) {
        return;
    }
    const float v = ((const float *)((const char *)p.src[0] + ucn_row_offset(a.src, i.i1, i.i2, i.i3)))[i0];
    ucn_store_float(a.dst_type, (char *)p.dst + ucn_row_offset(a.dst, (size_t)row, i.i2, i.i3), i0, v);
}
