// GET_ROWS (kernels/hip/get_rows.cu): every weight type, index broadcasting over dims 1 and 2,
// strided indices and weight rows, rows spread over grid z.
// kt-mirrors: ops/get_rows.rs: select gpu
// kt-mirrors: quants.rs: format
// kt-mirrors: ops/mod.rs: tiles
// kt-mirrors: gpu/mod.rs: rows MAX_GRID_YZ
#include "harness.h"

using Args = ucn_get_rows_args;
using K = void (*)(const Args, const ucn_ptrs);

// ops/get_rows.rs select()
static std::optional<Args> op_select(const ggml_tensor *node) {
    const ggml_tensor *w = node->src[0], *idx = node->src[1];
    if (!w || !idx || idx->type != GGML_TYPE_I32 || node->type != GGML_TYPE_F32 || !kt::rows_contiguous(w)) {
        return std::nullopt;
    }
    if (node->ne[0] != w->ne[0] || node->ne[1] != idx->ne[0] || node->ne[2] != idx->ne[1] || node->ne[3] != idx->ne[2] ||
        w->ne[2] != idx->ne[1] || w->ne[3] != idx->ne[2] || idx->ne[3] != 1) {
        return std::nullopt;
    }
    if (idx->nb[0] != 4 || !kt::is_dense(kt::layout(node), 4)) {
        return std::nullopt;
    }
    return Args{(uint32_t)w->type, kt::layout(w), kt::layout(idx)};
}

// ops/get_rows.rs gpu()
static std::pair<K, kt::Launch> op_gpu(const Args &a) {
    K k = nullptr;
    switch (a.src_type) {
    case GGML_TYPE_F32: k = ucn_get_rows_f32; break;
    case GGML_TYPE_F16: k = ucn_get_rows_f16; break;
    case GGML_TYPE_BF16: k = ucn_get_rows_bf16; break;
    case GGML_TYPE_Q4_0: k = ucn_get_rows_q4_0; break;
    case GGML_TYPE_Q5_0: k = ucn_get_rows_q5_0; break;
    case GGML_TYPE_Q8_0: k = ucn_get_rows_q8_0; break;
    case GGML_TYPE_Q4_K: k = ucn_get_rows_q4_K; break;
    case GGML_TYPE_Q5_K: k = ucn_get_rows_q5_K; break;
    case GGML_TYPE_Q6_K: k = ucn_get_rows_q6_K; break;
    }
    return {k, kt::tiles(a.src.ne[0], a.idx.ne[0] * a.idx.ne[1] * a.idx.ne[2])};
}

// w [ne0, nrows, ne11, ne12] (rows padded by `pad` blocks when pad > 0: strided rows), indices
// [ne10, ne11, ne12] (the first half of rows twice as long when idx_strided).
static void get_rows(kt::Case &c, ggml_type type, int64_t ne0, int64_t nrows, int64_t ne10, int64_t ne11, int64_t ne12,
                     int64_t pad, bool idx_strided) {
    ggml_tensor *w = c.tensor(type, ne0 + pad * ggml_blck_size(type), nrows, ne11, ne12);
    if (pad) {
        w = ggml_view_4d(c.ctx, w, ne0, nrows, ne11, ne12, w->nb[1], w->nb[2], w->nb[3], 0);
    }
    ggml_tensor *idx = ggml_new_tensor_3d(c.ctx, GGML_TYPE_I32, ne10 * (idx_strided ? 2 : 1), ne11, ne12);
    for (int64_t i = 0; i < ggml_nelements(idx); ++i) {
        ((int32_t *)idx->data)[i] = (int32_t)c.below(nrows);
    }
    if (idx_strided) {
        idx = ggml_view_3d(c.ctx, idx, ne10, ne11, ne12, idx->nb[1], idx->nb[2], 0); // rows twice as long
    }
    c.run_op<Args>("get_rows.rs", ggml_get_rows(c.ctx, w, idx), op_select, op_gpu);
}

KT_CASES(get_rows) {
    for (ggml_type t : {GGML_TYPE_F32, GGML_TYPE_F16, GGML_TYPE_BF16, GGML_TYPE_Q4_0, GGML_TYPE_Q5_0, GGML_TYPE_Q8_0,
                        GGML_TYPE_Q4_K, GGML_TYPE_Q5_K, GGML_TYPE_Q6_K}) {
        const int64_t blk = ggml_blck_size(t), ne0 = blk == 1 ? 64 : 2 * blk;
        const char *tn = ggml_type_name(t);
        cases.add(kt::fmt("%s ne0=%lld rows=10 idx [3,1,1]", tn, (long long)ne0),
                  [=](kt::Case &c) { get_rows(c, t, ne0, 10, 3, 1, 1, 0, false); });
        cases.add(kt::fmt("%s ne0=%lld rows=7 idx [4,2,3] (broadcast dims 1, 2)", tn, (long long)blk * 3),
                  [=](kt::Case &c) { get_rows(c, t, blk * 3, 7, 4, 2, 3, 0, false); });
        cases.add(kt::fmt("%s ne0=%lld rows=5 padded rows, strided idx rows [6,2,1]", tn, (long long)ne0),
                  [=](kt::Case &c) { get_rows(c, t, ne0, 5, 6, 2, 1, 1, true); });
    }
    // A vocabulary-like lookup: long rows split over grid x, many index rows over grid y and z.
    cases.add("Q6_K ne0=2048 rows=300 idx [40,1,1]", [](kt::Case &c) { get_rows(c, GGML_TYPE_Q6_K, 2048, 300, 40, 1, 1, 0, false); });
    cases.add("F32 ne0=3 rows=9 idx [100,1,1]", [](kt::Case &c) { get_rows(c, GGML_TYPE_F32, 3, 9, 100, 1, 1, 0, false); });
    cases.add("F16 ne0=1 rows=4 idx [9,2,2]", [](kt::Case &c) { get_rows(c, GGML_TYPE_F16, 1, 4, 9, 2, 2, 0, false); });
}
