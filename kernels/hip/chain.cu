// Fused element-wise chains (args.h, ucn_chain_args): one kernel for a run of element-wise
// nodes whose intermediate results nobody else reads; engine/fuse.rs decides where they run.
// Each step computes what its own kernel computes, to the bit: unary.cuh's functions, scale's
// fmaf, and binary ops rounded one by one (never contracted into an FMA with a neighbour).
//   ucn_chain_f32           no norm: one thread per element, launched as tiles (ops::tiles)
//   ucn_chain_rms_norm_f32  RMS_NORM first: one block per row, as ucn_rms_norm_f32 (same threads,
//                           same block sum), then the steps on each normalised element
#include "unary.cuh"

// One binary op, rounded on its own (a fused chain must not let the compiler contract x * y of
// one step with + z of the next).
static __device__ __forceinline__ float ucn_chain_binary(uint32_t op, float x, float y) {
    switch (op) {
    case UCN_BINARY_ADD: return ucn_add_rn(x, y);
    case UCN_BINARY_SUB: return ucn_sub_rn(x, y);
    case UCN_BINARY_MUL: return ucn_mul_rn(x, y);
    default: return x / y;
    }
}

// The steps of the chain on element (i0, i) of the chain's shape, starting from v.
static __device__ __forceinline__ float ucn_chain_steps(const ucn_chain_args &a, const ucn_ptrs &p, float v, size_t i0,
                                                        const ucn_row3 &i) {
    const size_t ne0 = a.src.ne[0], ne1 = a.src.ne[1], ne2 = a.src.ne[2], ne3 = a.src.ne[3];
    for (uint32_t k = 0; k < a.n_ops && k < UCN_CHAIN_MAX; ++k) {
        const ucn_chain_op &o = a.ops[k];
        switch (o.kind) {
        case UCN_CHAIN_UNARY: v = ucn_unary_apply(o.op, v); break;
        case UCN_CHAIN_SCALE: v = fmaf(v, o.scale, o.bias); break;
        default: {
            // The other operand, repeated over the chain's shape (binary.cu's indexing).
            const size_t m0 = o.other.ne[0], m1 = o.other.ne[1], m2 = o.other.ne[2], m3 = o.other.ne[3];
            const uint32_t j1 = m1 == ne1 ? i.i1 : i.i1 % (uint32_t)m1;
            const uint32_t j2 = m2 == ne2 ? i.i2 : i.i2 % (uint32_t)m2;
            const uint32_t j3 = m3 == ne3 ? i.i3 : i.i3 % (uint32_t)m3;
            const size_t j0 = m0 == ne0 ? i0 : i0 % m0;
            const float w = ((const float *)((const char *)p.src[o.slot] + ucn_row_offset(o.other, j1, j2, j3)))[j0];
            v = o.chain_is_src1 ? ucn_chain_binary(o.op, w, v) : ucn_chain_binary(o.op, v, w);
            break;
        }
        }
    }
    return v;
}

UCN_KERNEL void ucn_chain_f32(const ucn_chain_args a, const ucn_ptrs p) {
    const size_t i0 = ucn_tile_col(), r = ucn_tile_row();
    const size_t ne0 = a.src.ne[0], ne1 = a.src.ne[1], ne2 = a.src.ne[2];
    if (i0 >= ne0 || r >= ne1 * ne2 * a.src.ne[3]) {
        return;
    }
    const ucn_row3 i = ucn_split_row(r, ne1, ne2);
    const float x = ((const float *)((const char *)p.src[0] + ucn_row_offset(a.src, i.i1, i.i2, i.i3)))[i0];
    ((float *)p.dst)[r * ne0 + i0] = ucn_chain_steps(a, p, x, i0, i);
}

UCN_KERNEL void ucn_chain_rms_norm_f32(const ucn_chain_args a, const ucn_ptrs p) {
    __shared__ float scratch[32];
    const size_t r = blockIdx.y + (size_t)blockIdx.z * gridDim.y;
    const size_t ne0 = a.src.ne[0], ne1 = a.src.ne[1], ne2 = a.src.ne[2];
    if (r >= ne1 * ne2 * a.src.ne[3]) {
        return; // the whole block leaves
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
        y[k] = ucn_chain_steps(a, p, ucn_mul_rn(x[k], scale), k, i);
    }
}
