// RMS_NORM (kernels/hip/rms_norm.cu): one block per row, 32 to 1024 threads (ops::row_threads),
// contiguous and strided rows, rows over grid z.
// kt-mirrors: ops/rms_norm.rs: select gpu
// kt-mirrors: ops/mod.rs: row_threads rowwise_f32
// kt-mirrors: gpu/mod.rs: rows MAX_GRID_YZ
#include "harness.h"

using Args = ucn_rms_norm_args;
using K = void (*)(const Args, const ucn_ptrs);

// ops/rms_norm.rs select() (rowwise_f32 as in ops/mod.rs)
static std::optional<Args> op_select(const ggml_tensor *node) {
    const ggml_tensor *x = node->src[0];
    if (!x || x->type != GGML_TYPE_F32 || node->type != GGML_TYPE_F32 || x->nb[0] != 4 || !kt::same_shape(node, x) ||
        !kt::is_dense(kt::layout(node), 4)) {
        return std::nullopt;
    }
    return Args{kt::layout(x), kt::op_f32(node, 0)};
}

// ops/rms_norm.rs gpu()
static std::pair<K, kt::Launch> op_gpu(const Args &a) {
    return {ucn_rms_norm_f32, kt::rows(kt::row_threads(a.src.ne[0]), 1, a.src.ne[1] * a.src.ne[2] * a.src.ne[3])};
}

static void rms_norm(kt::Case &c, int64_t ne0, int64_t ne1, int64_t ne2, bool strided, float eps) {
    ggml_tensor *x = c.tensor(GGML_TYPE_F32, ne0 + (strided ? 5 : 0), ne1, ne2);
    if (strided) x = ggml_view_3d(c.ctx, x, ne0, ne1, ne2, x->nb[1], x->nb[2], 0);
    c.run_op<Args>("rms_norm.rs", ggml_rms_norm(c.ctx, x, eps), op_select, op_gpu);
}

KT_CASES(rms_norm) {
    const struct {
        int64_t ne0, ne1, ne2;
        bool strided;
        float eps;
    } shapes[] = {{2048, 3, 1, false, 1e-6f}, {100, 9, 2, true, 1e-5f}, {9000, 2, 1, false, 1e-6f},
                  {256, 30, 1, false, 1e-6f}, {5, 4, 1, false, 1e-6f},  {640, 3, 2, true, 1e-6f}};
    for (const auto &s : shapes) {
        cases.add(kt::fmt("ne0=%lld rows=%lldx%lld%s eps=%g (%u threads)", (long long)s.ne0, (long long)s.ne1, (long long)s.ne2,
                          s.strided ? " strided" : "", s.eps, kt::row_threads(s.ne0)),
                  [=](kt::Case &c) { rms_norm(c, s.ne0, s.ne1, s.ne2, s.strided, s.eps); });
    }
}
