// Host stand-in for <hip/hip_runtime.h> as the gfx1103 device pass of hipcc sees it: the
// emulated GPU of ../device.h in HIP's spelling (wave32 shuffles, __lane_id) and the AMDGCN
// builtins the kernels call (RDNA3 WMMA, sudot4, perm, fences). Built with clang (the kernels'
// RDNA3 code uses _Float16 ext_vector_type vectors, a clang extension), with __HIP_PLATFORM_AMD__,
// __HIP_DEVICE_COMPILE__, __gfx1103__ and __GFX11__ defined (clang defines both for gfx1103):
// kernels/hip/vendor.h takes its HIP branch and defines UCN_RDNA3 (keyed on __GFX11__), as hipcc
// --offload-arch=gfx1103 does.
//
// The builtins follow AMD's RDNA3 ISA; v_wmma_f32_16x16x16_f16 in wave32: lane l holds row l % 16
// of A and column l % 16 of B, 16 k values each (lanes 16-31 must repeat lanes 0-15: checked),
// and result i of lane l is D[2i + l / 16][l % 16].
#pragma once
#include "../device.h"

#if !defined(__clang__)
#error "the HIP (gfx1103) emulation needs clang: the RDNA3 code uses ext_vector_type"
#endif

inline unsigned __lane_id() { return ucn_emu::lane(); }

// HIP's shuffles (width defaults to the wave, 32 on gfx11): every lane of the wave takes part.
template <typename T> inline T __shfl(T v, int src, int width = 32) { return ucn_emu::shfl(0xffffffffu, v, src, 0, width); }
template <typename T> inline T __shfl_xor(T v, int lane_mask, int width = 32) {
    return ucn_emu::shfl(0xffffffffu, v, lane_mask, 1, width);
}
template <typename T> inline T __shfl_down(T v, unsigned delta, int width = 32) {
    return ucn_emu::shfl(0xffffffffu, v, (int)delta, 2, width);
}
template <typename T> inline T __shfl_up(T v, unsigned delta, int width = 32) {
    return ucn_emu::shfl(0xffffffffu, v, (int)delta, 3, width);
}

namespace ucn_emu {
typedef _Float16 v16h __attribute__((ext_vector_type(16)));
typedef float v8f __attribute__((ext_vector_type(8)));

// f16 bits to f32, from a table (the host has no f16 arithmetic: a conversion is a library
// call). The table lives in emu.cpp: static storage in the kernels' object is poisoned.
extern const float *const f16_table;
inline float h2f(uint16_t h) { return f16_table[h]; }

// v_wmma_f32_16x16x16_f16 (wave32): D = A * B + C.
inline v8f wmma_f32_16x16x16_f16_w32(v16h a, v16h b, v8f c) {
    struct Mine {
        uint16_t a[16], b[16]; // the bits of this lane's A row and B column
    } mine;
    static_assert(sizeof(Mine) <= SLOT, "");
    memcpy(mine.a, &a, sizeof mine.a);
    memcpy(mine.b, &b, sizeof mine.b);
    unsigned part;
    const unsigned char *s = warp_exchange(&mine, sizeof mine, 0xffffffffu, &part);
    if (part != 0xffffffffu) {
        fault("wmma_f32_16x16x16_f16_w32: only lanes %08x of the wave took part", part);
    }
    const unsigned lane = ucn_emu::lane();
    if (lane >= 16 && memcmp(s + SLOT * lane, s + SLOT * (lane - 16), sizeof(Mine)) != 0) {
        fault("wmma_f32_16x16x16_f16_w32: lane %u's A or B differs from lane %u's (lanes 16-31 must repeat 0-15)", lane, lane - 16);
    }
    const int n = (int)(lane & 15);
    float bn[16];
    {
        Mine o;
        memcpy(&o, s + SLOT * n, sizeof o); // B column n: lane n
        for (int k = 0; k < 16; ++k) {
            bn[k] = h2f(o.b[k]);
        }
    }
    v8f d;
    for (int i = 0; i < 8; ++i) {
        const int m = 2 * i + (int)(lane >> 4); // C[m][n] is result i of lane n + 16 * (m % 2): this lane
        Mine o;
        memcpy(&o, s + SLOT * m, sizeof o); // A row m: lane m
        float t = 0.0f;
        for (int k = 0; k < 16; ++k) {
            t = fmaf(h2f(o.a[k]), bn[k], t);
        }
        d[i] = c[i] + t;
    }
    return d;
}

// v_dot4_i32_iu8 as __builtin_amdgcn_sudot4(a_signed, a, b_signed, b, c, clamp).
inline int sudot4(bool as, int a, bool bs, int b, int c, bool clamp) {
    int64_t s = c;
    for (int i = 0; i < 4; ++i) {
        const int x = as ? (int)(int8_t)(a >> 8 * i) : (int)(uint8_t)(a >> 8 * i);
        const int y = bs ? (int)(int8_t)(b >> 8 * i) : (int)(uint8_t)(b >> 8 * i);
        s += x * y;
    }
    if (clamp) {
        s = s > INT32_MAX ? INT32_MAX : s < INT32_MIN ? INT32_MIN : s;
    }
    return (int)(uint32_t)(uint64_t)s;
}

// v_perm_b32: byte i of the result is selected by byte i of sel from {s0 (bytes 4-7), s1
// (bytes 0-3)}; selector 12 gives 0x00, 13 and above 0xff (8-11, sign replication, not used).
inline unsigned perm(unsigned s0, unsigned s1, unsigned sel) {
    const uint64_t v = (uint64_t)s0 << 32 | s1;
    unsigned r = 0;
    for (int i = 0; i < 4; ++i) {
        const unsigned x = sel >> 8 * i & 0xff;
        unsigned byte;
        if (x < 8) {
            byte = (unsigned)(v >> 8 * x) & 0xff;
        } else if (x == 12) {
            byte = 0;
        } else if (x > 12) {
            byte = 0xff;
        } else {
            fault("__builtin_amdgcn_perm: selector %u (sign replication) is not emulated", x);
            byte = 0;
        }
        r |= byte << 8 * i;
    }
    return r;
}

// A wave barrier: the lanes of the wave meet (on the GPU they run in lockstep).
inline void wave_barrier() {
    unsigned part;
    warp_exchange(nullptr, 0, 0xffffffffu, &part);
}
} // namespace ucn_emu

#define __builtin_amdgcn_wmma_f32_16x16x16_f16_w32 ucn_emu::wmma_f32_16x16x16_f16_w32
#define __builtin_amdgcn_sudot4 ucn_emu::sudot4
#define __builtin_amdgcn_perm ucn_emu::perm
#define __builtin_amdgcn_wave_barrier ucn_emu::wave_barrier
#define __builtin_amdgcn_fence(order, scope) ((void)0) // the emulation keeps memory order
