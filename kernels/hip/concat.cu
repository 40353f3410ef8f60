// CONCAT: dst = src0 and src1 joined along dimension `dim`; elements of 4 bytes (F32, I32) or
// 2 bytes (F16, BF16) moved as bits; sources with any strides, dst dense. One thread per dst
// element, launched as tiles (ops::tiles) over ne0 x rows: ucn_concat_b32, ucn_concat_b16.
#include "common.cuh"

template <typename E>
static __device__ __forceinline__ void ucn_concat(const ucn_concat_args &a, const ucn_ptrs &p) {
    const size_t i0 = ucn_tile_col(), r = ucn_tile_row();
    const size_t ne0 = a.dst.ne[0], ne1 = a.dst.ne[1], ne2 = a.dst.ne[2];
    if (i0 >= ne0 || r >= ne1 * ne2 * a.dst.ne[3]) {
        return;
    }
    const ucn_row3 i = ucn_split_row(r, ne1, ne2);
    // The index along dim decides the source; in src1 it is shifted down by src0's extent.
    const size_t dim = a.dim;
    const size_t split = dim == 0 ? a.src0.ne[0] : dim == 1 ? a.src0.ne[1] : dim == 2 ? a.src0.ne[2] : a.src0.ne[3];
    const size_t id = dim == 0 ? i0 : dim == 1 ? i.i1 : dim == 2 ? i.i2 : i.i3;
    const E *src;
    if (id < split) {
        src = (const E *)((const char *)p.src[0] + ucn_offset(a.src0, i0, i.i1, i.i2, i.i3));
    } else {
        const size_t j0 = dim == 0 ? i0 - split : i0, j1 = dim == 1 ? i.i1 - split : i.i1;
        const size_t j2 = dim == 2 ? i.i2 - split : i.i2, j3 = dim == 3 ? i.i3 - split : i.i3;
        src = (const E *)((const char *)p.src[1] + ucn_offset(a.src1, j0, j1, j2, j3));
    }
    ((E *)p.dst)[r * ne0 + i0] = *src;
}

UCN_KERNEL void ucn_concat_b32(const ucn_concat_args a, const ucn_ptrs p) { ucn_concat<uint32_t>(a, p); }
UCN_KERNEL void ucn_concat_b16(const ucn_concat_args a, const ucn_ptrs p) { ucn_concat<uint16_t>(a, p); }
