//! ggml block formats: dequantization, activation quantization and dot products that reproduce
//! the numerics of llama.cpp's x86 CPU backend (built with AVX2 + FMA + F16C, no AVX-512).
//!
//! Purpose: the emulation engine's matrix-vector products must give the same floats as the CPU
//! backend's `ggml_compute_forward_mul_mat` for one token, so generated tokens match bit for bit.
//! For one activation column the CPU backend:
//!   1. converts the f32 activation row with `type_traits_cpu[vec_dot_type].from_float`
//!      (`quantize_activation_row` here), then
//!   2. calls `type_traits_cpu[weight type].vec_dot` once per weight row (`vec_dot` here).
//!
//! `vec_dot` mirrors the *AVX2* kernels of `ggml-cpu/arch/x86/quants.c` and `ggml-cpu/vec.cpp`,
//! not the generic scalar ones: the exact integer sums are split into the same eight 32-bit
//! lanes, scaled with the same fused multiply-adds (`f32::mul_add`, one rounding) into eight f32
//! lane accumulators, and reduced with the same horizontal-add tree. Integer parts are exact, so
//! only the float steps matter, and those are done in the same order with the same roundings.
//! Where GCC (`-O3 -mfma -std=gnu11`, i.e. `-ffp-contract=fast`) fuses a C `a += b * c` into an
//! FMA in the shipped `libggml-cpu.so`, we use `mul_add` too; each such place says so.
//!
//! Not covered (other CPU code paths with their own summation orders): llamafile's tinyBLAS
//! (`sgemm.cpp`, used only when the activation matrix has >= 2 columns, i.e. prompt
//! processing) and the CPU_REPACK buffer kernels (on AVX2, Q4_0 and Q4_K weights with a row
//! count divisible by 8 are repacked to `q4_0_8x8` / `q4_K_8x8` and use their own gemv).
//!
//! `dequantize_row` mirrors ggml-base's `to_float` (compiled without FMA: plain mul, then sub),
//! which is what the CPU backend uses for GET_ROWS on quantized tensors.
//!
//! Everything is plain safe Rust on byte slices (little-endian reads), except the one
//! runtime-dispatched entry that compiles the same code with AVX2/FMA enabled for speed.

use half::f16;

/// ggml type ids (values of `enum ggml_type` in `ggml/include/ggml.h`, checked against it).
pub const GGML_TYPE_F32: u32 = 0;
pub const GGML_TYPE_F16: u32 = 1;
pub const GGML_TYPE_Q4_0: u32 = 2;
pub const GGML_TYPE_Q5_0: u32 = 6;
pub const GGML_TYPE_Q8_0: u32 = 8;
pub const GGML_TYPE_Q4_K: u32 = 12;
pub const GGML_TYPE_Q5_K: u32 = 13;
pub const GGML_TYPE_Q6_K: u32 = 14;
pub const GGML_TYPE_Q8_K: u32 = 15;
pub const GGML_TYPE_BF16: u32 = 30;

/// Elements per block (`QK4_0`, `QK8_0`, ...: 32; `QK_K`: 256).
const QK: usize = 32;
const QK_K: usize = 256;

/// Block byte sizes (`sizeof(block_*)` in `ggml-common.h`).
const Q4_0_BYTES: usize = 2 + QK / 2; // d, qs[16]
const Q5_0_BYTES: usize = 2 + 4 + QK / 2; // d, qh[4], qs[16]
const Q8_0_BYTES: usize = 2 + QK; // d, qs[32]
const Q4_K_BYTES: usize = 2 + 2 + 12 + QK_K / 2; // d, dmin, scales[12], qs[128]
const Q5_K_BYTES: usize = 2 + 2 + 12 + QK_K / 8 + QK_K / 2; // d, dmin, scales, qh[32], qs[128]
const Q6_K_BYTES: usize = QK_K / 2 + QK_K / 4 + QK_K / 16 + 2; // ql[128], qh[64], scales[16], d
const Q8_K_BYTES: usize = 4 + QK_K + 2 * (QK_K / 16); // d (f32), qs[256], bsums[16] (i16)

/// Size of a block of some ggml type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QuantFormat {
    /// Elements per block (1 for F32/F16/BF16).
    pub block_elems: usize,
    /// Bytes per block.
    pub block_bytes: usize,
}

/// Block format of any type this module knows, Q8_K included.
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
    Some(QuantFormat { block_elems, block_bytes })
}

/// The weight types this module handles: F32, F16, BF16, Q4_0, Q5_0, Q8_0, Q4_K, Q5_K, Q6_K.
/// `None` otherwise (Q8_K is an activation-only format and is not listed here).
pub fn format(ty: u32) -> Option<QuantFormat> {
    if ty == GGML_TYPE_Q8_K {
        return None;
    }
    any_format(ty)
}

/// Bytes of a row of `n` elements of type `ty`; panics on an unknown type or a partial block.
fn row_bytes(ty: u32, n: usize) -> usize {
    let f = any_format(ty).unwrap_or_else(|| panic!("quants: unsupported ggml type {ty}"));
    assert!(n % f.block_elems == 0, "quants: n={n} is not a multiple of the block size {} of type {ty}", f.block_elems);
    n / f.block_elems * f.block_bytes
}

// ---------------------------------------------------------------------------------------------
// Scalar conversions
// ---------------------------------------------------------------------------------------------

#[inline(always)]
fn rd_u16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

#[inline(always)]
fn rd_f32(b: &[u8], at: usize) -> f32 {
    f32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Exact IEEE half -> single conversion (what F16C `vcvtph2ps` and ggml's table give). Written
/// with selects so loops over it vectorize; subnormals go through a normal multiply, so the
/// result does not depend on the FTZ/DAZ state.
#[inline(always)]
fn f16_to_f32(h: u16) -> f32 {
    let h = h as u32;
    let sign = (h & 0x8000) << 16;
    let exp = (h >> 10) & 0x1f;
    let man = h & 0x3ff;
    let normal = f32::from_bits(sign | ((exp + 112) << 23) | (man << 13));
    let sub = f32::from_bits(((man as f32) * (1.0 / 16_777_216.0)).to_bits() | sign);
    let inf_nan = f32::from_bits(sign | 0x7f80_0000 | (man << 13));
    if exp == 0 {
        sub
    } else if exp == 31 {
        inf_nan
    } else {
        normal
    }
}

/// f32 -> f16 with round-to-nearest-even (F16C `vcvtps2ph` with imm 0, as
/// `ggml_cpu_fp32_to_fp16` uses; `half` rounds the same way).
#[inline(always)]
fn f32_to_f16_bits(x: f32) -> u16 {
    f16::from_f32(x).to_bits()
}

#[inline(always)]
fn bf16_to_f32(h: u16) -> f32 {
    f32::from_bits((h as u32) << 16)
}

/// `ggml_compute_fp32_to_bf16` (what `ggml_cpu_fp32_to_bf16` calls on AVX2): round to nearest
/// even on the bit pattern; NaNs are truncated and forced quiet.
#[inline(always)]
fn f32_to_bf16_bits(x: f32) -> u16 {
    let u = x.to_bits();
    if (u & 0x7fff_ffff) > 0x7f80_0000 {
        return ((u >> 16) | 64) as u16;
    }
    (u.wrapping_add(0x7fff + ((u >> 16) & 1)) >> 16) as u16
}

/// `nearest_int` of ggml-quants.c: add 1.5*2^23 and read the mantissa, i.e. round half to even
/// (valid for |x| <= 2^22, which the callers guarantee).
#[inline(always)]
fn nearest_int(x: f32) -> i32 {
    let v = x + 12_582_912.0;
    (v.to_bits() & 0x007f_ffff) as i32 - 0x0040_0000
}

/// 6-bit scale and min `j` (0..8) of a Q4_K/Q5_K block (`get_scale_min_k4`).
#[inline(always)]
fn scale_min_k4(j: usize, q: &[u8]) -> (u8, u8) {
    if j < 4 {
        (q[j] & 63, q[j + 4] & 63)
    } else {
        ((q[j + 4] & 0xf) | ((q[j - 4] >> 6) << 4), (q[j + 4] >> 4) | ((q[j] >> 6) << 4))
    }
}

/// `hsum_float_8` of the x86 kernels: ((a0+a4)+(a2+a6)) + ((a1+a5)+(a3+a7)).
#[inline(always)]
fn hsum_float_8(a: &[f32; 8]) -> f32 {
    let r = [a[0] + a[4], a[1] + a[5], a[2] + a[6], a[3] + a[7]];
    (r[0] + r[2]) + (r[1] + r[3])
}

/// `GGML_F32x8_REDUCE` (vec.cpp's F32/F16 dot, four accumulators):
/// x0+=x2, x1+=x3, x0+=x1, then t = lo+hi and two hadds: (t0+t1)+(t2+t3).
#[inline(always)]
fn f32x8_reduce(x: &[[f32; 8]; 4]) -> f32 {
    let mut s = [0f32; 8];
    for l in 0..8 {
        s[l] = (x[0][l] + x[2][l]) + (x[1][l] + x[3][l]);
    }
    let t = [s[0] + s[4], s[1] + s[5], s[2] + s[6], s[3] + s[7]];
    (t[0] + t[1]) + (t[2] + t[3])
}

// ---------------------------------------------------------------------------------------------
// Dequantization (ggml-base `to_float`)
// ---------------------------------------------------------------------------------------------

/// Dequantize one row of `n = dst.len()` elements (a multiple of the block size) of type `ty`
/// into f32, exactly as ggml's `to_float` for that type does (`dequantize_row_q4_0`, ...). Also
/// accepts Q8_K (`dequantize_row_q8_K`). Panics on an unsupported type or a short `src`.
pub fn dequantize_row(ty: u32, src: &[u8], dst: &mut [f32]) {
    let n = dst.len();
    let src = &src[..row_bytes(ty, n)];
    match ty {
        GGML_TYPE_F32 => {
            for (y, b) in dst.iter_mut().zip(src.chunks_exact(4)) {
                *y = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            }
        }
        GGML_TYPE_F16 => {
            for (y, b) in dst.iter_mut().zip(src.chunks_exact(2)) {
                *y = f16_to_f32(u16::from_le_bytes([b[0], b[1]]));
            }
        }
        GGML_TYPE_BF16 => {
            for (y, b) in dst.iter_mut().zip(src.chunks_exact(2)) {
                *y = bf16_to_f32(u16::from_le_bytes([b[0], b[1]]));
            }
        }
        GGML_TYPE_Q4_0 => {
            for (y, b) in dst.chunks_exact_mut(QK).zip(src.chunks_exact(Q4_0_BYTES)) {
                let d = f16_to_f32(rd_u16(b, 0));
                for j in 0..QK / 2 {
                    y[j] = ((b[2 + j] & 0xf) as i32 - 8) as f32 * d;
                    y[j + QK / 2] = ((b[2 + j] >> 4) as i32 - 8) as f32 * d;
                }
            }
        }
        GGML_TYPE_Q5_0 => {
            for (y, b) in dst.chunks_exact_mut(QK).zip(src.chunks_exact(Q5_0_BYTES)) {
                let d = f16_to_f32(rd_u16(b, 0));
                let qh = u32::from_le_bytes([b[2], b[3], b[4], b[5]]);
                for j in 0..QK / 2 {
                    let lo = (b[6 + j] & 0xf) as u32 | (((qh >> j) & 1) << 4);
                    let hi = (b[6 + j] >> 4) as u32 | (((qh >> (j + 16)) & 1) << 4);
                    y[j] = (lo as i32 - 16) as f32 * d;
                    y[j + QK / 2] = (hi as i32 - 16) as f32 * d;
                }
            }
        }
        GGML_TYPE_Q8_0 => {
            for (y, b) in dst.chunks_exact_mut(QK).zip(src.chunks_exact(Q8_0_BYTES)) {
                let d = f16_to_f32(rd_u16(b, 0));
                for j in 0..QK {
                    y[j] = (b[2 + j] as i8) as f32 * d;
                }
            }
        }
        GGML_TYPE_Q4_K | GGML_TYPE_Q5_K => {
            let five = ty == GGML_TYPE_Q5_K;
            let bytes = if five { Q5_K_BYTES } else { Q4_K_BYTES };
            let qs_at = if five { 48 } else { 16 };
            for (y, b) in dst.chunks_exact_mut(QK_K).zip(src.chunks_exact(bytes)) {
                let d = f16_to_f32(rd_u16(b, 0));
                let min = f16_to_f32(rd_u16(b, 2));
                let scales = &b[4..16];
                let qh = &b[16..48]; // Q5_K only
                for g in 0..4 {
                    // 64 elements: 32 low nibbles (sub-block 2g), 32 high nibbles (2g+1).
                    let q = &b[qs_at + 32 * g..qs_at + 32 * g + 32];
                    for half in 0..2 {
                        let (sc, m) = scale_min_k4(2 * g + half, scales);
                        let d1 = d * sc as f32;
                        let m1 = min * m as f32;
                        let bit = 2 * g + half;
                        let out = &mut y[64 * g + 32 * half..64 * g + 32 * half + 32];
                        for l in 0..32 {
                            let mut v = ((q[l] >> (4 * half)) & 0xf) as i32;
                            if five {
                                v += (((qh[l] >> bit) & 1) as i32) << 4;
                            }
                            out[l] = d1 * v as f32 - m1;
                        }
                    }
                }
            }
        }
        GGML_TYPE_Q6_K => {
            for (y, b) in dst.chunks_exact_mut(QK_K).zip(src.chunks_exact(Q6_K_BYTES)) {
                let d = f16_to_f32(rd_u16(b, 208));
                for h in 0..2 {
                    let ql = &b[64 * h..64 * h + 64];
                    let qh = &b[128 + 32 * h..128 + 32 * h + 32];
                    let sc = &b[192 + 8 * h..192 + 8 * h + 8];
                    let out = &mut y[128 * h..128 * h + 128];
                    for l in 0..32 {
                        let is = l / 16;
                        let q1 = ((ql[l] & 0xf) | ((qh[l] & 3) << 4)) as i32 - 32;
                        let q2 = ((ql[l + 32] & 0xf) | (((qh[l] >> 2) & 3) << 4)) as i32 - 32;
                        let q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) as i32 - 32;
                        let q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) as i32 - 32;
                        // C: d * sc[is] * q, evaluated left to right.
                        out[l] = d * (sc[is] as i8) as f32 * q1 as f32;
                        out[l + 32] = d * (sc[is + 2] as i8) as f32 * q2 as f32;
                        out[l + 64] = d * (sc[is + 4] as i8) as f32 * q3 as f32;
                        out[l + 96] = d * (sc[is + 6] as i8) as f32 * q4 as f32;
                    }
                }
            }
        }
        GGML_TYPE_Q8_K => {
            for (y, b) in dst.chunks_exact_mut(QK_K).zip(src.chunks_exact(Q8_K_BYTES)) {
                let d = rd_f32(b, 0);
                for j in 0..QK_K {
                    y[j] = d * (b[4 + j] as i8) as f32;
                }
            }
        }
        _ => unreachable!(),
    }
}

// ---------------------------------------------------------------------------------------------
// Activation conversion (`type_traits_cpu[vec_dot_type].from_float`)
// ---------------------------------------------------------------------------------------------

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

/// Convert an f32 activation row to `vec_dot_type(ty)` exactly as the CPU backend does:
/// * F32: little-endian copy.
/// * F16: round to nearest even (F16C `vcvtps2ph`, imm 0).
/// * BF16: `GGML_FP32_TO_BF16` (round to nearest even on the bits, NaN forced quiet).
/// * Q8_0: the **AVX2** `quantize_row_q8_0`, which differs from `quantize_row_q8_0_ref`:
///   it multiplies by `127/amax` (not `1/d`) and rounds half to even (`_mm256_round_ps`,
///   not `roundf`); `d = amax/127` is stored as f16 (round to nearest even).
/// * Q8_K: `quantize_row_q8_K_ref` (the x86 build calls the reference): `iscale = -127/max`
///   with `max` the signed element of largest magnitude, `nearest_int` (half to even), clamp to
///   127, `d = 1/iscale`, `bsums` = sums of 16 quants. An all-zero block gets d = 0, zero quants
///   and zero bsums (ggml leaves bsums unwritten there; they are multiplied by 0 anyway).
///
/// `src.len()` is the row length; `dst` needs `activation_row_bytes(ty, src.len())` bytes.
pub fn quantize_activation_row(ty: u32, src: &[f32], dst: &mut [u8]) {
    let vt = vec_dot_type(ty);
    let dst = &mut dst[..row_bytes(vt, src.len())];
    match vt {
        GGML_TYPE_F32 => {
            for (b, x) in dst.chunks_exact_mut(4).zip(src) {
                b.copy_from_slice(&x.to_le_bytes());
            }
        }
        GGML_TYPE_F16 => {
            for (b, x) in dst.chunks_exact_mut(2).zip(src) {
                b.copy_from_slice(&f32_to_f16_bits(*x).to_le_bytes());
            }
        }
        GGML_TYPE_BF16 => {
            for (b, x) in dst.chunks_exact_mut(2).zip(src) {
                b.copy_from_slice(&f32_to_bf16_bits(*x).to_le_bytes());
            }
        }
        GGML_TYPE_Q8_0 => {
            for (b, x) in dst.chunks_exact_mut(Q8_0_BYTES).zip(src.chunks_exact(QK)) {
                let mut amax = 0f32;
                for v in x {
                    amax = amax.max(v.abs());
                }
                let d = amax / 127.0;
                let id = if amax != 0.0 { 127.0 / amax } else { 0.0 };
                b[0..2].copy_from_slice(&f32_to_f16_bits(d).to_le_bytes());
                for j in 0..QK {
                    // _mm256_round_ps(_MM_ROUND_NEAREST) + cvtps_epi32 + saturating packs.
                    let q = (x[j] * id).round_ties_even().clamp(-128.0, 127.0);
                    b[2 + j] = (q as i8) as u8;
                }
            }
        }
        GGML_TYPE_Q8_K => {
            for (b, x) in dst.chunks_exact_mut(Q8_K_BYTES).zip(src.chunks_exact(QK_K)) {
                let mut max = 0f32;
                let mut amax = 0f32;
                for &v in x {
                    if v.abs() > amax {
                        amax = v.abs();
                        max = v;
                    }
                }
                if amax == 0.0 {
                    b.fill(0);
                    continue;
                }
                let iscale = -127.0 / max;
                let mut q = [0i8; QK_K];
                for j in 0..QK_K {
                    q[j] = nearest_int(iscale * x[j]).min(127) as i8;
                }
                b[0..4].copy_from_slice(&(1.0 / iscale).to_le_bytes());
                for j in 0..QK_K {
                    b[4 + j] = q[j] as u8;
                }
                for g in 0..QK_K / 16 {
                    let s: i32 = q[16 * g..16 * g + 16].iter().map(|&v| v as i32).sum();
                    let at = 4 + QK_K + 2 * g;
                    b[at..at + 2].copy_from_slice(&(s as i16).to_le_bytes());
                }
            }
        }
        _ => unreachable!(),
    }
}

// ---------------------------------------------------------------------------------------------
// Dot products (`type_traits_cpu[ty].vec_dot`, AVX2 kernels)
// ---------------------------------------------------------------------------------------------

/// Dot product of one weight row (type `ty`, `n` elements) with one activation row prepared by
/// [`quantize_activation_row`] for the same `ty`, reproducing ggml-cpu's AVX2 `vec_dot` for
/// that pair bit for bit (see the module docs). No allocation. Panics on an unsupported type,
/// a partial block or short slices.
pub fn vec_dot(ty: u32, n: usize, weight_row: &[u8], activation_row: &[u8]) -> f32 {
    let w = &weight_row[..row_bytes(ty, n)];
    let a = &activation_row[..row_bytes(vec_dot_type(ty), n)];
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            // SAFETY: the CPU supports AVX2 and FMA (checked just above), which is all
            // `vec_dot_avx2` requires; it has no other preconditions.
            return unsafe { vec_dot_avx2(ty, n, w, a) };
        }
    }
    vec_dot_any(ty, n, w, a)
}

/// The same code as [`vec_dot_any`], compiled with AVX2/FMA so the lane loops vectorize and
/// `mul_add` is one instruction. The results are identical: only speed differs.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn vec_dot_avx2(ty: u32, n: usize, w: &[u8], a: &[u8]) -> f32 {
    vec_dot_any(ty, n, w, a)
}

#[inline(always)]
fn vec_dot_any(ty: u32, n: usize, w: &[u8], a: &[u8]) -> f32 {
    match ty {
        GGML_TYPE_F32 => dot_f32(n, w, a),
        GGML_TYPE_F16 => dot_f16(n, w, a),
        GGML_TYPE_BF16 => dot_bf16(n, w, a),
        GGML_TYPE_Q4_0 => dot_q_q8_0(w, a, unpack_q4_0),
        GGML_TYPE_Q5_0 => dot_q_q8_0(w, a, unpack_q5_0),
        GGML_TYPE_Q8_0 => dot_q_q8_0(w, a, unpack_q8_0),
        GGML_TYPE_Q4_K => dot_q45k_q8k::<Q4_K_BYTES>(w, a),
        GGML_TYPE_Q5_K => dot_q45k_q8k::<Q5_K_BYTES>(w, a),
        GGML_TYPE_Q6_K => dot_q6k_q8k(w, a),
        _ => unreachable!(),
    }
}

/// Decodes 32 consecutive f32 / f16 / bf16 elements (`c` holds exactly their bytes).
#[inline(always)]
fn load32_f32(c: &[u8]) -> [f32; 32] {
    let c: &[u8; 128] = c.try_into().unwrap();
    let mut v = [0f32; 32];
    for i in 0..32 {
        v[i] = f32::from_le_bytes([c[4 * i], c[4 * i + 1], c[4 * i + 2], c[4 * i + 3]]);
    }
    v
}

#[inline(always)]
fn load32_f16(c: &[u8]) -> [f32; 32] {
    let c: &[u8; 64] = c.try_into().unwrap();
    let mut v = [0f32; 32];
    for i in 0..32 {
        v[i] = f16_to_f32(u16::from_le_bytes([c[2 * i], c[2 * i + 1]]));
    }
    v
}

#[inline(always)]
fn load32_bf16(c: &[u8]) -> [f32; 32] {
    let c: &[u8; 64] = c.try_into().unwrap();
    let mut v = [0f32; 32];
    for i in 0..32 {
        v[i] = bf16_to_f32(u16::from_le_bytes([c[2 * i], c[2 * i + 1]]));
    }
    v
}

/// The 32-element steps shared by the F32/F16/BF16 kernels: four 8-lane accumulators
/// `sum[j] = fma(x, y, sum[j])` over elements `32i + 8j + lane`. `es` is the element size.
/// Returns the accumulators and the number of elements consumed (`n & !31`).
#[inline(always)]
fn fma_steps(w: &[u8], a: &[u8], es: usize, load: impl Fn(&[u8]) -> [f32; 32]) -> ([[f32; 8]; 4], usize) {
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

/// `ggml_vec_dot_f32`: `GGML_F32_STEP` steps as in [`fma_steps`], `GGML_F32x8_REDUCE`, then the
/// `L = n % 32` leftovers `sumf += x*y` in f32, in order. The shipped GCC build vectorizes that
/// tail loop in 8- and 4-wide pieces (products rounded, then added one by one) and contracts
/// only the last `L % 4` scalar iterations to FMAs; we do the same (checked against
/// libggml-cpu.so).
#[inline(always)]
fn dot_f32(n: usize, w: &[u8], a: &[u8]) -> f32 {
    let (sum, np) = fma_steps(w, a, 4, load32_f32);
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

/// `ggml_vec_dot_f16`: f16 -> f32 (F16C), steps and reduction as F32; the sum is widened to
/// `ggml_float` (f64), leftovers add the f32 product in f64, and the result is rounded to f32.
#[inline(always)]
fn dot_f16(n: usize, w: &[u8], a: &[u8]) -> f32 {
    let (sum, np) = fma_steps(w, a, 2, load32_f16);
    let mut sumf = f32x8_reduce(&sum) as f64;
    for k in np..n {
        sumf += (f16_to_f32(rd_u16(w, 2 * k)) * f16_to_f32(rd_u16(a, 2 * k))) as f64;
    }
    sumf as f32
}

/// `ggml_vec_dot_bf16`, AVX2 branch: four 8-lane accumulators `c = x*y + c` (GCC fuses the
/// `_mm256_add_ps(_mm256_mul_ps(..), c)` into FMAs), reduced as (c1+c3)+(c2+c4), then
/// `hsum_float_8`; widened to f64, leftovers added as f64 of the f32 product.
#[inline(always)]
fn dot_bf16(n: usize, w: &[u8], a: &[u8]) -> f32 {
    let (c, np) = fma_steps(w, a, 2, load32_bf16);
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

/// The eight i32 lanes of one 32-byte `maddubs` + `madd` product (lane k sums elements
/// 4k..4k+4). `x` holds weight quants as i16 (|x| <= 128), `y` the activation quants.
/// Exact: no AVX2 saturation can occur for the value ranges of these formats.
#[inline(always)]
fn lanes8(x: &[i16; 32], y: &[u8]) -> [i32; 8] {
    let y: &[u8; 32] = y.try_into().unwrap();
    let mut pairs = [0i32; 16];
    for i in 0..16 {
        pairs[i] = x[2 * i] as i32 * (y[2 * i] as i8) as i32 + x[2 * i + 1] as i32 * (y[2 * i + 1] as i8) as i32;
    }
    let mut l = [0i32; 8];
    for k in 0..8 {
        l[k] = pairs[2 * k] + pairs[2 * k + 1];
    }
    l
}

/// Q4_0/Q5_0/Q8_0 x Q8_0 (`ggml_vec_dot_q{4,5,8}_0_q8_0`, AVX2): per block, the 32 signed
/// products are summed in 8 i32 lanes of 4 consecutive elements (`mul_sum_i8_pairs_float`),
/// converted to f32 and accumulated as `acc = fma(dx*dy, lane, acc)`; then `hsum_float_8`.
/// (The AVX2 sign trick misbehaves only for a weight of -128 times an activation of -128;
/// `quantize_activation_row` never produces -128, so exact products are equivalent.)
/// `unpack` turns one weight block (`WB` bytes) into its 32 signed quants.
#[inline(always)]
fn dot_q_q8_0<const WB: usize>(w: &[u8], a: &[u8], unpack: impl Fn(&[u8; WB]) -> [i16; 32]) -> f32 {
    let mut acc = [0f32; 8];
    for (x, y) in w.chunks_exact(WB).zip(a.chunks_exact(Q8_0_BYTES)) {
        let x: &[u8; WB] = x.try_into().unwrap();
        let qx = unpack(x);
        let d = f16_to_f32(rd_u16(x, 0)) * f16_to_f32(rd_u16(y, 0));
        let lanes = lanes8(&qx, &y[2..]);
        for k in 0..8 {
            acc[k] = d.mul_add(lanes[k] as f32, acc[k]);
        }
    }
    hsum_float_8(&acc)
}

#[inline(always)]
fn unpack_q4_0(x: &[u8; Q4_0_BYTES]) -> [i16; 32] {
    let mut q = [0i16; 32];
    for j in 0..16 {
        q[j] = (x[2 + j] & 0xf) as i16 - 8;
        q[j + 16] = (x[2 + j] >> 4) as i16 - 8;
    }
    q
}

#[inline(always)]
fn unpack_q5_0(x: &[u8; Q5_0_BYTES]) -> [i16; 32] {
    let qh = u32::from_le_bytes([x[2], x[3], x[4], x[5]]);
    let mut q = [0i16; 32];
    for j in 0..16 {
        q[j] = ((x[6 + j] & 0xf) as u32 | (((qh >> j) & 1) << 4)) as i16 - 16;
        q[j + 16] = ((x[6 + j] >> 4) as u32 | (((qh >> (j + 16)) & 1) << 4)) as i16 - 16;
    }
    q
}

#[inline(always)]
fn unpack_q8_0(x: &[u8; Q8_0_BYTES]) -> [i16; 32] {
    let mut q = [0i16; 32];
    for j in 0..32 {
        q[j] = (x[2 + j] as i8) as i16;
    }
    q
}

/// Reads a Q8_K block: (d, quants, bsums).
#[inline(always)]
fn q8k_block(y: &[u8]) -> (f32, &[u8], [i32; 16]) {
    let y: &[u8; Q8_K_BYTES] = y.try_into().unwrap();
    let mut bsums = [0i32; 16];
    for (g, s) in bsums.iter_mut().enumerate() {
        *s = i16::from_le_bytes([y[4 + QK_K + 2 * g], y[5 + QK_K + 2 * g]]) as i32;
    }
    (rd_f32(y, 0), &y[4..4 + QK_K], bsums)
}

/// Q4_K/Q5_K x Q8_K (`ggml_vec_dot_q{4,5}_K_q8_K`, AVX2). Per super-block:
/// * `d = y.d * x.d`, `dmin = -y.d * x.dmin` (f32 products);
/// * main part: for each 64-element group j, lane k (0..8) gets
///   `sc[2j] * sum(q[4k..4k+4] * q8) + sc[2j+1] * sum(...)` over the low and high halves; the
///   8 i32 lanes go into `acc = fma(d, lane, acc)`;
/// * mins: `q8s[j] = bsums[2j] + bsums[2j+1]`. Q4_K keeps 4 lanes
///   `m[2i]*q8s[2i] + m[2i+1]*q8s[2i+1]` in `acc_m = fma(dmin, lane, acc_m)`, reduced at the end
///   as (m0+m2)+(m1+m3); Q5_K sums them to one integer and does `summs += dmin * int` (GCC
///   contracts that to an FMA).
///
/// Result: `hsum_float_8(acc) + mins`.
#[inline(always)]
fn dot_q45k_q8k<const WB: usize>(w: &[u8], a: &[u8]) -> f32 {
    let five = WB == Q5_K_BYTES;
    let qs_at = if five { 48 } else { 16 };
    let mut acc = [0f32; 8];
    let mut acc_m = [0f32; 4];
    let mut summs = 0f32;
    for (x, y) in w.chunks_exact(WB).zip(a.chunks_exact(Q8_K_BYTES)) {
        let x: &[u8; WB] = x.try_into().unwrap();
        let (yd, q8, bsums) = q8k_block(y);
        let d = yd * f16_to_f32(rd_u16(x, 0));
        let dmin = -yd * f16_to_f32(rd_u16(x, 2));
        let mut sc = [0i32; 8];
        let mut mn = [0i32; 8];
        for j in 0..8 {
            let (s, m) = scale_min_k4(j, &x[4..16]);
            sc[j] = s as i32;
            mn[j] = m as i32;
        }
        let mut prod = [0i32; 4];
        for i in 0..4 {
            let q8s0 = bsums[4 * i] + bsums[4 * i + 1];
            let q8s1 = bsums[4 * i + 2] + bsums[4 * i + 3];
            prod[i] = mn[2 * i] * q8s0 + mn[2 * i + 1] * q8s1;
        }
        if five {
            let total = (prod[0] + prod[1]) + (prod[2] + prod[3]);
            summs = dmin.mul_add(total as f32, summs);
        } else {
            for i in 0..4 {
                acc_m[i] = dmin.mul_add(prod[i] as f32, acc_m[i]);
            }
        }

        let mut sumi = [0i32; 8];
        for j in 0..4 {
            let q4 = &x[qs_at + 32 * j..qs_at + 32 * j + 32];
            let qh = &x[16..48]; // Q5_K only
            let mut vl = [0i16; 32];
            let mut vh = [0i16; 32];
            for l in 0..32 {
                vl[l] = (q4[l] & 0xf) as i16;
                vh[l] = (q4[l] >> 4) as i16;
                if five {
                    vl[l] |= (((qh[l] >> (2 * j)) & 1) << 4) as i16;
                    vh[l] |= (((qh[l] >> (2 * j + 1)) & 1) << 4) as i16;
                }
            }
            let sl = lanes8(&vl, &q8[64 * j..64 * j + 32]);
            let sh = lanes8(&vh, &q8[64 * j + 32..64 * j + 64]);
            for k in 0..8 {
                sumi[k] += sc[2 * j] * sl[k] + sc[2 * j + 1] * sh[k];
            }
        }
        for k in 0..8 {
            acc[k] = d.mul_add(sumi[k] as f32, acc[k]);
        }
    }
    let mins = if five { summs } else { (acc_m[0] + acc_m[2]) + (acc_m[1] + acc_m[3]) };
    hsum_float_8(&acc) + mins
}

/// Q6_K x Q8_K (`ggml_vec_dot_q6_K_q8_K`, AVX2). The 6-bit quants are used unsigned (0..63)
/// and the offset 32 is removed through the bsums, lane by lane:
/// `lane k = sum over the 8 chunks c of 32 elements of sc[c][k] * sum(q6[4k..4k+4] * q8)
///           - 32 * (bsums[2k]*sc[2k] + bsums[2k+1]*sc[2k+1])`,
/// where chunk lanes 0..4 use the chunk's first 16-element scale and lanes 4..8 its second.
/// Then `acc = fma(y.d * x.d, lane, acc)` and `hsum_float_8`.
#[inline(always)]
fn dot_q6k_q8k(w: &[u8], a: &[u8]) -> f32 {
    let mut acc = [0f32; 8];
    for (x, y) in w.chunks_exact(Q6_K_BYTES).zip(a.chunks_exact(Q8_K_BYTES)) {
        let x: &[u8; Q6_K_BYTES] = x.try_into().unwrap();
        let (yd, q8, bsums) = q8k_block(y);
        let d = yd * f16_to_f32(rd_u16(x, 208));
        let mut sc = [0i32; 16];
        for (i, s) in sc.iter_mut().enumerate() {
            *s = (x[192 + i] as i8) as i32;
        }
        let mut sumi = [0i32; 8];
        for h in 0..2 {
            let ql = &x[64 * h..64 * h + 64];
            let qh = &x[128 + 32 * h..128 + 32 * h + 32];
            for c in 0..4 {
                let mut q6 = [0i16; 32];
                for l in 0..32 {
                    let low = if c < 2 { ql[32 * c + l] & 0xf } else { ql[32 * (c - 2) + l] >> 4 };
                    q6[l] = (low | (((qh[l] >> (2 * c)) & 3) << 4)) as i16;
                }
                let s = lanes8(&q6, &q8[128 * h + 32 * c..128 * h + 32 * c + 32]);
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
            self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (self.0 >> 32) as u32
        }
        fn byte(&mut self) -> u8 {
            self.next_u32() as u8
        }
        /// Uniform in [-1, 1).
        fn unit(&mut self) -> f32 {
            (self.next_u32() >> 8) as f32 / (1u32 << 23) as f32 - 1.0
        }
    }

    const F16_HALF: u16 = 0x3800; // 0.5
    const F16_QUARTER: u16 = 0x3400; // 0.25
    const F16_TWO: u16 = 0x4000; // 2.0

    fn deq(ty: u32, src: &[u8], n: usize) -> Vec<f32> {
        let mut out = vec![0f32; n];
        dequantize_row(ty, src, &mut out);
        out
    }

    #[test]
    fn type_ids_and_formats() {
        assert_eq!(format(GGML_TYPE_Q4_0), Some(QuantFormat { block_elems: 32, block_bytes: 18 }));
        assert_eq!(format(GGML_TYPE_Q5_0).unwrap().block_bytes, 22);
        assert_eq!(format(GGML_TYPE_Q8_0).unwrap().block_bytes, 34);
        assert_eq!(format(GGML_TYPE_Q4_K).unwrap().block_bytes, 144);
        assert_eq!(format(GGML_TYPE_Q5_K).unwrap().block_bytes, 176);
        assert_eq!(format(GGML_TYPE_Q6_K).unwrap().block_bytes, 210);
        assert_eq!(format(GGML_TYPE_F16).unwrap().block_bytes, 2);
        assert_eq!(format(GGML_TYPE_BF16).unwrap().block_bytes, 2);
        assert_eq!(format(GGML_TYPE_F32).unwrap().block_bytes, 4);
        assert_eq!(format(GGML_TYPE_Q8_K), None);
        assert_eq!(format(3), None); // Q4_1
        assert_eq!(activation_row_bytes(GGML_TYPE_Q6_K, 512), 2 * 292);
        assert_eq!(activation_row_bytes(GGML_TYPE_Q4_0, 64), 2 * 34);
        assert_eq!(activation_row_bytes(GGML_TYPE_BF16, 10), 20);
        assert_eq!(vec_dot_type(GGML_TYPE_Q5_K), GGML_TYPE_Q8_K);
        assert_eq!(vec_dot_type(GGML_TYPE_Q5_0), GGML_TYPE_Q8_0);
        assert_eq!(vec_dot_type(GGML_TYPE_F16), GGML_TYPE_F16);
    }

    #[test]
    fn f16_and_bf16_conversions() {
        for h in 0..=u16::MAX {
            let want = f16::from_bits(h).to_f32();
            let got = f16_to_f32(h);
            if want.is_nan() {
                assert!(got.is_nan());
            } else {
                assert_eq!(got.to_bits(), want.to_bits(), "h={h:#x}");
            }
        }
        assert_eq!(f32_to_bf16_bits(1.0), 0x3f80);
        // 1 + 2^-8 is halfway between bf16 1.0 and 1.0078125: ties to even (1.0).
        assert_eq!(f32_to_bf16_bits(f32::from_bits(0x3f80_8000)), 0x3f80);
        // 1.0078125 + half ulp: ties to even goes up to 0x3f82.
        assert_eq!(f32_to_bf16_bits(f32::from_bits(0x3f81_8000)), 0x3f82);
        assert_eq!(f32_to_bf16_bits(f32::from_bits(0x3f80_8001)), 0x3f81);
        assert_eq!(f32_to_bf16_bits(f32::from_bits(0x7f80_0001)), 0x7fc0); // quiet NaN
        assert_eq!(nearest_int(2.5), 2);
        assert_eq!(nearest_int(3.5), 4);
        assert_eq!(nearest_int(-2.5), -2);
        assert_eq!(nearest_int(-126.7), -127);
    }

    #[test]
    fn q4_0_by_hand() {
        let mut b = vec![0u8; 18];
        b[0..2].copy_from_slice(&F16_HALF.to_le_bytes());
        for j in 0..16 {
            b[2 + j] = (j as u8) | ((15 - j as u8) << 4);
        }
        let y = deq(GGML_TYPE_Q4_0, &b, 32);
        for j in 0..16 {
            assert_eq!(y[j], (j as f32 - 8.0) * 0.5);
            assert_eq!(y[j + 16], (7.0 - j as f32) * 0.5);
        }
    }

    #[test]
    fn q5_0_by_hand() {
        let mut b = vec![0u8; 22];
        b[0..2].copy_from_slice(&F16_QUARTER.to_le_bytes());
        let qh: u32 = 0xA5A5_0F0F;
        b[2..6].copy_from_slice(&qh.to_le_bytes());
        for j in 0..16 {
            b[6 + j] = (j as u8) | (((j as u8 * 7) & 15) << 4);
        }
        let y = deq(GGML_TYPE_Q5_0, &b, 32);
        for j in 0..16 {
            let lo = j as i32 + 16 * ((qh >> j) & 1) as i32 - 16;
            let hi = ((j as i32 * 7) & 15) + 16 * ((qh >> (j + 16)) & 1) as i32 - 16;
            assert_eq!(y[j], lo as f32 * 0.25);
            assert_eq!(y[j + 16], hi as f32 * 0.25);
        }
        assert_eq!(y[0], (0 + 16 - 16) as f32 * 0.25); // bit 0 of 0x0F0F is set
        assert_eq!(y[4], (4 - 16) as f32 * 0.25); // bit 4 clear
    }

    #[test]
    fn q8_0_by_hand() {
        let mut b = vec![0u8; 34];
        b[0..2].copy_from_slice(&F16_TWO.to_le_bytes());
        for j in 0..32 {
            b[2 + j] = (j as i8 - 16) as u8;
        }
        let y = deq(GGML_TYPE_Q8_0, &b, 32);
        for j in 0..32 {
            assert_eq!(y[j], (j as f32 - 16.0) * 2.0);
        }
    }

    /// Packs 8 six-bit scales and mins the K-quant way (documented layout in ggml-common.h:
    /// bytes 0..4 low 6 bits of scales 0..3 with scale 4..7 bits 4..5 on top, bytes 4..8 the
    /// same for mins, bytes 8..12 low nibbles of scales 4..7 and mins 4..7).
    fn pack_k4(sc: &[u8; 8], m: &[u8; 8]) -> [u8; 12] {
        let mut p = [0u8; 12];
        for j in 0..4 {
            p[j] = sc[j] | ((sc[j + 4] >> 4) << 6);
            p[j + 4] = m[j] | ((m[j + 4] >> 4) << 6);
            p[j + 8] = (sc[j + 4] & 15) | ((m[j + 4] & 15) << 4);
        }
        p
    }

    /// Builds a Q4_K (or Q5_K) block from q values (0..15 or 0..31) and returns it with the
    /// expected dequantized values d*sc*q - dmin*m.
    fn build_k45(five: bool, q: &[u8; 256], sc: &[u8; 8], m: &[u8; 8]) -> (Vec<u8>, Vec<f32>) {
        let mut b = vec![0u8; if five { 176 } else { 144 }];
        b[0..2].copy_from_slice(&F16_HALF.to_le_bytes());
        b[2..4].copy_from_slice(&F16_QUARTER.to_le_bytes());
        b[4..16].copy_from_slice(&pack_k4(sc, m));
        let qs = if five { 48 } else { 16 };
        let mut want = vec![0f32; 256];
        for e in 0..256 {
            let (sub, l) = (e / 32, e % 32);
            let byte = qs + 32 * (sub / 2) + l;
            b[byte] |= (q[e] & 15) << (4 * (sub % 2));
            if five {
                b[16 + l] |= (q[e] >> 4) << sub;
            }
            want[e] = 0.5 * sc[sub] as f32 * q[e] as f32 - 0.25 * m[sub] as f32;
        }
        (b, want)
    }

    #[test]
    fn q4_k_and_q5_k_by_hand() {
        let sc = [1, 7, 13, 63, 32, 17, 48, 5];
        let m = [0, 63, 2, 33, 16, 47, 8, 60];
        for five in [false, true] {
            let mut q = [0u8; 256];
            for e in 0..256 {
                q[e] = ((e * 7 + e / 13) % if five { 32 } else { 16 }) as u8;
            }
            let (b, want) = build_k45(five, &q, &sc, &m);
            let ty = if five { GGML_TYPE_Q5_K } else { GGML_TYPE_Q4_K };
            assert_eq!(deq(ty, &b, 256), want, "five={five}");
        }
    }

    #[test]
    fn q6_k_by_hand() {
        // Layout: element e = 128h + 32c + l; low nibble in ql[64h + 32(c%2) + l] (low half for
        // c < 2, high half otherwise); top 2 bits in qh[32h + l] bits 2c..2c+2; scale
        // sc[8h + 2c + l/16]; value d * sc * (q - 32).
        let mut b = vec![0u8; 210];
        b[208..210].copy_from_slice(&F16_QUARTER.to_le_bytes());
        let scales: [i8; 16] = [1, -2, 3, -128, 127, 0, 9, -10, 11, 12, -13, 14, 15, 16, -17, 64];
        for i in 0..16 {
            b[192 + i] = scales[i] as u8;
        }
        let mut want = vec![0f32; 256];
        for e in 0..256 {
            let q = ((e * 11 + 5) % 64) as u8;
            let (h, c, l) = (e / 128, (e % 128) / 32, e % 32);
            b[64 * h + 32 * (c % 2) + l] |= (q & 15) << (4 * (c / 2));
            b[128 + 32 * h + l] |= (q >> 4) << (2 * c);
            let s = scales[8 * h + 2 * c + l / 16];
            want[e] = 0.25 * s as f32 * (q as i32 - 32) as f32;
        }
        assert_eq!(deq(GGML_TYPE_Q6_K, &b, 256), want);
    }

    #[test]
    fn q8_0_activation_roundtrip_and_rounding() {
        let x: Vec<f32> = (0..64).map(|i| (i as f32 - 31.5) * 0.37).collect();
        let mut q = vec![0u8; activation_row_bytes(GGML_TYPE_Q4_0, 64)];
        quantize_activation_row(GGML_TYPE_Q4_0, &x, &mut q);
        let y = deq(GGML_TYPE_Q8_0, &q, 64);
        for b in 0..2 {
            let amax = x[32 * b..32 * b + 32].iter().fold(0f32, |a, v| a.max(v.abs()));
            let d = f16::from_f32(amax / 127.0).to_f32();
            for j in 32 * b..32 * b + 32 {
                assert!((y[j] - x[j]).abs() <= 0.5 * d + amax * 1e-3, "{j}: {} vs {}", y[j], x[j]);
            }
        }
        // Ties go to even (AVX2 _mm256_round_ps), not away from zero (roundf): amax 127 gives
        // id = 1, so 2.5 -> 2, 3.5 -> 4, -0.5 -> 0.
        let mut x = vec![0f32; 32];
        x[0] = 127.0;
        x[1] = 2.5;
        x[2] = 3.5;
        x[3] = -0.5;
        x[4] = -1.5;
        quantize_activation_row(GGML_TYPE_Q8_0, &x, &mut q[..34]);
        assert_eq!(rd_u16(&q, 0), f16::from_f32(1.0).to_bits());
        assert_eq!(&q[2..7], &[127u8, 2, 4, 0, (-2i8) as u8]);
    }

    #[test]
    fn q8_k_activation_roundtrip() {
        let mut r = Lcg(7);
        let x: Vec<f32> = (0..512).map(|_| r.unit() * 3.0).collect();
        let mut q = vec![0u8; activation_row_bytes(GGML_TYPE_Q4_K, 512)];
        quantize_activation_row(GGML_TYPE_Q4_K, &x, &mut q);
        let y = deq(GGML_TYPE_Q8_K, &q, 512);
        for b in 0..2 {
            let blk = &q[b * 292..(b + 1) * 292];
            let d = rd_f32(blk, 0);
            for g in 0..16 {
                let s: i32 = (0..16).map(|i| blk[4 + 16 * g + i] as i8 as i32).sum();
                assert_eq!(rd_u16(blk, 260 + 2 * g) as i16 as i32, s);
            }
            for j in 256 * b..256 * (b + 1) {
                assert!((y[j] - x[j]).abs() <= 0.5 * d.abs() * 1.0001, "{j}");
            }
            // The element of largest magnitude maps to -127.
            let imax = (256 * b..256 * (b + 1)).max_by(|&i, &j| x[i].abs().total_cmp(&x[j].abs())).unwrap();
            assert_eq!(blk[4 + imax - 256 * b] as i8, -127);
        }
        // An all-zero block: d = 0 and zero quants.
        let z = vec![0f32; 256];
        quantize_activation_row(GGML_TYPE_Q6_K, &z, &mut q[..292]);
        assert!(q[..292].iter().all(|&b| b == 0));
    }

    /// Random weight row of `n` elements: random bytes with small finite f16 scales.
    fn random_weights(ty: u32, n: usize, r: &mut Lcg) -> Vec<u8> {
        let f = format(ty).unwrap();
        let mut w: Vec<u8> = (0..n / f.block_elems * f.block_bytes).map(|_| r.byte()).collect();
        let scale = |r: &mut Lcg| f16::from_f32(r.unit() * 0.05).to_bits().to_le_bytes();
        for blk in w.chunks_exact_mut(f.block_bytes) {
            match ty {
                GGML_TYPE_F32 => blk.copy_from_slice(&r.unit().to_le_bytes()),
                GGML_TYPE_F16 => blk.copy_from_slice(&f16::from_f32(r.unit()).to_bits().to_le_bytes()),
                GGML_TYPE_BF16 => blk.copy_from_slice(&f32_to_bf16_bits(r.unit()).to_le_bytes()),
                GGML_TYPE_Q4_0 | GGML_TYPE_Q5_0 | GGML_TYPE_Q8_0 => blk[0..2].copy_from_slice(&scale(r)),
                GGML_TYPE_Q4_K | GGML_TYPE_Q5_K => {
                    blk[0..2].copy_from_slice(&scale(r));
                    blk[2..4].copy_from_slice(&scale(r));
                }
                GGML_TYPE_Q6_K => blk[208..210].copy_from_slice(&scale(r)),
                _ => unreachable!(),
            }
        }
        w
    }

    const ALL: [u32; 9] = [
        GGML_TYPE_F32,
        GGML_TYPE_F16,
        GGML_TYPE_BF16,
        GGML_TYPE_Q4_0,
        GGML_TYPE_Q5_0,
        GGML_TYPE_Q8_0,
        GGML_TYPE_Q4_K,
        GGML_TYPE_Q5_K,
        GGML_TYPE_Q6_K,
    ];

    #[test]
    fn vec_dot_matches_f64_reference() {
        let mut r = Lcg(12345);
        for ty in ALL {
            for &n in &[256usize, 512, 1536] {
                for _ in 0..20 {
                    let w = random_weights(ty, n, &mut r);
                    let x: Vec<f32> = (0..n).map(|_| r.unit() * 2.0).collect();
                    let mut a = vec![0u8; activation_row_bytes(ty, n)];
                    quantize_activation_row(ty, &x, &mut a);
                    let wd = deq(ty, &w, n);
                    let ad = deq(vec_dot_type(ty), &a, n);
                    let exact: f64 = wd.iter().zip(&ad).map(|(&p, &q)| p as f64 * q as f64).sum();
                    let mag: f64 = wd.iter().zip(&ad).map(|(&p, &q)| (p as f64 * q as f64).abs()).sum();
                    let got = vec_dot(ty, n, &w, &a) as f64;
                    assert!((got - exact).abs() <= 1e-5 * mag + 1e-30, "ty={ty} n={n}: {got} vs {exact} (mag {mag})");
                }
            }
        }
    }

    #[test]
    fn vec_dot_leftovers_for_float_types() {
        // n not a multiple of 32 exercises the scalar tails of the F32/F16/BF16 kernels.
        let mut r = Lcg(99);
        for ty in [GGML_TYPE_F32, GGML_TYPE_F16, GGML_TYPE_BF16] {
            for n in [1usize, 7, 33, 70] {
                let w = random_weights(ty, n, &mut r);
                let x: Vec<f32> = (0..n).map(|_| r.unit()).collect();
                let mut a = vec![0u8; activation_row_bytes(ty, n)];
                quantize_activation_row(ty, &x, &mut a);
                let wd = deq(ty, &w, n);
                let ad = deq(ty, &a, n);
                let exact: f64 = wd.iter().zip(&ad).map(|(&p, &q)| p as f64 * q as f64).sum();
                let got = vec_dot(ty, n, &w, &a) as f64;
                assert!((got - exact).abs() <= 1e-5 * n as f64, "ty={ty} n={n}");
            }
        }
    }

    #[test]
    fn avx2_and_portable_paths_agree() {
        let mut r = Lcg(2024);
        for ty in ALL {
            let n = 768;
            let w = random_weights(ty, n, &mut r);
            let x: Vec<f32> = (0..n).map(|_| r.unit() * 10.0).collect();
            let mut a = vec![0u8; activation_row_bytes(ty, n)];
            quantize_activation_row(ty, &x, &mut a);
            let portable = vec_dot_any(ty, n, &w, &a);
            assert_eq!(vec_dot(ty, n, &w, &a).to_bits(), portable.to_bits(), "ty={ty}");
        }
    }
}
