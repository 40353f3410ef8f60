// UNARY, SQR, SQRT (kernels/hip/unary.cu): every function the Rust side maps, on contiguous
// rows and on strided rows, inputs spanning GELU's clamps (|x| >= 10).
// kt-mirrors: ops/unary.rs: select gpu from_ggml
// kt-mirrors: ops/mod.rs: tiles rowwise_f32
// kt-mirrors: gpu/mod.rs: rows MAX_GRID_YZ
#include "harness.h"

using Args = ucn_unary_args;
using K = void (*)(const Args, const ucn_ptrs);

// ops/mod.rs rowwise_f32(): src0 F32 with contiguous rows, dst dense F32 of the same shape.
static std::optional<ucn_layout> rowwise_f32(const ggml_tensor *node) {
    const ggml_tensor *x = node->src[0];
    if (!x || x->type != GGML_TYPE_F32 || node->type != GGML_TYPE_F32 || x->nb[0] != 4 || !kt::same_shape(node, x) ||
        !kt::is_dense(kt::layout(node), 4)) {
        return std::nullopt;
    }
    return kt::layout(x);
}

// ops/unary.rs select() (and from_ggml)
static std::optional<Args> op_select(const ggml_tensor *node) {
    uint32_t op;
    if (node->op == GGML_OP_SQR) op = UCN_UNARY_SQR;
    else if (node->op == GGML_OP_SQRT) op = UCN_UNARY_SQRT;
    else switch (kt::op_i32(node, 0)) {
        case GGML_UNARY_OP_GELU: op = UCN_UNARY_GELU; break;
        case GGML_UNARY_OP_GELU_ERF: op = UCN_UNARY_GELU_ERF; break;
        case GGML_UNARY_OP_GELU_QUICK: op = UCN_UNARY_GELU_QUICK; break;
        case GGML_UNARY_OP_SILU: op = UCN_UNARY_SILU; break;
        case GGML_UNARY_OP_RELU: op = UCN_UNARY_RELU; break;
        case GGML_UNARY_OP_TANH: op = UCN_UNARY_TANH; break;
        case GGML_UNARY_OP_SIGMOID: op = UCN_UNARY_SIGMOID; break;
        case GGML_UNARY_OP_NEG: op = UCN_UNARY_NEG; break;
        default: return std::nullopt;
        }
    const auto src = rowwise_f32(node);
    if (!src) return std::nullopt;
    return Args{*src, op};
}

// ops/unary.rs gpu()
static std::pair<K, kt::Launch> op_gpu(const Args &a) { return {ucn_unary_f32, kt::tiles(a.src.ne[0], a.src.ne[1] * a.src.ne[2] * a.src.ne[3])}; }

static void unary(kt::Case &c, int which, int64_t ne0, int64_t ne1, bool strided) {
    ggml_tensor *x = c.tensor(GGML_TYPE_F32, ne0 + (strided ? 3 : 0), ne1, 3, 1, -12.0f, 12.0f);
    if (strided) x = ggml_view_3d(c.ctx, x, ne0, ne1, 3, x->nb[1], x->nb[2], 0);
    ggml_tensor *out;
    switch (which) {
    case 0: out = ggml_gelu(c.ctx, x); break;
    case 1: out = ggml_gelu_erf(c.ctx, x); break;
    case 2: out = ggml_gelu_quick(c.ctx, x); break;
    case 3: out = ggml_silu(c.ctx, x); break;
    case 4: out = ggml_relu(c.ctx, x); break;
    case 5: out = ggml_tanh(c.ctx, x); break;
    case 6: out = ggml_sigmoid(c.ctx, x); break;
    case 7: out = ggml_neg(c.ctx, x); break;
    case 8: out = ggml_sqr(c.ctx, x); break;
    default: out = ggml_sqrt(c.ctx, ggml_abs(c.ctx, x)); break; // (the ABS node is input, computed by ggml)
    }
    c.run_op<Args>("unary.rs", out, op_select, op_gpu);
}

KT_CASES(unary) {
    const char *names[] = {"gelu", "gelu_erf", "gelu_quick", "silu", "relu", "tanh", "sigmoid", "neg", "sqr", "sqrt"};
    for (int w = 0; w < 10; ++w) {
        cases.add(kt::fmt("%s ne0=300 ne1=4", names[w]), [=](kt::Case &c) { unary(c, w, 300, 4, false); });
        cases.add(kt::fmt("%s ne0=3 ne1=50 strided rows", names[w]), [=](kt::Case &c) { unary(c, w, 3, 50, true); });
    }
}
