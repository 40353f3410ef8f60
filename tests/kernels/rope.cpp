// ROPE, modes NORMAL and NEOX (kernels/hip/rope.cu): full and partial rotation, frequency
// factors, an offset into the row (ggml_rope_set_offset), YaRN extrapolation, long positions,
// a strided source over several batches.
// kt-mirrors: ops/rope.rs: select gpu MODE_NORMAL MODE_NEOX
// kt-mirrors: ops/mod.rs: tiles
// kt-mirrors: gpu/mod.rs: rows MAX_GRID_YZ
#include "harness.h"

#include <cmath>

using Args = ucn_rope_args;
using K = void (*)(const Args, const ucn_ptrs);

// ops/rope.rs select()
static std::optional<Args> op_select(const ggml_tensor *node) {
    const ggml_tensor *x = node->src[0], *pos = node->src[1], *ff = node->src[2];
    const int32_t mode = kt::op_i32(node, 2);
    if (!x || !pos || (mode != 0 && mode != GGML_ROPE_TYPE_NEOX)) return std::nullopt;
    if (x->type != GGML_TYPE_F32 || node->type != GGML_TYPE_F32 || pos->type != GGML_TYPE_I32) return std::nullopt;
    const int32_t n_dims = kt::op_i32(node, 1), n_offs = kt::op_i32(node, 15);
    if (n_dims <= 0 || n_dims % 2 != 0 || n_offs < 0 || n_offs % 2 != 0 || n_offs + n_dims > x->ne[0]) return std::nullopt;
    if (x->nb[0] != 4 || !kt::same_shape(node, x) || !kt::is_dense(kt::layout(node), 4) || ggml_nelements(pos) < x->ne[2] ||
        !ggml_is_contiguous(pos)) {
        return std::nullopt;
    }
    if (ff && (ff->type != GGML_TYPE_F32 || ff->ne[0] < n_dims / 2 || !ggml_is_contiguous(ff))) return std::nullopt;
    Args a{};
    a.src = kt::layout(x);
    a.n_dims = (size_t)n_dims;
    a.n_offs = (size_t)n_offs;
    a.neox = mode == GGML_ROPE_TYPE_NEOX;
    a.has_freq_factors = ff != nullptr;
    a.n_ctx_orig = kt::op_i32(node, 4);
    a.freq_base = kt::op_f32(node, 5);
    a.freq_scale = kt::op_f32(node, 6);
    a.ext_factor = kt::op_f32(node, 7);
    a.attn_factor = kt::op_f32(node, 8);
    a.beta_fast = kt::op_f32(node, 9);
    a.beta_slow = kt::op_f32(node, 10);
    a.theta_scale = powf(a.freq_base, -2.0f / (float)n_dims); // Rust: freq_base.powf(-2.0 / n_dims as f32)
    return a;
}

// ops/rope.rs gpu(): one thread per rotated pair or copied element.
static std::pair<K, kt::Launch> op_gpu(const Args &a) {
    return {ucn_rope_f32, kt::tiles(a.src.ne[0] - a.n_dims / 2, a.src.ne[1] * a.src.ne[2] * a.src.ne[3])};
}

// x [ne0, 3 heads, 5 tokens, ne3], a view skipping one head (strided), positions < maxpos.
static void rope(kt::Case &c, int mode, int64_t ne0, int n_dims, int n_offs, bool ff, float ext, float fscale, int maxpos,
                 int64_t ne3) {
    const int64_t nh = 3, nt = 5;
    ggml_tensor *x0 = c.tensor(GGML_TYPE_F32, ne0, nh + 1, nt, ne3);
    ggml_tensor *x = ggml_view_4d(c.ctx, x0, ne0, nh, nt, ne3, x0->nb[1], x0->nb[2], x0->nb[3], x0->nb[1]);
    ggml_tensor *pos = ggml_new_tensor_1d(c.ctx, GGML_TYPE_I32, nt);
    for (int i = 0; i < nt; ++i) ((int32_t *)pos->data)[i] = (int32_t)c.below(maxpos);
    ggml_tensor *f = ff ? c.tensor(GGML_TYPE_F32, n_dims / 2, 1, 1, 1, 0.9f, 1.1f) : nullptr;
    ggml_tensor *out = ggml_rope_ext(c.ctx, x, pos, f, n_dims, mode, 4096, 10000.0f, fscale, ext, 1.3f, 32.0f, 1.0f);
    if (n_offs) ggml_rope_set_offset(out, n_offs);
    c.run_op<Args>("rope.rs", out, op_select, op_gpu);
}

KT_CASES(rope) {
    for (int mode : {0, (int)GGML_ROPE_TYPE_NEOX}) {
        const char *m = mode ? "neox" : "normal";
        cases.add(kt::fmt("%s ne0=128 n_dims=128", m), [=](kt::Case &c) { rope(c, mode, 128, 128, 0, false, 0.0f, 1.0f, 512, 1); });
        cases.add(kt::fmt("%s ne0=64 n_dims=32 freq factors", m), [=](kt::Case &c) { rope(c, mode, 64, 32, 0, true, 0.0f, 1.0f, 512, 1); });
        cases.add(kt::fmt("%s ne0=64 n_dims=32 offset 8", m), [=](kt::Case &c) { rope(c, mode, 64, 32, 8, false, 0.0f, 1.0f, 512, 1); });
        cases.add(kt::fmt("%s ne0=70 n_dims=32 offset 6 freq factors YaRN ext=1 scale=0.25", m),
                  [=](kt::Case &c) { rope(c, mode, 70, 32, 6, true, 1.0f, 0.25f, 512, 1); });
        cases.add(kt::fmt("%s ne0=256 n_dims=256 positions < 40000", m), [=](kt::Case &c) { rope(c, mode, 256, 256, 0, false, 0.0f, 1.0f, 40000, 1); });
        cases.add(kt::fmt("%s ne0=64 n_dims=64 ne3=2", m), [=](kt::Case &c) { rope(c, mode, 64, 64, 0, false, 0.0f, 1.0f, 512, 2); });
    }
}
