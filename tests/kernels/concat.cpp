// CONCAT (kernels/hip/concat.cu): along each dimension, F32/F16/BF16/I32, contiguous and
// transposed (strided) first source.
// kt-mirrors: ops/concat.rs: select gpu
// kt-mirrors: ops/mod.rs: tiles plain_elem_size
// kt-mirrors: ops/cpy.rs: float_elem_size
// kt-mirrors: gpu/mod.rs: rows MAX_GRID_YZ
#include "harness.h"

using Args = ucn_concat_args;
using K = void (*)(const Args, const ucn_ptrs);

static size_t plain_elem_size(ggml_type t) {
    return t == GGML_TYPE_F32 || t == GGML_TYPE_I32 ? 4 : t == GGML_TYPE_F16 || t == GGML_TYPE_BF16 ? 2 : 0;
}

// ops/concat.rs select()
static std::optional<Args> op_select(const ggml_tensor *node) {
    const ggml_tensor *a = node->src[0], *b = node->src[1];
    const size_t elem = plain_elem_size(node->type);
    const int32_t dim = kt::op_i32(node, 0);
    if (!a || !b || !elem || dim < 0 || dim >= 4 || a->type != node->type || b->type != node->type) return std::nullopt;
    for (int d = 0; d < 4; ++d) {
        const bool ok = d == dim ? node->ne[d] == a->ne[d] + b->ne[d] : a->ne[d] == node->ne[d] && b->ne[d] == node->ne[d];
        if (!ok) return std::nullopt;
    }
    if (!kt::is_dense(kt::layout(node), elem)) return std::nullopt;
    return Args{(size_t)dim, elem, kt::layout(a), kt::layout(b), kt::layout(node)};
}

// ops/concat.rs gpu()
static std::pair<K, kt::Launch> op_gpu(const Args &a) {
    return {a.elem == 4 ? ucn_concat_b32 : ucn_concat_b16, kt::tiles(a.dst.ne[0], a.dst.ne[1] * a.dst.ne[2] * a.dst.ne[3])};
}

static void concat(kt::Case &c, ggml_type t, int dim, bool transposed) {
    int64_t an[4] = {4, 3, 5, 2}, bn[4] = {4, 3, 5, 2};
    bn[dim] = 3;
    ggml_tensor *a = c.tensor(t, an[0], an[1], an[2], an[3], -100.0f, 100.0f);
    ggml_tensor *b = c.tensor(t, bn[0], bn[1], bn[2], bn[3], -100.0f, 100.0f);
    if (transposed) {
        // a of the same logical shape, strided: the transpose of a [3, 4, 5, 2] tensor
        a = ggml_transpose(c.ctx, c.tensor(t, an[1], an[0], an[2], an[3], -100.0f, 100.0f));
    }
    c.run_op<Args>("concat.rs", ggml_concat(c.ctx, a, b, dim), op_select, op_gpu);
}

KT_CASES(concat) {
    for (ggml_type t : {GGML_TYPE_F32, GGML_TYPE_F16, GGML_TYPE_BF16, GGML_TYPE_I32}) {
        for (int d = 0; d < 4; ++d) {
            cases.add(kt::fmt("%s dim=%d", ggml_type_name(t), d), [=](kt::Case &c) { concat(c, t, d, false); });
            if (t == GGML_TYPE_F32 || t == GGML_TYPE_F16) {
                cases.add(kt::fmt("%s dim=%d transposed src0", ggml_type_name(t), d), [=](kt::Case &c) { concat(c, t, d, true); });
            }
        }
    }
}
