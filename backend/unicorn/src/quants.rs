//! ggml block formats: dequantization, activation quantization and dot products that reproduce
//! llama.cpp's x86 CPU backend bit for bit (the build in scripts/setup-llama.sh: AVX2 + FMA +
//! F16C, no AVX-512, GCC `-O3 -std=gnu11`, so `-ffp-contract=fast`).
//!
//! For one activation column, `ggml_compute_forward_mul_mat` converts the f32 activations with
//! `type_traits_cpu[vec_dot_type].from_float` ([`quantize_activation_row`]), then calls
//! `type_traits_cpu[weight type].vec_dot` once per weight row ([`vec_dot`]).
//!
//! [`vec_dot`] mirrors the AVX2 kernels (`ggml-cpu/arch/x86/quants.c`, `ggml-cpu/vec.cpp`), not
//! the generic scalar ones. The exact integer sums are split into the same eight 32-bit lanes
//! (lane k = elements 4k..4k+4 of a 32-element chunk, i.e. `maddubs` + `madd`), scaled by the
//! same fused multiply-adds into eight f32 lane accumulators, and reduced with the same
//! horizontal-add tree. Where GCC contracted a C `a += b * c` into an FMA in the shipped
//! `libggml-cpu.so`, we use `mul_add` as well; each place says so. All of it was checked bit for
//! bit against that library (activation bytes, dot products and dequantized values).
//!
//! Not mirrored here (other CPU paths with their own summation orders): llamafile's tinyBLAS
//! (`sgemm.cpp`, used only when src1 has >= 2 columns, i.e. prompt processing) and the
//! CPU_REPACK kernels (on AVX2, Q4_0 and Q4_K weights whose row count is divisible by 8 are
//! repacked to `q4_0_8x8` / `q4_K_8x8` with their own gemv unless repacking is disabled).
//!
//! [`dequantize_row`] mirrors ggml-base's `to_float` (built without FMA: separate mul and sub),
//! which the CPU backend uses for GET_ROWS on quantized tensors.
//!
//! Speed: the kernels are plain Rust on fixed-size blocks; on x86-64 with AVX2/FMA/F16C they are
//! compiled a second time with those features (runtime detection), and three tiny helpers use
//! intrinsics (`lanes_avx2`, `scales_f16`, `load32_f16`) where LLVM's auto-vectorization was
//! unreliable. Both paths give identical results (tested).

use half::f16;

// ggml type ids, from the bindings of the fetched ggml.h.
use ggml_sys::ggml_type::{
    GGML_TYPE_BF16, GGML_TYPE_F16, GGML_TYPE_F32, GGML_TYPE_Q4_0, GGML_TYPE_Q4_K, GGML_TYPE_Q5_0, GGML_TYPE_Q5_K,
    GGML_TYPE_Q6_K, GGML_TYPE_Q8_0, GGML_TYPE_Q8_K,
};

const QK: usize = 32; // QK4_0 = QK5_0 = QK8_0
const QK_K: usize = 256;

// Block sizes (`sizeof(block_*)` in ggml-common.h).
const Q4_0_BYTES: usize = 2 + QK / 2; // d, qs[16]
const Q5_0_BYTES: usize = 2 + 4 + QK / 2; // d, qh[4], qs[16]
const Q8_0_BYTES: usize = 2 + QK; // d, qs[32]
const Q4_K_BYTES: usize = 2 + 2 + 12 + QK_K / 2; // d, dmin, scales[12], qs[128]
const Q5_K_BYTES: usize = 2 + 2 + 12 + QK_K / 8 + QK_K / 2; // d, dmin, scales, qh[32], qs[128]
const Q6_K_BYTES: usize = QK_K / 2 + QK_K / 4 + QK_K / 16 + 2; // ql[128], qh[64], scales[16], d
const Q8_K_BYTES: usize = 4 + QK_K + 2 * (QK_K / 16); // d (f32), qs[256], bsums[16] (i16)

/// Block shape of a ggml type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QuantFormat {
    /// Elements per block (1 for F32/F16/BF16).
    pub block_elems: usize,
    /// Bytes per block.
    pub block_bytes: usize,
}

fn any_format(ty: u32) -> Option<QuantFormat> {
    let (block_elems, block_bytes) = match ty {
        GGML_TYPE_F32 => (1, 4),
        GGML_TYPE_F16 | GGML_TYPE_BF16 => (1, 2),
        GGML_TYPE_Q4_0 => (QK, Q4_0_BYTES),
        GGML_TYPE_Q5_0 => (QK, Q5_0_BYTES),
        GGML_TYPE_Q8_0 => (QK, Q8_0_BYTES),
        GGML_TYPE_Q4_K => (QK_K, Q4_K_BYTES),
        GGML_TYPE_Q5_K => (QK_K, Q5_K_BYTES),
        GGML_TYPE_Q6_K => (QK_K, Q6_K_BYTES),
        GGML_TYPE_Q8_K => (QK_K, Q8_K_BYTES),
        _ => return None,
    };
    Some(QuantFormat {
        block_elems,
        block_bytes,
    })
}

/// The weight types this module handles: F32, F16, BF16, Q4_0, Q5_0, Q8_0, Q4_K, Q5_K, Q6_K.
/// `None` otherwise (Q8_K, the K-quant activation format, included).
pub fn format(ty: u32) -> Option<QuantFormat> {
    if ty == GGML_TYPE_Q8_K {
        return None;
    }
    any_format(ty)
}

/// Bytes of a row of `n` elements of type `ty`; panics on an unknown type or a partial block.
fn row_bytes(ty: u32, n: usize) -> usize {
    let f = any_format(ty).unwrap_or_else(|| panic!("quants: unsupported ggml type {ty}"));
    assert_eq!(
        n % f.block_elems,
        0,
        "quants: n={n} is not a whole number of blocks of type {ty}"
    );
    n / f.block_elems * f.block_bytes
}

// ------------------------------------------------------------------------------------------
// Scalar helpers
// ------------------------------------------------------------------------------------------

#[inline(always)]
fn rd_u16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

#[inline(always)]
fn rd_f32(b: &[u8], at: usize) -> f32 {
    f32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// The first `N` little-endian u32 words of `b`, as one unaligned load (byte-wise assembly
/// keeps LLVM from vectorizing the callers' 8-wide loops).
#[inline(always)]
fn words<const N: usize>(b: &[u8]) -> [u32; N] {
    assert!(b.len() >= 4 * N);
    // SAFETY: the assert guarantees 4*N readable bytes at `b.as_ptr()`; `read_unaligned` has no
    // alignment requirement, and every bit pattern is a valid `[u32; N]`.
    let w: [u32; N] = unsafe { std::ptr::read_unaligned(b.as_ptr().cast::<[u32; N]>()) };
    if cfg!(target_endian = "big") {
        w.map(u32::from_le)
    } else {
        w
    }
}

/// The first `N` little-endian u16 values of `b`.
#[inline(always)]
fn halves<const N: usize>(b: &[u8]) -> [u16; N] {
    assert!(b.len() >= 2 * N);
    // SAFETY: as in `words`: 2*N readable bytes, no alignment needed, any bits are valid.
    let h: [u16; N] = unsafe { std::ptr::read_unaligned(b.as_ptr().cast::<[u16; N]>()) };
    if cfg!(target_endian = "big") {
        h.map(u16::from_le)
    } else {
        h
    }
}

/// Applies `f` to 32 values with a plain loop (`array::map` is not reliably inlined, and an
/// out-of-line call per 32 elements costs more than the arithmetic).
#[inline(always)]
fn map32<T: Copy>(v: [T; 32], f: impl Fn(T) -> f32) -> [f32; 32] {
    let mut out = [0f32; 32];
    for i in 0..32 {
        out[i] = f(v[i]);
    }
    out
}

/// Exact f16 -> f32 (as F16C `vcvtph2ps` and ggml's table). Subnormals go through an integer
/// conversion, so the result does not depend on the FTZ/DAZ state.
#[inline(always)]
fn f16_to_f32(h: u16) -> f32 {
    let h = h as u32;
    let sign = (h & 0x8000) << 16;
    let (exp, man) = ((h >> 10) & 0x1f, h & 0x3ff);
    if exp == 0 {
        f32::from_bits(((man as f32) * (1.0 / 16_777_216.0)).to_bits() | sign)
    } else if exp == 31 {
        f32::from_bits(sign | 0x7f80_0000 | (man << 13))
    } else {
        f32::from_bits(sign | ((exp + 112) << 23) | (man << 13))
    }
}

/// f32 -> f16, round to nearest even (F16C `vcvtps2ph` imm 0 in `ggml_cpu_fp32_to_fp16` and
/// `GGML_CPU_FP32_TO_FP16`; `half` rounds the same way).
#[inline(always)]
fn f32_to_f16_bits(x: f32) -> u16 {
    f16::from_f32(x).to_bits()
}

#[inline(always)]
fn bf16_to_f32(h: u16) -> f32 {
    f32::from_bits((h as u32) << 16)
}

/// `ggml_compute_fp32_to_bf16` (used by `ggml_cpu_fp32_to_bf16` on AVX2): round to nearest even
/// on the bit pattern; NaNs are truncated and forced quiet.
#[inline(always)]
fn f32_to_bf16_bits(x: f32) -> u16 {
    let u = x.to_bits();
    if (u & 0x7fff_ffff) > 0x7f80_0000 {
        return ((u >> 16) | 64) as u16;
    }
    (u.wrapping_add(0x7fff + ((u >> 16) & 1)) >> 16) as u16
}

/// `nearest_int` of ggml-quants.c: add 1.5*2^23 and read the mantissa, which rounds half to
/// even (valid for |x| <= 2^22; callers stay within +-128).
#[inline(always)]
fn nearest_int(x: f32) -> i32 {
    ((x + 12_582_912.0).to_bits() & 0x007f_ffff) as i32 - 0x0040_0000
}

/// 6-bit scale and min `j` (0..8) of a Q4_K/Q5_K block (`get_scale_min_k4`).
#[inline(always)]
fn scale_min_k4(j: usize, q: &[u8]) -> (u8, u8) {
    if j < 4 {
        (q[j] & 63, q[j + 4] & 63)
    } else {
        (
            (q[j + 4] & 0xf) | ((q[j - 4] >> 6) << 4),
            (q[j + 4] >> 4) | ((q[j] >> 6) << 4),
        )
    }
}

// The reductions below run once per row and are kept out of line: inlined, their lane pairing
// makes LLVM vectorize the callers' 8-lane accumulator loops as 4-lane halves (2-3x slower).

/// `hsum_float_8` of the x86 kernels: ((a0+a4)+(a2+a6)) + ((a1+a5)+(a3+a7)).
#[inline(never)]
pub(crate) fn hsum_float_8(a: &[f32; 8]) -> f32 {
    let r = [a[0] + a[4], a[1] + a[5], a[2] + a[6], a[3] + a[7]];
    (r[0] + r[2]) + (r[1] + r[3])
}

/// The Q4_K `acc_m` reduction: (m0+m2)+(m1+m3).
#[inline(never)]
fn hsum_float_4(m: &[f32; 4]) -> f32 {
    (m[0] + m[2]) + (m[1] + m[3])
}

/// `GGML_F32x8_REDUCE` over four accumulators: x0+x2, x1+x3, their sum, then lo+hi and two
/// `hadd`s: (t0+t1)+(t2+t3).
#[inline(never)]
fn f32x8_reduce(x: &[[f32; 8]; 4]) -> f32 {
    let mut s = [0f32; 8];
    for l in 0..8 {
        s[l] = (x[0][l] + x[2][l]) + (x[1][l] + x[3][l]);
    }
    let t = [s[0] + s[4], s[1] + s[5], s[2] + s[6], s[3] + s[7]];
    (t[0] + t[1]) + (t[2] + t[3])
}

// ------------------------------------------------------------------------------------------
// Dequantization (ggml-base `to_float`)
// ------------------------------------------------------------------------------------------

/// The 32 signed quants of a Q4_0 / Q5_0 / Q8_0 block, in element order.
fn q0_quants(ty: u32, b: &[u8]) -> [i32; QK] {
    let mut q = [0i32; QK];
    if ty == GGML_TYPE_Q8_0 {
        for j in 0..QK {
            q[j] = (b[2 + j] as i8) as i32;
        }
        return q;
    }
    // Q5_0: bit j of qh is the fifth bit of element j; Q4_0 has none and an offset of 8.
    let (qh, qs, off) = if ty == GGML_TYPE_Q5_0 {
        (u32::from_le_bytes([b[2], b[3], b[4], b[5]]), &b[6..22], 16)
    } else {
        (0, &b[2..18], 8)
    };
    for j in 0..QK / 2 {
        q[j] = ((qs[j] & 0xf) as u32 | (((qh >> j) & 1) << 4)) as i32 - off;
        q[j + 16] = ((qs[j] >> 4) as u32 | (((qh >> (j + 16)) & 1) << 4)) as i32 - off;
    }
    q
}

/// Dequantize one row of `n = dst.len()` elements (whole blocks) of type `ty` into f32, as
/// ggml's `to_float` does (`dequantize_row_q4_0`, ...). Also accepts Q8_K. Panics on an
/// unsupported type or a short `src`.
pub fn dequantize_row(ty: u32, src: &[u8], dst: &mut [f32]) {
    let n = dst.len();
    let f = any_format(ty).unwrap_or_else(|| panic!("quants: unsupported ggml type {ty}"));
    let src = &src[..row_bytes(ty, n)];
    let blocks = dst
        .chunks_exact_mut(f.block_elems)
        .zip(src.chunks_exact(f.block_bytes));
    match ty {
        GGML_TYPE_F32 => blocks.for_each(|(y, b)| y[0] = rd_f32(b, 0)),
        GGML_TYPE_F16 => blocks.for_each(|(y, b)| y[0] = f16_to_f32(rd_u16(b, 0))),
        GGML_TYPE_BF16 => blocks.for_each(|(y, b)| y[0] = bf16_to_f32(rd_u16(b, 0))),
        GGML_TYPE_Q4_0 | GGML_TYPE_Q5_0 | GGML_TYPE_Q8_0 => {
            for (y, b) in blocks {
                let (d, q) = (f16_to_f32(rd_u16(b, 0)), q0_quants(ty, b));
                for j in 0..QK {
                    y[j] = q[j] as f32 * d;
                }
            }
        }
        GGML_TYPE_Q4_K | GGML_TYPE_Q5_K => {
            let five = ty == GGML_TYPE_Q5_K;
            let qs_at = if five { 48 } else { 16 };
            for (y, b) in blocks {
                let (d, min) = (f16_to_f32(rd_u16(b, 0)), f16_to_f32(rd_u16(b, 2)));
                // Sub-block s (32 elements): nibble s%2 of qs[32*(s/2)..][..32], fifth bit s of
                // qh[l] (Q5_K); value d*sc*q - dmin*m (two roundings, no FMA in ggml-base).
                for s in 0..8 {
                    let (sc, m) = scale_min_k4(s, &b[4..16]);
                    let (d1, m1) = (d * sc as f32, min * m as f32);
                    for l in 0..32 {
                        let mut v = (b[qs_at + 32 * (s / 2) + l] >> (4 * (s % 2))) & 0xf;
                        if five {
                            v |= ((b[16 + l] >> s) & 1) << 4;
                        }
                        y[32 * s + l] = d1 * v as f32 - m1;
                    }
                }
            }
        }
        GGML_TYPE_Q6_K => {
            for (y, b) in blocks {
                let d = f16_to_f32(rd_u16(b, 208));
                // Element 128h + 32c + l: low nibble of ql[64h + 32(c%2) + l] (high nibble for
                // c >= 2), top bits 2c..2c+2 of qh[32h + l], scale sc[8h + 2c + l/16].
                for (e, ye) in y.iter_mut().enumerate() {
                    let (h, c, l) = (e / 128, (e % 128) / 32, e % 32);
                    let lo = (b[64 * h + 32 * (c % 2) + l] >> (4 * (c / 2))) & 0xf;
                    let q = (lo | (((b[128 + 32 * h + l] >> (2 * c)) & 3) << 4)) as i32 - 32;
                    let sc = b[192 + 8 * h + 2 * c + l / 16] as i8;
                    *ye = d * sc as f32 * q as f32; // C: d * sc * q, left to right
                }
            }
        }
        GGML_TYPE_Q8_K => {
            for (y, b) in blocks {
                let d = rd_f32(b, 0);
                for j in 0..QK_K {
                    y[j] = d * (b[4 + j] as i8) as f32;
                }
            }
        }
        _ => unreachable!(),
    }
}

// ------------------------------------------------------------------------------------------
// Activations (`type_traits_cpu[vec_dot_type].from_float`)
// ------------------------------------------------------------------------------------------

/// The activation format the CPU backend pairs with weight type `ty` for its dot product
/// (`type_traits_cpu[ty].vec_dot_type`): F32->F32, F16->F16, BF16->BF16,
/// Q4_0/Q5_0/Q8_0->Q8_0, Q4_K/Q5_K/Q6_K->Q8_K. Panics on other types.
pub fn vec_dot_type(ty: u32) -> u32 {
    match ty {
        GGML_TYPE_F32 | GGML_TYPE_F16 | GGML_TYPE_BF16 => ty,
        GGML_TYPE_Q4_0 | GGML_TYPE_Q5_0 | GGML_TYPE_Q8_0 => GGML_TYPE_Q8_0,
        GGML_TYPE_Q4_K | GGML_TYPE_Q5_K | GGML_TYPE_Q6_K => GGML_TYPE_Q8_K,
        _ => panic!("quants: unsupported weight type {ty}"),
    }
}

/// Bytes needed for `n` activations converted to `vec_dot_type(ty)`.
pub fn activation_row_bytes(ty: u32, n: usize) -> usize {
    row_bytes(vec_dot_type(ty), n)
}

/// Convert an f32 activation row (`src.len()` elements) to `vec_dot_type(ty)` exactly as the
/// CPU backend does; `dst` needs `activation_row_bytes(ty, src.len())` bytes.
/// * F32: copied. F16: round to nearest even. BF16: `GGML_FP32_TO_BF16` (nearest even).
/// * Q8_0: the AVX2 `quantize_row_q8_0`, which differs from `quantize_row_q8_0_ref`: it scales
///   by `127/amax` (not `1/d`) and rounds half to even (`_mm256_round_ps`, not `roundf`);
///   `d = amax/127` is stored as f16.
/// * Q8_K: `quantize_row_q8_K_ref` (the x86 build uses the reference): `iscale = -127/max`
///   with `max` the signed element of largest magnitude (first one on ties), `nearest_int`,
///   clamp to 127, `d = 1/iscale`, `bsums` = sums of 16 quants. An all-zero block gets d = 0
///   and zero quants and bsums (ggml leaves bsums unwritten there; they only meet d = 0).
///
/// NaN/inf activations are not mirrored.
pub fn quantize_activation_row(ty: u32, src: &[f32], dst: &mut [u8]) {
    let vt = vec_dot_type(ty);
    let dst = &mut dst[..row_bytes(vt, src.len())];
    match vt {
        GGML_TYPE_F32 => {
            for (b, x) in dst.chunks_exact_mut(4).zip(src) {
                b.copy_from_slice(&x.to_le_bytes());
            }
        }
        GGML_TYPE_F16 | GGML_TYPE_BF16 => {
            for (b, &x) in dst.chunks_exact_mut(2).zip(src) {
                let h = if vt == GGML_TYPE_F16 {
                    f32_to_f16_bits(x)
                } else {
                    f32_to_bf16_bits(x)
                };
                b.copy_from_slice(&h.to_le_bytes());
            }
        }
        GGML_TYPE_Q8_0 => {
            for (b, x) in dst.chunks_exact_mut(Q8_0_BYTES).zip(src.chunks_exact(QK)) {
                let amax = x.iter().fold(0f32, |m, v| m.max(v.abs()));
                let id = if amax != 0.0 { 127.0 / amax } else { 0.0 };
                b[0..2].copy_from_slice(&f32_to_f16_bits(amax / 127.0).to_le_bytes());
                for j in 0..QK {
                    // round half to even, then the saturating packs
                    b[2 + j] = nearest_int(x[j] * id).clamp(-128, 127) as i8 as u8;
                }
            }
        }
        GGML_TYPE_Q8_K => {
            for (b, x) in dst.chunks_exact_mut(Q8_K_BYTES).zip(src.chunks_exact(QK_K)) {
                let (mut max, mut amax) = (0f32, 0f32);
                for &v in x {
                    if v.abs() > amax {
                        (amax, max) = (v.abs(), v);
                    }
                }
                b.fill(0);
                if amax == 0.0 {
                    continue;
                }
                let iscale = -127.0 / max;
                b[0..4].copy_from_slice(&(1.0 / iscale).to_le_bytes());
                for g in 0..QK_K / 16 {
                    let mut sum = 0i32;
                    for j in 16 * g..16 * g + 16 {
                        let q = nearest_int(iscale * x[j]).min(127);
                        b[4 + j] = q as i8 as u8;
                        sum += q;
                    }
                    b[4 + QK_K + 2 * g..][..2].copy_from_slice(&(sum as i16).to_le_bytes());
                }
            }
        }
        _ => unreachable!(),
    }
}

// ------------------------------------------------------------------------------------------
// Dot products (`type_traits_cpu[ty].vec_dot`, AVX2 kernels)
// ------------------------------------------------------------------------------------------

/// Dot product of one weight row (type `ty`, `n` elements) with one activation row prepared by
/// [`quantize_activation_row`] for the same `ty`, reproducing ggml-cpu's AVX2 `vec_dot` for
/// that pair bit for bit (see the module docs). Allocation-free. Panics on an unsupported
/// type, a partial block or short slices.
pub fn vec_dot(ty: u32, n: usize, weight_row: &[u8], activation_row: &[u8]) -> f32 {
    let w = &weight_row[..row_bytes(ty, n)];
    let a = &activation_row[..row_bytes(vec_dot_type(ty), n)];
    match ty {
        GGML_TYPE_F32 => vec_dot_typed::<GGML_TYPE_F32>(n, w, a),
        GGML_TYPE_F16 => vec_dot_typed::<GGML_TYPE_F16>(n, w, a),
        GGML_TYPE_BF16 => vec_dot_typed::<GGML_TYPE_BF16>(n, w, a),
        GGML_TYPE_Q4_0 => vec_dot_typed::<GGML_TYPE_Q4_0>(n, w, a),
        GGML_TYPE_Q5_0 => vec_dot_typed::<GGML_TYPE_Q5_0>(n, w, a),
        GGML_TYPE_Q8_0 => vec_dot_typed::<GGML_TYPE_Q8_0>(n, w, a),
        GGML_TYPE_Q4_K => vec_dot_typed::<GGML_TYPE_Q4_K>(n, w, a),
        GGML_TYPE_Q5_K => vec_dot_typed::<GGML_TYPE_Q5_K>(n, w, a),
        _ => vec_dot_typed::<GGML_TYPE_Q6_K>(n, w, a),
    }
}

#[inline(always)]
fn vec_dot_typed<const TY: u32>(n: usize, w: &[u8], a: &[u8]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx2")
            && std::is_x86_feature_detected!("fma")
            && std::is_x86_feature_detected!("f16c")
        {
            // SAFETY: the CPU has AVX2, FMA and F16C (checked just above), all that
            // `vec_dot_avx2` requires; it has no other preconditions.
            return unsafe { vec_dot_avx2::<TY>(n, w, a) };
        }
    }
    vec_dot_kernel::<TY, false>(n, w, a)
}

/// [`vec_dot_kernel`] compiled with AVX2/FMA/F16C (one function per type, so each kernel is
/// vectorized on its own). Results are identical to the portable build; only speed differs.
/// Safety: the CPU must support AVX2, FMA and F16C.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn vec_dot_avx2<const TY: u32>(n: usize, w: &[u8], a: &[u8]) -> f32 {
    vec_dot_kernel::<TY, true>(n, w, a)
}

/// `SIMD` enables the intrinsic helpers; it is `true` only inside `vec_dot_avx2`, i.e. after
/// AVX2, FMA and F16C were detected at run time.
#[inline(always)]
fn vec_dot_kernel<const TY: u32, const SIMD: bool>(n: usize, w: &[u8], a: &[u8]) -> f32 {
    match TY {
        GGML_TYPE_F32 => dot_f32(n, w, a),
        GGML_TYPE_F16 => dot_f16::<SIMD>(n, w, a),
        GGML_TYPE_BF16 => dot_bf16(n, w, a),
        GGML_TYPE_Q4_0 => dot_q_q8_0::<GGML_TYPE_Q4_0, Q4_0_BYTES, SIMD>(w, a),
        GGML_TYPE_Q5_0 => dot_q_q8_0::<GGML_TYPE_Q5_0, Q5_0_BYTES, SIMD>(w, a),
        GGML_TYPE_Q8_0 => dot_q_q8_0::<GGML_TYPE_Q8_0, Q8_0_BYTES, SIMD>(w, a),
        GGML_TYPE_Q4_K => dot_q45k_q8k::<false, Q4_K_BYTES, SIMD>(w, a),
        GGML_TYPE_Q5_K => dot_q45k_q8k::<true, Q5_K_BYTES, SIMD>(w, a),
        _ => dot_q6k_q8k::<SIMD>(w, a),
    }
}

/// The 32-element steps of the F32/F16/BF16 kernels: four 8-lane accumulators
/// `sum[j] = fma(x, y, sum[j])` over elements `32i + 8j + lane` (`GGML_F32_STEP`). `es` is the
/// element size, `load` decodes one step. Returns the accumulators and `n & !31`.
#[inline(always)]
fn fma_steps(
    w: &[u8],
    a: &[u8],
    es: usize,
    load: impl Fn(&[u8]) -> [f32; 32],
) -> ([[f32; 8]; 4], usize) {
    let mut sum = [[0f32; 8]; 4];
    let mut done = 0;
    for (wc, ac) in w.chunks_exact(32 * es).zip(a.chunks_exact(32 * es)) {
        let (x, y) = (load(wc), load(ac));
        for (j, s) in sum.iter_mut().enumerate() {
            for l in 0..8 {
                s[l] = x[8 * j + l].mul_add(y[8 * j + l], s[l]);
            }
        }
        done += 32;
    }
    (sum, done)
}

/// `ggml_vec_dot_f32`: steps, `GGML_F32x8_REDUCE`, then the `L = n % 32` leftovers
/// `sumf += x*y` in f32, in order. GCC vectorized that tail loop in 8- and 4-wide pieces
/// (products rounded, then added one by one) and contracted only the last `L % 4` scalar
/// iterations to FMAs; so do we.
#[inline(always)]
fn dot_f32(n: usize, w: &[u8], a: &[u8]) -> f32 {
    let (sum, np) = fma_steps(w, a, 4, |c| map32(words::<32>(c), f32::from_bits));
    let mut sumf = f32x8_reduce(&sum);
    let fused_from = np + (n - np) / 4 * 4;
    for k in np..fused_from {
        sumf += rd_f32(w, 4 * k) * rd_f32(a, 4 * k);
    }
    for k in fused_from..n {
        sumf = rd_f32(w, 4 * k).mul_add(rd_f32(a, 4 * k), sumf);
    }
    sumf
}

/// `ggml_vec_dot_f16`: f16 -> f32, steps and reduction as F32, widened to `ggml_float` (f64);
/// leftovers add the f32 product in f64; the result is rounded to f32.
#[inline(always)]
fn dot_f16<const SIMD: bool>(n: usize, w: &[u8], a: &[u8]) -> f32 {
    let (sum, np) = fma_steps(w, a, 2, load32_f16::<SIMD>);
    let mut sumf = f32x8_reduce(&sum) as f64;
    for k in np..n {
        sumf += (f16_to_f32(rd_u16(w, 2 * k)) * f16_to_f32(rd_u16(a, 2 * k))) as f64;
    }
    sumf as f32
}

/// `ggml_vec_dot_bf16`, AVX2 branch: four accumulators `c = x*y + c` (GCC fused the
/// `_mm256_add_ps(_mm256_mul_ps(..), c)` into FMAs), (c1+c3)+(c2+c4), `hsum_float_8`, widened
/// to f64; leftovers add the f32 product in f64.
#[inline(always)]
fn dot_bf16(n: usize, w: &[u8], a: &[u8]) -> f32 {
    let (c, np) = fma_steps(w, a, 2, |c| map32(halves::<32>(c), bf16_to_f32));
    let mut s = [0f32; 8];
    for l in 0..8 {
        s[l] = (c[0][l] + c[2][l]) + (c[1][l] + c[3][l]);
    }
    let mut sumf = hsum_float_8(&s) as f64;
    for k in np..n {
        sumf += (bf16_to_f32(rd_u16(w, 2 * k)) * bf16_to_f32(rd_u16(a, 2 * k))) as f64;
    }
    sumf as f32
}

/// 32 f16 values from `c` (at least 64 bytes); 8-wide F16C when `SIMD`.
#[inline(always)]
fn load32_f16<const SIMD: bool>(c: &[u8]) -> [f32; 32] {
    #[cfg(target_arch = "x86_64")]
    {
        if SIMD {
            use std::arch::x86_64::*;
            let (c, mut v) = (&c[..64], [0f32; 32]);
            for i in 0..4 {
                // SAFETY: F16C and AVX were detected (`SIMD`); `c` has 64 bytes and `v` 32
                // floats, so the 16-byte load at 16i and the 8-float store at 8i are in bounds.
                unsafe {
                    let h = _mm_loadu_si128(c.as_ptr().add(16 * i).cast());
                    _mm256_storeu_ps(v.as_mut_ptr().add(8 * i), _mm256_cvtph_ps(h));
                }
            }
            return v;
        }
    }
    map32(halves::<32>(c), f16_to_f32)
}

/// Two block scales f16 -> f32 (exact either way); F16C when `SIMD`. Converting a pair makes
/// LLVM zero-extend the 32 bits; for one scale it inserts into whatever register is free (often
/// the accumulator), a false dependency that serializes the block loop.
#[inline(always)]
fn scales_f16<const SIMD: bool>(h0: u16, h1: u16) -> (f32, f32) {
    #[cfg(target_arch = "x86_64")]
    {
        if SIMD {
            use std::arch::x86_64::*;
            // SAFETY: F16C (and SSE3) were detected (`SIMD`); the intrinsics take no pointers.
            unsafe {
                let v = _mm_cvtph_ps(_mm_cvtsi32_si128((h0 as u32 | (h1 as u32) << 16) as i32));
                return (_mm_cvtss_f32(v), _mm_cvtss_f32(_mm_movehdup_ps(v)));
            }
        }
    }
    (f16_to_f32(h0), f16_to_f32(h1))
}

/// The eight i32 lanes of a 32-element `maddubs` + `madd` product: lane k sums elements
/// 4k..4k+4, the four bytes of word k. `xw` holds weight quants (bytes as i8 if `SIGNED`, else
/// as u8 <= 63 minus `off`), `yw` the i8 activation quants. AVX2 cannot saturate for these
/// ranges, so exact sums are what ggml gets. With `SIMD`, [`lanes_avx2`] computes the same
/// (LLVM vectorized this badly inside the K-quant kernels, across groups instead of lanes).
#[inline(always)]
fn lanes<const SIGNED: bool, const SIMD: bool>(xw: &[u32; 8], yw: &[u32; 8], off: i32) -> [i32; 8] {
    #[cfg(target_arch = "x86_64")]
    {
        if SIMD {
            // SAFETY: AVX2 was detected (`SIMD`); `lanes_avx2` has no other preconditions.
            return unsafe { lanes_avx2::<SIGNED>(xw, yw, off) };
        }
    }
    let mut l = [0i32; 8];
    for t in 0..4 {
        for k in 0..8 {
            let xv = if SIGNED {
                ((xw[k] << (24 - 8 * t)) as i32) >> 24
            } else {
                ((xw[k] >> (8 * t)) & 0xff) as i32 - off
            };
            l[k] += xv * (((yw[k] << (24 - 8 * t)) as i32) >> 24);
        }
    }
    l
}

/// [`lanes`] with ggml's instructions: `maddubs` (u8 x i8 -> i16 pairs), `madd` with ones
/// (-> i32). Signed weights use the `sign_epi8` trick like ggml (exact unless a weight -128
/// meets an activation -128; our activations never hold -128); an offset is removed as
/// `off * sum(y)` per lane. Safety: the CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn lanes_avx2<const SIGNED: bool>(xw: &[u32; 8], yw: &[u32; 8], off: i32) -> [i32; 8] {
    use std::arch::x86_64::*;
    let x = _mm256_loadu_si256(xw.as_ptr().cast());
    let y = _mm256_loadu_si256(yw.as_ptr().cast());
    let ones = _mm256_set1_epi16(1);
    let mut l = if SIGNED {
        _mm256_madd_epi16(
            _mm256_maddubs_epi16(_mm256_sign_epi8(x, x), _mm256_sign_epi8(y, x)),
            ones,
        )
    } else {
        _mm256_madd_epi16(_mm256_maddubs_epi16(x, y), ones)
    };
    if off != 0 {
        let ysum = _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_set1_epi8(1), y), ones);
        l = _mm256_sub_epi32(l, _mm256_mullo_epi32(ysum, _mm256_set1_epi32(off)));
    }
    let mut out = [0i32; 8];
    _mm256_storeu_si256(out.as_mut_ptr().cast(), l);
    out
}

/// Words of 32 nibbles: low nibbles of the 16 bytes are elements 0..16 (words 0..4), high
/// nibbles elements 16..32 (words 4..8).
#[inline(always)]
fn nibble_words(qs: &[u32; 4]) -> [u32; 8] {
    let mut w = [0u32; 8];
    for k in 0..4 {
        w[k] = qs[k] & 0x0f0f_0f0f;
        w[k + 4] = (qs[k] >> 4) & 0x0f0f_0f0f;
    }
    w
}

/// Q4_0/Q5_0/Q8_0 x Q8_0 (`ggml_vec_dot_q{4,5,8}_0_q8_0`, AVX2): per block, [`lanes`], then
/// `acc = fma(dx*dy, lane, acc)` (8 f32 lanes); finally `hsum_float_8`.
#[inline(always)]
fn dot_q_q8_0<const TY: u32, const WB: usize, const SIMD: bool>(w: &[u8], a: &[u8]) -> f32 {
    let mut acc = [0f32; 8];
    for (x, y) in w.chunks_exact(WB).zip(a.chunks_exact(Q8_0_BYTES)) {
        let x: &[u8; WB] = x.try_into().unwrap();
        let yw = words::<8>(&y[2..]);
        let lanes = match TY {
            GGML_TYPE_Q4_0 => lanes::<false, SIMD>(&nibble_words(&words::<4>(&x[2..])), &yw, 8),
            GGML_TYPE_Q5_0 => {
                // Fifth bit of element e = 4k + t (byte t of word k) is bit e of qh.
                let qh = words::<1>(&x[2..])[0];
                let mut xw = nibble_words(&words::<4>(&x[6..]));
                for (k, xk) in xw.iter_mut().enumerate() {
                    let b = (qh >> (4 * k)) & 0xf;
                    *xk |= ((b & 1) | ((b & 2) << 7) | ((b & 4) << 14) | ((b & 8) << 21)) << 4;
                }
                lanes::<false, SIMD>(&xw, &yw, 16)
            }
            _ => lanes::<true, SIMD>(&words::<8>(&x[2..]), &yw, 0),
        };
        let (dx, dy) = scales_f16::<SIMD>(rd_u16(x, 0), rd_u16(y, 0));
        let d = dx * dy;
        for k in 0..8 {
            acc[k] = d.mul_add(lanes[k] as f32, acc[k]);
        }
    }
    hsum_float_8(&acc)
}

/// A Q8_K block: (d, quants, bsums).
#[inline(always)]
fn q8k_block(y: &[u8]) -> (f32, &[u8], [i32; 16]) {
    let y: &[u8; Q8_K_BYTES] = y.try_into().unwrap();
    let (h, mut bsums) = (halves::<16>(&y[4 + QK_K..]), [0i32; 16]);
    for g in 0..16 {
        bsums[g] = h[g] as i16 as i32;
    }
    (rd_f32(y, 0), &y[4..4 + QK_K], bsums)
}

/// Q4_K/Q5_K x Q8_K (`ggml_vec_dot_q{4,5}_K_q8_K`, AVX2). Per super-block:
/// * `d = y.d * x.d`, `dmin = -y.d * x.dmin`;
/// * lanes: for each 64-element group j, `sc[2j] * lanes(low nibbles) + sc[2j+1] *
///   lanes(high nibbles)` summed in i32, then `acc = fma(d, lane, acc)`;
/// * mins: `q8s[j] = bsums[2j] + bsums[2j+1]`. Q4_K keeps 4 lanes
///   `m[2i]*q8s[2i] + m[2i+1]*q8s[2i+1]` in `acc_m = fma(dmin, lane, acc_m)`, reduced at the
///   end; Q5_K adds them to one integer and does `summs += dmin * int` (GCC made that an FMA).
///
/// Result: `hsum_float_8(acc) + mins`.
#[inline(always)]
fn dot_q45k_q8k<const FIVE: bool, const WB: usize, const SIMD: bool>(w: &[u8], a: &[u8]) -> f32 {
    let qs_at = if FIVE { 48 } else { 16 };
    let (mut acc, mut acc_m, mut summs) = ([0f32; 8], [0f32; 4], 0f32);
    for (x, y) in w.chunks_exact(WB).zip(a.chunks_exact(Q8_K_BYTES)) {
        let x: &[u8; WB] = x.try_into().unwrap();
        let (yd, q8, bsums) = q8k_block(y);
        let (xd, xdmin) = scales_f16::<SIMD>(rd_u16(x, 0), rd_u16(x, 2));
        let (d, dmin) = (yd * xd, -yd * xdmin);
        let (mut sc, mut mn) = ([0i32; 8], [0i32; 8]);
        for j in 0..8 {
            let (s, m) = scale_min_k4(j, &x[4..16]);
            (sc[j], mn[j]) = (s as i32, m as i32);
        }
        let mut prod = [0i32; 4];
        for i in 0..4 {
            let (q8s0, q8s1) = (
                bsums[4 * i] + bsums[4 * i + 1],
                bsums[4 * i + 2] + bsums[4 * i + 3],
            );
            prod[i] = mn[2 * i] * q8s0 + mn[2 * i + 1] * q8s1;
        }
        if FIVE {
            summs = dmin.mul_add(((prod[0] + prod[1]) + (prod[2] + prod[3])) as f32, summs);
        } else {
            for i in 0..4 {
                acc_m[i] = dmin.mul_add(prod[i] as f32, acc_m[i]);
            }
        }
        let qh = words::<8>(&x[16..]); // Q5_K: bits 2j, 2j+1 of qh[l]
        let mut sumi = [0i32; 8];
        for j in 0..4 {
            let q4 = words::<8>(&x[qs_at + 32 * j..]);
            let (mut lo, mut hi) = ([0u32; 8], [0u32; 8]);
            for k in 0..8 {
                lo[k] = q4[k] & 0x0f0f_0f0f;
                hi[k] = (q4[k] >> 4) & 0x0f0f_0f0f;
                if FIVE {
                    lo[k] |= ((qh[k] >> (2 * j)) & 0x0101_0101) << 4;
                    hi[k] |= ((qh[k] >> (2 * j + 1)) & 0x0101_0101) << 4;
                }
            }
            let sl = lanes::<false, SIMD>(&lo, &words::<8>(&q8[64 * j..]), 0);
            let sh = lanes::<false, SIMD>(&hi, &words::<8>(&q8[64 * j + 32..]), 0);
            for k in 0..8 {
                sumi[k] += sc[2 * j] * sl[k] + sc[2 * j + 1] * sh[k];
            }
        }
        for k in 0..8 {
            acc[k] = d.mul_add(sumi[k] as f32, acc[k]);
        }
    }
    hsum_float_8(&acc) + if FIVE { summs } else { hsum_float_4(&acc_m) }
}

/// Q6_K x Q8_K (`ggml_vec_dot_q6_K_q8_K`, AVX2). Quants are used unsigned (0..63) and the
/// offset 32 is removed through the bsums, per lane:
/// `lane k = sum over the 8 chunks c of sc(c, k) * lanes(c)[k]
///           - 32 * (bsums[2k]*sc[2k] + bsums[2k+1]*sc[2k+1])`,
/// where lanes 0..4 of a chunk use its first 16-element scale and lanes 4..8 its second; then
/// `acc = fma(y.d * x.d, lane, acc)` and `hsum_float_8`.
#[inline(always)]
fn dot_q6k_q8k<const SIMD: bool>(w: &[u8], a: &[u8]) -> f32 {
    let mut acc = [0f32; 8];
    for (x, y) in w.chunks_exact(Q6_K_BYTES).zip(a.chunks_exact(Q8_K_BYTES)) {
        let (yd, q8, bsums) = q8k_block(y);
        let d = yd * f16_to_f32(rd_u16(x, 208));
        let mut sc = [0i32; 16];
        for i in 0..16 {
            sc[i] = (x[192 + i] as i8) as i32;
        }
        let mut sumi = [0i32; 8];
        for h in 0..2 {
            let hw = words::<8>(&x[128 + 32 * h..]);
            for c in 0..4 {
                // Chunk c of half h: ql nibble c/2 of bytes 64h + 32(c%2) + l, qh bits 2c..2c+2.
                let lw = words::<8>(&x[64 * h + 32 * (c % 2)..]);
                let mut q6 = [0u32; 8];
                for k in 0..8 {
                    q6[k] = ((lw[k] >> (4 * (c / 2))) & 0x0f0f_0f0f)
                        | (((hw[k] >> (2 * c)) & 0x0303_0303) << 4);
                }
                let s = lanes::<false, SIMD>(&q6, &words::<8>(&q8[128 * h + 32 * c..]), 0);
                let (s0, s1) = (sc[8 * h + 2 * c], sc[8 * h + 2 * c + 1]);
                for k in 0..8 {
                    sumi[k] += if k < 4 { s0 } else { s1 } * s[k];
                }
            }
        }
        for k in 0..8 {
            let sub = 32 * (bsums[2 * k] * sc[2 * k] + bsums[2 * k + 1] * sc[2 * k + 1]);
            acc[k] = d.mul_add((sumi[k] - sub) as f32, acc[k]);
        }
    }
    hsum_float_8(&acc)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Small deterministic generator (64-bit LCG, high bits).
    struct Lcg(u64);
    impl Lcg {
        fn next_u32(&mut self) -> u32 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (self.0 >> 32) as u32
        }
        /// Uniform in [-1, 1).
        fn unit(&mut self) -> f32 {
            (self.next_u32() >> 8) as f32 / (1u32 << 23) as f32 - 1.0
        }
    }

    const HALF: u16 = 0x3800; // f16 0.5
    const QUARTER: u16 = 0x3400; // f16 0.25
    #[rustfmt::skip]
    const ALL: [u32; 9] = [GGML_TYPE_F32, GGML_TYPE_F16, GGML_TYPE_BF16, GGML_TYPE_Q4_0,
        GGML_TYPE_Q5_0, GGML_TYPE_Q8_0, GGML_TYPE_Q4_K, GGML_TYPE_Q5_K, GGML_TYPE_Q6_K];

    fn deq(ty: u32, src: &[u8], n: usize) -> Vec<f32> {
        let mut out = vec![0f32; n];
        dequantize_row(ty, src, &mut out);
        out
    }

    fn quant(ty: u32, x: &[f32]) -> Vec<u8> {
        let mut a = vec![0u8; activation_row_bytes(ty, x.len())];
        quantize_activation_row(ty, x, &mut a);
        a
    }

    #[test]
    fn formats_and_types() {
        // (type, block elements, block bytes, vec_dot_type)
        let table = [
            (GGML_TYPE_F32, 1, 4, GGML_TYPE_F32),
            (GGML_TYPE_F16, 1, 2, GGML_TYPE_F16),
            (GGML_TYPE_BF16, 1, 2, GGML_TYPE_BF16),
            (GGML_TYPE_Q4_0, 32, 18, GGML_TYPE_Q8_0),
            (GGML_TYPE_Q5_0, 32, 22, GGML_TYPE_Q8_0),
            (GGML_TYPE_Q8_0, 32, 34, GGML_TYPE_Q8_0),
            (GGML_TYPE_Q4_K, 256, 144, GGML_TYPE_Q8_K),
            (GGML_TYPE_Q5_K, 256, 176, GGML_TYPE_Q8_K),
            (GGML_TYPE_Q6_K, 256, 210, GGML_TYPE_Q8_K),
        ];
        for (ty, block_elems, block_bytes, vt) in table {
            assert_eq!(
                format(ty),
                Some(QuantFormat {
                    block_elems,
                    block_bytes
                })
            );
            assert_eq!(vec_dot_type(ty), vt);
        }
        assert_eq!((format(GGML_TYPE_Q8_K), format(3)), (None, None));
        assert_eq!(activation_row_bytes(GGML_TYPE_Q6_K, 512), 2 * 292);
        assert_eq!(activation_row_bytes(GGML_TYPE_Q5_0, 64), 2 * 34);
        assert_eq!(activation_row_bytes(GGML_TYPE_BF16, 10), 20);
    }

    #[test]
    fn scalar_conversions() {
        for h in 0..=u16::MAX {
            let (want, got) = (f16::from_bits(h).to_f32(), f16_to_f32(h));
            assert!(
                got.to_bits() == want.to_bits() || (want.is_nan() && got.is_nan()),
                "{h:#x}"
            );
        }
        assert_eq!(f32_to_bf16_bits(1.0), 0x3f80);
        assert_eq!(f32_to_bf16_bits(f32::from_bits(0x3f80_8000)), 0x3f80); // tie -> even
        assert_eq!(f32_to_bf16_bits(f32::from_bits(0x3f81_8000)), 0x3f82); // tie -> even
        assert_eq!(f32_to_bf16_bits(f32::from_bits(0x3f80_8001)), 0x3f81);
        assert_eq!(f32_to_bf16_bits(f32::from_bits(0x7f80_0001)), 0x7fc0); // quiet NaN
        let r: Vec<i32> = [2.5f32, 3.5, -2.5, -0.5, -126.7, 126.5]
            .map(nearest_int)
            .to_vec();
        assert_eq!(r, [2, 4, -2, 0, -127, 126]);
    }

    #[test]
    fn q4_0_q5_0_q8_0_by_hand() {
        let mut b = vec![0u8; 18];
        b[0..2].copy_from_slice(&HALF.to_le_bytes());
        for j in 0..16 {
            b[2 + j] = j as u8 | ((15 - j as u8) << 4);
        }
        let y = deq(GGML_TYPE_Q4_0, &b, 32);
        for j in 0..16 {
            assert_eq!(
                (y[j], y[j + 16]),
                ((j as f32 - 8.0) * 0.5, (7.0 - j as f32) * 0.5)
            );
        }

        let qh: u32 = 0xA5A5_0F0F;
        let mut b = vec![0u8; 22];
        b[0..2].copy_from_slice(&QUARTER.to_le_bytes());
        b[2..6].copy_from_slice(&qh.to_le_bytes());
        for j in 0..16 {
            b[6 + j] = j as u8 | (((j as u8 * 7) & 15) << 4);
        }
        let y = deq(GGML_TYPE_Q5_0, &b, 32);
        for j in 0..16 {
            let lo = j as i32 + 16 * ((qh >> j) & 1) as i32 - 16;
            let hi = ((j as i32 * 7) & 15) + 16 * ((qh >> (j + 16)) & 1) as i32 - 16;
            assert_eq!((y[j], y[j + 16]), (lo as f32 * 0.25, hi as f32 * 0.25));
        }
        assert_eq!((y[0], y[4]), (0.0, -12.0 * 0.25)); // qh bit 0 set, bit 4 clear

        let mut b = vec![0u8; 34];
        b[0..2].copy_from_slice(&0x4000u16.to_le_bytes()); // 2.0
        for j in 0..32 {
            b[2 + j] = (j as i8 - 16) as u8;
        }
        let y = deq(GGML_TYPE_Q8_0, &b, 32);
        assert!((0..32).all(|j| y[j] == (j as f32 - 16.0) * 2.0));
    }

    /// Builds a Q4_K (or Q5_K) block from quants q (0..16 or 0..32), 6-bit scales and mins, with
    /// the packing of ggml-common.h: bytes 0..4 hold scales 0..4 plus bits 4..6 of scales 4..8
    /// in their top bits, bytes 4..8 the same for mins, bytes 8..12 the low nibbles of scale and
    /// min 4..8. Returns the block and the expected values d*sc*q - dmin*m.
    fn build_k45(five: bool, q: &[u8; 256], sc: &[u8; 8], m: &[u8; 8]) -> (Vec<u8>, Vec<f32>) {
        let mut b = vec![0u8; if five { 176 } else { 144 }];
        b[0..2].copy_from_slice(&HALF.to_le_bytes());
        b[2..4].copy_from_slice(&QUARTER.to_le_bytes());
        for j in 0..4 {
            b[4 + j] = sc[j] | ((sc[j + 4] >> 4) << 6);
            b[8 + j] = m[j] | ((m[j + 4] >> 4) << 6);
            b[12 + j] = (sc[j + 4] & 15) | ((m[j + 4] & 15) << 4);
        }
        let qs = if five { 48 } else { 16 };
        let mut want = vec![0f32; 256];
        for e in 0..256 {
            let (sub, l) = (e / 32, e % 32);
            b[qs + 32 * (sub / 2) + l] |= (q[e] & 15) << (4 * (sub % 2));
            if five {
                b[16 + l] |= (q[e] >> 4) << sub;
            }
            want[e] = 0.5 * sc[sub] as f32 * q[e] as f32 - 0.25 * m[sub] as f32;
        }
        (b, want)
    }

    #[test]
    fn q4_k_q5_k_by_hand() {
        let (sc, m) = ([1, 7, 13, 63, 32, 17, 48, 5], [0, 63, 2, 33, 16, 47, 8, 60]);
        for (five, ty) in [(false, GGML_TYPE_Q4_K), (true, GGML_TYPE_Q5_K)] {
            let q: [u8; 256] =
                std::array::from_fn(|e| ((e * 7 + e / 13) % if five { 32 } else { 16 }) as u8);
            let (b, want) = build_k45(five, &q, &sc, &m);
            assert_eq!(deq(ty, &b, 256), want, "five={five}");
        }
    }

    #[test]
    fn q6_k_by_hand() {
        // Element e = 128h + 32c + l: low nibble in ql[64h + 32(c%2) + l] (low half for c < 2),
        // top 2 bits in qh[32h + l] bits 2c..2c+2, scale sc[8h + 2c + l/16]; d * sc * (q - 32).
        let mut b = vec![0u8; 210];
        b[208..210].copy_from_slice(&QUARTER.to_le_bytes());
        let scales: [i8; 16] = [
            1, -2, 3, -128, 127, 0, 9, -10, 11, 12, -13, 14, 15, 16, -17, 64,
        ];
        for i in 0..16 {
            b[192 + i] = scales[i] as u8;
        }
        let mut want = vec![0f32; 256];
        for (e, we) in want.iter_mut().enumerate() {
            let q = ((e * 11 + 5) % 64) as u8;
            let (h, c, l) = (e / 128, (e % 128) / 32, e % 32);
            b[64 * h + 32 * (c % 2) + l] |= (q & 15) << (4 * (c / 2));
            b[128 + 32 * h + l] |= (q >> 4) << (2 * c);
            *we = 0.25 * scales[8 * h + 2 * c + l / 16] as f32 * (q as i32 - 32) as f32;
        }
        assert_eq!(deq(GGML_TYPE_Q6_K, &b, 256), want);
    }

    #[test]
    fn q8_0_activations() {
        let x: Vec<f32> = (0..64).map(|i| (i as f32 - 31.5) * 0.37).collect();
        let y = deq(GGML_TYPE_Q8_0, &quant(GGML_TYPE_Q4_0, &x), 64);
        for blk in 0..2 {
            let amax = x[32 * blk..32 * blk + 32]
                .iter()
                .fold(0f32, |a, v| a.max(v.abs()));
            let step = f16::from_f32(amax / 127.0).to_f32();
            for j in 32 * blk..32 * blk + 32 {
                assert!((y[j] - x[j]).abs() <= 0.5 * step + amax * 1e-3, "{j}");
            }
        }
        // Ties go to even like AVX2 `_mm256_round_ps`, not away from zero like `roundf`:
        // amax = 127 gives id = 1.
        let mut x = vec![0f32; 32];
        x[..5].copy_from_slice(&[127.0, 2.5, 3.5, -0.5, -1.5]);
        let q = quant(GGML_TYPE_Q8_0, &x);
        assert_eq!(rd_u16(&q, 0), f16::from_f32(1.0).to_bits());
        assert_eq!(&q[2..7], &[127u8, 2, 4, 0, (-2i8) as u8]);
    }

    #[test]
    fn q8_k_activations() {
        let mut r = Lcg(7);
        let x: Vec<f32> = (0..512).map(|_| r.unit() * 3.0).collect();
        let q = quant(GGML_TYPE_Q4_K, &x);
        let y = deq(GGML_TYPE_Q8_K, &q, 512);
        for blk in 0..2 {
            let b = &q[blk * 292..(blk + 1) * 292];
            for g in 0..16 {
                let s: i32 = (0..16).map(|i| b[4 + 16 * g + i] as i8 as i32).sum();
                assert_eq!(rd_u16(b, 260 + 2 * g) as i16 as i32, s);
            }
            let d = rd_f32(b, 0).abs();
            assert!((256 * blk..256 * (blk + 1)).all(|j| (y[j] - x[j]).abs() <= 0.5001 * d));
            // The element of largest magnitude maps to -127.
            let imax =
                (0..256).max_by(|&i, &j| x[256 * blk + i].abs().total_cmp(&x[256 * blk + j].abs()));
            assert_eq!(b[4 + imax.unwrap()] as i8, -127);
        }
        assert!(quant(GGML_TYPE_Q6_K, &[0f32; 256]).iter().all(|&b| b == 0));
    }

    /// A random weight row: random bytes with small finite scales.
    fn random_weights(ty: u32, n: usize, r: &mut Lcg) -> Vec<u8> {
        let f = format(ty).unwrap();
        let mut w: Vec<u8> = (0..n / f.block_elems * f.block_bytes)
            .map(|_| r.next_u32() as u8)
            .collect();
        let scale = |r: &mut Lcg| f16::from_f32(r.unit() * 0.05).to_bits().to_le_bytes();
        for b in w.chunks_exact_mut(f.block_bytes) {
            match ty {
                GGML_TYPE_F32 => b.copy_from_slice(&r.unit().to_le_bytes()),
                GGML_TYPE_F16 => b.copy_from_slice(&f32_to_f16_bits(r.unit()).to_le_bytes()),
                GGML_TYPE_BF16 => b.copy_from_slice(&f32_to_bf16_bits(r.unit()).to_le_bytes()),
                GGML_TYPE_Q4_K | GGML_TYPE_Q5_K => {
                    b[0..2].copy_from_slice(&scale(r));
                    b[2..4].copy_from_slice(&scale(r));
                }
                GGML_TYPE_Q6_K => b[208..210].copy_from_slice(&scale(r)),
                _ => b[0..2].copy_from_slice(&scale(r)),
            }
        }
        w
    }

    #[test]
    fn vec_dot_matches_f64_reference() {
        let mut r = Lcg(12345);
        for ty in ALL {
            let float = format(ty).unwrap().block_elems == 1;
            let ns: &[usize] = if float {
                &[1, 7, 33, 70, 256, 1536]
            } else {
                &[256, 512, 1536]
            };
            for &n in ns {
                for _ in 0..20 {
                    let w = random_weights(ty, n, &mut r);
                    let x: Vec<f32> = (0..n).map(|_| r.unit() * 2.0).collect();
                    let a = quant(ty, &x);
                    let (wd, ad) = (deq(ty, &w, n), deq(vec_dot_type(ty), &a, n));
                    let exact: f64 = wd.iter().zip(&ad).map(|(&p, &q)| p as f64 * q as f64).sum();
                    let mag: f64 = wd
                        .iter()
                        .zip(&ad)
                        .map(|(&p, &q)| (p as f64 * q as f64).abs())
                        .sum();
                    let got = vec_dot(ty, n, &w, &a) as f64;
                    assert!(
                        (got - exact).abs() <= 1e-5 * mag + 1e-30,
                        "ty={ty} n={n}: {got} vs {exact}"
                    );
                }
            }
        }
    }

    /// `vec_dot` runs the AVX2/FMA/F16C build of the kernel when the CPU has those features and
    /// the portable one otherwise; without them this test would compare the portable kernel
    /// with itself, so it refuses to pass there. (The crate targets x86-64-v3, see
    /// .cargo/config.toml, so an x86-64 CPU that runs it has them.) Other architectures have
    /// no SIMD build to compare: ignored there, with the reason.
    #[test]
    #[cfg_attr(not(target_arch = "x86_64"), ignore = "no SIMD kernel on this architecture")]
    fn simd_and_portable_kernels_agree() {
        #[cfg(target_arch = "x86_64")]
        assert!(
            std::is_x86_feature_detected!("avx2")
                && std::is_x86_feature_detected!("fma")
                && std::is_x86_feature_detected!("f16c"),
            "this CPU lacks AVX2, FMA or F16C: vec_dot would run the portable kernel, and this \
             test would compare it with itself"
        );
        let mut r = Lcg(2024);
        for ty in ALL {
            for n in [256usize, 768, 2048] {
                let w = random_weights(ty, n, &mut r);
                let x: Vec<f32> = (0..n).map(|_| r.unit() * 10.0).collect();
                let a = quant(ty, &x);
                let portable = match ty {
                    GGML_TYPE_F32 => vec_dot_kernel::<GGML_TYPE_F32, false>(n, &w, &a),
                    GGML_TYPE_F16 => vec_dot_kernel::<GGML_TYPE_F16, false>(n, &w, &a),
                    GGML_TYPE_BF16 => vec_dot_kernel::<GGML_TYPE_BF16, false>(n, &w, &a),
                    GGML_TYPE_Q4_0 => vec_dot_kernel::<GGML_TYPE_Q4_0, false>(n, &w, &a),
                    GGML_TYPE_Q5_0 => vec_dot_kernel::<GGML_TYPE_Q5_0, false>(n, &w, &a),
                    GGML_TYPE_Q8_0 => vec_dot_kernel::<GGML_TYPE_Q8_0, false>(n, &w, &a),
                    GGML_TYPE_Q4_K => vec_dot_kernel::<GGML_TYPE_Q4_K, false>(n, &w, &a),
                    GGML_TYPE_Q5_K => vec_dot_kernel::<GGML_TYPE_Q5_K, false>(n, &w, &a),
                    _ => vec_dot_kernel::<GGML_TYPE_Q6_K, false>(n, &w, &a),
                };
                assert_eq!(
                    vec_dot(ty, n, &w, &a).to_bits(),
                    portable.to_bits(),
                    "ty={ty} n={n}"
                );
            }
        }
    }
}
