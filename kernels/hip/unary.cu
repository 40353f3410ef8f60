// UNARY, SQR, SQRT: y = f(x) on F32 rows (any row strides), dst dense. One thread per element,
// launched as tiles (ops::tiles): ucn_unary_f32.
#include "unary.cuh"

UCN_KERNEL void ucn_unary_f32(const ucn_unary_args a, const ucn_ptrs p) {
    const size_t i0 = ucn_tile_col(), r = ucn_tile_row();
    const size_t ne0 = a.src.ne[0], ne1 = a.src.ne[1], ne2 = a.src.ne[2];
    if (i0 >= ne0 || r >= ne1 * ne2 * a.src.ne[3]) {
        return;
    }
    const ucn_row3 i = ucn_split_row(r, ne1, ne2);
    const float x = ((const float *)((const char *)p.src[0] + ucn_row_offset(a.src, i.i1, i.i2, i.i3)))[i0];
    ((float *)p.dst)[r * ne0 + i0] = ucn_unary_apply(a.op, x);
}
