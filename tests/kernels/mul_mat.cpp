// MUL_MAT (kernels/hip/mul_mat.cu): every weight type (F32, F16, BF16, Q4_0, Q5_0, Q8_0, Q4_K,
// Q5_K, Q6_K) through the kernel the Rust side picks: the mat-vec kernels (n = 1..8), the
// matrix-core kernels (n > 8: 128 x 64 tiles, and 128 x 128 with UNICORN_MUL_MAT=mma128) and
// the generic fallback (UNICORN_MUL_MAT=generic); odd shapes (tile edges, K tails, rows off the 16-byte
// grid), broadcasting over dims 2 and 3, non-contiguous and misaligned activations.
// kt-mirrors: ops/mul_mat.rs: select gpu gpu_prequantized gpu_vec vec_rows kernel_name choice uses_tinyblas MMA_BM VEC_MIN_BLOCKS VEC_MAX_BLOCKS SMALL_K is_float
// kt-mirrors: quants.rs: format
// kt-mirrors: gpu/mod.rs: rows MAX_GRID_YZ
#include "harness.h"

#include <string>

using Args = ucn_mul_mat_args;
using K = void (*)(const Args, const ucn_ptrs);

// quants::format(): the weight types MUL_MAT takes.
static bool weight_type(ggml_type t) {
    switch (t) {
    case GGML_TYPE_F32: case GGML_TYPE_F16: case GGML_TYPE_BF16: case GGML_TYPE_Q4_0: case GGML_TYPE_Q5_0:
    case GGML_TYPE_Q8_0: case GGML_TYPE_Q4_K: case GGML_TYPE_Q5_K: case GGML_TYPE_Q6_K: return true;
    default: return false;
    }
}

// ops/mul_mat.rs uses_tinyblas() (read by the CPU reference only).
static bool uses_tinyblas(ggml_type t, size_t k, size_t rows, size_t cols, bool src1_contiguous) {
    const bool f = t == GGML_TYPE_F32 ? src1_contiguous : t == GGML_TYPE_F16 || t == GGML_TYPE_BF16;
    return f && cols >= 2 && k > 0 && k % 8 == 0 && rows % 4 == 0;
}

// ops/mul_mat.rs select()
static std::optional<Args> op_select(const ggml_tensor *node) {
    const ggml_tensor *w = node->src[0], *x = node->src[1];
    if (!w || !x || !weight_type(w->type) || x->type != GGML_TYPE_F32 || node->type != GGML_TYPE_F32) return std::nullopt;
    if (node->op_params[1] == GGML_HINT_SRC0_IS_HADAMARD) return std::nullopt; // left to the CPU
    if (w->ne[0] != x->ne[0] || w->ne[0] % ggml_blck_size(w->type) != 0 || !kt::rows_contiguous(w) || x->nb[0] != 4) {
        return std::nullopt;
    }
    if (w->ne[2] == 0 || w->ne[3] == 0 || x->ne[2] % w->ne[2] != 0 || x->ne[3] % w->ne[3] != 0) return std::nullopt;
    if (node->ne[0] != w->ne[1] || node->ne[1] != x->ne[1] || node->ne[2] != x->ne[2] || node->ne[3] != x->ne[3] ||
        !kt::is_dense(kt::layout(node), 4)) {
        return std::nullopt;
    }
    Args a{};
    a.weight_type = (uint32_t)w->type;
    a.tinyblas = uses_tinyblas(w->type, (size_t)w->ne[0], (size_t)w->ne[1], (size_t)x->ne[1], ggml_is_contiguous(x));
    a.src0 = kt::layout(w);
    a.src1 = kt::layout(x);
    a.dst = kt::layout(node);
    return a;
}

// ops/mul_mat.rs kernel_name(): [vec nc=1, 2, 4, 8, mma, mma128] per type.
static K kernel(uint32_t type, const char *kind, size_t nc) {
    const struct {
        K k[6];
    } table[] = {
#define KT_MM_ROW(T)                                                                                                     \
    {{ucn_mul_mat_vec_##T##_1, ucn_mul_mat_vec_##T##_2, ucn_mul_mat_vec_##T##_4, ucn_mul_mat_vec_##T##_8, ucn_mul_mat_mma_##T, \
      ucn_mul_mat_mma128_##T}},
        KT_MM_TYPES(KT_MM_ROW)
#undef KT_MM_ROW
    };
    // (the rows above are in KT_MM_TYPES order)
    const ggml_type order[] = {GGML_TYPE_F32, GGML_TYPE_F16, GGML_TYPE_BF16, GGML_TYPE_Q4_0, GGML_TYPE_Q5_0,
                               GGML_TYPE_Q8_0, GGML_TYPE_Q4_K, GGML_TYPE_Q5_K, GGML_TYPE_Q6_K};
    for (size_t i = 0; i < sizeof order / sizeof order[0]; ++i) {
        if ((uint32_t)order[i] != type) continue;
        if (std::string(kind) == "mma") return table[i].k[4];
        if (std::string(kind) == "mma128") return table[i].k[5];
        switch (nc) {
        case 1: return table[i].k[0];
        case 2: return table[i].k[1];
        case 4: return table[i].k[2];
        case 8: return table[i].k[3];
        }
    }
    return nullptr;
}

// ops/mul_mat.rs kernel_name(ty, "vecq", nc): the mat-vec on a pre-quantized x (quantized types).
static K kernel_vecq(uint32_t type, size_t nc) {
    const struct {
        ggml_type t;
        K k[4];
    } table[] = {
#define KT_MMQ_ROW(T, G) {G, {ucn_mul_mat_vecq_##T##_1, ucn_mul_mat_vecq_##T##_2, ucn_mul_mat_vecq_##T##_4, ucn_mul_mat_vecq_##T##_8}},
        KT_MMQ_ROW(q4_0, GGML_TYPE_Q4_0) KT_MMQ_ROW(q5_0, GGML_TYPE_Q5_0) KT_MMQ_ROW(q8_0, GGML_TYPE_Q8_0)
        KT_MMQ_ROW(q4_K, GGML_TYPE_Q4_K) KT_MMQ_ROW(q5_K, GGML_TYPE_Q5_K) KT_MMQ_ROW(q6_K, GGML_TYPE_Q6_K)
#undef KT_MMQ_ROW
    };
    for (const auto &r : table) {
        if ((uint32_t)r.t != type) continue;
        switch (nc) {
        case 1: return r.k[0];
        case 2: return r.k[1];
        case 4: return r.k[2];
        case 8: return r.k[3];
        }
    }
    return nullptr;
}

// ops/mul_mat.rs: MMA_BM, vec_rows(); gpu::MAX_GRID_YZ (the real limit: it decides between the
// matrix-core and the generic kernel).
constexpr size_t MMA_BM = 128, RUST_MAX_GRID_YZ = 65535;
static bool is_float(uint32_t ty);
static size_t vec_rows(uint32_t ty, size_t nc) {
    if (is_float(ty)) return nc == 1 ? 2 : 4;
    return nc == 1 && ty != GGML_TYPE_Q6_K ? 2 : 1;
}
static size_t next_pow2(size_t n) {
    size_t p = 1;
    while (p < n) p <<= 1;
    return p;
}

// ops/mul_mat.rs SMALL_K, is_float()
constexpr size_t SMALL_K = 32;
static bool is_float(uint32_t ty) { return ty == GGML_TYPE_F32 || ty == GGML_TYPE_F16 || ty == GGML_TYPE_BF16; }

// ops/mul_mat.rs VEC_MIN_BLOCKS, VEC_MAX_BLOCKS, gpu_vec()
constexpr size_t VEC_MIN_BLOCKS = 256, VEC_MAX_BLOCKS = 1024;
static std::optional<std::pair<K, kt::Launch>> gpu_vec(uint32_t ty, size_t k, size_t m, size_t n, size_t batch, bool xg) {
    const size_t nc = next_pow2(std::max<size_t>(n, 1));
    const K name = xg ? kernel_vecq(ty, nc) : kernel(ty, "vec", nc);
    if (!name) return std::nullopt;
    const bool flt = is_float(ty);
    const size_t step = flt ? 256 : ty == GGML_TYPE_Q6_K ? 32 * 64 : 32 * 32;
    const size_t steps = (k + step - 1) / step, rows = vec_rows(ty, nc);
    auto groups = [&](size_t ks) { return std::max<size_t>((m + 8 / ks * rows - 1) / (8 / ks * rows), 1); };
    size_t ks = 1, blocks;
    if (flt || xg) {
        while (ks < 8 && groups(ks) * batch < 1024 && steps >= 4 * ks) ks *= 2;
        blocks = groups(ks);
    } else {
        while (ks < 8 && groups(ks) * batch < VEC_MIN_BLOCKS && steps >= 4 * ks) ks *= 2;
        blocks = ks == 1 ? std::min(groups(1), VEC_MAX_BLOCKS / nc) : groups(ks); // ks = 1: blocks loop over groups
    }
    const size_t y = std::clamp<size_t>(batch, 1, RUST_MAX_GRID_YZ), z = (std::max<size_t>(batch, 1) + y - 1) / y;
    if (z > RUST_MAX_GRID_YZ) return std::nullopt;
    return std::make_pair(name, kt::Launch{dim3((unsigned)blocks, (unsigned)y, (unsigned)z), dim3(32, (unsigned)ks, (unsigned)(8 / ks))});
}

// ops/mul_mat.rs choice(): UNICORN_MUL_MAT (the Rust side reads it once; a case sets it here).
enum class Choice { Default, Generic, Mma128 };
static Choice g_choice = Choice::Default;

// ops/mul_mat.rs gpu()
static std::pair<K, kt::Launch> op_gpu(const Args &a) {
    const size_t k = a.src0.ne[0], m = a.src0.ne[1], n = a.src1.ne[1], batch = a.src1.ne[2] * a.src1.ne[3];
    if (g_choice != Choice::Generic) {
        if (k <= SMALL_K && is_float(a.weight_type)) return {ucn_mul_mat_small_k, kt::rows(256, std::max<size_t>((m * n + 255) / 256, 1), batch)};
        if (n <= 8) {
            if (auto l = gpu_vec(a.weight_type, k, m, n, batch, false)) return *l;
        } else {
            const bool big = g_choice == Choice::Mma128 && n > 64;
            const size_t bn = big ? 128 : 64;
            const size_t tiles_m = std::max<size_t>((m + MMA_BM - 1) / MMA_BM, 1);
            if (K name = kernel(a.weight_type, big ? "mma128" : "mma", 0)) {
                if (tiles_m <= RUST_MAX_GRID_YZ && std::max<size_t>(batch, 1) <= RUST_MAX_GRID_YZ) {
                    return {name, kt::Launch{dim3((unsigned)((n + bn - 1) / bn), (unsigned)tiles_m, (unsigned)std::max<size_t>(batch, 1)),
                                             dim3(256, 1, 1)}};
                }
            }
        }
    }
    return {ucn_mul_mat_generic, kt::rows(256, std::max<size_t>((m + 7) / 8, 1), n * batch)};
}

// ops/mul_mat.rs gpu_prequantized(): (quantize launch, product kernel and launch, buffer bytes).
struct Prequantized {
    kt::Launch quantize;
    K product;
    kt::Launch product_launch;
    size_t scratch_bytes;
};
static std::optional<Prequantized> gpu_prequantized(const Args &a) {
    const size_t k = a.src0.ne[0], m = a.src0.ne[1], n = a.src1.ne[1], batch = a.src1.ne[2] * a.src1.ne[3];
    if (g_choice == Choice::Generic || is_float(a.weight_type) || n == 0 || n > 8 || k == 0 || k % 32 != 0) return std::nullopt;
    const size_t groups = n * batch * (k / 16);
    const kt::Launch q = kt::rows(256, (groups + 255) / 256, 1);
    const auto l = gpu_vec(a.weight_type, k, m, n, batch, true);
    if (!l) return std::nullopt;
    return Prequantized{q, l->first, l->second, groups * 24};
}

struct Mm {
    ggml_type t = GGML_TYPE_F32;
    int64_t k = 256, m = 64, n = 1;
    int64_t w2 = 1, w3 = 1, x2 = 1, x3 = 1; // batch dims of the weight and of x (broadcast: x2 % w2 == 0)
    int x_layout = 0;                       // 0 dense, 1 padded rows, 2 permuted (rows over dim 2), 3 misaligned (one float in)
    Choice choice = Choice::Default;
    bool prequant = false; // the two-launch product of gpu_prequantized()
};

// gpu_prequantized()'s product needs the quantize kernel's buffer in src[2]: the case runs the
// quantize kernel on the emulated GPU first (x from the node's source), then the product through
// Case::run with this wrapper, which adds the buffer to the pointers the harness gives.
static uint8_t *g_xq = nullptr;
static K g_product = nullptr;
static void kt_prequantized_product(const Args a, const ucn_ptrs p) {
    ucn_ptrs q = p;
    q.src[2] = g_xq;
    g_product(a, q);
}
struct QuantizeCall {
    Args a;
    ucn_ptrs p;
};
static void kt_quantize_body(void *c) {
    const QuantizeCall *q = (const QuantizeCall *)c;
    ucn_mul_mat_quantize_x(q->a, q->p);
}

static void run_prequantized(kt::Case &c, ggml_tensor *node) {
    const std::optional<Args> a = op_select(node);
    if (!a) return c.fail("harness: ops/mul_mat.rs select() would not claim this node");
    const std::optional<Prequantized> pq = gpu_prequantized(*a);
    if (!pq || !pq->product) return c.fail("harness: ops/mul_mat.rs gpu_prequantized() has no plan for this node");
    // The buffer, 64 poisoned bytes after it (the quantize kernel must stay inside).
    constexpr size_t TAIL = 64;
    std::vector<uint8_t> buf(pq->scratch_bytes + TAIL + 16, 0xA5);
    uint8_t *xq = (uint8_t *)(((uintptr_t)buf.data() + 15) & ~(uintptr_t)15);
    QuantizeCall q{*a, {}};
    q.p.src[0] = node->src[0]->data;
    q.p.src[1] = node->src[1]->data;
    q.p.dst = xq;
    const std::string err = ucn_emu::launch(pq->quantize.grid, pq->quantize.block, kt_quantize_body, &q, false);
    if (!err.empty()) return c.fail("ucn_mul_mat_quantize_x: " + err);
    for (size_t i = 0; i < TAIL; ++i) {
        if (xq[pq->scratch_bytes + i] != 0xA5) return c.fail("ucn_mul_mat_quantize_x wrote past its buffer");
    }
    g_xq = xq;
    g_product = pq->product;
    c.run(node, kt_prequantized_product, pq->product_launch, *a);
    g_xq = nullptr;
}

static void mul_mat(kt::Case &c, const Mm &p) {
    ggml_tensor *w = c.tensor(p.t, p.k, p.m, p.w2, p.w3);
    ggml_tensor *x;
    switch (p.x_layout) {
    case 1: { // rows padded by 4 floats (16-byte aligned)
        ggml_tensor *b = c.tensor(GGML_TYPE_F32, p.k + 4, p.n, p.x2, p.x3);
        x = ggml_view_4d(c.ctx, b, p.k, p.n, p.x2, p.x3, b->nb[1], b->nb[2], b->nb[3], 0);
        break;
    }
    case 2: { // [k, x2, n, x3] permuted to [k, n, x2, x3]: rows strided, batches interleaved
        ggml_tensor *b = c.tensor(GGML_TYPE_F32, p.k, p.x2, p.n, p.x3);
        x = ggml_permute(c.ctx, b, 0, 2, 1, 3);
        break;
    }
    case 3: { // one float in: rows not 16-byte aligned
        ggml_tensor *b = c.tensor(GGML_TYPE_F32, p.k * p.n * p.x2 * p.x3 + 1, 1, 1, 1);
        x = ggml_view_4d(c.ctx, b, p.k, p.n, p.x2, p.x3, p.k * 4, p.k * p.n * 4, p.k * p.n * p.x2 * 4, 4);
        break;
    }
    default: x = c.tensor(GGML_TYPE_F32, p.k, p.n, p.x2, p.x3);
    }
    g_choice = p.choice;
    if (p.prequant) {
        run_prequantized(c, ggml_mul_mat(c.ctx, w, x));
    } else {
        c.run_op<Args>("mul_mat.rs", ggml_mul_mat(c.ctx, w, x), op_select, op_gpu);
    }
}

static std::string describe(const Mm &p) {
    std::string s = kt::fmt("%s k=%lld m=%lld n=%lld", ggml_type_name(p.t), (long long)p.k, (long long)p.m, (long long)p.n);
    if (p.x2 * p.x3 > 1) s += kt::fmt(" batch w[%lld,%lld] x[%lld,%lld]", (long long)p.w2, (long long)p.w3, (long long)p.x2, (long long)p.x3);
    const char *lay[] = {"", " x padded rows", " x permuted", " x misaligned"};
    s += lay[p.x_layout];
    Args a{};
    a.weight_type = (uint32_t)p.t;
    a.src0.ne[0] = (size_t)p.k, a.src0.ne[1] = (size_t)p.m, a.src1.ne[1] = (size_t)p.n;
    a.src1.ne[2] = (size_t)p.x2, a.src1.ne[3] = (size_t)p.x3;
    g_choice = p.choice;
    if (p.prequant) {
        a.src0.nb[1] = 1; // (only the shape matters to the launch)
        const auto pq = gpu_prequantized(a);
        g_choice = Choice::Default;
        if (!pq) return s + " [no prequantized plan]";
        const kt::Launch &l = pq->product_launch;
        return s + kt::fmt(" [vecq: quantize grid %u, product grid %ux%ux%u, block %ux%ux%u]", pq->quantize.grid.x, l.grid.x,
                           l.grid.y, l.grid.z, l.block.x, l.block.y, l.block.z);
    }
    const auto [k, l] = op_gpu(a);
    const char *kind = k == ucn_mul_mat_generic ? "generic" : k == ucn_mul_mat_small_k ? "small_k" : k == kernel(a.weight_type, "mma128", 0) ? "mma128" : l.block.x == 256 ? "mma" : "vec";
    const char *env = p.choice == Choice::Generic ? " UNICORN_MUL_MAT=generic" : p.choice == Choice::Mma128 ? " UNICORN_MUL_MAT=mma128" : "";
    s += kt::fmt(" [%s%s, grid %ux%ux%u, block %ux%ux%u]", kind, env, l.grid.x, l.grid.y, l.grid.z, l.block.x, l.block.y, l.block.z);
    g_choice = Choice::Default;
    return s;
}

KT_CASES(mul_mat) {
    const ggml_type types[] = {GGML_TYPE_F32, GGML_TYPE_F16, GGML_TYPE_BF16, GGML_TYPE_Q4_0, GGML_TYPE_Q5_0,
                               GGML_TYPE_Q8_0, GGML_TYPE_Q4_K, GGML_TYPE_Q5_K, GGML_TYPE_Q6_K};
    std::vector<Mm> all;
    for (ggml_type t : types) {
        const int64_t blk = ggml_blck_size(t);
        const bool kq = blk == 256;
        Mm p;
        p.t = t;
        // decode and small batches: n = 1..8 (nc 1, 2, 4, 8), K over several warp steps
        p.k = kq ? 2048 : 1024, p.m = 37;
        for (int64_t n : {1, 2, 3, 5, 8}) {
            p.n = n;
            all.push_back(p);
        }
        // long rows: K split over 8 (32 warp steps) and over 4 warps (8 steps)
        const int64_t step = blk == 1 ? 256 : t == GGML_TYPE_Q6_K ? 2048 : 1024;
        p.k = 32 * step, p.m = 40, p.n = 1; // (40 rows: an NMSE over 5 rows swings with ggml-cpu's own Q8_K rounding)
        all.push_back(p);
        p.k = 8 * step, p.n = 5;
        all.push_back(p);
        // a K tail: not a whole warp step, odd rows (quantized rows off the 16-byte grid)
        p.k = kq ? 768 : blk == 1 ? 300 : 96, p.m = 13, p.n = 1;
        all.push_back(p);
        p.n = 4, p.x_layout = 3;
        all.push_back(p);
        p.x_layout = 0;
        // broadcast over dims 2 and 3, strided activations
        p.k = kq ? 512 : 256, p.m = 19, p.n = 2, p.w2 = 2, p.w3 = 1, p.x2 = 4, p.x3 = 2, p.x_layout = 2;
        all.push_back(p);
        p.w2 = p.w3 = p.x2 = p.x3 = 1, p.x_layout = 0;
        // prefill on the matrix cores: 512 columns, M over several 128-row tiles
        p.k = kq ? 256 : 128, p.m = 256, p.n = 512;
        all.push_back(p);
        // tile edges (m = 129, n = 65), K tail, misaligned x
        p.k = kq ? 256 : blk == 1 ? 80 : 96, p.m = 129, p.n = 65, p.x_layout = 3;
        all.push_back(p);
        // just above the mat-vec range, broadcast, padded rows
        p.k = kq ? 256 : 128, p.m = 40, p.n = 9, p.w2 = 1, p.w3 = 2, p.x2 = 3, p.x3 = 2, p.x_layout = 1;
        all.push_back(p);
        p.w2 = p.w3 = p.x2 = p.x3 = 1, p.x_layout = 0;
        // the generic fallback (UNICORN_MUL_MAT=generic): one row, a batch of 20 columns
        p.choice = Choice::Generic, p.k = kq ? 256 : 64, p.m = 9, p.n = 20;
        all.push_back(p);
        // 128 x 128 tiles (UNICORN_MUL_MAT=mma128): two column tiles, the second one partial
        p.choice = Choice::Mma128, p.k = kq ? 256 : 96, p.m = 130, p.n = 200;
        all.push_back(p);
        p.choice = Choice::Default;
    }
    for (ggml_type t : {GGML_TYPE_F32, GGML_TYPE_F16, GGML_TYPE_BF16}) {
        // small K (ucn_mul_mat_small_k): Gemma3n's altup mixes (K = 4, a 4 x 4 per token over a
        // batch; 4 x 2048 by 4 columns per token), a K of 32, columns past the mat-vec range,
        // broadcast weights and strided activations
        Mm p;
        p.t = t, p.k = 4, p.m = 4, p.n = 1, p.x2 = 7;
        all.push_back(p);
        p.m = 300, p.n = 4, p.w2 = 7;
        all.push_back(p);
        p.k = 32, p.m = 19, p.n = 12, p.w2 = 2, p.w3 = 1, p.x2 = 4, p.x3 = 2, p.x_layout = 2;
        all.push_back(p);
        p.k = 3, p.m = 5, p.n = 70, p.w2 = p.x2 = p.x3 = 1, p.x_layout = 3;
        all.push_back(p);
    }
    for (ggml_type t : {GGML_TYPE_Q4_0, GGML_TYPE_Q4_K, GGML_TYPE_Q6_K}) {
        // more row groups than blocks (at most 1024 / nc): each block loops over its groups
        Mm p;
        p.t = t, p.k = t == GGML_TYPE_Q6_K ? 2048 : 1024, p.m = 1100, p.n = 8;
        all.push_back(p);
    }
    for (ggml_type t : {GGML_TYPE_Q4_0, GGML_TYPE_Q5_0, GGML_TYPE_Q8_0, GGML_TYPE_Q4_K, GGML_TYPE_Q5_K, GGML_TYPE_Q6_K}) {
        // x quantized once per product (gpu_prequantized: two launches): n = 1..8, K split over
        // warps, a K tail with odd rows and misaligned x, broadcast with permuted x, more row groups
        // than the launch has rows for
        const bool kq = ggml_blck_size(t) == 256;
        Mm p;
        p.t = t, p.prequant = true, p.k = kq ? 2048 : 1024, p.m = 37;
        for (int64_t n : {1, 2, 3, 5, 8}) {
            p.n = n;
            all.push_back(p);
        }
        p.k = 32 * (t == GGML_TYPE_Q6_K ? 2048 : 1024), p.m = 40, p.n = 1;
        all.push_back(p);
        p.k = kq ? 768 : 96, p.m = 13, p.n = 4, p.x_layout = 3;
        all.push_back(p);
        p.k = kq ? 512 : 256, p.m = 19, p.n = 2, p.w2 = 2, p.w3 = 1, p.x2 = 4, p.x3 = 2, p.x_layout = 2;
        all.push_back(p);
        p.w2 = p.w3 = p.x2 = p.x3 = 1, p.x_layout = 0, p.k = kq ? 1024 : 512, p.m = 1100, p.n = 8;
        all.push_back(p);
    }
    for (const Mm &p : all) {
        cases.add(describe(p), [p](kt::Case &c) { mul_mat(c, p); });
    }
}
