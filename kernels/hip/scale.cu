// SCALE: y = x * scale + bias. One thread per element; grid (ceil(ne0 / 256), nrows).
#include "common.cuh"

UCN_KERNEL void ucn_scale_f32(const ucn_scale_args a, const ucn_ptrs p) {
    const size_t i0 = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    const size_t r = blockIdx.y + (size_t)blockIdx.z * gridDim.y;
    const size_t ne0 = a.src.ne[0], ne1 = a.src.ne[1], ne2 = a.src.ne[2];
    if (i0 >= ne0 || r >= ne1 * ne2 * a.src.ne[3]) {
        return;
    }
    const size_t i1 = r % ne1, i2 = (r / ne1) % ne2, i3 = r / (ne1 * ne2);
    const float x = ((const float *)((const char *)p.src[0] + ucn_row_offset(a.src, i1, i2, i3)))[i0];
    ((float *)p.dst)[r * ne0 + i0] = fmaf(x, a.scale, a.bias);
}
