// GLU: y = act(x) * g on F32 rows, dst dense [nc, rows]. Fused (one source whose rows hold
// [x | g], or [g | x] when swapped) or split (x and g in src 0 and src 1, any row strides).
// One thread per output element, launched as tiles (ops::tiles): ucn_glu_f32.
#include "unary.cuh"

UCN_KERNEL void ucn_glu_f32(const ucn_glu_args a, const ucn_ptrs p) {
    const size_t i0 = ucn_tile_col(), r = ucn_tile_row();
    const size_t nc = a.nc, ne1 = a.src0.ne[1], ne2 = a.src0.ne[2];
    if (i0 >= nc || r >= ne1 * ne2 * a.src0.ne[3]) {
        return;
    }
    const ucn_row3 i = ucn_split_row(r, ne1, ne2);
    const float *row0 = (const float *)((const char *)p.src[0] + ucn_row_offset(a.src0, i.i1, i.i2, i.i3));
    float x, g;
    if (a.has_src1) {
        x = row0[i0];
        g = ((const float *)((const char *)p.src[1] + ucn_row_offset(a.src1, i.i1, i.i2, i.i3)))[i0];
    } else if (a.swapped) {
        x = row0[nc + i0];
        g = row0[i0];
    } else {
        x = row0[i0];
        g = row0[nc + i0];
    }
    ((float *)p.dst)[r * nc + i0] = ucn_unary_apply(a.act, x) * g;
}
