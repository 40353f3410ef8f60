// A host (x86-64) implementation of exactly the subset of AMD's AIE API (aie_api/aie.hpp)
// that kernels/npu uses, so that the same kernel source that Peano compiles for the XDNA1
// (AIE-ML, "aie2") cores also compiles with the host C++ compiler and runs in the emulated
// NPU device. This is our code, written from the public API documentation (UG1529); it is
// not AMD's header and implements nothing beyond what the kernels call.
//
// What it models, and where it may differ from the silicon (see kernels/npu/README.md):
// - bfloat16 is a 16-bit storage type; float -> bfloat16 rounds to nearest, ties to even,
//   which is AIE-ML's conversion under aie::rounding_mode::conv_even (the kernels set it).
// - aie::mmul<4, 8, 4, bfloat16, bfloat16>: each C element adds the 8 exact products of one
//   step to the accumulator in k order, one f32 rounding per addition. The products of two
//   bf16 are exact in f32 on both; the order of the adder tree inside the AIE-ML MAC is not
//   documented, so the last bit of a sum may differ.
// - float vector multiply (aie::mul, aie::mac on vector<float>): AIE-ML has no f32
//   multiplier. Peano's intrinsic headers (Xilinx/llvm-aie clang/lib/Headers/aiev2_core.h,
//   mul_elem_16_accuracy_safe, the default) split each operand into three bfloat16 parts
//   under rounding mode 0 (floor): a = bf16(x), b = bf16(x - a), c = bf16(x - a - b), and sum
//   the nine exact bf16 products in f32, smallest first. Modelled here term by term, so an
//   infinite or NaN operand gives NaN (inf - inf in the split), as on the core.
// - float add/sub/max and results: f32, round to nearest even, subnormals flushed to zero
//   (AIE-ML's floating-point unit flushes them).
// - float vector comparisons (lt/ge, eq = ge && ge as aie_api's compare.hpp builds it): on the
//   sign of bf16(a - b) computed in the accumulator, so values closer than bf16 resolution
//   compare equal and infinities compare through NaN. A comparison that sees NaN sets the
//   arithmetic fault flag (the kernels must never compare a non-finite value).
// - int32 upshift: through the accumulator with a saturating shift-round-saturate, so a
//   result outside int32 saturates (it does not wrap).
// - reduce_add / reduce_max: lanes combined in order 0..N-1.
// - Cascade streams (put_mcd / get_scd_v16accfloat): queues bound per thread by the
//   emulator (ucn_aie_host_bind_cascade), one 16-lane accfloat word per call.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

typedef int8_t int8;
typedef uint8_t uint8;
typedef int16_t int16;
typedef uint16_t uint16;
typedef int32_t int32;
typedef uint32_t uint32;

namespace aie {
enum class rounding_mode { floor, ceil, symmetric_zero, symmetric_inf, positive_inf, negative_inf, conv_even, conv_odd };
namespace host {
inline rounding_mode &rounding() {
    static thread_local rounding_mode mode = rounding_mode::floor;  // AIE-ML's reset value
    return mode;
}
inline uint32_t f32_bits(float x) { uint32_t u; std::memcpy(&u, &x, 4); return u; }
inline float f32_from(uint32_t u) { float x; std::memcpy(&x, &u, 4); return x; }
// f32 -> bf16 bits: round to nearest even (conv_even) or toward zero (every other mode here;
// the kernels only use conv_even). NaN stays a quiet NaN.
inline uint16_t to_bf16_bits(float x) {
    uint32_t u = f32_bits(x);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40u);
    if (rounding() == rounding_mode::conv_even) u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}
// f32 -> int32 with the current rounding mode, saturating.
inline int32_t to_int(double x) {
    double r;
    switch (rounding()) {
    case rounding_mode::conv_even: r = std::nearbyint(x); break;  // host default: ties to even
    case rounding_mode::ceil:
    case rounding_mode::positive_inf: r = std::ceil(x); break;
    case rounding_mode::symmetric_zero: r = std::trunc(x); break;
    default: r = std::floor(x); break;
    }
    if (r != r) return 0;
    if (r > 2147483647.0) return 2147483647;
    if (r < -2147483648.0) return INT32_MIN;
    return (int32_t)r;
}
// Set when an operation met a value the core would turn into garbage (a NaN compared, a
// non-finite f32 multiply operand): the emulator reports it as a kernel error.
inline bool &arith_fault() { static thread_local bool f = false; return f; }
// AIE-ML flushes subnormal f32 values to zero (sign kept).
inline float ftz(float x) {
    uint32_t u = f32_bits(x);
    return ((u & 0x7f800000u) == 0) ? f32_from(u & 0x80000000u) : x;
}
// f32 -> bf16 rounded toward -inf (rounding mode 0, floor), as a float.
inline float bf16_floor(float x) {
    uint32_t u = f32_bits(x);
    if ((u & 0x7fffffffu) > 0x7f800000u) return x;  // NaN
    uint32_t t = u & 0xffff0000u;
    if ((u & 0x80000000u) && (u & 0xffffu)) t += 0x10000u;  // negative: away from zero
    return f32_from(t);
}
// f32 x f32 as Peano's mul_elem_16_accuracy_safe computes it on AIE-ML (see the header).
inline float mul_f32(float x, float y) {
    x = ftz(x);
    y = ftz(y);
    if (!std::isfinite(x) || !std::isfinite(y)) {
        arith_fault() = true;
        return f32_from(0x7fc00000u);
    }
    const float a = bf16_floor(x), r0 = x - a, b = bf16_floor(r0), c = bf16_floor(r0 - b);
    const float d = bf16_floor(y), r1 = y - d, e = bf16_floor(r1), f = bf16_floor(r1 - e);
    // innermost first: c*f, c*e, b*f, a*f, b*e, d*c, b*d, a*e, a*d (each product exact in f32)
    float s = c * f;
    s = ftz(s + c * e);
    s = ftz(s + b * f);
    s = ftz(s + a * f);
    s = ftz(s + b * e);
    s = ftz(s + d * c);
    s = ftz(s + b * d);
    s = ftz(s + a * e);
    s = ftz(s + a * d);
    return s;
}
// The sign test a float vector comparison makes: bf16(a - b) < 0.
inline bool lt_f32(float x, float y) {
    float dlt = ftz(ftz(x) - ftz(y));
    if (dlt != dlt) {
        arith_fault() = true;
        return false;
    }
    uint16_t h = to_bf16_bits(dlt);
    return (h & 0x8000u) && (h & 0x7fffu);
}
}  // namespace host

inline void set_rounding(rounding_mode m) { host::rounding() = m; }
inline rounding_mode get_rounding() { return host::rounding(); }
}  // namespace aie

struct bfloat16 {
    uint16_t bits;
    bfloat16() = default;
    bfloat16(float x) : bits(aie::host::to_bf16_bits(x)) {}
    operator float() const { return aie::host::f32_from((uint32_t)bits << 16); }
};
static_assert(sizeof(bfloat16) == 2, "bfloat16 is a 16-bit type");

// Accumulator element tags.
struct accfloat {};
struct acc32 {};
struct accauto {};

class v16accfloat;  // the native accumulator register type (below)

namespace aie {
constexpr unsigned vector_decl_align = 64;

template <typename T, unsigned N> struct vector;
template <unsigned N> struct mask {
    bool b[N];
    bool test(unsigned i) const { return b[i]; }
    bool full() const {
        for (unsigned i = 0; i < N; ++i)
            if (!b[i]) return false;
        return true;
    }
};

template <typename T, unsigned N> struct vector {
    static_assert(N * sizeof(T) * 8 == 128 || N * sizeof(T) * 8 == 256 || N * sizeof(T) * 8 == 512 ||
                      N * sizeof(T) * 8 == 1024,
                  "AIE-ML vectors are 128, 256, 512 or 1024 bits");
    T e[N];
    using value_type = T;
    static constexpr unsigned size() { return N; }
    T get(unsigned i) const { return e[i]; }
    vector &set(T x, unsigned i) { e[i] = x; return *this; }
    T operator[](unsigned i) const { return e[i]; }
    template <unsigned M> vector<T, M> extract(unsigned idx) const {
        static_assert(N % M == 0, "extract: sub-vector size divides the vector");
        vector<T, M> r;
        for (unsigned i = 0; i < M; ++i) r.e[i] = e[idx * M + i];
        return r;
    }
    template <unsigned M> vector &insert(unsigned idx, const vector<T, M> &v) {
        static_assert(N % M == 0, "insert: sub-vector size divides the vector");
        for (unsigned i = 0; i < M; ++i) e[idx * M + i] = v.e[i];
        return *this;
    }
    template <typename U> vector<U, N * sizeof(T) / sizeof(U)> cast_to() const {
        vector<U, N * sizeof(T) / sizeof(U)> r;
        std::memcpy(r.e, e, sizeof(e));
        return r;
    }
};

template <typename Tag, unsigned N> struct accum {
    static_assert(std::is_same<Tag, accfloat>::value || std::is_same<Tag, acc32>::value, "accfloat or acc32");
    using elem = typename std::conditional<std::is_same<Tag, accfloat>::value, float, int64_t>::type;
    elem e[N];
    static constexpr unsigned size() { return N; }
    accum() = default;
    template <typename T> explicit accum(const vector<T, N> &v, int shift = 0) { from_vector(v, shift); }
    // To and from the native register (v16accfloat only).
    template <typename Nat, typename = typename std::enable_if<std::is_same<Nat, v16accfloat>::value && N == 16 &&
                                                               std::is_same<Tag, accfloat>::value>::type>
    accum(const Nat &n) { std::memcpy(e, &n, sizeof(e)); }
    template <typename Nat, typename = typename std::enable_if<std::is_same<Nat, v16accfloat>::value && N == 16 &&
                                                               std::is_same<Tag, accfloat>::value>::type>
    operator Nat() const { Nat n; std::memcpy((void *)&n, e, sizeof(e)); return n; }
    // aie_api's accum::from_vector returns void (accum.hpp); nothing to chain.
    template <typename T> void from_vector(const vector<T, N> &v, int shift = 0) {
        for (unsigned i = 0; i < N; ++i) {
            if constexpr (std::is_same<Tag, accfloat>::value) e[i] = host::ftz((float)v.e[i]);
            else e[i] = (int64_t)v.e[i] << shift;
        }
    }
    template <typename T> vector<T, N> to_vector(int shift = 0) const {
        vector<T, N> r;
        for (unsigned i = 0; i < N; ++i) {
            if constexpr (std::is_same<Tag, accfloat>::value) {
                r.e[i] = T(host::ftz(e[i]));
            } else {
                int64_t x = e[i] >> shift;  // srs under floor rounding, saturating to T
                int64_t lo = std::is_signed<T>::value ? -((int64_t)1 << (8 * sizeof(T) - 1)) : 0;
                int64_t hi = std::is_signed<T>::value ? ((int64_t)1 << (8 * sizeof(T) - 1)) - 1
                                                      : ((int64_t)1 << (8 * sizeof(T))) - 1;
                r.e[i] = (T)(x < lo ? lo : x > hi ? hi : x);
            }
        }
        return r;
    }
};

// ---- memory ----------------------------------------------------------------------------
template <unsigned N, typename T> vector<typename std::remove_const<T>::type, N> load_v(const T *p) {
    vector<typename std::remove_const<T>::type, N> r;
    std::memcpy(r.e, p, sizeof(r.e));
    return r;
}
template <typename T, unsigned N> T *store_v(T *p, const vector<T, N> &v) {
    std::memcpy(p, v.e, sizeof(v.e));
    return p;
}

// ---- initialisation --------------------------------------------------------------------
template <typename T, unsigned N> vector<T, N> broadcast(T x) {
    vector<T, N> r;
    for (unsigned i = 0; i < N; ++i) r.e[i] = x;
    return r;
}
template <typename T, unsigned N> vector<T, N> zeros() {
    vector<T, N> r;
    std::memset(r.e, 0, sizeof(r.e));
    return r;
}
template <typename T, unsigned N> vector<T, 2 * N> concat(const vector<T, N> &a, const vector<T, N> &b) {
    vector<T, 2 * N> r;
    for (unsigned i = 0; i < N; ++i) { r.e[i] = a.e[i]; r.e[N + i] = b.e[i]; }
    return r;
}

// ---- element-wise arithmetic -----------------------------------------------------------
// add, sub, max, min: (vector, vector), (vector, scalar) and (scalar, vector), as aie.hpp
// declares them. f32 results are flushed (subnormals to zero); max/min of a NaN is a fault.
template <typename T> inline T ucn_fix(T x) { return x; }
inline float ucn_fix(float x) { return host::ftz(x); }
template <typename T> inline T ucn_max(T x, T y) { return x > y ? x : y; }
template <typename T> inline T ucn_min(T x, T y) { return x < y ? x : y; }
inline float ucn_max(float x, float y) {
    if (x != x || y != y) host::arith_fault() = true;
    return host::ftz(x > y ? x : y);
}
inline float ucn_min(float x, float y) {
    if (x != x || y != y) host::arith_fault() = true;
    return host::ftz(x < y ? x : y);
}
#define UCN_AIE_BINARY(name, expr)                                                              \
    template <typename T, unsigned N> vector<T, N> name(const vector<T, N> &a, const vector<T, N> &b) { \
        vector<T, N> r;                                                                         \
        for (unsigned i = 0; i < N; ++i) { T x = a.e[i], y = b.e[i]; r.e[i] = (T)(expr); }     \
        return r;                                                                               \
    }                                                                                           \
    template <typename T, unsigned N> vector<T, N> name(const vector<T, N> &a, T y) {           \
        vector<T, N> r;                                                                         \
        for (unsigned i = 0; i < N; ++i) { T x = a.e[i]; r.e[i] = (T)(expr); }                  \
        return r;                                                                               \
    }                                                                                           \
    template <typename T, unsigned N> vector<T, N> name(T x, const vector<T, N> &b) {           \
        vector<T, N> r;                                                                         \
        for (unsigned i = 0; i < N; ++i) { T y = b.e[i]; r.e[i] = (T)(expr); }                  \
        return r;                                                                               \
    }
UCN_AIE_BINARY(add, ucn_fix(x + y))
UCN_AIE_BINARY(sub, ucn_fix(x - y))
UCN_AIE_BINARY(max, ucn_max(x, y))
UCN_AIE_BINARY(min, ucn_min(x, y))
#undef UCN_AIE_BINARY
// bit_and, bit_or: (vector, vector) and (scalar, vector) only, integer elements (aie.hpp has
// no (vector, scalar) overload: `bit_and(v, 0xff)` does not compile with AMD's header).
#define UCN_AIE_BIT(name, op)                                                                   \
    template <typename T, unsigned N> vector<T, N> name(const vector<T, N> &a, const vector<T, N> &b) { \
        static_assert(std::is_integral<T>::value, "bit operations take integer vectors");      \
        vector<T, N> r;                                                                         \
        for (unsigned i = 0; i < N; ++i) r.e[i] = (T)(a.e[i] op b.e[i]);                        \
        return r;                                                                               \
    }                                                                                           \
    template <typename T, unsigned N> vector<T, N> name(T a, const vector<T, N> &b) {           \
        static_assert(std::is_integral<T>::value, "bit operations take integer vectors");      \
        vector<T, N> r;                                                                         \
        for (unsigned i = 0; i < N; ++i) r.e[i] = (T)(a op b.e[i]);                             \
        return r;                                                                               \
    }
UCN_AIE_BIT(bit_and, &)
UCN_AIE_BIT(bit_or, |)
#undef UCN_AIE_BIT

// Products return an accumulator, as on the hardware; f32 x f32 as AIE-ML emulates it.
template <unsigned N> accum<accfloat, N> mul(const vector<float, N> &a, const vector<float, N> &b) {
    accum<accfloat, N> r;
    for (unsigned i = 0; i < N; ++i) r.e[i] = host::mul_f32(a.e[i], b.e[i]);
    return r;
}
template <unsigned N> accum<accfloat, N> mul(const vector<float, N> &a, float b) {
    accum<accfloat, N> r;
    for (unsigned i = 0; i < N; ++i) r.e[i] = host::mul_f32(a.e[i], b);
    return r;
}
// acc + a * b: the emulated product (mac_elem_16_accuracy_safe), then the accumulator added.
template <unsigned N> accum<accfloat, N> mac(const accum<accfloat, N> &acc, const vector<float, N> &a, const vector<float, N> &b) {
    accum<accfloat, N> r;
    for (unsigned i = 0; i < N; ++i) r.e[i] = host::ftz(host::mul_f32(a.e[i], b.e[i]) + acc.e[i]);
    return r;
}

template <typename T, unsigned N> vector<T, N> upshift(const vector<T, N> &a, unsigned s) {
    static_assert(std::is_integral<T>::value, "shifts are integer operations");
    vector<T, N> r;
    // AIE-ML shifts 32-bit lanes through the accumulator and saturates on the way back
    // (shift-round-saturate): a result outside T's range saturates, it does not wrap.
    const int64_t lo = std::is_signed<T>::value ? -((int64_t)1 << (8 * sizeof(T) - 1)) : 0;
    const int64_t hi = std::is_signed<T>::value ? ((int64_t)1 << (8 * sizeof(T) - 1)) - 1
                                                : ((int64_t)1 << (8 * sizeof(T))) - 1;
    for (unsigned i = 0; i < N; ++i) {
        const int64_t x = (int64_t)a.e[i] * ((int64_t)1 << s);
        r.e[i] = (T)(x < lo ? lo : x > hi ? hi : x);
    }
    return r;
}
template <typename T, unsigned N> vector<T, N> downshift(const vector<T, N> &a, unsigned s) {
    static_assert(std::is_integral<T>::value, "shifts are integer operations");
    vector<T, N> r;
    for (unsigned i = 0; i < N; ++i) r.e[i] = (T)(a.e[i] >> s);  // arithmetic for signed types
    return r;
}

// ---- comparison and selection ----------------------------------------------------------
// Integer lanes compare exactly; float lanes on the sign of bf16(a - b) (see the header).
template <typename T> inline bool ucn_lt(T x, T y) { return x < y; }
inline bool ucn_lt(float x, float y) { return host::lt_f32(x, y); }
template <typename T> inline bool ucn_ge(T x, T y) { return !ucn_lt(x, y); }
template <typename T> inline bool ucn_eq(T x, T y) { return x == y; }
inline bool ucn_eq(float x, float y) { return !host::lt_f32(x, y) && !host::lt_f32(y, x); }
#define UCN_AIE_CMP(name, fn)                                                                   \
    template <typename T, unsigned N> mask<N> name(const vector<T, N> &a, const vector<T, N> &b) { \
        mask<N> m;                                                                              \
        for (unsigned i = 0; i < N; ++i) m.b[i] = fn(a.e[i], b.e[i]);                           \
        return m;                                                                               \
    }                                                                                           \
    template <typename T, unsigned N> mask<N> name(const vector<T, N> &a, T b) {                \
        mask<N> m;                                                                              \
        for (unsigned i = 0; i < N; ++i) m.b[i] = fn(a.e[i], b);                                \
        return m;                                                                               \
    }                                                                                           \
    template <typename T, unsigned N> mask<N> name(T a, const vector<T, N> &b) {                \
        mask<N> m;                                                                              \
        for (unsigned i = 0; i < N; ++i) m.b[i] = fn(a, b.e[i]);                                \
        return m;                                                                               \
    }
UCN_AIE_CMP(lt, ucn_lt)
UCN_AIE_CMP(ge, ucn_ge)
UCN_AIE_CMP(eq, ucn_eq)
#undef UCN_AIE_CMP

// Element i is b[i] where m[i] is set, a[i] otherwise.
template <typename T, unsigned N> vector<T, N> select(const vector<T, N> &a, const vector<T, N> &b, const mask<N> &m) {
    vector<T, N> r;
    for (unsigned i = 0; i < N; ++i) r.e[i] = m.b[i] ? b.e[i] : a.e[i];
    return r;
}

// ---- reductions ------------------------------------------------------------------------
template <typename T, unsigned N> T reduce_max(const vector<T, N> &v) {
    T r = v.e[0];
    for (unsigned i = 1; i < N; ++i) r = (v.e[i] > r || v.e[i] != v.e[i]) ? v.e[i] : r;
    return r;
}
template <typename T, unsigned N> T reduce_add(const vector<T, N> &v) {
    T r = v.e[0];
    for (unsigned i = 1; i < N; ++i) r = r + v.e[i];
    return r;
}

// ---- conversions -----------------------------------------------------------------------
// Fixed point with `shift` fractional bits -> float (exact for |x| < 2^24).
template <unsigned N> vector<float, N> to_float(const vector<int32, N> &v, int shift = 0) {
    vector<float, N> r;
    for (unsigned i = 0; i < N; ++i) r.e[i] = (float)std::ldexp((double)v.e[i], -shift);
    return r;
}
// float -> fixed point with `shift` fractional bits, rounded by the current rounding mode.
template <typename T, unsigned N> vector<T, N> to_fixed(const vector<float, N> &v, int shift = 0) {
    static_assert(std::is_same<T, int32>::value, "to_fixed<int32> only");
    vector<T, N> r;
    for (unsigned i = 0; i < N; ++i) r.e[i] = host::to_int(std::ldexp((double)v.e[i], shift));
    return r;
}

// A Row x Col matrix held in v (row-major) -> its Col x Row transpose.
template <typename T, unsigned N> vector<T, N> transpose(const vector<T, N> &v, unsigned rows, unsigned cols) {
    vector<T, N> r;
    for (unsigned i = 0; i < rows; ++i)
        for (unsigned j = 0; j < cols; ++j) r.e[j * rows + i] = v.e[i * cols + j];
    return r;
}

// ---- matrix multiplication -------------------------------------------------------------
// C (M x N, f32) += A (M x K, row-major) * B (K x N, row-major), bfloat16 inputs: the npu1
// (AIE-ML) bf16 shape is 4 x 8 x 4.
template <unsigned M, unsigned K, unsigned N, typename TA, typename TB, typename Tag = accauto> struct mmul {
    static_assert(M == 4 && K == 8 && N == 4, "npu1 bf16 mmul is 4x8x4");
    static_assert(std::is_same<TA, bfloat16>::value && std::is_same<TB, bfloat16>::value, "bf16 x bf16");
    static constexpr unsigned size_A = M * K, size_B = K * N, size_C = M * N;
    accum<accfloat, size_C> c;
    mmul() { for (unsigned i = 0; i < size_C; ++i) c.e[i] = 0.0f; }
    explicit mmul(const accum<accfloat, size_C> &a) : c(a) {}
    explicit mmul(const vector<float, size_C> &v) { c.from_vector(v); }
    void mac(const vector<TA, size_A> &a, const vector<TB, size_B> &b) {
        for (unsigned i = 0; i < M; ++i)
            for (unsigned j = 0; j < N; ++j) {
                float s = c.e[i * N + j];
                for (unsigned k = 0; k < K; ++k) s += (float)a.e[i * K + k] * (float)b.e[k * N + j];
                c.e[i * N + j] = s;
            }
    }
    void mul(const vector<TA, size_A> &a, const vector<TB, size_B> &b) {
        for (unsigned i = 0; i < size_C; ++i) c.e[i] = 0.0f;
        mac(a, b);
    }
    accum<accfloat, size_C> to_accum() const { return c; }
    template <typename T> vector<T, size_C> to_vector() const { return c.template to_vector<T>(); }
};
}  // namespace aie

// ---- cascade streams -------------------------------------------------------------------
// The emulator binds, per thread, the queue this core reads from (west neighbour) and the
// one it writes to (east neighbour). Each word is 16 f32 lanes (an accfloat register).
extern "C" {
typedef struct ucn_cascade {
    float *data;   // words * 16 floats
    size_t cap;    // capacity in words
    size_t len;    // words written
    size_t pos;    // words read
} ucn_cascade;
}
namespace aie::host {
inline ucn_cascade *&cascade_in() { static thread_local ucn_cascade *q = nullptr; return q; }
inline ucn_cascade *&cascade_out() { static thread_local ucn_cascade *q = nullptr; return q; }
inline bool &cascade_fault() { static thread_local bool f = false; return f; }
}  // namespace aie::host

// The intrinsics' native type v16accfloat: an opaque 512-bit register, no member functions
// (the real one is a compiler builtin vector type). aie::accum<accfloat, 16> converts to and
// from it, as aie_api's accum does (operator native_type, accum(native_type)).
class v16accfloat {
    float e_[16];
    friend void put_mcd(v16accfloat);
    friend v16accfloat get_scd_v16accfloat();
};

inline void put_mcd(v16accfloat a) {
    ucn_cascade *q = aie::host::cascade_out();
    if (!q || q->len >= q->cap) { aie::host::cascade_fault() = true; return; }
    std::memcpy(q->data + q->len * 16, a.e_, 64);
    q->len++;
}
inline v16accfloat get_scd_v16accfloat() {
    v16accfloat a;
    ucn_cascade *q = aie::host::cascade_in();
    if (!q || q->pos >= q->len) {
        aie::host::cascade_fault() = true;  // the hardware would stall forever
        for (unsigned i = 0; i < 16; ++i) a.e_[i] = 0.0f;
        return a;
    }
    std::memcpy(a.e_, q->data + q->pos * 16, 64);
    q->pos++;
    return a;
}

// Trace events and Chess loop pragmas: nothing on the host.
inline void event0() {}
inline void event1() {}
#define chess_prepare_for_pipelining
#define chess_loop_range(...)
#define chess_flatten_loop
