// ADD, SUB, MUL, DIV (kernels/hip/binary.cu): src1 repeated over src0 in every dimension,
// strided rows on either side, long rows over grid x and many rows over grid z.
// kt-mirrors: ops/binary.rs: select gpu
// kt-mirrors: ops/mod.rs: tiles
// kt-mirrors: gpu/mod.rs: rows MAX_GRID_YZ
#include "harness.h"

#include <array>

using Args = ucn_binary_args;
using K = void (*)(const Args, const ucn_ptrs);

// ops/binary.rs select()
static std::optional<Args> op_select(const ggml_tensor *node) {
    const ggml_tensor *x = node->src[0], *y = node->src[1];
    if (!x || !y || x->type != GGML_TYPE_F32 || y->type != GGML_TYPE_F32 || node->type != GGML_TYPE_F32 || x->nb[0] != 4 ||
        y->nb[0] != 4 || !kt::same_shape(node, x) || !kt::is_dense(kt::layout(node), 4)) {
        return std::nullopt;
    }
    for (int d = 0; d < 4; ++d) {
        if (y->ne[d] == 0 || x->ne[d] % y->ne[d] != 0) return std::nullopt;
    }
    uint32_t op;
    switch (node->op) {
    case GGML_OP_ADD: op = UCN_BINARY_ADD; break;
    case GGML_OP_SUB: op = UCN_BINARY_SUB; break;
    case GGML_OP_MUL: op = UCN_BINARY_MUL; break;
    case GGML_OP_DIV: op = UCN_BINARY_DIV; break;
    default: return std::nullopt;
    }
    return Args{op, kt::layout(x), kt::layout(y)};
}

// ops/binary.rs gpu()
static std::pair<K, kt::Launch> op_gpu(const Args &a) { return {ucn_binary_f32, kt::tiles(a.src0.ne[0], a.src0.ne[1] * a.src0.ne[2] * a.src0.ne[3])}; }

using Shape = std::array<int64_t, 4>;

// x of shape xn, y of shape yn; `strided`: both are views with padded rows.
static void binary(kt::Case &c, int op, Shape xn, Shape yn, bool strided) {
    const int64_t pad = strided ? 2 : 0;
    ggml_tensor *x = c.tensor(GGML_TYPE_F32, xn[0] + pad, xn[1], xn[2], xn[3]);
    ggml_tensor *y = c.tensor(GGML_TYPE_F32, yn[0] + pad, yn[1], yn[2], yn[3], 0.5f, 2.0f); // (no division by ~0)
    if (strided) {
        x = ggml_view_4d(c.ctx, x, xn[0], xn[1], xn[2], xn[3], x->nb[1], x->nb[2], x->nb[3], 0);
        y = ggml_view_4d(c.ctx, y, yn[0], yn[1], yn[2], yn[3], y->nb[1], y->nb[2], y->nb[3], pad * 4);
    }
    ggml_tensor *out = op == 0 ? ggml_add(c.ctx, x, y) : op == 1 ? ggml_sub(c.ctx, x, y) : op == 2 ? ggml_mul(c.ctx, x, y) : ggml_div(c.ctx, x, y);
    c.run_op<Args>("binary.rs", out, op_select, op_gpu);
}

KT_CASES(binary) {
    const char *names[] = {"add", "sub", "mul", "div"};
    const struct {
        Shape x, y;
        bool strided;
        const char *what;
    } shapes[] = {
        {{33, 4, 3, 2}, {33, 4, 3, 2}, false, "same shape"},
        {{33, 4, 3, 2}, {33, 1, 1, 1}, false, "one row over all"},
        {{32, 4, 6, 2}, {16, 2, 3, 1}, false, "repeated in every dim"},
        {{2, 300, 3, 1}, {1, 300, 1, 1}, false, "a column"},
        {{600, 3, 2, 2}, {600, 3, 1, 2}, true, "strided rows, ne0=600"},
    };
    for (int op = 0; op < 4; ++op) {
        for (const auto &s : shapes) {
            cases.add(kt::fmt("%s [%lld,%lld,%lld,%lld] by [%lld,%lld,%lld,%lld] (%s)", names[op], (long long)s.x[0], (long long)s.x[1],
                              (long long)s.x[2], (long long)s.x[3], (long long)s.y[0], (long long)s.y[1], (long long)s.y[2],
                              (long long)s.y[3], s.what),
                      [=](kt::Case &c) { binary(c, op, s.x, s.y, s.strided); });
        }
    }
}
