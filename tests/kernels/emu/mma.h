// Host stand-in for CUDA's <mma.h>: the nvcuda::wmma subset for 16x16x16 tiles (f16 or bf16
// inputs, f32 accumulators), run as warp collectives on the emulated GPU.
//
// A fragment's 256 elements are spread over the warp, 8 per lane, in an order the kernel must
// not rely on (as on the GPU: element i of lane l is tile element 32 * i + l, row-major). The
// *_sync functions are collectives: every lane of the warp must call them with the same pointer
// and leading dimension (checked), the pointer 32-byte aligned and ldm a multiple of 16 bytes
// (checked: CUDA's requirements). mma_sync gathers the warp's A, B and C elements and each lane
// computes its own 8 results in f32 (products of f16/bf16 values are exact in f32). Only the
// f16/bf16 -> f32 shapes the kernels use are provided.
#pragma once
#include "cuda_bf16.h"
#include "cuda_fp16.h"
#include "cuda_runtime.h"

namespace nvcuda {
namespace wmma {

struct matrix_a {};
struct matrix_b {};
struct accumulator {};
struct row_major {};
struct col_major {};
enum layout_t { mem_row_major, mem_col_major };

namespace detail {
inline float to_f(float x) { return x; }
inline float to_f(__half x) { return __half2float(x); }
inline float to_f(__nv_bfloat16 x) { return __bfloat162float(x); }
template <typename T> inline T from_f(float x);
template <> inline float from_f<float>(float x) { return x; }
template <> inline __half from_f<__half>(float x) { return __float2half_rn(x); }
template <> inline __nv_bfloat16 from_f<__nv_bfloat16>(float x) { return __float2bfloat16_rn(x); }

// Tile element (row, column) of element i of this lane.
inline int row_of(int i, unsigned lane) { return (32 * i + (int)lane) / 16; }
inline int col_of(int i, unsigned lane) { return (32 * i + (int)lane) % 16; }

// The collective's entry: all lanes present, the same (p, ldm), alignment as CUDA requires.
inline void enter(const char *what, const void *p, unsigned ldm, size_t elem) {
    struct Arg {
        const void *p;
        unsigned ldm;
    } mine{p, ldm};
    unsigned part;
    const unsigned char *s = ucn_emu::warp_exchange(&mine, sizeof mine, 0xffffffffu, &part);
    if (part != 0xffffffffu) {
        ucn_emu::fault("%s: only lanes %08x of the warp took part", what, part);
    }
    for (int l = 0; l < 32; ++l) {
        Arg o;
        memcpy(&o, s + ucn_emu::SLOT * l, sizeof o);
        if ((part >> l & 1u) && (o.p != p || o.ldm != ldm)) {
            ucn_emu::fault("%s: lanes disagree on the pointer or ldm (lane %d: %p/%u, lane %u: %p/%u)", what, l, o.p, o.ldm,
                           ucn_emu::lane(), p, ldm);
        }
    }
    if ((uintptr_t)p % 32 != 0) {
        ucn_emu::fault("%s: pointer %p is not 32-byte aligned", what, p);
    }
    if ((ldm * elem) % 16 != 0) {
        ucn_emu::fault("%s: ldm %u is not a multiple of 16 bytes", what, ldm);
    }
}
} // namespace detail

template <typename Use, int M, int N, int K, typename T, typename Layout = void> struct fragment {
    static_assert(M == 16 && N == 16 && K == 16, "emulated wmma: 16x16x16 tiles only");
    static constexpr int num_elements = 8;
    T x[num_elements];
};

template <typename Use, typename T, typename L>
inline void fill_fragment(fragment<Use, 16, 16, 16, T, L> &f, float v) {
    for (int i = 0; i < 8; ++i) {
        f.x[i] = detail::from_f<T>(v);
    }
}

// A (m, k) or B (k, n) from memory laid out as Layout says.
template <typename Use, typename T, typename L>
inline void load_matrix_sync(fragment<Use, 16, 16, 16, T, L> &f, const T *p, unsigned ldm) {
    static_assert(std::is_same_v<L, row_major> || std::is_same_v<L, col_major>, "matrix_a/b need a layout");
    detail::enter("wmma::load_matrix_sync", p, ldm, sizeof(T));
    const unsigned lane = ucn_emu::lane();
    for (int i = 0; i < 8; ++i) {
        const int r = detail::row_of(i, lane), c = detail::col_of(i, lane);
        f.x[i] = std::is_same_v<L, row_major> ? p[(size_t)r * ldm + c] : p[(size_t)c * ldm + r];
    }
}
// C (m, n) from memory.
template <typename T>
inline void load_matrix_sync(fragment<accumulator, 16, 16, 16, T> &f, const T *p, unsigned ldm, layout_t layout) {
    detail::enter("wmma::load_matrix_sync", p, ldm, sizeof(T));
    const unsigned lane = ucn_emu::lane();
    for (int i = 0; i < 8; ++i) {
        const int r = detail::row_of(i, lane), c = detail::col_of(i, lane);
        f.x[i] = layout == mem_row_major ? p[(size_t)r * ldm + c] : p[(size_t)c * ldm + r];
    }
}
template <typename T>
inline void store_matrix_sync(T *p, const fragment<accumulator, 16, 16, 16, T> &f, unsigned ldm, layout_t layout) {
    detail::enter("wmma::store_matrix_sync", p, ldm, sizeof(T));
    const unsigned lane = ucn_emu::lane();
    for (int i = 0; i < 8; ++i) {
        const int r = detail::row_of(i, lane), c = detail::col_of(i, lane);
        (layout == mem_row_major ? p[(size_t)r * ldm + c] : p[(size_t)c * ldm + r]) = f.x[i];
    }
}

// d = a * b + c.
template <typename TA, typename LA, typename LB, typename TC, typename TD>
inline void mma_sync(fragment<accumulator, 16, 16, 16, TD> &d, const fragment<matrix_a, 16, 16, 16, TA, LA> &a,
                     const fragment<matrix_b, 16, 16, 16, TA, LB> &b, const fragment<accumulator, 16, 16, 16, TC> &c) {
    struct Mine {
        float a[8], b[8], c[8];
    } mine;
    static_assert(sizeof(Mine) <= ucn_emu::SLOT, "");
    for (int i = 0; i < 8; ++i) {
        mine.a[i] = detail::to_f(a.x[i]);
        mine.b[i] = detail::to_f(b.x[i]);
        mine.c[i] = detail::to_f(c.x[i]);
    }
    // One collective: every lane gets the warp's 256 elements of each of A, B and C.
    unsigned part;
    const unsigned char *s = ucn_emu::warp_exchange(&mine, sizeof mine, 0xffffffffu, &part);
    if (part != 0xffffffffu) {
        ucn_emu::fault("wmma::mma_sync: only lanes %08x of the warp took part", part);
    }
    float A[16][16], B[16][16], C[16][16];
    for (int l = 0; l < 32; ++l) {
        Mine o;
        memcpy(&o, s + ucn_emu::SLOT * l, sizeof o);
        for (int i = 0; i < 8; ++i) {
            const int r = detail::row_of(i, (unsigned)l), c2 = detail::col_of(i, (unsigned)l);
            A[r][c2] = o.a[i];
            B[r][c2] = o.b[i];
            C[r][c2] = o.c[i];
        }
    }
    const unsigned lane = ucn_emu::lane();
    for (int i = 0; i < 8; ++i) {
        const int m = detail::row_of(i, lane), n = detail::col_of(i, lane);
        float t = 0.0f;
        for (int k = 0; k < 16; ++k) {
            t = fmaf(A[m][k], B[k][n], t);
        }
        d.x[i] = detail::from_f<TD>(C[m][n] + t);
    }
}

} // namespace wmma
} // namespace nvcuda
