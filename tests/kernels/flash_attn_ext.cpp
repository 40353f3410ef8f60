// FLASH_ATTN_EXT (kernels/hip/flash_attn_ext.cu): head dims 64, 128, 256 (and odd, unequal and
// MLA sizes), F16/BF16/F32 KV, GQA, masks (broadcast and per head, -inf entries, fully masked
// rows), soft-cap, ALiBi, sinks, KV-cache views (strided and misaligned rows), decode (one row
// per block) and prefill (rows sharing a block) launch shapes.
// kt-mirrors: ops/flash_attn_ext.rs: select gpu gpu_kernel gpu_split gpu_split_kernel SPLIT_TARGET_BLOCKS SPLIT_MIN_KEYS gcd kv_elem_size GPU_MIN_SHARED_BLOCKS GPU_DECODE_WARPS GPU_SHARED_WARPS
// kt-mirrors: ops/cpy.rs: float_elem_size
// kt-mirrors: gpu/mod.rs: rows MAX_GRID_YZ
#include "harness.h"

#include <cmath>
#include <numeric>

using Args = ucn_flash_attn_ext_args;
using K = void (*)(const Args, const ucn_ptrs);

static bool float_type(ggml_type t) { return t == GGML_TYPE_F32 || t == GGML_TYPE_F16 || t == GGML_TYPE_BF16; }

// ops/flash_attn_ext.rs select()
static std::optional<Args> op_select(const ggml_tensor *node) {
    const ggml_tensor *q = node->src[0], *k = node->src[1], *v = node->src[2], *m = node->src[3], *s = node->src[4];
    if (!q || !k || !v || !float_type(k->type) || q->type != GGML_TYPE_F32 || node->type != GGML_TYPE_F32 || v->type != k->type) {
        return std::nullopt;
    }
    if (!kt::rows_contiguous(q) || !kt::rows_contiguous(k) || !kt::rows_contiguous(v)) return std::nullopt;
    if (q->ne[0] != k->ne[0] || k->ne[1] != v->ne[1] || node->ne[0] != v->ne[0] || node->ne[1] != q->ne[2] || node->ne[2] != q->ne[1]) {
        return std::nullopt;
    }
    if (k->ne[2] == 0 || v->ne[2] == 0 || q->ne[2] % k->ne[2] || q->ne[2] % v->ne[2] || k->ne[3] == 0 || q->ne[3] % k->ne[3] ||
        q->ne[3] % v->ne[3]) {
        return std::nullopt;
    }
    if (node->nb[0] != 4 || !ggml_is_contiguous(node)) return std::nullopt;
    Args a{};
    if (m) {
        if (m->type != GGML_TYPE_F16 || !kt::rows_contiguous(m) || m->ne[0] < k->ne[1] || m->ne[1] < q->ne[1]) return std::nullopt;
        if (m->ne[2] == 0 || m->ne[3] == 0 || q->ne[2] % m->ne[2] || q->ne[3] % m->ne[3]) return std::nullopt;
        a.mask = kt::layout(m);
    }
    if (s && (s->type != GGML_TYPE_F32 || ggml_nelements(s) < q->ne[2] || !ggml_is_contiguous(s))) return std::nullopt;
    a.q = kt::layout(q);
    a.k = kt::layout(k);
    a.v = kt::layout(v);
    a.dst = kt::layout(node);
    a.has_mask = m != nullptr;
    a.has_sinks = s != nullptr;
    a.kv_type = (uint32_t)k->type;
    a.scale = kt::op_f32(node, 0);
    a.max_bias = kt::op_f32(node, 1);
    a.logit_softcap = kt::op_f32(node, 2);
    return a;
}

// ops/flash_attn_ext.rs gpu_kernel()
static K gpu_kernel(uint32_t kv, size_t dmax, size_t r) {
    const struct {
        size_t d, r;
        K k[3]; // F32, F16, BF16 KV
    } table[] = {
#define KT_FA_ROW(D, R) {D, R, {ucn_flash_attn_ext_f32_d##D##_r##R, ucn_flash_attn_ext_f16_d##D##_r##R, ucn_flash_attn_ext_bf16_d##D##_r##R}},
        KT_FA_SHAPES(KT_FA_ROW)
#undef KT_FA_ROW
    };
    const int t = kv == GGML_TYPE_F32 ? 0 : kv == GGML_TYPE_F16 ? 1 : kv == GGML_TYPE_BF16 ? 2 : -1;
    for (const auto &e : table) {
        if (t >= 0 && e.d == dmax && e.r == r) return e.k[t];
    }
    return nullptr;
}

// ops/flash_attn_ext.rs
constexpr size_t GPU_MIN_SHARED_BLOCKS = 64;
constexpr unsigned GPU_DECODE_WARPS = 16, GPU_SHARED_WARPS = 4;

static size_t next_pow2(size_t n) {
    size_t p = 1;
    while (p < n) p <<= 1;
    return p;
}

// ops/flash_attn_ext.rs gpu()
static std::pair<K, kt::Launch> op_gpu(const Args &a) {
    const size_t dk = a.q.ne[0], n_q = a.q.ne[1], n_head = a.q.ne[2], ne3 = a.q.ne[3], dv = a.v.ne[0];
    const size_t d = std::max(dk, dv);
    size_t dmax, r_max;
    if (d <= 64) dmax = 64, r_max = 8;
    else if (d <= 128) dmax = 128, r_max = 4;
    else if (d <= 256) dmax = 256, r_max = 4;
    else if (d <= 512) dmax = 512, r_max = 2;
    else if (d <= 576) dmax = 576, r_max = 2;
    else return {nullptr, {}};
    size_t g = std::gcd(std::gcd(n_head / a.k.ne[2], n_head / a.v.ne[2]), r_max);
    size_t qp = std::min(r_max / g, next_pow2(n_q)), r = g * qp;
    if (g * qp == 1 || (n_head / g) * ((n_q + qp - 1) / qp) * ne3 < GPU_MIN_SHARED_BLOCKS) {
        r = g = qp = 1;
    }
    const unsigned warps = r == 1 ? GPU_DECODE_WARPS : GPU_SHARED_WARPS;
    return {gpu_kernel(a.kv_type, dmax, r), kt::rows(warps * 32, n_head / g, (n_q + qp - 1) / qp * ne3)};
}

// ops/flash_attn_ext.rs gpu_split_kernel()
static K gpu_split_kernel(uint32_t kv, size_t dmax, size_t r) {
    const struct {
        size_t d, r;
        K k[3]; // F32, F16, BF16 KV
    } table[] = {
#define KT_FAS_ROW(D, R) {D, R, {ucn_flash_attn_ext_f32_d##D##_r##R##_split, ucn_flash_attn_ext_f16_d##D##_r##R##_split, ucn_flash_attn_ext_bf16_d##D##_r##R##_split}},
        KT_FAS_SHAPES(KT_FAS_ROW)
#undef KT_FAS_ROW
    };
    const int t = kv == GGML_TYPE_F32 ? 0 : kv == GGML_TYPE_F16 ? 1 : kv == GGML_TYPE_BF16 ? 2 : -1;
    for (const auto &e : table) {
        if (t >= 0 && e.d == dmax && e.r == r) return e.k[t];
    }
    return nullptr;
}

// ops/flash_attn_ext.rs SPLIT_TARGET_BLOCKS, SPLIT_MIN_KEYS, gpu_split() (the real MAX_GRID_YZ:
// it only declines grids past it)
constexpr size_t SPLIT_TARGET_BLOCKS = 256, SPLIT_MIN_KEYS = 64, RUST_MAX_GRID_YZ = 65535;
struct SplitKv {
    K partial;
    kt::Launch partial_launch, combine;
    size_t scratch_bytes;
};
static std::optional<SplitKv> gpu_split(const Args &a) {
    const size_t dk = a.q.ne[0], n_q = a.q.ne[1], n_head = a.q.ne[2], ne3 = a.q.ne[3], dv = a.v.ne[0], n_kv = a.k.ne[1];
    if (!dk || !dv || !n_q || !n_head || !ne3 || n_kv > (size_t)INT32_MAX / 2) return std::nullopt;
    const size_t d = std::max(dk, dv);
    size_t dmax, r_max = 4;
    if (d <= 64) dmax = 64;
    else if (d <= 128) dmax = 128;
    else if (d <= 256) dmax = 256;
    else return std::nullopt;
    const size_t g = std::gcd(std::gcd(n_head / a.k.ne[2], n_head / a.v.ne[2]), r_max);
    const size_t qp = std::min(r_max / g, next_pow2(n_q));
    const size_t base = (n_head / g) * ((n_q + qp - 1) / qp) * ne3;
    const size_t splits = std::min(std::min((SPLIT_TARGET_BLOCKS + base - 1) / base, n_kv / SPLIT_MIN_KEYS), RUST_MAX_GRID_YZ);
    if (splits < 2 || (n_q + qp - 1) / qp * ne3 > RUST_MAX_GRID_YZ) return std::nullopt;
    const K k = gpu_split_kernel(a.kv_type, dmax, g * qp);
    if (!k) return std::nullopt;
    const size_t n_out = n_head * n_q * ne3;
    return SplitKv{k, kt::Launch{dim3((unsigned)(n_head / g), (unsigned)splits, (unsigned)((n_q + qp - 1) / qp * ne3)), dim3(128, 1, 1)},
                   kt::rows(256, (dv + 255) / 256, n_out), 16 + n_out * splits * (dv + 2) * 4};
}

// gpu_split()'s two launches: the partial kernel on the emulated GPU first (the node's sources,
// dst = a buffer), then the combine through Case::run with this wrapper (src[0] = the buffer).
static uint8_t *g_split_buf = nullptr;
static void kt_split_combine(const Args a, const ucn_ptrs p) {
    ucn_ptrs q = p;
    q.src[0] = g_split_buf;
    ucn_flash_attn_ext_combine(a, q);
}
struct PartialCall {
    K k;
    Args a;
    ucn_ptrs p;
};
static void kt_partial_body(void *c) {
    const PartialCall *x = (const PartialCall *)c;
    x->k(x->a, x->p);
}
static void run_split(kt::Case &c, ggml_tensor *out) {
    const std::optional<Args> a = op_select(out);
    if (!a) return c.fail("harness: ops/flash_attn_ext.rs select() would not claim this node");
    const std::optional<SplitKv> sp = gpu_split(*a);
    if (!sp) return c.fail("harness: ops/flash_attn_ext.rs gpu_split() has no plan for this node");
    constexpr size_t TAIL = 64;
    std::vector<uint8_t> buf(sp->scratch_bytes + TAIL + 16, 0xA5);
    uint8_t *sb = (uint8_t *)(((uintptr_t)buf.data() + 15) & ~(uintptr_t)15);
    PartialCall pc{sp->partial, *a, {}};
    for (int i = 0; i < UCN_MAX_SRC; ++i) pc.p.src[i] = out->src[i] ? out->src[i]->data : nullptr;
    pc.p.dst = sb;
    for (int order = 0; order < 2; ++order) { // both orders into the same buffer: the combine reads what the last wrote
        const std::string err = ucn_emu::launch(sp->partial_launch.grid, sp->partial_launch.block, kt_partial_body, &pc, order == 1);
        if (!err.empty()) return c.fail("split kernel: " + err);
    }
    for (size_t i = 0; i < TAIL; ++i) {
        if (sb[sp->scratch_bytes + i] != 0xA5) return c.fail("the split kernel wrote past its buffer");
    }
    g_split_buf = sb;
    c.run(out, kt_split_combine, sp->combine, *a);
    g_split_buf = nullptr;
}

struct Fa {
    int64_t dk = 64, dv = 64, n_q = 1, n_kv = 32, n_head = 4, n_head_kv = 4, ne3 = 1;
    ggml_type kv = GGML_TYPE_F16;
    int mask = 0;       // 0: none; 1: one mask for every head; 2: a mask per head
    bool causal = true; // -inf above the diagonal (the last n_q keys), with the mask
    int masked_rows = 0; // rows whose every key is -inf
    int64_t mask_pad = 0; // extra mask rows (the mask's ne1 above n_q)
    bool mask_batch = false; // a mask per batch (ne3) rather than one for all
    float softcap = 0.0f, max_bias = 0.0f;
    bool sinks = false;
    int64_t cache = 0;  // > 0: K and V are views of the first n_kv rows of a cache of this many rows
    bool misaligned = false; // the views start one element in (rows not 16-byte aligned)
    bool split = false; // the two launches of gpu_split()
};

static void fa(kt::Case &c, const Fa &p) {
    ggml_tensor *q = c.tensor(GGML_TYPE_F32, p.dk, p.n_q, p.n_head, p.ne3);
    ggml_tensor *k, *v;
    if (p.cache) {
        const int64_t off = p.misaligned ? 1 : 0;
        ggml_tensor *kc = c.tensor(p.kv, p.dk * p.n_head_kv + off, p.cache, 1, p.ne3);
        ggml_tensor *vc = c.tensor(p.kv, p.dv * p.n_head_kv + off, p.cache, 1, p.ne3);
        // [D, n_kv, n_head_kv, ne3] out of a [D * n_head_kv (+1), cache, 1, ne3] cache: heads side by side in a row
        const size_t ek = ggml_type_size(p.kv);
        k = ggml_view_4d(c.ctx, kc, p.dk, p.n_kv, p.n_head_kv, p.ne3, kc->nb[1], p.dk * ek, kc->nb[3], off * ek);
        v = ggml_view_4d(c.ctx, vc, p.dv, p.n_kv, p.n_head_kv, p.ne3, vc->nb[1], p.dv * ek, vc->nb[3], off * ek);
    } else {
        k = c.tensor(p.kv, p.dk, p.n_kv, p.n_head_kv, p.ne3);
        v = c.tensor(p.kv, p.dv, p.n_kv, p.n_head_kv, p.ne3);
    }
    ggml_tensor *m = nullptr;
    if (p.mask) {
        m = ggml_new_tensor_4d(c.ctx, GGML_TYPE_F16, p.n_kv, p.n_q + p.mask_pad, p.mask == 2 ? p.n_head : 1, p.mask_batch ? p.ne3 : 1);
        for (int64_t i3 = 0; i3 < m->ne[3]; ++i3)
            for (int64_t i2 = 0; i2 < m->ne[2]; ++i2)
                for (int64_t i1 = 0; i1 < m->ne[1]; ++i1)
                    for (int64_t i0 = 0; i0 < m->ne[0]; ++i0) {
                        const bool off = (p.causal && i0 > p.n_kv - p.n_q + i1) || i1 < p.masked_rows;
                        const float val = off ? -INFINITY : c.uniform(-1.0f, 1.0f);
                        ((ggml_fp16_t *)m->data)[((i3 * m->ne[2] + i2) * m->ne[1] + i1) * m->ne[0] + i0] = ggml_fp32_to_fp16(val);
                    }
    }
    ggml_tensor *out = ggml_flash_attn_ext(c.ctx, q, k, v, m, 1.0f / sqrtf((float)p.dk), p.max_bias, p.softcap);
    if (p.sinks) {
        ggml_flash_attn_ext_add_sinks(out, c.tensor(GGML_TYPE_F32, p.n_head, 1, 1, 1, -2.0f, 2.0f));
    }
    if (p.split) {
        run_split(c, out);
    } else {
        c.run_op<Args>("flash_attn_ext.rs", out, op_select, op_gpu);
    }
}

static std::string describe(const Fa &p) {
    std::string s = kt::fmt("%s D=%lld", ggml_type_name(p.kv), (long long)p.dk);
    if (p.dv != p.dk) s += kt::fmt("/%lld", (long long)p.dv);
    s += kt::fmt(" q=%lld kv=%lld heads %lld/%lld", (long long)p.n_q, (long long)p.n_kv, (long long)p.n_head, (long long)p.n_head_kv);
    if (p.ne3 > 1) s += kt::fmt(" ne3=%lld", (long long)p.ne3);
    if (p.mask) s += p.mask == 2 ? " mask/head" : " mask";
    if (p.mask && p.causal) s += " causal";
    if (p.masked_rows) s += kt::fmt(" %d rows all -inf", p.masked_rows);
    if (p.mask_pad) s += kt::fmt(" mask+%lld rows", (long long)p.mask_pad);
    if (p.mask_batch) s += " mask/batch";
    if (p.softcap != 0.0f) s += kt::fmt(" softcap=%g", p.softcap);
    if (p.max_bias != 0.0f) s += kt::fmt(" alibi=%g", p.max_bias);
    if (p.sinks) s += " sinks";
    if (p.cache) s += kt::fmt(" cache view(%lld rows%s)", (long long)p.cache, p.misaligned ? ", misaligned" : "");
    // The launch shape gpu() picks: rows per block and warps.
    Args a{};
    a.q.ne[0] = (size_t)p.dk, a.q.ne[1] = (size_t)p.n_q, a.q.ne[2] = (size_t)p.n_head, a.q.ne[3] = (size_t)p.ne3;
    a.kv_type = (uint32_t)p.kv, a.k.ne[0] = (size_t)p.dk, a.k.ne[2] = (size_t)p.n_head_kv, a.v.ne[0] = (size_t)p.dv, a.v.ne[2] = (size_t)p.n_head_kv;
    if (p.split) {
        a.k.ne[1] = (size_t)p.n_kv;
        const auto sp = gpu_split(a);
        if (!sp) return s + " [split: no plan]";
        const kt::Launch &l = sp->partial_launch;
        return s + kt::fmt(" [split: grid %ux%ux%u, combine grid %ux%ux%u]", l.grid.x, l.grid.y, l.grid.z, sp->combine.grid.x,
                           sp->combine.grid.y, sp->combine.grid.z);
    }
    const auto kl = op_gpu(a);
    const size_t d = std::max(p.dk, p.dv), dmax = d <= 64 ? 64 : d <= 128 ? 128 : d <= 256 ? 256 : d <= 512 ? 512 : 576;
    size_t r = 0;
    for (size_t rr : {1, 2, 4, 8}) {
        if (gpu_kernel(a.kv_type, dmax, rr) == kl.first) r = rr;
    }
    s += kt::fmt(" [d%zu_r%zu, %u warps, grid %ux%ux%u]", dmax, r, kl.second.block.x / 32, kl.second.grid.x, kl.second.grid.y,
                 kl.second.grid.z);
    return s;
}

KT_CASES(flash_attn_ext) {
    std::vector<Fa> all;
    auto add = [&](Fa p) { all.push_back(p); };
    for (ggml_type kv : {GGML_TYPE_F16, GGML_TYPE_BF16, GGML_TYPE_F32}) {
        for (int64_t d : {64, 128, 256}) {
            Fa p;
            p.kv = kv, p.dk = p.dv = d;
            // decode: one row, GQA 8/2, a mask, a long-ish KV
            p.n_q = 1, p.n_kv = 200, p.n_head = 8, p.n_head_kv = 2, p.mask = 1, p.causal = false;
            add(p);
            // prefill: rows share blocks (GQA group x positions), causal mask
            p.n_q = d == 64 ? 75 : 33, p.n_kv = d == 64 ? 80 : 40, p.causal = true;
            add(p);
        }
    }
    {
        Fa p; // Gemma3n-like decode: D=256, GQA 8/2, a long KV cache view, soft-cap, sinks
        p.kv = GGML_TYPE_F16, p.dk = p.dv = 256, p.n_q = 1, p.n_kv = 1000, p.cache = 1024, p.n_head = 8, p.n_head_kv = 2;
        p.mask = 1, p.causal = false, p.softcap = 30.0f, p.sinks = true;
        add(p);
        p.kv = GGML_TYPE_BF16; // the NPU's KV type
        add(p);
    }
    {
        Fa p; // Gemma3n-like prefill: 4 heads of a KV head per block, causal, sinks
        p.kv = GGML_TYPE_BF16, p.dk = p.dv = 256, p.n_q = 40, p.n_kv = 72, p.n_head = 8, p.n_head_kv = 2;
        p.mask = 1, p.sinks = true;
        add(p);
    }
    for (int64_t nq : {2, 3, 5, 8}) {
        Fa p; // n = 2..8: the decode shape (few blocks)
        p.dk = p.dv = 128, p.n_q = nq, p.n_kv = 64, p.n_head = 4, p.n_head_kv = 1, p.mask = 1;
        add(p);
    }
    {
        Fa p; // no GQA, D=64: 8 positions per block
        p.dk = p.dv = 64, p.n_q = 64, p.n_kv = 70, p.n_head = 8, p.n_head_kv = 8, p.mask = 1;
        add(p);
        p.n_head = 16, p.n_head_kv = 16, p.n_q = 40, p.n_kv = 50, p.mask = 2, p.mask_pad = 3; // mask per head, padded
        add(p);
        p.mask = 1, p.mask_pad = 0, p.masked_rows = 3, p.causal = false; // rows with every key masked: 0
        add(p);
        p.masked_rows = 2, p.sinks = true; // ... unless there is a sink
        add(p);
    }
    {
        Fa p; // no mask, batches (ne3), MQA
        p.dk = p.dv = 128, p.n_q = 6, p.n_kv = 77, p.n_head = 4, p.n_head_kv = 1, p.ne3 = 2;
        add(p);
        p.n_q = 20, p.n_head = 8, p.n_head_kv = 4; // G = 2 heads x 2 positions per block
        add(p);
    }
    {
        Fa p; // ALiBi (needs a mask), soft-cap, F32 KV
        p.kv = GGML_TYPE_F32, p.dk = p.dv = 64, p.n_q = 3, p.n_kv = 45, p.n_head = 12, p.n_head_kv = 4, p.mask = 1;
        p.max_bias = 8.0f;
        add(p);
        p.max_bias = 0.0f, p.softcap = 50.0f, p.n_q = 64, p.n_head = 8;
        add(p);
    }
    {
        Fa p; // odd and unequal head sizes: element-by-element loads
        p.dk = 65, p.dv = 67, p.n_q = 75, p.n_kv = 80, p.n_head = 4, p.n_head_kv = 4, p.mask = 1;
        add(p);
        p.dk = 80, p.dv = 64, p.n_q = 3; // Dk != Dv, 4-byte-aligned lanes
        add(p);
        p.kv = GGML_TYPE_BF16, p.dk = 192, p.dv = 128, p.n_q = 33, p.n_head = 8, p.n_head_kv = 2; // DeepSeek-V2-lite-like
        add(p);
    }
    {
        Fa p; // KV-cache views: strided rows, and rows that start off the 16-byte grid
        p.dk = p.dv = 128, p.n_q = 4, p.n_kv = 50, p.cache = 64, p.n_head = 8, p.n_head_kv = 2, p.mask = 1;
        add(p);
        p.misaligned = true;
        add(p);
        p.n_q = 64; // the shared-rows shape on a misaligned view
        add(p);
    }
    {
        Fa p; // MLA sizes (576/512), decode and two rows per block
        p.kv = GGML_TYPE_F16, p.dk = 576, p.dv = 512, p.n_q = 1, p.n_kv = 40, p.n_head = 16, p.n_head_kv = 1, p.mask = 1;
        add(p);
        p.n_q = 8;
        add(p);
        p.dk = p.dv = 512, p.n_q = 2, p.kv = GGML_TYPE_BF16;
        add(p);
    }
    {
        // The remaining launch shapes (every d<Dmax>_r<R> kernel runs at least once): rows per
        // block from GQA groups and positions, many blocks through batches (ne3).
        Fa p;
        p.n_kv = 40, p.mask = 1;
        p.kv = GGML_TYPE_BF16, p.dk = p.dv = 64, p.n_q = 1, p.n_head = 8, p.n_head_kv = 4, p.ne3 = 16; // d64_r2: G = 2
        add(p);
        p.kv = GGML_TYPE_F32, p.n_q = 4, p.n_head = p.n_head_kv = 16, p.ne3 = 4, p.mask_batch = true; // d64_r4: 4 positions
        add(p);
        p.mask_batch = false;
        p.kv = GGML_TYPE_F16, p.dk = p.dv = 128, p.n_q = 2, p.n_head = p.n_head_kv = 32, p.ne3 = 2, p.sinks = true; // d128_r2
        add(p);
        p.kv = GGML_TYPE_BF16, p.dk = p.dv = 256, p.sinks = false, p.softcap = 20.0f; // d256_r2
        add(p);
        p.kv = GGML_TYPE_F32, p.dk = p.dv = 512, p.softcap = 0.0f, p.n_q = 8, p.n_head = 16, p.n_head_kv = 1, p.ne3 = 1; // d512_r2
        add(p);
        p.kv = GGML_TYPE_BF16, p.dk = 576, p.n_q = 1; // d576_r1, BF16
        add(p);
    }
    {
        // The KV split across blocks (gpu_split: two launches): Gemma3n-like decode (GQA 8/2,
        // D=256, a KV-cache view, soft-cap, sinks), every split kernel, masks with -inf keys (a
        // split whose keys are all masked), a fully masked row with and without a sink, batches.
        Fa p;
        p.split = true, p.kv = GGML_TYPE_F16, p.dk = p.dv = 256, p.n_q = 1, p.n_kv = 1000, p.cache = 1024, p.n_head = 8;
        p.n_head_kv = 2, p.mask = 1, p.causal = false, p.softcap = 30.0f, p.sinks = true;
        add(p);
        p.kv = GGML_TYPE_BF16, p.misaligned = true;
        add(p);
        p.cache = 0, p.misaligned = false, p.softcap = 0.0f, p.sinks = false;
        for (int64_t d : {64, 128, 256}) {
            p.dk = p.dv = d;
            for (int64_t hkv : {8, 4, 2}) { // R = 1, 2, 4 query heads per block
                p.kv = hkv == 8 ? GGML_TYPE_F32 : hkv == 4 ? GGML_TYPE_F16 : GGML_TYPE_BF16;
                p.n_head_kv = hkv, p.n_kv = 300;
                add(p);
            }
        }
        p.dk = p.dv = 128, p.n_head = 4, p.n_head_kv = 1, p.n_q = 3, p.n_kv = 256, p.mask = 1, p.causal = true; // R = 4 heads x 1
        add(p);
        p.n_q = 2, p.masked_rows = 1, p.causal = false; // a row with every key -inf: 0 ...
        add(p);
        p.sinks = true; // ... unless there is a sink
        add(p);
        p.masked_rows = 0, p.sinks = false, p.mask = 0, p.ne3 = 3, p.n_q = 1; // no mask, batches
        add(p);
    }
    for (const Fa &p : all) {
        cases.add(describe(p), [p](kt::Case &c) { fa(c, p); });
    }
}
