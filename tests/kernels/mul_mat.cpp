// MUL_MAT (kernels/hip/mul_mat.cu): every weight type through each of its kernels: the mat-vec
// kernels (1, 2, 4, 8 columns; partial steps, K split over warps, x chunks), the matrix-core
// kernel (partial tiles, K tails for float weights) and the generic fallback (a grid past its
// limits); broadcasting over dims 2 and 3, strided and misaligned activation rows, misaligned
// weights (the staged 2-byte path and the matrix-core kernel's checked loads).
#include "harness.h"

#include <cstring>

using Args = ucn_mul_mat_args;
using K = void (*)(const Args, const ucn_ptrs);

static bool is_float(ggml_type t) { return t == GGML_TYPE_F32 || t == GGML_TYPE_F16 || t == GGML_TYPE_BF16; }

// ops/mul_mat.rs select() (quants::format: the nine weight types)
static std::optional<Args> op_select(const ggml_tensor *node) {
    const ggml_tensor *w = node->src[0], *x = node->src[1];
    switch (w->type) {
    case GGML_TYPE_F32: case GGML_TYPE_F16: case GGML_TYPE_BF16: case GGML_TYPE_Q4_0: case GGML_TYPE_Q5_0:
    case GGML_TYPE_Q8_0: case GGML_TYPE_Q4_K: case GGML_TYPE_Q5_K: case GGML_TYPE_Q6_K: break;
    default: return std::nullopt;
    }
    if (x->type != GGML_TYPE_F32 || node->type != GGML_TYPE_F32) {
        return std::nullopt;
    }
    if (w->ne[0] != x->ne[0] || w->ne[0] % ggml_blck_size(w->type) != 0 || !kt::rows_contiguous(w) || x->nb[0] != 4) {
        return std::nullopt;
    }
    if (w->ne[2] == 0 || w->ne[3] == 0 || x->ne[2] % w->ne[2] != 0 || x->ne[3] % w->ne[3] != 0) {
        return std::nullopt;
    }
    if (node->ne[0] != w->ne[1] || node->ne[1] != x->ne[1] || node->ne[2] != x->ne[2] || node->ne[3] != x->ne[3] ||
        !kt::is_dense(kt::layout(node), 4)) {
        return std::nullopt;
    }
    return Args{(uint32_t)w->type, false, kt::layout(w), kt::layout(x), kt::layout(node)};
}

// ops/mul_mat.rs gpu(), with the tests' grid limit.
#define KT_MM_NAMES(t) {ucn_mul_mat_vec_##t##_1, ucn_mul_mat_vec_##t##_2, ucn_mul_mat_vec_##t##_4, ucn_mul_mat_vec_##t##_8, ucn_mul_mat_mma_##t}
static std::pair<K, kt::Launch> op_gpu(const Args &a) {
    K names[5];
    switch (a.weight_type) {
#define KT_MM_CASE(T, t)                                                                                               \
    case T: {                                                                                                          \
        const K n[5] = KT_MM_NAMES(t);                                                                                 \
        std::memcpy(names, n, sizeof n);                                                                               \
        break;                                                                                                         \
    }
        KT_MM_CASE(GGML_TYPE_F32, f32)
        KT_MM_CASE(GGML_TYPE_F16, f16)
        KT_MM_CASE(GGML_TYPE_BF16, bf16)
        KT_MM_CASE(GGML_TYPE_Q4_0, q4_0)
        KT_MM_CASE(GGML_TYPE_Q5_0, q5_0)
        KT_MM_CASE(GGML_TYPE_Q8_0, q8_0)
        KT_MM_CASE(GGML_TYPE_Q4_K, q4_K)
        KT_MM_CASE(GGML_TYPE_Q5_K, q5_K)
        KT_MM_CASE(GGML_TYPE_Q6_K, q6_K)
#undef KT_MM_CASE
    default: return {nullptr, {}};
    }
    const size_t k = a.src0.ne[0], m = a.src0.ne[1], n = a.src1.ne[1], batch = a.src1.ne[2] * a.src1.ne[3];
    const size_t G = kt::MAX_GRID_YZ;
    if (n <= 8) {
        size_t nc = 1;
        while (nc < n) {
            nc *= 2;
        }
        const size_t step = is_float((ggml_type)a.weight_type) ? 256 : a.weight_type == GGML_TYPE_Q6_K ? 2048 : 1024;
        const size_t steps = (k + step - 1) / step;
        const size_t rows = nc == 1 && a.weight_type != GGML_TYPE_Q6_K ? 2 : 1; // vec_rows
        auto blocks = [&](size_t ks) { return std::max<size_t>((m + 8 / ks * rows - 1) / (8 / ks * rows), 1); };
        size_t ks = 1;
        while (ks < 8 && blocks(ks) * batch < 1024 && steps >= 2 * ks) {
            ks *= 2;
        }
        const size_t y = std::clamp<size_t>(batch, 1, G), z = (std::max<size_t>(batch, 1) + y - 1) / y;
        if (z <= G) {
            const int i = nc == 1 ? 0 : nc == 2 ? 1 : nc == 4 ? 2 : 3;
            return {names[i], kt::Launch{dim3((unsigned)blocks(ks), (unsigned)y, (unsigned)z),
                                         dim3(32, (unsigned)ks, (unsigned)(8 / ks))}};
        }
    } else {
        const size_t tiles_m = std::max<size_t>((m + 127) / 128, 1);
        if (tiles_m <= G && std::max<size_t>(batch, 1) <= G) {
            return {names[4], kt::Launch{dim3((unsigned)((n + 63) / 64), (unsigned)tiles_m, (unsigned)std::max<size_t>(batch, 1)),
                                         dim3(256, 1, 1)}};
        }
    }
    return {ucn_mul_mat_generic, kt::rows(256, std::max<size_t>((m + 7) / 8, 1), n * batch)};
}

struct Shape {
    int64_t k, m, n;
    int64_t ne02 = 1, ne03 = 1, ne12 = 1, ne13 = 1;
    int64_t x_pad = 0;      // src1 rows x_pad floats longer than k (a view: strided rows)
    int64_t x_offset = 0;   // src1 view starting x_offset floats in (rows not 16-byte aligned)
    int64_t w_offset = 0;   // weights placed w_offset bytes into their buffer (not 16-byte aligned)
};

static void mul_mat(kt::Case &c, ggml_type t, const Shape &s) {
    ggml_tensor *w = c.tensor(t, s.k, s.m, s.ne02, s.ne03);
    if (s.w_offset) {
        // The same weights at an offset: a view into a larger buffer of the same type.
        const size_t bytes = ggml_nbytes(w);
        ggml_tensor *big = ggml_new_tensor_4d(c.ctx, t, s.k, s.m + 1, s.ne02, s.ne03);
        ggml_tensor *v = ggml_view_4d(c.ctx, big, s.k, s.m, s.ne02, s.ne03, w->nb[1], w->nb[2], w->nb[3], (size_t)s.w_offset);
        std::memcpy(v->data, w->data, bytes);
        w = v;
    }
    ggml_tensor *x = c.tensor(GGML_TYPE_F32, s.k + s.x_pad + s.x_offset, s.n, s.ne12, s.ne13);
    if (s.x_pad || s.x_offset) {
        x = ggml_view_4d(c.ctx, x, s.k, s.n, s.ne12, s.ne13, x->nb[1], x->nb[2], x->nb[3], (size_t)s.x_offset * 4);
    }
    c.run_op<Args>("mul_mat.rs", ggml_mul_mat(c.ctx, w, x), op_select, op_gpu);
}

static std::string describe(ggml_type t, const Shape &s) {
    std::string d = kt::fmt("%s k=%lld m=%lld n=%lld", ggml_type_name(t), (long long)s.k, (long long)s.m, (long long)s.n);
    if (s.ne02 * s.ne03 * s.ne12 * s.ne13 > 1) {
        d += kt::fmt(" w[%lld,%lld] x[%lld,%lld]", (long long)s.ne02, (long long)s.ne03, (long long)s.ne12, (long long)s.ne13);
    }
    if (s.x_pad) {
        d += kt::fmt(" x rows +%lld", (long long)s.x_pad);
    }
    if (s.x_offset) {
        d += kt::fmt(" x at +%lld floats", (long long)s.x_offset);
    }
    if (s.w_offset) {
        d += kt::fmt(" w at +%lld bytes", (long long)s.w_offset);
    }
    return d;
}

KT_CASES(mul_mat) {
    for (ggml_type t : {GGML_TYPE_F32, GGML_TYPE_F16, GGML_TYPE_BF16, GGML_TYPE_Q4_0, GGML_TYPE_Q5_0, GGML_TYPE_Q8_0,
                        GGML_TYPE_Q4_K, GGML_TYPE_Q5_K, GGML_TYPE_Q6_K}) {
        const int64_t qk = ggml_blck_size(t);
        const bool f = qk == 1;
        // K: a partial warp step; a few steps and a partial one; x in several chunks at 8 columns.
        const int64_t k1 = f ? 37 : 3 * qk, k2 = f ? 520 : (qk == 32 ? 2336 : 2304), k3 = f ? 4104 : qk == 256 ? 4352 : 4160;
        std::vector<Shape> shapes = {
            {k1, 37, 1},                                                  // mat-vec, 2 rows per warp, a last odd row
            {k2, 20, 1},                                                  // K split over warps
            {k2, 20, 3, 2, 1, 4, 3},                                      // broadcast over dims 2 and 3, grid z
            {k3, 9, 8},                                                   // 8 columns, x in chunks
            {k1, 5, 2, 1, 1, 1, 1, 8},                                    // strided x rows
            {k1, 6, 5, 1, 1, 1, 1, 0, 1},                                 // x rows not 16-byte aligned
            {k2, 11, 1, 1, 1, 1, 1, 0, 0, t == GGML_TYPE_F32 ? 4 : 2},     // weights not 16-byte aligned
            {k2, 130, 70},                                                // matrix cores, partial tiles
            {k1, 16, 9, 1, 2, 1, 2},                                      // matrix cores, broadcast over dim 3
            {k1, 40, 20, 1, 1, 1, 1, 4, 1},                               // matrix cores, x rows not aligned
            {k2, 33, 17, 1, 1, 1, 1, 0, 0, t == GGML_TYPE_F32 ? 4 : 2},    // matrix cores, weights not aligned
            {k1, 12, 10, 2, 1, 8, 1},                                     // batch past the grid: generic kernel
        };
        if (f) {
            shapes.push_back({k1, 70, 12}); // K tail inside a k step of the matrix cores
        }
        for (const Shape &s : shapes) {
            cases.add(describe(t, s), [=](kt::Case &c) { mul_mat(c, t, s); });
        }
    }
}
