// SET_ROWS (kernels/hip/set_rows.cu): F32 rows into F32/F16/BF16, I32 and I64 indices,
// indices broadcast over dims 2 and 3, strided source rows, a destination that is a view
// into a larger buffer (a KV cache slice). Rows not named by an index must keep their value.
// kt-mirrors: ops/set_rows.rs: select gpu
// kt-mirrors: ops/cpy.rs: float_elem_size
// kt-mirrors: ops/mod.rs: tiles
// kt-mirrors: gpu/mod.rs: rows MAX_GRID_YZ
#include "harness.h"

#include <algorithm>
#include <set>

using Args = ucn_set_rows_args;
using K = void (*)(const Args, const ucn_ptrs);

static std::optional<size_t> float_elem_size(ggml_type t) {
    if (t == GGML_TYPE_F32) return 4;
    if (t == GGML_TYPE_F16 || t == GGML_TYPE_BF16) return 2;
    return std::nullopt;
}

// ops/set_rows.rs select()
static std::optional<Args> op_select(const ggml_tensor *node) {
    const ggml_tensor *x = node->src[0], *idx = node->src[1];
    const auto esz = float_elem_size(node->type);
    if (!x || !idx || !esz || (idx->type != GGML_TYPE_I64 && idx->type != GGML_TYPE_I32)) {
        return std::nullopt;
    }
    if (x->type != GGML_TYPE_F32 || x->nb[0] != 4 || node->nb[0] != *esz) {
        return std::nullopt;
    }
    if (x->ne[0] != node->ne[0] || idx->ne[0] != x->ne[1] || idx->ne[1] == 0 || idx->ne[2] == 0 ||
        x->ne[2] % idx->ne[1] != 0 || x->ne[3] % idx->ne[2] != 0 || x->ne[2] != node->ne[2] || x->ne[3] != node->ne[3]) {
        return std::nullopt;
    }
    return Args{(uint32_t)node->type, idx->type == GGML_TYPE_I64, kt::layout(x), kt::layout(idx), kt::layout(node)};
}

// ops/set_rows.rs gpu()
static std::pair<K, kt::Launch> op_gpu(const Args &a) { return {ucn_set_rows_f32, kt::tiles(a.src.ne[0], a.src.ne[1] * a.src.ne[2] * a.src.ne[3])}; }

// src F32 [ne0, ne1, ne2, ne3] (rows padded when strided) into dst [ne0, n_dst, ne2, ne3]
// (a view at row `at` of a buffer of n_dst + 3 rows when in_view), indices [ne1, ine1, ine2].
static void set_rows(kt::Case &c, ggml_type dtype, bool i64, int64_t ne0, int64_t ne1, int64_t ne2, int64_t ne3, int64_t n_dst,
                     int64_t ine1, int64_t ine2, bool strided, bool in_view) {
    ggml_tensor *dst = c.tensor(dtype, ne0, n_dst + (in_view ? 3 : 0), ne2, ne3);
    if (in_view) {
        dst = ggml_view_4d(c.ctx, dst, ne0, n_dst, ne2, ne3, dst->nb[1], dst->nb[2], dst->nb[3], 2 * dst->nb[1]);
    }
    ggml_tensor *src = c.tensor(GGML_TYPE_F32, ne0 + (strided ? 5 : 0), ne1, ne2, ne3);
    if (strided) {
        src = ggml_view_4d(c.ctx, src, ne0, ne1, ne2, ne3, src->nb[1], src->nb[2], src->nb[3], 0);
    }
    ggml_tensor *idx = ggml_new_tensor_3d(c.ctx, i64 ? GGML_TYPE_I64 : GGML_TYPE_I32, ne1, ine1, ine2);
    // Distinct rows per index slice, so that no two source rows land on one destination row.
    std::vector<std::set<int64_t>> targets((size_t)(ine1 * ine2));
    for (int64_t j = 0; j < ine1 * ine2; ++j) {
        std::vector<int64_t> perm((size_t)n_dst);
        for (int64_t r = 0; r < n_dst; ++r) perm[(size_t)r] = r;
        std::shuffle(perm.begin(), perm.end(), c.rng);
        for (int64_t i = 0; i < ne1; ++i) {
            if (i64) ((int64_t *)idx->data)[j * ne1 + i] = perm[(size_t)i];
            else ((int32_t *)idx->data)[j * ne1 + i] = (int32_t)perm[(size_t)i];
            targets[(size_t)j].insert(perm[(size_t)i]);
        }
    }
    ggml_tensor *out = ggml_set_rows(c.ctx, dst, src, idx);
    // Destination row (i1, i2, i3) is written when slice (i2 % ine1, i3 % ine2) names it.
    auto written = [=](int64_t, int64_t i1, int64_t i2, int64_t i3) {
        return targets[(size_t)((i3 % ine2) * ine1 + i2 % ine1)].count(i1) != 0;
    };
    c.run_op<Args>("set_rows.rs", out, op_select, op_gpu, written);
}

KT_CASES(set_rows) {
    for (ggml_type t : {GGML_TYPE_F32, GGML_TYPE_F16, GGML_TYPE_BF16}) {
        for (bool i64 : {false, true}) {
            const char *tn = ggml_type_name(t), *in = i64 ? "I64" : "I32";
            cases.add(kt::fmt("%s %s ne0=40 5 rows into 12", tn, in),
                      [=](kt::Case &c) { set_rows(c, t, i64, 40, 5, 1, 1, 12, 1, 1, false, false); });
            cases.add(kt::fmt("%s %s ne0=7 [3 rows, 4, 2] into 6, idx [3,2,1] (broadcast)", tn, in),
                      [=](kt::Case &c) { set_rows(c, t, i64, 7, 3, 4, 2, 6, 2, 1, false, false); });
        }
        cases.add(kt::fmt("%s I64 ne0=256 4 rows x 2 heads, strided src, into a view (KV cache slice)", ggml_type_name(t)),
                  [=](kt::Case &c) { set_rows(c, t, true, 256, 4, 2, 1, 9, 1, 1, true, true); });
    }
    cases.add("F16 I64 ne0=512 64 rows into 100 (grid z)",
              [](kt::Case &c) { set_rows(c, GGML_TYPE_F16, true, 512, 64, 1, 1, 100, 1, 1, false, false); });
}
