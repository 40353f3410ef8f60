// SUM_ROWS and MEAN (kernels/hip/sum_rows.cu): one block per row, strided rows, many rows.
// kt-mirrors: ops/sum_rows.rs: select gpu
// kt-mirrors: ops/mod.rs: row_threads
// kt-mirrors: gpu/mod.rs: rows MAX_GRID_YZ
#include "harness.h"

using Args = ucn_sum_rows_args;
using K = void (*)(const Args, const ucn_ptrs);

// ops/sum_rows.rs select()
static std::optional<Args> op_select(const ggml_tensor *node) {
    const ggml_tensor *x = node->src[0];
    if (!x || x->type != GGML_TYPE_F32 || node->type != GGML_TYPE_F32 || x->nb[0] != 4 || node->ne[0] != 1 ||
        node->ne[1] != x->ne[1] || node->ne[2] != x->ne[2] || node->ne[3] != x->ne[3] || !kt::is_dense(kt::layout(node), 4)) {
        return std::nullopt;
    }
    return Args{kt::layout(x), node->op == GGML_OP_MEAN};
}

// ops/sum_rows.rs gpu()
static std::pair<K, kt::Launch> op_gpu(const Args &a) {
    return {ucn_sum_rows_f32, kt::rows(kt::row_threads(a.src.ne[0]), 1, a.src.ne[1] * a.src.ne[2] * a.src.ne[3])};
}

static void sum_rows(kt::Case &c, bool mean, int64_t ne0, int64_t ne1, int64_t ne2, bool strided) {
    ggml_tensor *x = c.tensor(GGML_TYPE_F32, ne0 + (strided ? 3 : 0), ne1, ne2);
    if (strided) x = ggml_view_3d(c.ctx, x, ne0, ne1, ne2, x->nb[1], x->nb[2], 0);
    c.run_op<Args>("sum_rows.rs", mean ? ggml_mean(c.ctx, x) : ggml_sum_rows(c.ctx, x), op_select, op_gpu);
}

KT_CASES(sum_rows) {
    for (bool mean : {false, true}) {
        const char *n = mean ? "mean" : "sum_rows";
        cases.add(kt::fmt("%s ne0=2048 rows=3x2", n), [=](kt::Case &c) { sum_rows(c, mean, 2048, 3, 2, false); });
        cases.add(kt::fmt("%s ne0=5 rows=20 strided", n), [=](kt::Case &c) { sum_rows(c, mean, 5, 20, 1, true); });
        cases.add(kt::fmt("%s ne0=9000 rows=1", n), [=](kt::Case &c) { sum_rows(c, mean, 9000, 1, 1, false); });
        cases.add(kt::fmt("%s ne0=256 rows=40", n), [=](kt::Case &c) { sum_rows(c, mean, 256, 40, 1, false); });
    }
}
