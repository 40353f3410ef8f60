// ROPE, modes NORMAL and NEOX: rotate pairs of each row by position-dependent angles, with YaRN
// (ext_factor, attn_factor) and optional per-dimension frequency factors. src0 F32
// [ne0, n_head, n_tok, ne3] (rows contiguous, any row strides); src1 I32 positions [n_tok];
// src2 F32 frequency factors (when has_freq_factors); dst F32 dense.
//
// One thread per rotated pair or per passed-through element: a row has n_dims/2 pairs (NORMAL:
// (offs+2p, offs+2p+1); NEOX: (offs+p, offs+p+n_dims/2)) and ne0 - n_dims elements outside
// [n_offs, n_offs + n_dims) that are copied. Launched as tiles (ops::tiles) over
// (ne0 - n_dims/2) x rows: ucn_rope_f32.
//
// The angle of pair p is pos * theta_scale^p, built by p multiplications as ggml-cpu does (the
// host gives theta_scale), so the angles are ggml-cpu's to the bit.
#include "common.cuh"

// YaRN: the dimension at which n_rot rotations fit the original context (ggml_rope_yarn_corr_dim).
static __device__ __forceinline__ float ucn_rope_corr_dim(float n_dims, int32_t n_ctx_orig, float n_rot, float base) {
    return n_dims * logf((float)n_ctx_orig / (n_rot * 2.0f * 3.14159265358979323846f)) / (2.0f * logf(base));
}

UCN_KERNEL void ucn_rope_f32(const ucn_rope_args a, const ucn_ptrs p) {
    const size_t t = ucn_tile_col(), r = ucn_tile_row();
    const size_t ne0 = a.src.ne[0], ne1 = a.src.ne[1], ne2 = a.src.ne[2];
    const size_t nd = a.n_dims, half = nd / 2, offs = a.n_offs;
    if (t >= ne0 - half || r >= ne1 * ne2 * a.src.ne[3]) {
        return;
    }
    const ucn_row3 i = ucn_split_row(r, ne1, ne2);
    const float *x = (const float *)((const char *)p.src[0] + ucn_row_offset(a.src, i.i1, i.i2, i.i3));
    float *y = (float *)p.dst + r * ne0;
    if (t >= half) {
        // Outside the rotated dimensions: copied.
        const size_t e = t - half < offs ? t - half : t - half + nd;
        y[e] = x[e];
        return;
    }
    const uint32_t pi = (uint32_t)t; // the pair
    const size_t e0 = a.neox ? offs + pi : offs + 2 * (size_t)pi;
    const size_t e1 = a.neox ? e0 + half : e0 + 1;

    float theta = (float)((const int32_t *)p.src[1])[i.i2];
    for (uint32_t k = 0; k < pi; ++k) {
        theta *= a.theta_scale;
    }
    const float ff = a.has_freq_factors ? ((const float *)p.src[2])[pi] : 1.0f;
    const float extrap = theta / ff;
    const float interp = a.freq_scale * extrap;
    float angle = interp, mscale = a.attn_factor;
    if (a.ext_factor != 0.0f) {
        const float low = fmaxf(0.0f, floorf(ucn_rope_corr_dim((float)nd, a.n_ctx_orig, a.beta_fast, a.freq_base)));
        const float high = fminf((float)nd - 1.0f, ceilf(ucn_rope_corr_dim((float)nd, a.n_ctx_orig, a.beta_slow, a.freq_base)));
        const float ramp = 1.0f - fminf(1.0f, fmaxf(0.0f, ((float)pi - low) / fmaxf(0.001f, high - low)));
        const float mix = ramp * a.ext_factor;
        angle = interp * (1.0f - mix) + extrap * mix;
        mscale *= 1.0f + 0.1f * logf(1.0f / a.freq_scale);
    }
    float s, c;
    sincosf(angle, &s, &c);
    c *= mscale;
    s *= mscale;
    const float x0 = x[e0], x1 = x[e1];
    y[e0] = fmaf(x0, c, -(x1 * s));
    y[e1] = fmaf(x0, s, x1 * c);
}
