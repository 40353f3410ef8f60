// REPEAT (kernels/hip/repeat.cu): a tensor tiled to a larger shape, F32/F16/I32, including a source
// with strided rows.
// kt-mirrors: ops/repeat.rs: select gpu
// kt-mirrors: ops/mod.rs: tiles plain_elem_size
// kt-mirrors: ops/cpy.rs: float_elem_size
// kt-mirrors: gpu/mod.rs: rows MAX_GRID_YZ
#include "harness.h"

#include <array>

using Args = ucn_repeat_args;
using K = void (*)(const Args, const ucn_ptrs);

static size_t plain_elem_size(ggml_type t) {
    return t == GGML_TYPE_F32 || t == GGML_TYPE_I32 ? 4 : t == GGML_TYPE_F16 || t == GGML_TYPE_BF16 ? 2 : 0;
}

// ops/repeat.rs select()
static std::optional<Args> op_select(const ggml_tensor *node) {
    const ggml_tensor *x = node->src[0];
    const size_t elem = plain_elem_size(node->type);
    if (!x || !elem || x->type != node->type || !kt::is_dense(kt::layout(node), elem)) return std::nullopt;
    for (int d = 0; d < 4; ++d) {
        if (x->ne[d] == 0 || node->ne[d] % x->ne[d] != 0) return std::nullopt;
    }
    return Args{elem, kt::layout(x), kt::layout(node)};
}

// ops/repeat.rs gpu()
static std::pair<K, kt::Launch> op_gpu(const Args &a) {
    return {a.elem == 4 ? ucn_repeat_b32 : ucn_repeat_b16, kt::tiles(a.dst.ne[0], a.dst.ne[1] * a.dst.ne[2] * a.dst.ne[3])};
}

using Shape = std::array<int64_t, 4>;
static void repeat(kt::Case &c, ggml_type t, Shape sn, Shape dn, bool strided) {
    ggml_tensor *x = c.tensor(t, sn[0] + (strided ? 3 : 0), sn[1], sn[2], sn[3], -100.0f, 100.0f);
    if (strided) x = ggml_view_4d(c.ctx, x, sn[0], sn[1], sn[2], sn[3], x->nb[1], x->nb[2], x->nb[3], 4);
    ggml_tensor *shape = ggml_new_tensor_4d(c.ctx, t, dn[0], dn[1], dn[2], dn[3]);
    c.run_op<Args>("repeat.rs", ggml_repeat(c.ctx, x, shape), op_select, op_gpu);
}

KT_CASES(repeat) {
    const struct {
        ggml_type t;
        Shape s, d;
        bool strided;
    } shapes[] = {{GGML_TYPE_F32, {3, 1, 2, 1}, {6, 4, 2, 3}, false},
                  {GGML_TYPE_F16, {5, 2, 1, 1}, {5, 4, 3, 2}, false},
                  {GGML_TYPE_F32, {1, 1, 1, 1}, {300, 2, 1, 1}, false},
                  {GGML_TYPE_I32, {4, 3, 1, 1}, {8, 3, 2, 1}, false},
                  {GGML_TYPE_F32, {2, 3, 1, 1}, {4, 6, 2, 1}, true}};
    for (const auto &s : shapes) {
        cases.add(kt::fmt("%s [%lld,%lld,%lld,%lld] -> [%lld,%lld,%lld,%lld]%s", ggml_type_name(s.t), (long long)s.s[0], (long long)s.s[1],
                          (long long)s.s[2], (long long)s.s[3], (long long)s.d[0], (long long)s.d[1], (long long)s.d[2],
                          (long long)s.d[3], s.strided ? " strided rows" : ""),
                  [=](kt::Case &c) { repeat(c, s.t, s.s, s.d, s.strided); });
    }
}
