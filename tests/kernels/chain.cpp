// Fused element-wise chains (kernels/hip/chain.cu): runs of nodes that engine/fuse.rs plans as
// one kernel, against ggml-cpu computing the same nodes one by one. The chain's args are built
// here the way fuse.rs builds them from the nodes' own args (the chain's input is the first
// node's source 0; each binary step's other operand gets the next ucn_ptrs slot); the launch is
// fuse.rs Chain::launch (tiles, or one block per row of ops::row_threads with RMS_NORM).
#include "harness.h"

#include <vector>

using Args = ucn_chain_args;
using K = void (*)(const Args, const ucn_ptrs);

namespace {
// Builds a chain step by step, tracking the running node and the sources.
struct Chain {
    kt::Case &c;
    Args a{};
    std::vector<const ggml_tensor *> sources;
    ggml_tensor *cur;

    Chain(kt::Case &c, ggml_tensor *x, bool rms_norm, float eps = 1e-6f) : c(c), cur(x) {
        a.src = kt::layout(x);
        sources.push_back(x);
        if (rms_norm) {
            a.rms_norm = true;
            a.eps = eps;
            cur = ggml_rms_norm(c.ctx, x, eps);
        }
    }
    void step(ucn_chain_op o) { a.ops[a.n_ops++] = o; }
    void unary(ggml_unary_op u, uint32_t op) {
        cur = ggml_unary(c.ctx, cur, u);
        step({UCN_CHAIN_UNARY, op, false, 0, {}, 0, 0});
    }
    void sqr() {
        cur = ggml_sqr(c.ctx, cur);
        step({UCN_CHAIN_UNARY, UCN_UNARY_SQR, false, 0, {}, 0, 0});
    }
    void scale(float s, float b = 0.0f) {
        cur = b == 0.0f ? ggml_scale(c.ctx, cur, s) : ggml_scale_bias(c.ctx, cur, s, b);
        step({UCN_CHAIN_SCALE, 0, false, 0, {}, s, b});
    }
    // cur = cur op other (chain_is_src1 false) or other op cur.
    void binary(ggml_op op, ggml_tensor *other, bool chain_is_src1 = false) {
        ggml_tensor *l = chain_is_src1 ? other : cur, *r = chain_is_src1 ? cur : other;
        uint32_t code = 0;
        switch (op) {
        case GGML_OP_ADD: cur = ggml_add(c.ctx, l, r); code = UCN_BINARY_ADD; break;
        case GGML_OP_SUB: cur = ggml_sub(c.ctx, l, r); code = UCN_BINARY_SUB; break;
        case GGML_OP_MUL: cur = ggml_mul(c.ctx, l, r); code = UCN_BINARY_MUL; break;
        default: cur = ggml_div(c.ctx, l, r); code = UCN_BINARY_DIV; break;
        }
        sources.push_back(other);
        step({UCN_CHAIN_BINARY, code, chain_is_src1, (uint32_t)(sources.size() - 1), kt::layout(other), 0, 0});
    }
    void run() {
        const size_t ne0 = a.src.ne[0], rows = a.src.ne[1] * a.src.ne[2] * a.src.ne[3];
        if (a.rms_norm) {
            c.run_fused<Args>(cur, sources, ucn_chain_rms_norm_f32, kt::rows(kt::row_threads(ne0), 1, rows), a);
        } else {
            c.run_fused<Args>(cur, sources, ucn_chain_f32, kt::tiles(ne0, rows), a);
        }
    }
};
} // namespace

KT_CASES(chain) {
    // Gemma's norms: RMS_NORM, MUL by the weight (one row, repeated), ADD of the residual.
    for (auto s : std::vector<std::array<int64_t, 3>>{{2048, 3, 1}, {256, 8, 2}, {100, 9, 1}, {5000, 2, 1}}) {
        cases.add(kt::fmt("rms_norm,mul,add ne0=%lld rows=%lldx%lld", (long long)s[0], (long long)s[1], (long long)s[2]),
                  [=](kt::Case &c) {
                      ggml_tensor *x = c.tensor(GGML_TYPE_F32, s[0], s[1], s[2]);
                      Chain ch(c, x, true);
                      ch.binary(GGML_OP_MUL, c.tensor(GGML_TYPE_F32, s[0]));
                      ch.binary(GGML_OP_ADD, c.tensor(GGML_TYPE_F32, s[0], s[1], s[2]));
                      ch.run();
                  });
    }
    cases.add("rms_norm,mul strided input", [](kt::Case &c) {
        ggml_tensor *big = c.tensor(GGML_TYPE_F32, 260, 6, 2);
        ggml_tensor *x = ggml_view_3d(c.ctx, big, 256, 6, 2, big->nb[1], big->nb[2], 0);
        Chain ch(c, x, true, 1e-5f);
        ch.binary(GGML_OP_MUL, c.tensor(GGML_TYPE_F32, 256));
        ch.run();
    });
    // The residual then the LAuReL scale: ADD, SCALE.
    cases.add("add,scale", [](kt::Case &c) {
        ggml_tensor *x = c.tensor(GGML_TYPE_F32, 2048, 4);
        ggml_tensor *y = c.tensor(GGML_TYPE_F32, 2048, 4);
        ggml_tensor *add = ggml_add(c.ctx, x, y);
        Chain ch(c, x, false);
        // head: the ADD itself (chain value x, other y in slot 1)
        ch.cur = add;
        ch.sources.push_back(y);
        ch.step({UCN_CHAIN_BINARY, UCN_BINARY_ADD, false, 1, kt::layout(y), 0, 0});
        ch.scale(0.70710678f);
        ch.run();
    });
    // The final logit soft-cap: SCALE, TANH, SCALE.
    cases.add("scale,tanh,scale (soft-cap)", [](kt::Case &c) {
        ggml_tensor *x = c.tensor(GGML_TYPE_F32, 3000, 2, 1, 1, -60.0f, 60.0f);
        Chain ch(c, x, false);
        ch.scale(1.0f / 30.0f);
        ch.unary(GGML_UNARY_OP_TANH, UCN_UNARY_TANH);
        ch.scale(30.0f);
        ch.run();
    });
    // The FFN: GELU of the gate, MUL with the up projection (the chain value is the right
    // operand), and the sparsity: SUB of a per-row cut-off, RELU.
    cases.add("gelu,mul (chain as src1)", [](kt::Case &c) {
        ggml_tensor *g = c.tensor(GGML_TYPE_F32, 1024, 3, 1, 1, -12.0f, 12.0f);
        Chain ch(c, g, false);
        ch.unary(GGML_UNARY_OP_GELU, UCN_UNARY_GELU);
        ch.binary(GGML_OP_MUL, c.tensor(GGML_TYPE_F32, 1024, 3), true);
        ch.run();
    });
    cases.add("sub (row cut-off),relu", [](kt::Case &c) {
        ggml_tensor *x = c.tensor(GGML_TYPE_F32, 512, 5);
        ggml_tensor *cut = c.tensor(GGML_TYPE_F32, 1, 5);
        ggml_tensor *sub = ggml_sub(c.ctx, x, cut);
        Chain ch(c, x, false);
        ch.cur = sub;
        ch.sources.push_back(cut);
        ch.step({UCN_CHAIN_BINARY, UCN_BINARY_SUB, false, 1, kt::layout(cut), 0, 0});
        ch.unary(GGML_UNARY_OP_RELU, UCN_UNARY_RELU);
        ch.run();
    });
    // Eight steps, every kind, operands in all four free slots, one of them repeated over
    // dims 1 and 2, a division, the chain on both sides.
    cases.add("8 steps, 4 operands", [](kt::Case &c) {
        ggml_tensor *x = c.tensor(GGML_TYPE_F32, 300, 4, 3, 1, 0.5f, 2.0f);
        Chain ch(c, x, true);
        ch.binary(GGML_OP_MUL, c.tensor(GGML_TYPE_F32, 300));
        ch.sqr();
        ch.binary(GGML_OP_DIV, c.tensor(GGML_TYPE_F32, 300, 4, 3, 1, 1.0f, 2.0f), true);
        ch.scale(0.5f, 0.25f);
        ch.binary(GGML_OP_SUB, c.tensor(GGML_TYPE_F32, 300, 1, 3));
        ch.unary(GGML_UNARY_OP_SILU, UCN_UNARY_SILU);
        ch.binary(GGML_OP_ADD, c.tensor(GGML_TYPE_F32, 1, 4, 1));
        ch.unary(GGML_UNARY_OP_NEG, UCN_UNARY_NEG);
        ch.run();
    });
}
