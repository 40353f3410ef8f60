// CPY, CONT, DUP: dst element k = src element k in logical (row-major) order, converted between
// F32, F16 and BF16; any strides on both sides, shapes may differ (equal element counts). One
// thread per element, launched as tiles (ops::tiles) over dst ne0 x dst rows: ucn_cpy.
// Equal types copy the bits (NaN payloads kept).
#include "common.cuh"

// Byte offset of the element with logical index k in a tensor of shape l.ne and strides l.nb.
template <typename I>
static __device__ __forceinline__ size_t ucn_cpy_offset(const ucn_layout &l, I k) {
    const I n0 = (I)l.ne[0], n1 = (I)l.ne[1], n2 = (I)l.ne[2];
    const I k1 = k / n0, k2 = k1 / n1, k3 = k2 / n2;
    return (size_t)(k - k1 * n0) * l.nb[0] + (size_t)(k1 - k2 * n1) * l.nb[1] + (size_t)(k2 - k3 * n2) * l.nb[2] +
           (size_t)k3 * l.nb[3];
}

UCN_KERNEL void ucn_cpy(const ucn_cpy_args a, const ucn_ptrs p) {
    const size_t i0 = ucn_tile_col(), r = ucn_tile_row();
    const size_t ne0 = a.dst.ne[0], ne1 = a.dst.ne[1], ne2 = a.dst.ne[2];
    const size_t nrows = ne1 * ne2 * a.dst.ne[3];
    if (i0 >= ne0 || r >= nrows) {
        return;
    }
    const ucn_row3 i = ucn_split_row(r, ne1, ne2);
    const size_t doff = ucn_offset(a.dst, i0, i.i1, i.i2, i.i3);
    size_t soff;
    if (a.src.ne[0] == ne0 && a.src.ne[1] == ne1 && a.src.ne[2] == ne2) {
        // Same shape (the usual case: a permuted or strided view made contiguous).
        soff = ucn_offset(a.src, i0, i.i1, i.i2, i.i3);
    } else if (ne0 * nrows <= UINT32_MAX) {
        soff = ucn_cpy_offset<uint32_t>(a.src, (uint32_t)(r * ne0 + i0));
    } else {
        soff = ucn_cpy_offset<size_t>(a.src, r * ne0 + i0);
    }
    const char *s = (const char *)p.src[0] + soff;
    char *d = (char *)p.dst + doff;
    if (a.src_type == a.dst_type) {
        if (a.src_type == UCN_TYPE_F32) {
            *(uint32_t *)d = *(const uint32_t *)s;
        } else {
            *(uint16_t *)d = *(const uint16_t *)s;
        }
    } else {
        ucn_store_float(a.dst_type, d, 0, ucn_load_float(a.src_type, s, 0));
    }
}
