// SUM_ROWS and MEAN: one value per row (the sum, or the sum / ne0). F32, rows contiguous (any
// row strides), dst dense [1, ne1, ne2, ne3]. One block per row (blockDim a multiple of 32, up
// to 1024; grid from Launch::rows): strided per-thread f32 sums, then a block tree sum.
// ucn_sum_rows_f32.
#include "common.cuh"

UCN_KERNEL void ucn_sum_rows_f32(const ucn_sum_rows_args a, const ucn_ptrs p) {
    __shared__ float scratch[32];
    const size_t r = blockIdx.y + (size_t)blockIdx.z * gridDim.y;
    const size_t ne0 = a.src.ne[0], ne1 = a.src.ne[1], ne2 = a.src.ne[2];
    if (r >= ne1 * ne2 * a.src.ne[3]) {
        return; // the whole block leaves
    }
    const ucn_row3 i = ucn_split_row(r, ne1, ne2);
    const float *x = (const float *)((const char *)p.src[0] + ucn_row_offset(a.src, i.i1, i.i2, i.i3));
    float s = 0.0f;
    for (size_t k = threadIdx.x; k < ne0; k += blockDim.x) {
        s += x[k];
    }
    s = ucn_block_sum(s, scratch);
    if (threadIdx.x == 0) {
        ((float *)p.dst)[r] = a.mean ? s / (float)ne0 : s;
    }
}
