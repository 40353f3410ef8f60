// ADD, SUB, MUL, DIV: dst = src0 op src1, src1 repeated over src0 (index modulo src1's shape in
// every dimension). F32, rows of both sources contiguous (any row strides), dst dense with
// src0's shape. One thread per element, launched as tiles (ops::tiles): ucn_binary_f32.
#include "common.cuh"

UCN_KERNEL void ucn_binary_f32(const ucn_binary_args a, const ucn_ptrs p) {
    const size_t i0 = ucn_tile_col(), r = ucn_tile_row();
    const size_t ne0 = a.src0.ne[0], ne1 = a.src0.ne[1], ne2 = a.src0.ne[2];
    if (i0 >= ne0 || r >= ne1 * ne2 * a.src0.ne[3]) {
        return;
    }
    const ucn_row3 i = ucn_split_row(r, ne1, ne2);
    // src1's element: each index modulo src1's extent (no division where the extents match).
    const size_t m0 = a.src1.ne[0], m1 = a.src1.ne[1], m2 = a.src1.ne[2], m3 = a.src1.ne[3];
    const uint32_t j1 = m1 == ne1 ? i.i1 : i.i1 % (uint32_t)m1;
    const uint32_t j2 = m2 == ne2 ? i.i2 : i.i2 % (uint32_t)m2;
    const uint32_t j3 = m3 == a.src0.ne[3] ? i.i3 : i.i3 % (uint32_t)m3;
    const size_t j0 = m0 == ne0 ? i0 : ne0 <= UINT32_MAX ? (size_t)((uint32_t)i0 % (uint32_t)m0) : i0 % m0;
    const float x = ((const float *)((const char *)p.src[0] + ucn_row_offset(a.src0, i.i1, i.i2, i.i3)))[i0];
    const float y = ((const float *)((const char *)p.src[1] + ucn_row_offset(a.src1, j1, j2, j3)))[j0];
    float z;
    switch (a.op) {
    case UCN_BINARY_ADD: z = x + y; break;
    case UCN_BINARY_SUB: z = x - y; break;
    case UCN_BINARY_MUL: z = x * y; break;
    default: z = x / y; break;
    }
    ((float *)p.dst)[r * ne0 + i0] = z;
}
