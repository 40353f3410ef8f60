// SCALE (kernels/hip/scale.cu): y = x * s + b, with and without bias (ggml-cpu computes SCALE
// on contiguous sources only, so no strided rows here).
// kt-mirrors: ops/scale.rs: select gpu
// kt-mirrors: ops/mod.rs: rowwise_f32
// kt-mirrors: gpu/mod.rs: rows MAX_GRID_YZ
#include "harness.h"

using Args = ucn_scale_args;
using K = void (*)(const Args, const ucn_ptrs);

// ops/scale.rs select() (rowwise_f32 as in ops/mod.rs)
static std::optional<Args> op_select(const ggml_tensor *node) {
    const ggml_tensor *x = node->src[0];
    if (!x || x->type != GGML_TYPE_F32 || node->type != GGML_TYPE_F32 || x->nb[0] != 4 || !kt::same_shape(node, x) ||
        !kt::is_dense(kt::layout(node), 4)) {
        return std::nullopt;
    }
    return Args{kt::layout(x), kt::op_f32(node, 0), kt::op_f32(node, 1)};
}

// ops/scale.rs gpu(): blocks of 256 threads over each row, rows over grid y and z.
static std::pair<K, kt::Launch> op_gpu(const Args &a) {
    return {ucn_scale_f32, kt::rows(256, (a.src.ne[0] + 255) / 256, a.src.ne[1] * a.src.ne[2] * a.src.ne[3])};
}

static void scale(kt::Case &c, int64_t ne0, int64_t ne1, int64_t ne2, float s, float b) {
    ggml_tensor *x = c.tensor(GGML_TYPE_F32, ne0, ne1, ne2);
    c.run_op<Args>("scale.rs", b == 0.0f ? ggml_scale(c.ctx, x, s) : ggml_scale_bias(c.ctx, x, s, b), op_select, op_gpu);
}

KT_CASES(scale) {
    cases.add("ne0=300 ne1=5 ne2=2 s=0.125", [](kt::Case &c) { scale(c, 300, 5, 2, 0.125f, 0.0f); });
    cases.add("ne0=7 ne1=40 s=-3 b=0.5", [](kt::Case &c) { scale(c, 7, 40, 1, -3.0f, 0.5f); });
    cases.add("ne0=2048 ne1=2 s=1.7 b=-2", [](kt::Case &c) { scale(c, 2048, 2, 1, 1.7f, -2.0f); });
}
