// CPY / CONT / DUP (kernels/hip/cpy.cu): F32, F16, BF16 to each other, from permuted,
// transposed and strided views, into a reshaped tensor and into a view of a larger one.
// kt-mirrors: ops/cpy.rs: select gpu float_elem_size
// kt-mirrors: ops/mod.rs: tiles
// kt-mirrors: gpu/mod.rs: rows MAX_GRID_YZ
#include "harness.h"

#include <string>

using Args = ucn_cpy_args;
using K = void (*)(const Args, const ucn_ptrs);

static bool float_type(ggml_type t) { return t == GGML_TYPE_F32 || t == GGML_TYPE_F16 || t == GGML_TYPE_BF16; }

// ops/cpy.rs select()
static std::optional<Args> op_select(const ggml_tensor *node) {
    const ggml_tensor *src = node->src[0];
    if (!src || !float_type(src->type) || !float_type(node->type) || ggml_nelements(src) != ggml_nelements(node)) {
        return std::nullopt;
    }
    return Args{(uint32_t)src->type, (uint32_t)node->type, kt::layout(src), kt::layout(node)};
}

// ops/cpy.rs gpu()
static std::pair<K, kt::Launch> op_gpu(const Args &a) { return {ucn_cpy, kt::tiles(a.dst.ne[0], a.dst.ne[1] * a.dst.ne[2] * a.dst.ne[3])}; }

static void cpy(kt::Case &c, ggml_type st, ggml_type dt, const std::string &how, int64_t n0) {
    ggml_tensor *s = c.tensor(st, n0, 5, 4, 3, -4.0f, 4.0f);
    ggml_tensor *src = s;
    if (how == "permuted") src = ggml_permute(c.ctx, s, 2, 0, 3, 1);
    if (how == "transposed") src = ggml_transpose(c.ctx, s);
    if (how == "strided view") src = ggml_view_3d(c.ctx, s, n0 / 2, 5, 4, s->nb[1], s->nb[2], 2 * s->nb[0]);
    ggml_tensor *d;
    if (how == "reshaped") {
        d = ggml_new_tensor_2d(c.ctx, dt, 20, n0 * 3);
    } else if (how == "into a view") {
        ggml_tensor *big = c.tensor(dt, n0 + 3, 5, 4, 3);
        d = ggml_view_4d(c.ctx, big, n0, 5, 4, 3, big->nb[1], big->nb[2], big->nb[3], 1 * big->nb[0]);
    } else if (how == "cont") {
        c.run_op<Args>("cpy.rs", ggml_cont(c.ctx, ggml_permute(c.ctx, s, 1, 2, 0, 3)), op_select, op_gpu);
        return;
    } else {
        d = ggml_new_tensor_4d(c.ctx, dt, src->ne[0], src->ne[1], src->ne[2], src->ne[3]);
    }
    c.run_op<Args>("cpy.rs", ggml_cpy(c.ctx, src, d), op_select, op_gpu);
}

KT_CASES(cpy) {
    for (ggml_type s : {GGML_TYPE_F32, GGML_TYPE_F16, GGML_TYPE_BF16}) {
        for (ggml_type d : {GGML_TYPE_F32, GGML_TYPE_F16, GGML_TYPE_BF16}) {
            for (const char *h : {"plain", "permuted", "transposed", "strided view", "reshaped", "into a view"}) {
                cases.add(kt::fmt("%s -> %s %s", ggml_type_name(s), ggml_type_name(d), h),
                          [=](kt::Case &c) { cpy(c, s, d, h, 6); });
            }
        }
        cases.add(kt::fmt("%s cont of a permuted view", ggml_type_name(s)), [=](kt::Case &c) { cpy(c, s, s, "cont", 6); });
    }
    cases.add("F32 -> F16 permuted, ne0=300 (grid x)", [](kt::Case &c) { cpy(c, GGML_TYPE_F32, GGML_TYPE_F16, "permuted", 300); });
    cases.add("F16 -> F32 reshaped, ne0=300", [](kt::Case &c) { cpy(c, GGML_TYPE_F16, GGML_TYPE_F32, "reshaped", 300); });
}
