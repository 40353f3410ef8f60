// RMS_NORM: y = x / sqrt(mean(x^2) + eps) per row. F32, rows contiguous (any row strides), dst
// dense. One block per row (blockDim a multiple of 32, up to 1024; grid from Launch::rows):
// each thread sums the squares of a strided slice in f32, a block tree sum, then scales.
// ucn_rms_norm_f32.
#include "common.cuh"

UCN_KERNEL void ucn_rms_norm_f32(const ucn_rms_norm_args a, const ucn_ptrs p) {
    __shared__ float scratch[32];
    const size_t r = blockIdx.y + (size_t)blockIdx.z * gridDim.y;
    const size_t ne0 = a.src.ne[0], ne1 = a.src.ne[1], ne2 = a.src.ne[2];
    if (r >= ne1 * ne2 * a.src.ne[3]) {
        return; // the whole block leaves: no barrier is skipped by some threads only
    }
    const ucn_row3 i = ucn_split_row(r, ne1, ne2);
    const float *x = (const float *)((const char *)p.src[0] + ucn_row_offset(a.src, i.i1, i.i2, i.i3));
    float *y = (float *)p.dst + r * ne0;
    float s = 0.0f;
    for (size_t k = threadIdx.x; k < ne0; k += blockDim.x) {
        const float v = x[k];
        s += v * v;
    }
    s = ucn_block_sum(s, scratch);
    const float mean = s / (float)ne0;
    const float scale = 1.0f / sqrtf(mean + a.eps);
    for (size_t k = threadIdx.x; k < ne0; k += blockDim.x) {
        y[k] = x[k] * scale;
    }
}
