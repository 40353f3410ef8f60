// REPEAT: src tiled to dst's shape (each dst extent a multiple of src's); elements of 4 bytes
// (F32, I32) or 2 bytes (F16, BF16) moved as bits; src with any strides, dst dense. One thread
// per dst element, launched as tiles (ops::tiles) over ne0 x rows: ucn_repeat_b32,
// ucn_repeat_b16.
#include "common.cuh"

template <typename E>
static __device__ __forceinline__ void ucn_repeat(const ucn_repeat_args &a, const ucn_ptrs &p) {
    const size_t i0 = ucn_tile_col(), r = ucn_tile_row();
    const size_t ne0 = a.dst.ne[0], ne1 = a.dst.ne[1], ne2 = a.dst.ne[2];
    if (i0 >= ne0 || r >= ne1 * ne2 * a.dst.ne[3]) {
        return;
    }
    const ucn_row3 i = ucn_split_row(r, ne1, ne2);
    const size_t s0 = a.src.ne[0], s1 = a.src.ne[1], s2 = a.src.ne[2], s3 = a.src.ne[3];
    const size_t j0 = s0 == ne0 ? i0 : i0 % s0;
    const uint32_t j1 = s1 == ne1 ? i.i1 : i.i1 % (uint32_t)s1;
    const uint32_t j2 = s2 == ne2 ? i.i2 : i.i2 % (uint32_t)s2;
    const uint32_t j3 = s3 == a.dst.ne[3] ? i.i3 : i.i3 % (uint32_t)s3;
    ((E *)p.dst)[r * ne0 + i0] = *(const E *)((const char *)p.src[0] + ucn_offset(a.src, j0, j1, j2, j3));
}

UCN_KERNEL void ucn_repeat_b32(const ucn_repeat_args a, const ucn_ptrs p) { ucn_repeat<uint32_t>(a, p); }
UCN_KERNEL void ucn_repeat_b16(const ucn_repeat_args a, const ucn_ptrs p) { ucn_repeat<uint16_t>(a, p); }
