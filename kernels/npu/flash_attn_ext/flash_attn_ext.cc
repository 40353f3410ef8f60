// FLASH_ATTN_EXT for the XDNA1 NPU (npu1, AIE-ML cores): the per-core kernel.
//
//   out = softmax(scale * Q K^T [soft-capped] + slope * mask [, sink]) V
//
// bf16 inputs to the 4x8x4 mmul, f32 scores, f32 running max and sum, f32 output
// accumulator; online softmax over KV blocks with a polynomial exp2 (no exp unit on AIE-ML).
// One source, two builds:
//   - Peano (llvm-aie) for the cores, with AMD's aie_api (kernels/npu/flash_attn_ext/Makefile);
//   - the host compiler for the emulated NPU device, with kernels/npu/aie_host (our
//     implementation of exactly the aie_api subset used below).
// Compile with -DFA_D=64|128|256. Every entry point is extern "C" with a _d<FA_D> suffix.
//
// The IRON design (design.py) calls, per core and per group of 4 Q tiles:
//   fa_group_begin; fa_load_q for each of the FA_Q_OBJS Q objects; fa_block for each KV block
//   of this column; then column 0: fa_cascade_put; columns 1-2: fa_cascade_merge +
//   fa_cascade_put; column 3: fa_cascade_merge + fa_group_end (normalise, output object).
//
// Buffer layouts (see README.md "Data movement"):
//   km   : K block, [FA_BK][FA_D] row-major as the shim DMA reads it, then the mask rows of
//          the group's queries, [4 * FA_BQ][FA_BK] f16 (query q of the group at row q; with G
//          query heads per KV head only the first 4 * FA_BQ / G rows are meaningful). Both
//          arrive on one shim channel, a chain of two buffer descriptors per block.
//          During a group's first FA_Q_OBJS objects, km holds Q instead (f32, packed rows
//          [4 * FA_BQ][FA_D], broadcast to the 4 rows; each keeps its own FA_BQ rows).
//   v    : V block as [FA_BK/8][FA_D/4] tiles of 8 keys x 4 dims (the memtile-to-core DMA
//          tiles it, as whole_array's B matrix).
//   q    : Q tile bf16 as [FA_BQ/4][FA_D/8] tiles of 4 rows x 8 dims (mmul A operand).
//   o    : output accumulator f32 as [FA_BQ/4][FA_D/4] tiles of 4 rows x 4 dims (mmul C).
//   state: m[FA_BQ], l[FA_BQ], slope[FA_BQ], sink[FA_BQ] (f32), then int32 header.
//   scratch: S f32 [FA_BQ][FA_BK] row-major; P bf16 [FA_BQ/4][FA_BK/8] tiles of 4 x 8;
//            16 floats of per-row-block factors.
#include <aie_api/aie.hpp>

#include "fa_layout.h"

#ifndef FA_D
#error "compile with -DFA_D=64, 128 or 256"
#endif
#if FA_D != 64 && FA_D != 128 && FA_D != 256
#error "FA_D must be 64, 128 or 256"
#endif

#define FA_FN(name) FA_CAT(FA_CAT(name, _d), FA_D)

static_assert(FA_BQ % 16 == 0 && FA_BK % 16 == 0, "rows and keys go 16 lanes at a time");
static_assert(FA_D % 16 == 0, "head dimension in 16-lane steps");
static_assert(FA_KM_BYTES % 64 == 0, "Q rows are copied 16 floats at a time");

using v16f = aie::vector<float, 16>;
using v16i = aie::vector<int32, 16>;
using acc16f = aie::accum<accfloat, 16>;
using MMUL = aie::mmul<4, 8, 4, bfloat16, bfloat16, accauto>;

// State header words (after the four per-row arrays).
#define ST_M 0
#define ST_L (FA_BQ)
#define ST_SLOPE (2 * FA_BQ)
#define ST_SINK (3 * FA_BQ)
#define ST_ROWS (4 * FA_BQ)  // valid rows of this core's tile in the current group
#define ST_GROUP (4 * FA_BQ + 1)

static constexpr float kLog2e = 1.44269504088896341f;
// No infinity ever enters f32 arithmetic: AIE-ML multiplies f32 through bf16 parts
// (x = a + b + c, b = bf16(x - a)), so -inf times anything is inf - inf = NaN, and its vector
// comparisons go through bf16(a - b). Masked keys, absent sinks and empty partials use this
// finite floor instead; anything below kMaskedBelow counts as "nothing visible".
static constexpr float kFloor = -1.0e30f;
static constexpr float kMaskedBelow = -1.0e20f;
// Lazy rescaling: the running max used for the exponentials moves only when a block's max
// exceeds it by more than this (natural-log units, 8 * ln 2): probabilities then stay
// below 256, exact in bf16's range, and the f32 rescale of O is rare.
static constexpr float kRescaleSlack = 5.54517744f;

static inline v16f vmul(v16f a, v16f b) { return aie::mul(a, b).template to_vector<float>(); }
static inline v16f vmul(v16f a, float b) { return aie::mul(a, b).template to_vector<float>(); }
static inline v16f vfma(v16f a, v16f b, v16f c) {
    acc16f acc;
    acc.from_vector(c);
    return aie::mac(acc, a, b).template to_vector<float>();
}
static inline v16f splat(float x) { return aie::broadcast<float, 16>(x); }
static inline v16i splati(int32 x) { return aie::broadcast<int32, 16>(x); }

// 2^t for t <= 0 (t <= -127 gives 0). Range reduction t = n + f with n an integer (the
// rounding mode of the conversion does not matter: the polynomial holds on [-1, 1]), a
// degree-7 polynomial for 2^f (max relative error 1.9e-7 in f32), then 2^n built in the
// exponent field; n <= -127 gives an all-zero exponent, so the product is 0.
static inline v16f exp2_nonpos(v16f t) {
    t = aie::max(t, splat(-127.0f));
    v16i n = aie::to_fixed<int32>(t, 0);
    v16f f = aie::sub(t, aie::to_float(n, 0));
    v16f p = splat(1.54832742e-05f);
    p = vfma(p, f, splat(1.56698326e-04f));
    p = vfma(p, f, splat(1.33318256e-03f));
    p = vfma(p, f, splat(9.61646065e-03f));
    p = vfma(p, f, splat(5.55041581e-02f));
    p = vfma(p, f, splat(2.40226835e-01f));
    p = vfma(p, f, splat(6.93147182e-01f));
    p = vfma(p, f, splat(1.0f));
    v16i e = aie::upshift(aie::add(n, (int32)127), 23);
    return vmul(p, e.cast_to<float>());
}

// 1/x for x > 0 (x = 0 gives 0): x = 2^e * m with m in [1, 2), 1/m by a linear estimate and
// three Newton steps (relative error below 1e-7), then the exponent subtracted.
static inline v16f recip_pos(v16f x) {
    v16i bits = x.cast_to<int32>();
    v16i expo = aie::bit_and((int32)0x7f800000, bits);
    v16f m = aie::bit_or((int32)0x3f800000, aie::bit_and((int32)0x007fffff, bits)).cast_to<float>();
    v16f r = vfma(m, splat(-8.0f / 17.0f), splat(24.0f / 17.0f));
    for (int i = 0; i < 3; ++i) r = vmul(r, vfma(m, aie::sub(splat(0.0f), r), splat(2.0f)));
    // r in (0.5, 1]: scale by 2^-(e - 127) by subtracting (e - 127) from its exponent.
    v16i rb = aie::sub(r.cast_to<int32>(), aie::sub(expo, (int32)(127 << 23)));
    v16f out = rb.cast_to<float>();
    return aie::select(out, splat(0.0f), aie::eq(x, 0.0f));
}

// tanh(y) = sign(y) * (1 - e) / (1 + e), e = exp(-2|y|).
static inline v16f tanh_f32(v16f y) {
    v16i bits = y.cast_to<int32>();
    v16i sign = aie::bit_and((int32)0x80000000, bits);
    v16f ay = aie::bit_and((int32)0x7fffffff, bits).cast_to<float>();
    v16f e = exp2_nonpos(vmul(ay, -2.0f * kLog2e));
    v16f t = vmul(aie::sub(splat(1.0f), e), recip_pos(aie::add(splat(1.0f), e)));
    return aie::bit_or(t.cast_to<int32>(), sign).cast_to<float>();
}

static constexpr int32 kFloorBits = (int32)0x7149f2ca;  // 1.0e30f: f16 infinities become +-kFloor

// 16 f16 values (raw bits) -> f32, exactly, with integer operations (AIE-ML has no f16);
// infinities (the mask's -inf) become -+1e30 (kFloor), finite, so no infinity reaches an f32
// multiply.
static inline v16f half_to_float(const int16 *p) {
    aie::vector<int16, 16> h16 = aie::load_v<16>(p);
    aie::accum<acc32, 16> wide;
    wide.from_vector(h16, 0);
    v16i h = wide.template to_vector<int32>(0);
    // h is sign-extended from 16 bits, so bit 31 is the f16 sign (no shift: an int32 upshift
    // saturates on AIE-ML, 0x8000 << 16 would give 0x7fffffff).
    v16i sign = aie::bit_and((int32)0x80000000, h);
    v16i em = aie::bit_and((int32)0x7fff, h);
    v16i normal = aie::add(aie::upshift(em, 13), (int32)(112 << 23));   // rebias 15 -> 127
    v16i special = aie::broadcast<int32, 16>(kFloorBits);              // inf (NaN: no mask has one)
    v16i subnormal = aie::to_float(em, 24).cast_to<int32>();            // em * 2^-24
    v16i bits = aie::select(normal, special, aie::ge(em, (int32)0x7c00));
    bits = aie::select(bits, subnormal, aie::lt(em, (int32)0x0400));
    return aie::bit_or(bits, sign).cast_to<float>();
}

static inline aie::vector<bfloat16, 16> to_bf16(v16f x) {
    acc16f acc;
    acc.from_vector(x);
    return acc.template to_vector<bfloat16>();
}

static inline int32 rtp_i(const int32 *rtp, int i) { return rtp[i]; }
static inline float rtp_f(const int32 *rtp, int i) {
    float f;
    __builtin_memcpy(&f, rtp + i, 4);  // f32 parameters travel as their bits
    return f;
}

// The mmul B operand for keys 4kb..4kb+3 and dims 8db..8db+7 of a row-major K block.
static inline aie::vector<bfloat16, 32> k_operand(const bfloat16 *k, int kb, int db) {
    const bfloat16 *p = k + kb * 4 * FA_D + db * 8;
    aie::vector<bfloat16, 32> rows =
        aie::concat(aie::concat(aie::load_v<8>(p), aie::load_v<8>(p + FA_D)),
                    aie::concat(aie::load_v<8>(p + 2 * FA_D), aie::load_v<8>(p + 3 * FA_D)));
    return aie::transpose(rows, 4, 8);
}

// Every mask value of this tile's rows, over the block's valid keys, is -inf (f16 0xfc00).
static inline bool block_masked(const int16 *masks, int32 slot, int32 rows, int32 g_size, int32 n_valid) {
    const int16 neg_inf = (int16)0xfc00;
    for (int32 i = 0; i < rows; ++i) {
        const int16 *m = masks + ((slot * FA_BQ + i) / g_size) * FA_BK;
        if (n_valid == FA_BK) {
            for (int c = 0; c < FA_BK; c += 16)
                if (!aie::eq(aie::load_v<16>(m + c), neg_inf).full()) return false;
        } else {
            for (int32 k = 0; k < n_valid; ++k)
                if (m[k] != neg_inf) return false;
        }
    }
    return true;
}

// Per-row-block factors: f[0..3] for the 4 rows of a row block, spread to the 16 lanes of
// a 4x4 C tile (lane = row * 4 + col).
static inline v16f rowblock_factors(float *tmp, const float *f4) {
    for (int r = 0; r < 4; ++r)
        for (int c = 0; c < 4; ++c) tmp[r * 4 + c] = f4[r];
    return aie::load_v<16>(tmp);
}

// O rows of row block rb *= f (16-lane row-block factors).
static inline void scale_o_rowblock(float *o, int rb, v16f f) {
    float *p = o + rb * (FA_D / 4) * 16;
    for (int db = 0; db < FA_D / 4; ++db) chess_prepare_for_pipelining {
            aie::store_v(p + db * 16, vmul(aie::load_v<16>(p + db * 16), f));
        }
}

extern "C" {

// Start a group: m = kFloor, l = 0, O = 0; this core's rows, slopes and sinks (kFloor: none).
void FA_FN(fa_group_begin)(float *o, float *state, const int32 *rtp, int32 group) {
    aie::set_rounding(aie::rounding_mode::conv_even);
    const int32 rows = rtp_i(rtp, FA_RTP_ROWS), per_bg = rtp_i(rtp, FA_RTP_GROUPS_PER_BG);
    const int32 g_size = rtp_i(rtp, FA_RTP_G), n_kv_heads = rtp_i(rtp, FA_RTP_N_KV_HEADS);
    const int32 flags = rtp_i(rtp, FA_RTP_FLAGS), slot = rtp_i(rtp, FA_RTP_ROW);
    // Groups run Q-tile-major (group = t4 * n_bg + bg): a call with fewer query rows is a
    // prefix of the compiled sequence (README.md "Per call").
    const int32 n_bg = rtp_i(rtp, FA_RTP_N_GROUPS) / per_bg;
    const int32 bg = group % n_bg, t4 = group / n_bg;
    const int32 kv_head = bg % n_kv_heads;
    const int32 p0 = (t4 * FA_ROWS + slot) * FA_BQ;  // first packed row of this tile
    int32 valid = rows - p0;
    valid = valid < 0 ? 0 : valid > FA_BQ ? FA_BQ : valid;
    int32 *hdr = (int32 *)state;
    hdr[ST_ROWS] = valid;
    hdr[ST_GROUP] = group;
    for (int i = 0; i < FA_BQ; i += 16) {
        aie::store_v(state + ST_M + i, splat(kFloor));
        aie::store_v(state + ST_L + i, splat(0.0f));
    }
    for (int i = 0; i < FA_BQ; ++i) {
        // packed row p0 + i is query (p0 + i) / G, head kv_head * G + (p0 + i) % G
        const int32 head = kv_head * g_size + (p0 + i) % g_size;
        const bool per_head = head < FA_MAX_HEADS;
        state[ST_SLOPE + i] = (flags & FA_FLAG_MASK) && per_head ? rtp_f(rtp, FA_RTP_SLOPES + head) : 1.0f;
        state[ST_SINK + i] = (flags & FA_FLAG_SINKS) && per_head ? rtp_f(rtp, FA_RTP_SINKS + head) : kFloor;
    }
    for (int i = 0; i < FA_BQ * FA_D; i += 16) aie::store_v(o + i, splat(0.0f));
}

// One broadcast Q object (index k of the group's FA_Q_OBJS): keep this core's rows, as bf16
// in the mmul A layout.
void FA_FN(fa_load_q)(const float *obj, bfloat16 *q, const int32 *rtp, int32 k) {
    const int32 slot = rtp_i(rtp, FA_RTP_ROW);
    constexpr int kChunks = FA_KM_BYTES / 64;     // 16-float chunks per object
    constexpr int kRowChunks = FA_D / 16;
    const int32 first = slot * FA_BQ * kRowChunks; // this core's chunks in the group stream
    const int32 last = first + FA_BQ * kRowChunks;
    for (int c = 0; c < kChunks; ++c) {
        const int32 g = k * kChunks + c;
        if (g < first || g >= last) continue;
        const int32 row = (g - first) / kRowChunks, d = ((g - first) % kRowChunks) * 16;
        aie::vector<bfloat16, 16> b = to_bf16(aie::load_v<16>(obj + c * 16));
        // dims d..d+7 and d+8..d+15 go to two adjacent 4x8 tiles
        bfloat16 *t = q + ((row / 4) * (FA_D / 8) + d / 8) * 32 + (row % 4) * 8;
        aie::store_v(t, b.template extract<8>(0));
        aie::store_v(t + 32, b.template extract<8>(1));
    }
}

// One KV block: blk is the block's index among this column's blocks in the group.
void FA_FN(fa_block)(const bfloat16 *q, uint8 *km, uint8 *vbuf, float *o, float *state, uint8 *scratch,
                     const int32 *rtp, int32 blk) {
    const int32 *hdr = (const int32 *)state;
    const int32 rows = hdr[ST_ROWS];
    if (rows == 0) return;  // an empty Q tile (the last group's padding): nothing to compute
    const int32 flags = rtp_i(rtp, FA_RTP_FLAGS), slot = rtp_i(rtp, FA_RTP_ROW);
    const int32 key0 = (blk * FA_COLS + rtp_i(rtp, FA_RTP_COL)) * FA_BK;
    int32 n_valid = rtp_i(rtp, FA_RTP_KV_LEN) - key0;
    if (n_valid <= 0) return;
    n_valid = n_valid > FA_BK ? FA_BK : n_valid;
    const float scale = rtp_f(rtp, FA_RTP_SCALE), softcap = rtp_f(rtp, FA_RTP_SOFTCAP);

    bfloat16 *k = (bfloat16 *)km;
    const int16 *masks = (const int16 *)(km + FA_K_BYTES);
    const int32 g_size = rtp_i(rtp, FA_RTP_G);
    bfloat16 *v = (bfloat16 *)vbuf;
    float *s = (float *)scratch;
    bfloat16 *p = (bfloat16 *)(scratch + FA_S_BYTES);
    float *tmp = (float *)(scratch + FA_S_BYTES + FA_P_BYTES);
    const int nrb = (rows + 3) / 4;

    // A block every row of this tile masks entirely (causal prefill: about half of them) adds
    // nothing: skip it before any arithmetic. The FIFO objects are still consumed by the caller.
    if ((flags & FA_FLAG_MASK) && block_masked(masks, slot, rows, g_size, n_valid)) return;

    if (flags & FA_FLAG_KV_F16) {  // f16 cache: convert the block to bf16 in place
        for (int i = 0; i < FA_BK * FA_D; i += 16) {
            aie::store_v(k + i, to_bf16(half_to_float((const int16 *)k + i)));
            aie::store_v(v + i, to_bf16(half_to_float((const int16 *)v + i)));
        }
    }
    if (n_valid < FA_BK) {  // last block: keys past the slice hold stale data (any bits, NaN
        // included): K and V zeroed, so no stale value enters an f32 multiply
        for (int key = n_valid; key < FA_BK; ++key)
            for (int d = 0; d < FA_D; ++d) {
                k[key * FA_D + d] = 0.0f;
                v[((key / 8) * (FA_D / 4) + d / 4) * 32 + (key % 8) * 4 + d % 4] = 0.0f;
            }
    }

    // S = Q K^T: 4x4 C tiles, 8 dims per step; the B operand is 4 keys x 8 dims of K (four
    // 128-bit loads from the row-major block), transposed to 8 dims x 4 keys.
    for (int rb = 0; rb < nrb; ++rb) {
        for (int kb = 0; kb < FA_BK / 4; ++kb) {
            MMUL c;
            c.mul(aie::load_v<32>(q + rb * (FA_D / 8) * 32), k_operand(k, kb, 0));
            for (int db = 1; db < FA_D / 8; ++db) chess_prepare_for_pipelining {
                    c.mac(aie::load_v<32>(q + (rb * (FA_D / 8) + db) * 32), k_operand(k, kb, db));
                }
            v16f cv = c.template to_vector<float>();
            for (int r = 0; r < 4; ++r) aie::store_v(s + (rb * 4 + r) * FA_BK + kb * 4, cv.template extract<4>(r));
        }
    }

    // Online softmax, row by row.
    bool any = false;
    for (int rb = 0; rb < nrb; ++rb) {
        float alpha[4] = {1.0f, 1.0f, 1.0f, 1.0f};
        bool rescale = false;
        for (int r = 0; r < 4; ++r) {
            const int i = rb * 4 + r;
            if (i >= rows) {  // a padding row of the last tile (stale Q): P row 0, no arithmetic
                for (int c = 0; c < FA_BK; c += 16) {
                    bfloat16 *t = p + (rb * (FA_BK / 8) + c / 8) * 32 + r * 8;
                    aie::store_v(t, aie::zeros<bfloat16, 8>());
                    aie::store_v(t + 32, aie::zeros<bfloat16, 8>());
                }
                continue;
            }
            float *srow = s + i * FA_BK;
            for (int c = 0; c < FA_BK; c += 16) {
                v16f x = vmul(aie::load_v<16>(srow + c), scale);
                if (flags & FA_FLAG_SOFTCAP) x = vmul(tanh_f32(x), softcap);
                // mask row: this row's query within the group (4 * FA_BQ is a multiple of G)
                if (flags & FA_FLAG_MASK)
                    x = vfma(half_to_float(masks + ((slot * FA_BQ + i) / g_size) * FA_BK + c), splat(state[ST_SLOPE + i]), x);
                aie::store_v(srow + c, x);
            }
            for (int key = n_valid; key < FA_BK; ++key) srow[key] = kFloor;
            float mb = kFloor;
            for (int c = 0; c < FA_BK; c += 16) {
                const float x = aie::reduce_max(aie::load_v<16>(srow + c));
                mb = x > mb ? x : mb;
            }
            const float m_old = state[ST_M + i];
            if (i < rows && mb > kMaskedBelow && (m_old <= kMaskedBelow || mb > m_old + kRescaleSlack)) {
                const float a = m_old <= kMaskedBelow ? 0.0f : exp2_nonpos(splat((m_old - mb) * kLog2e))[0];
                alpha[r] = a;
                rescale = true;
                state[ST_L + i] = state[ST_L + i] * a;
                state[ST_M + i] = mb;
            }
            const float m = state[ST_M + i];
            // p = exp(s - m) in bf16 (what the PV mmul reads); l sums the rounded values.
            float lsum = 0.0f;
            for (int c = 0; c < FA_BK; c += 16) {
                aie::vector<bfloat16, 16> pb = aie::zeros<bfloat16, 16>();
                if (m > kMaskedBelow && i < rows) {
                    pb = to_bf16(exp2_nonpos(vmul(aie::sub(aie::load_v<16>(srow + c), m), kLog2e)));
                    acc16f back;
                    back.from_vector(pb);
                    const v16f pf = back.template to_vector<float>();
                    lsum = lsum + aie::reduce_add(pf);
                }
                // keys c..c+7 and c+8..c+15 go to two 4x8 A tiles of P
                bfloat16 *t = p + (rb * (FA_BK / 8) + c / 8) * 32 + r * 8;
                aie::store_v(t, pb.template extract<8>(0));
                aie::store_v(t + 32, pb.template extract<8>(1));
            }
            state[ST_L + i] = state[ST_L + i] + lsum;
            any = any || lsum > 0.0f;
        }
        if (rescale) scale_o_rowblock(o, rb, rowblock_factors(tmp, alpha));
    }
    if (!any) return;  // every key of the block masked for every row

    // O += P V: 4x4 C tiles of O, 8 keys per step.
    for (int rb = 0; rb < nrb; ++rb) {
        for (int db = 0; db < FA_D / 4; ++db) {
            float *oc = o + (rb * (FA_D / 4) + db) * 16;
            acc16f acc;
            acc.from_vector(aie::load_v<16>(oc));
            MMUL c(acc);
            for (int kb = 0; kb < FA_BK / 8; ++kb) chess_prepare_for_pipelining {
                    c.mac(aie::load_v<32>(p + (rb * (FA_BK / 8) + kb) * 32),
                          aie::load_v<32>(v + (kb * (FA_D / 4) + db) * 32));
                }
            aie::store_v(oc, c.template to_vector<float>());
        }
    }
}

// Send this core's partial result east: m, l, then O (16 f32 per cascade word).
void FA_FN(fa_cascade_put)(const float *o, const float *state) {
    for (int i = 0; i < FA_BQ; i += 16) put_mcd(acc16f(aie::load_v<16>(state + ST_M + i)));
    for (int i = 0; i < FA_BQ; i += 16) put_mcd(acc16f(aie::load_v<16>(state + ST_L + i)));
    for (int i = 0; i < FA_BQ * FA_D; i += 16) put_mcd(acc16f(aie::load_v<16>(o + i)));
}

// Merge the west neighbour's partial result into this core's: m = max(m_w, m),
// O = O_w * exp(m_w - m) + O * exp(m_old - m), l likewise.
void FA_FN(fa_cascade_merge)(float *o, float *state, uint8 *scratch) {
    float *aw = (float *)scratch;  // per-row factors for the west and the local partials
    float *al = aw + FA_BQ;
    float *tmp = (float *)(scratch + FA_S_BYTES + FA_P_BYTES);
    for (int i = 0; i < FA_BQ; i += 16) {
        const v16f mw = acc16f(get_scd_v16accfloat()).template to_vector<float>();
        const v16f ml = aie::load_v<16>(state + ST_M + i);
        const v16f m = aie::max(mw, ml);
        // every m is finite (kFloor for a row that saw nothing: its O and l are 0, so its
        // factor does not matter; both at kFloor give factors 1 times zeros)
        aie::store_v(aw + i, exp2_nonpos(vmul(aie::sub(mw, m), kLog2e)));
        aie::store_v(al + i, exp2_nonpos(vmul(aie::sub(ml, m), kLog2e)));
        aie::store_v(state + ST_M + i, m);
    }
    for (int i = 0; i < FA_BQ; i += 16) {
        const v16f lw = acc16f(get_scd_v16accfloat()).template to_vector<float>();
        const v16f l = aie::load_v<16>(state + ST_L + i);
        aie::store_v(state + ST_L + i, vfma(lw, aie::load_v<16>(aw + i), vmul(l, aie::load_v<16>(al + i))));
    }
    for (int rb = 0; rb < FA_BQ / 4; ++rb) {
        const v16f fw = rowblock_factors(tmp, aw + rb * 4);
        const v16f fl = rowblock_factors(tmp, al + rb * 4);
        for (int db = 0; db < FA_D / 4; ++db) {
            float *oc = o + (rb * (FA_D / 4) + db) * 16;
            const v16f ow = acc16f(get_scd_v16accfloat()).template to_vector<float>();
            aie::store_v(oc, vfma(ow, fw, vmul(aie::load_v<16>(oc), fl)));
        }
    }
}

// Column 3, end of a group: fold in the sinks, then O /= l (0 where l is 0, as ggml-cpu).
void FA_FN(fa_group_end)(float *o, float *state, uint8 *scratch) {
    const int32 rows = ((const int32 *)state)[ST_ROWS];
    float *inv = (float *)scratch;
    float *a = inv + FA_BQ;
    float *tmp = (float *)(scratch + FA_S_BYTES + FA_P_BYTES);
    for (int i = 0; i < FA_BQ; i += 16) {
        const v16f m = aie::load_v<16>(state + ST_M + i);
        const v16f sink = aie::load_v<16>(state + ST_SINK + i);
        // m and sink are finite (kFloor when absent): a row with neither gets l = 0 * 1 + 1 and
        // O = 0, i.e. 0, as ggml-cpu
        const v16f m2 = aie::max(m, sink);
        const v16f am = exp2_nonpos(vmul(aie::sub(m, m2), kLog2e));
        const v16f as = exp2_nonpos(vmul(aie::sub(sink, m2), kLog2e));
        const v16f l = vfma(aie::load_v<16>(state + ST_L + i), am, as);
        aie::store_v(a + i, am);
        aie::store_v(inv + i, recip_pos(l));
    }
    for (int rb = 0; rb < (rows + 3) / 4; ++rb) {
        float f[4];
        for (int r = 0; r < 4; ++r) f[r] = a[rb * 4 + r] * inv[rb * 4 + r];
        scale_o_rowblock(o, rb, rowblock_factors(tmp, f));
    }
}

}  // extern "C"
