// GLU (kernels/hip/glu.cu): REGLU, GEGLU, SWIGLU, GEGLU_ERF, GEGLU_QUICK, fused ([x | g] and
// swapped [g | x]) and split, contiguous and strided rows.
// kt-mirrors: ops/glu.rs: select gpu activation
// kt-mirrors: ops/mod.rs: tiles
// kt-mirrors: gpu/mod.rs: rows MAX_GRID_YZ
#include "harness.h"

using Args = ucn_glu_args;
using K = void (*)(const Args, const ucn_ptrs);

// ops/glu.rs select() (and activation)
static std::optional<Args> op_select(const ggml_tensor *node) {
    uint32_t act;
    switch (kt::op_i32(node, 0)) {
    case GGML_GLU_OP_REGLU: act = UCN_UNARY_RELU; break;
    case GGML_GLU_OP_GEGLU: act = UCN_UNARY_GELU; break;
    case GGML_GLU_OP_SWIGLU: act = UCN_UNARY_SILU; break;
    case GGML_GLU_OP_GEGLU_ERF: act = UCN_UNARY_GELU_ERF; break;
    case GGML_GLU_OP_GEGLU_QUICK: act = UCN_UNARY_GELU_QUICK; break;
    default: return std::nullopt;
    }
    const ggml_tensor *x = node->src[0], *g = node->src[1];
    if (!x || x->type != GGML_TYPE_F32 || node->type != GGML_TYPE_F32 || x->nb[0] != 4) return std::nullopt;
    const size_t nc = (size_t)node->ne[0];
    if (!kt::is_dense(kt::layout(node), 4) || x->ne[1] != node->ne[1] || x->ne[2] != node->ne[2] || x->ne[3] != node->ne[3]) {
        return std::nullopt;
    }
    Args a{};
    a.src0 = kt::layout(x);
    if (g) {
        if (g->type != GGML_TYPE_F32 || g->nb[0] != 4 || !kt::same_shape(g, node) || (size_t)x->ne[0] != nc) return std::nullopt;
        a.src1 = kt::layout(g);
    } else if ((size_t)x->ne[0] != 2 * nc) {
        return std::nullopt;
    }
    a.has_src1 = g != nullptr;
    a.swapped = kt::op_i32(node, 1) != 0;
    a.act = act;
    a.nc = nc;
    return a;
}

// ops/glu.rs gpu()
static std::pair<K, kt::Launch> op_gpu(const Args &a) { return {ucn_glu_f32, kt::tiles(a.nc, a.src0.ne[1] * a.src0.ne[2] * a.src0.ne[3])}; }

static void glu(kt::Case &c, ggml_glu_op op, bool split, bool swapped, int64_t nc, int64_t ne1, bool strided) {
    const int64_t pad = strided ? 3 : 0;
    ggml_tensor *out;
    if (split) {
        ggml_tensor *x = c.tensor(GGML_TYPE_F32, nc + pad, ne1, 1, 1, -4.0f, 4.0f);
        ggml_tensor *g = c.tensor(GGML_TYPE_F32, nc + pad, ne1, 1, 1, -4.0f, 4.0f);
        if (strided) {
            x = ggml_view_2d(c.ctx, x, nc, ne1, x->nb[1], 0);
            g = ggml_view_2d(c.ctx, g, nc, ne1, g->nb[1], pad * 4);
        }
        out = ggml_glu_split(c.ctx, x, g, op);
    } else {
        ggml_tensor *x = c.tensor(GGML_TYPE_F32, 2 * nc + pad, ne1, 1, 1, -4.0f, 4.0f);
        if (strided) x = ggml_view_2d(c.ctx, x, 2 * nc, ne1, x->nb[1], 0);
        out = ggml_glu(c.ctx, x, op, swapped);
    }
    c.run_op<Args>("glu.rs", out, op_select, op_gpu);
}

KT_CASES(glu) {
    const struct {
        ggml_glu_op op;
        const char *name;
    } ops[] = {{GGML_GLU_OP_REGLU, "reglu"}, {GGML_GLU_OP_GEGLU, "geglu"}, {GGML_GLU_OP_SWIGLU, "swiglu"},
               {GGML_GLU_OP_GEGLU_ERF, "geglu_erf"}, {GGML_GLU_OP_GEGLU_QUICK, "geglu_quick"}};
    for (const auto &o : ops) {
        const ggml_glu_op op = o.op;
        cases.add(kt::fmt("%s fused nc=50 ne1=3", o.name), [=](kt::Case &c) { glu(c, op, false, false, 50, 3, false); });
        cases.add(kt::fmt("%s fused swapped nc=300 ne1=2 strided rows", o.name), [=](kt::Case &c) { glu(c, op, false, true, 300, 2, true); });
        cases.add(kt::fmt("%s split nc=7 ne1=20 strided rows", o.name), [=](kt::Case &c) { glu(c, op, true, false, 7, 20, true); });
    }
}
