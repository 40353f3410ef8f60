//! FLASH_ATTN_EXT: softmax(scale * Q K^T + slope * mask, with optional soft-cap and sinks) V.
//!
//! q F32 `[Dk, n_q, n_head, ne3]`; k, v F16/BF16/F32 `[D, n_kv, n_head_kv, ne3]`; mask F16
//! `[n_kv, n_q_pad, 1|n_head, 1|ne3]` (optional); sinks F32 `[n_head]` (optional);
//! dst F32 `[Dv, n_head, n_q, ne3]`.
//!
//! Numerics follow ggml-cpu's one-pass kernel, which is what the NPU design computes too:
//! Q is rounded to K's type before the dot products (bf16 on the NPU), scores and the online
//! softmax run in f32, and V is accumulated in f32.
use half::{bf16, f16};
use rayon::prelude::*;

use super::Layout;
use crate::gpu::{Launch, MAX_GRID_YZ};
use crate::quants;
use crate::tensor::{f32s, f32s_mut, Tensor};
use ggml_sys::ggml_type as ty;

pub use super::args::ucn_flash_attn_ext_args as Args;

/// Element size of a KV-cache type this kernel reads (F32, F16, BF16).
fn kv_elem_size(t: u32) -> Option<usize> {
    super::cpy::float_elem_size(t)
}

pub fn select(node: &Tensor) -> Option<Args> {
    let (q, k, v) = (node.src(0)?, node.src(1)?, node.src(2)?);
    let kv = k.dtype();
    kv_elem_size(kv)?;
    if q.dtype() != ty::GGML_TYPE_F32 || node.dtype() != ty::GGML_TYPE_F32 || v.dtype() != kv {
        return None;
    }
    if !q.rows_contiguous() || !k.rows_contiguous() || !v.rows_contiguous() {
        return None;
    }
    let (qn, kn, vn, dn) = (q.ne(), k.ne(), v.ne(), node.ne());
    if qn[0] != kn[0] || kn[1] != vn[1] || dn[0] != vn[0] || dn[1] != qn[2] || dn[2] != qn[1] {
        return None;
    }
    if kn[2] == 0 || vn[2] == 0 || qn[2] % kn[2] != 0 || qn[2] % vn[2] != 0 || kn[3] == 0 || qn[3] % kn[3] != 0 || qn[3] % vn[3] != 0 {
        return None;
    }
    if node.nb()[0] != 4 || !node.is_contiguous() {
        return None;
    }
    let mask = match node.src(3) {
        Some(m) => {
            let mn = m.ne();
            if m.dtype() != ty::GGML_TYPE_F16 || !m.rows_contiguous() || mn[0] < kn[1] || mn[1] < qn[1] {
                return None;
            }
            if mn[2] == 0 || mn[3] == 0 || qn[2] % mn[2] != 0 || qn[3] % mn[3] != 0 {
                return None;
            }
            Some(Layout::of(&m))
        }
        None => None,
    };
    let has_mask = mask.is_some();
    let has_sinks = match node.src(4) {
        Some(s) => {
            if s.dtype() != ty::GGML_TYPE_F32 || s.nelements() < qn[2] || !s.is_contiguous() {
                return None;
            }
            true
        }
        None => false,
    };
    Some(Args {
        q: Layout::of(&q),
        k: Layout::of(&k),
        v: Layout::of(&v),
        mask: mask.unwrap_or_default(),
        has_mask,
        has_sinks,
        kv_type: kv,
        dst: Layout::of(node),
        scale: node.op_param_f32(0),
        max_bias: node.op_param_f32(1),
        logit_softcap: node.op_param_f32(2),
    })
}

/// ALiBi slope of head `h` (1 when max_bias is 0).
pub fn alibi_slope(max_bias: f32, n_head: usize, h: usize) -> f32 {
    if max_bias <= 0.0 {
        return 1.0;
    }
    let n_head_log2 = 1u32 << (n_head as f32).log2().floor() as u32;
    let m0 = 2f32.powf(-max_bias / n_head_log2 as f32);
    let m1 = 2f32.powf(-(max_bias / 2.0) / n_head_log2 as f32);
    if (h as u32) < n_head_log2 {
        m0.powf(h as f32 + 1.0)
    } else {
        m1.powf(2.0 * (h as u32 - n_head_log2) as f32 + 1.0)
    }
}

/// acc = v * s + acc (fused, as `ggml_vec_mad_f32`), with v a row of the KV type.
fn mad(acc: &mut [f32], v: &[u8], s: f32, kv: u32) {
    match kv {
        ty::GGML_TYPE_F32 => acc.iter_mut().zip(f32s(v)).for_each(|(a, x)| *a = x.mul_add(s, *a)),
        ty::GGML_TYPE_F16 => {
            let v: &[f16] = bytemuck::cast_slice(v);
            acc.iter_mut().zip(v).for_each(|(a, x)| *a = x.to_f32().mul_add(s, *a))
        }
        _ => {
            let v: &[bf16] = bytemuck::cast_slice(v);
            acc.iter_mut().zip(v).for_each(|(a, x)| *a = x.to_f32().mul_add(s, *a))
        }
    }
}

pub fn run(a: &Args, node: &Tensor) {
    let (q, k, v) = (node.src_data(0), node.src_data(1), node.src_data(2));
    let mask = node.src_data(3);
    let sinks = node.src_data(4);
    let sinks = if a.has_sinks { Some(f32s(&sinks)) } else { None };
    let dst = f32s_mut(node.data_mut());
    let [dk, n_q, n_head, ne3] = a.q.ne;
    let dv = a.v.ne[0];
    let n_kv = a.k.ne[1];
    let esz = kv_elem_size(a.kv_type).unwrap_or(2);
    let (rk2, rk3) = (n_head / a.k.ne[2], ne3 / a.k.ne[3]);
    let (rv2, rv3) = (n_head / a.v.ne[2], ne3 / a.v.ne[3]);
    let scale = if a.logit_softcap != 0.0 { a.scale / a.logit_softcap } else { a.scale };
    // Q is rounded to K's type once per row, then dotted with each K row as ggml-cpu does.
    let kt = a.kv_type;
    let q_bytes = quants::activation_row_bytes(kt, dk);

    // dst is [Dv, n_head, n_q, ne3]: one output row per (head, query, batch), in that order.
    dst.par_chunks_mut(dv).enumerate().for_each(|(row, out)| {
        let h = row % n_head;
        let iq1 = (row / n_head) % n_q;
        let iq3 = row / (n_head * n_q);
        let slope = alibi_slope(a.max_bias, n_head, h);
        let qoff = a.q.row_offset(iq1, h, iq3);
        let mut qrow = vec![0u8; q_bytes];
        quants::quantize_activation_row(kt, f32s(&q[qoff..qoff + dk * 4]), &mut qrow);
        let mrow: Option<&[f16]> = a.has_mask.then_some(&a.mask).map(|m| {
            let off = m.row_offset(iq1, h % m.ne[2], iq3 % m.ne[3]);
            bytemuck::cast_slice(&mask[off..off + n_kv * 2])
        });
        let (ik2, ik3, iv2, iv3) = (h / rk2, iq3 / rk3, h / rv2, iq3 / rv3);

        let mut acc = vec![0f32; dv];
        let mut m = f32::NEG_INFINITY;
        let mut sum = 0f32;
        for ic in 0..n_kv {
            let mv = mrow.map_or(0.0, |mr| slope * mr[ic].to_f32());
            if mv == f32::NEG_INFINITY {
                continue;
            }
            let koff = a.k.row_offset(ic, ik2, ik3);
            let mut s = quants::vec_dot(kt, dk, &k[koff..koff + dk * esz], &qrow) * scale;
            if a.logit_softcap != 0.0 {
                s = a.logit_softcap * s.tanh();
            }
            s += mv;
            let (mut ms, mut vs) = (1.0f32, 1.0f32);
            if s > m {
                ms = (m - s).exp();
                m = s;
                acc.iter_mut().for_each(|x| *x *= ms);
            } else {
                vs = (s - m).exp();
            }
            let voff = a.v.row_offset(ic, iv2, iv3);
            mad(&mut acc, &v[voff..voff + dv * esz], vs, a.kv_type);
            sum = sum.mul_add(ms, vs);
        }
        if let Some(sinks) = sinks {
            let s = sinks[h];
            let (mut ms, mut vs) = (1.0f32, 1.0f32);
            if s > m {
                ms = (m - s).exp();
                acc.iter_mut().for_each(|x| *x *= ms);
            } else {
                vs = (s - m).exp();
            }
            sum = sum.mul_add(ms, vs);
        }
        let inv = if sum == 0.0 { 0.0 } else { 1.0 / sum };
        out.iter_mut().zip(&acc).for_each(|(o, x)| *o = x * inv);
    });
}

/// The GPU kernel (`kernels/hip/flash_attn_ext.cu`). A block owns R q rows that share one K
/// and one V head (G heads of a GQA group times R / G consecutive positions); its warps split
/// the KV sequence, each with its own online softmax, merged at the end. Two shapes:
/// - decode (R = 1, 16 warps): when the R-row shape would give fewer than
///   `GPU_MIN_SHARED_BLOCKS` blocks (few rows, long KV: one block per row, all warps on its KV);
/// - shared (R = 2..8, 4 warps): each K/V row read once per block serves R rows (prefill).
///
/// Grid: x = n_head / G (the kernel derives G from it), y/z = (position block, batch) as
/// `Launch::rows` spreads them. Declined (`None`): max(Dk, Dv) above 576, an empty op, sizes
/// past 32-bit indices, a KV type other than F32/F16/BF16.
pub fn gpu(a: &Args) -> Option<Launch> {
    let [dk, n_q, n_head, ne3] = a.q.ne;
    let (dv, n_kv) = (a.v.ne[0], a.k.ne[1]);
    if dk == 0 || dv == 0 || n_q == 0 || n_head == 0 || ne3 == 0 {
        return None;
    }
    let rows = n_q.checked_mul(n_head)?.checked_mul(ne3)?;
    if n_kv > i32::MAX as usize / 2 || rows > u32::MAX as usize {
        return None;
    }
    // Head-dim bucket (lanes own Dmax / 32 dims) and the most rows per block it has a kernel for.
    let (dmax, r_max) = match dk.max(dv) {
        0..=64 => (64, 8),
        65..=128 => (128, 4),
        129..=256 => (256, 4),
        257..=512 => (512, 2),
        513..=576 => (576, 2),
        _ => return None,
    };
    // G: a power of two dividing both broadcast ratios (so the group shares its K and V head).
    let g = gcd(gcd(n_head / a.k.ne[2], n_head / a.v.ne[2]), r_max);
    let qp = (r_max / g).min(n_q.next_power_of_two());
    let (r, g, qp) = if g * qp == 1 || (n_head / g) * n_q.div_ceil(qp) * ne3 < GPU_MIN_SHARED_BLOCKS {
        (1, 1, 1)
    } else {
        (g * qp, g, qp)
    };
    let kernel = gpu_kernel(a.kv_type, dmax, r)?;
    let warps = if r == 1 { GPU_DECODE_WARPS } else { GPU_SHARED_WARPS };
    Launch::rows(kernel, warps * 32, n_head / g, n_q.div_ceil(qp) * ne3)
}

/// Fewer blocks than this in the shared-rows shape: the decode shape keeps more warps busy.
const GPU_MIN_SHARED_BLOCKS: usize = 64;
/// Warps per block (the kernels' NW) of the decode (R = 1) and shared-rows shapes.
const GPU_DECODE_WARPS: u32 = 16;
const GPU_SHARED_WARPS: u32 = 4;

/// The kernels of `kernels/hip/flash_attn_ext.cu`, by KV type, head-dim bucket and rows per
/// block (`ucn_flash_attn_ext_<type>_d<Dmax>_r<R>`).
fn gpu_kernel(kv: u32, dmax: usize, r: usize) -> Option<&'static std::ffi::CStr> {
    let by_type = match (dmax, r) {
        (64, 1) => [c"ucn_flash_attn_ext_f32_d64_r1", c"ucn_flash_attn_ext_f16_d64_r1", c"ucn_flash_attn_ext_bf16_d64_r1"],
        (64, 2) => [c"ucn_flash_attn_ext_f32_d64_r2", c"ucn_flash_attn_ext_f16_d64_r2", c"ucn_flash_attn_ext_bf16_d64_r2"],
        (64, 4) => [c"ucn_flash_attn_ext_f32_d64_r4", c"ucn_flash_attn_ext_f16_d64_r4", c"ucn_flash_attn_ext_bf16_d64_r4"],
        (64, 8) => [c"ucn_flash_attn_ext_f32_d64_r8", c"ucn_flash_attn_ext_f16_d64_r8", c"ucn_flash_attn_ext_bf16_d64_r8"],
        (128, 1) => [c"ucn_flash_attn_ext_f32_d128_r1", c"ucn_flash_attn_ext_f16_d128_r1", c"ucn_flash_attn_ext_bf16_d128_r1"],
        (128, 2) => [c"ucn_flash_attn_ext_f32_d128_r2", c"ucn_flash_attn_ext_f16_d128_r2", c"ucn_flash_attn_ext_bf16_d128_r2"],
        (128, 4) => [c"ucn_flash_attn_ext_f32_d128_r4", c"ucn_flash_attn_ext_f16_d128_r4", c"ucn_flash_attn_ext_bf16_d128_r4"],
        (256, 1) => [c"ucn_flash_attn_ext_f32_d256_r1", c"ucn_flash_attn_ext_f16_d256_r1", c"ucn_flash_attn_ext_bf16_d256_r1"],
        (256, 2) => [c"ucn_flash_attn_ext_f32_d256_r2", c"ucn_flash_attn_ext_f16_d256_r2", c"ucn_flash_attn_ext_bf16_d256_r2"],
        (256, 4) => [c"ucn_flash_attn_ext_f32_d256_r4", c"ucn_flash_attn_ext_f16_d256_r4", c"ucn_flash_attn_ext_bf16_d256_r4"],
        (512, 1) => [c"ucn_flash_attn_ext_f32_d512_r1", c"ucn_flash_attn_ext_f16_d512_r1", c"ucn_flash_attn_ext_bf16_d512_r1"],
        (512, 2) => [c"ucn_flash_attn_ext_f32_d512_r2", c"ucn_flash_attn_ext_f16_d512_r2", c"ucn_flash_attn_ext_bf16_d512_r2"],
        (576, 1) => [c"ucn_flash_attn_ext_f32_d576_r1", c"ucn_flash_attn_ext_f16_d576_r1", c"ucn_flash_attn_ext_bf16_d576_r1"],
        (576, 2) => [c"ucn_flash_attn_ext_f32_d576_r2", c"ucn_flash_attn_ext_f16_d576_r2", c"ucn_flash_attn_ext_bf16_d576_r2"],
        _ => return None,
    };
    match kv {
        ty::GGML_TYPE_F32 => Some(by_type[0]),
        ty::GGML_TYPE_F16 => Some(by_type[1]),
        ty::GGML_TYPE_BF16 => Some(by_type[2]),
        _ => None,
    }
}

/// Attention in two launches with the KV sequence split across blocks (decode over a long
/// context: `gpu()` has one block per head or GQA group there, 2 to 8 blocks for Gemma3n). The
/// engine provides a buffer of `scratch_bytes` (16-byte aligned) for both launches:
/// - `partial`: `ucn_flash_attn_ext_<kv>_d<D>_r<R>_split` with the node's `Args` and pointers but
///   `dst` = the buffer. A block owns the R q rows of a GQA group (all query heads of one KV head
///   when they fit R: K and V read once for them) and one chunk of the keys; grid (head groups,
///   splits, position blocks x batches), 4 warps;
/// - `combine`: `ucn_flash_attn_ext_combine` with the node's `Args` and pointers but `src[0]` =
///   the buffer (it merges the splits, adds the sink, divides, writes `dst`).
///
/// `None` where one launch is as good (fewer than two splits) or the shapes do not fit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SplitKv {
    pub partial: Launch,
    pub combine: Launch,
    pub scratch_bytes: usize,
}

/// Blocks the split aims at (enough to fill an H100's 132 multiprocessors twice; the 780M has
/// 12 CUs), and the fewest keys a split keeps (16 per warp).
const SPLIT_TARGET_BLOCKS: usize = 256;
const SPLIT_MIN_KEYS: usize = 64;

pub fn gpu_split(a: &Args) -> Option<SplitKv> {
    let [dk, n_q, n_head, ne3] = a.q.ne;
    let (dv, n_kv) = (a.v.ne[0], a.k.ne[1]);
    if dk == 0 || dv == 0 || n_q == 0 || n_head == 0 || ne3 == 0 || n_kv > i32::MAX as usize / 2 {
        return None;
    }
    let (dmax, r_max) = match dk.max(dv) {
        0..=64 => (64, 4),
        65..=128 => (128, 4),
        129..=256 => (256, 4),
        _ => return None,
    };
    let g = gcd(gcd(n_head / a.k.ne[2], n_head / a.v.ne[2]), r_max);
    let qp = (r_max / g).min(n_q.next_power_of_two());
    let base = (n_head / g).checked_mul(n_q.div_ceil(qp))?.checked_mul(ne3)?;
    let splits = SPLIT_TARGET_BLOCKS.div_ceil(base).min(n_kv / SPLIT_MIN_KEYS).min(MAX_GRID_YZ);
    if splits < 2 || n_q.div_ceil(qp) * ne3 > MAX_GRID_YZ {
        return None;
    }
    let kernel = gpu_split_kernel(a.kv_type, dmax, g * qp)?;
    let partial = Launch {
        kernel,
        grid: [(n_head / g) as u32, splits as u32, (n_q.div_ceil(qp) * ne3) as u32],
        block: [4 * 32, 1, 1],
        shared: 0,
    };
    let n_out = n_head * n_q * ne3;
    let combine = Launch::rows(c"ucn_flash_attn_ext_combine", 256, dv.div_ceil(256), n_out)?;
    Some(SplitKv { partial, combine, scratch_bytes: 16 + n_out * splits * (dv + 2) * 4 })
}

/// `ucn_flash_attn_ext_<type>_d<Dmax>_r<R>_split` (the `UCN_FAS` lines of the kernel file).
fn gpu_split_kernel(kv: u32, dmax: usize, r: usize) -> Option<&'static std::ffi::CStr> {
    let by_type = match (dmax, r) {
        (64, 1) => [c"ucn_flash_attn_ext_f32_d64_r1_split", c"ucn_flash_attn_ext_f16_d64_r1_split", c"ucn_flash_attn_ext_bf16_d64_r1_split"],
        (64, 2) => [c"ucn_flash_attn_ext_f32_d64_r2_split", c"ucn_flash_attn_ext_f16_d64_r2_split", c"ucn_flash_attn_ext_bf16_d64_r2_split"],
        (64, 4) => [c"ucn_flash_attn_ext_f32_d64_r4_split", c"ucn_flash_attn_ext_f16_d64_r4_split", c"ucn_flash_attn_ext_bf16_d64_r4_split"],
        (128, 1) => [c"ucn_flash_attn_ext_f32_d128_r1_split", c"ucn_flash_attn_ext_f16_d128_r1_split", c"ucn_flash_attn_ext_bf16_d128_r1_split"],
        (128, 2) => [c"ucn_flash_attn_ext_f32_d128_r2_split", c"ucn_flash_attn_ext_f16_d128_r2_split", c"ucn_flash_attn_ext_bf16_d128_r2_split"],
        (128, 4) => [c"ucn_flash_attn_ext_f32_d128_r4_split", c"ucn_flash_attn_ext_f16_d128_r4_split", c"ucn_flash_attn_ext_bf16_d128_r4_split"],
        (256, 1) => [c"ucn_flash_attn_ext_f32_d256_r1_split", c"ucn_flash_attn_ext_f16_d256_r1_split", c"ucn_flash_attn_ext_bf16_d256_r1_split"],
        (256, 2) => [c"ucn_flash_attn_ext_f32_d256_r2_split", c"ucn_flash_attn_ext_f16_d256_r2_split", c"ucn_flash_attn_ext_bf16_d256_r2_split"],
        (256, 4) => [c"ucn_flash_attn_ext_f32_d256_r4_split", c"ucn_flash_attn_ext_f16_d256_r4_split", c"ucn_flash_attn_ext_bf16_d256_r4_split"],
        _ => return None,
    };
    match kv {
        ty::GGML_TYPE_F32 => Some(by_type[0]),
        ty::GGML_TYPE_F16 => Some(by_type[1]),
        ty::GGML_TYPE_BF16 => Some(by_type[2]),
        _ => None,
    }
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 { a } else { gcd(b, a % b) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alibi_slopes_match_the_closed_form() {
        // n_head = 8, max_bias = 8: m0 = 2^-1, slopes 2^-(h+1).
        for h in 0..8 {
            assert!((alibi_slope(8.0, 8, h) - 0.5f32.powi(h as i32 + 1)).abs() < 1e-7);
        }
        assert_eq!(alibi_slope(0.0, 8, 3), 1.0);
    }

    #[test]
    fn q_rounds_to_kv_type_before_the_dot() {
        // bf16 keeps 8 bits of mantissa: 1 + 2^-9 rounds to even (1.0).
        let kt = ty::GGML_TYPE_BF16;
        let mut q = vec![0u8; quants::activation_row_bytes(kt, 32)];
        quants::quantize_activation_row(kt, &[1.0 + 1.0 / 512.0; 32], &mut q);
        let k: Vec<u8> = (0..32).flat_map(|_| super::super::f32_to_bf16(1.0).to_bits().to_le_bytes()).collect();
        assert_eq!(quants::vec_dot(kt, 32, &k, &q), 32.0);
    }

    fn gpu_args(d: [usize; 2], n_q: usize, n_head: usize, n_head_kv: usize, n_kv: usize) -> Args {
        let lay = |ne: [usize; 4]| Layout { ne, nb: [0; 4] };
        Args {
            q: lay([d[0], n_q, n_head, 1]),
            k: lay([d[0], n_kv, n_head_kv, 1]),
            v: lay([d[1], n_kv, n_head_kv, 1]),
            dst: lay([d[1], n_head, n_q, 1]),
            kv_type: ty::GGML_TYPE_BF16,
            ..Default::default()
        }
    }

    #[test]
    fn gpu_launch_shapes() {
        // Gemma3n decode: one block of 16 warps per head.
        let l = gpu(&gpu_args([256, 256], 1, 8, 2, 4096)).unwrap();
        assert_eq!((l.kernel, l.grid, l.block), (c"ucn_flash_attn_ext_bf16_d256_r1", [8, 1, 1], [512, 1, 1]));
        // Gemma3n prefill: the 4 heads of a KV head share a block.
        let l = gpu(&gpu_args([256, 256], 512, 8, 2, 512)).unwrap();
        assert_eq!((l.kernel, l.grid, l.block), (c"ucn_flash_attn_ext_bf16_d256_r4", [2, 512, 1], [128, 1, 1]));
        // No GQA: 8 positions of one head per block.
        let l = gpu(&gpu_args([64, 64], 75, 32, 32, 512)).unwrap();
        assert_eq!((l.kernel, l.grid), (c"ucn_flash_attn_ext_bf16_d64_r8", [32, 10, 1]));
        // DeepSeek MLA sizes; above 576 declined.
        assert_eq!(gpu(&gpu_args([576, 512], 1, 16, 1, 512)).unwrap().kernel, c"ucn_flash_attn_ext_bf16_d576_r1");
        assert!(gpu(&gpu_args([640, 512], 1, 16, 1, 512)).is_none());
        // Odd sizes use the bucket above; few rows take the decode shape.
        let l = gpu(&gpu_args([65, 67], 75, 4, 4, 113)).unwrap();
        assert_eq!((l.kernel, l.grid), (c"ucn_flash_attn_ext_bf16_d128_r4", [4, 19, 1]));
        let l = gpu(&gpu_args([65, 67], 3, 4, 4, 113)).unwrap();
        assert_eq!((l.kernel, l.grid), (c"ucn_flash_attn_ext_bf16_d128_r1", [4, 3, 1]));
    }

    #[test]
    fn gpu_split_shapes() {
        // Gemma3n decode at 4096 keys: the 4 query heads of each KV head in one block, K and V
        // read once; 2 groups x 64 splits of 64 keys (a split keeps at least 64).
        let s = gpu_split(&gpu_args([256, 256], 1, 8, 2, 4096)).unwrap();
        assert_eq!((s.partial.kernel, s.partial.grid, s.partial.block), (c"ucn_flash_attn_ext_bf16_d256_r4_split", [2, 64, 1], [128, 1, 1]));
        assert_eq!((s.combine.kernel, s.combine.grid, s.combine.block), (c"ucn_flash_attn_ext_combine", [1, 8, 1], [256, 1, 1]));
        assert_eq!(s.scratch_bytes, 16 + 8 * 64 * 258 * 4);
        // A short context: one launch is enough.
        assert!(gpu_split(&gpu_args([256, 256], 1, 8, 2, 100)).is_none());
        // Every split kernel name exists.
        let src = include_str!("../../../../kernels/hip/flash_attn_ext.cu");
        for (d, r) in [(64, 1), (64, 2), (64, 4), (128, 1), (128, 2), (128, 4), (256, 1), (256, 2), (256, 4)] {
            assert!(src.contains(&format!("UCN_FAS({d}, {r}, ")), "UCN_FAS({d}, {r})");
            assert!(gpu_split_kernel(ty::GGML_TYPE_F16, d, r).is_some());
        }
    }

    #[test]
    fn gpu_table_matches_the_kernel_file() {
        // Every `UCN_FA(Dmax, R, NW, C)` line of the kernel file is in the table, with the warps
        // gpu() launches it with, and nothing else is.
        let src = include_str!("../../../../kernels/hip/flash_attn_ext.cu");
        let mut n = 0;
        for line in src.lines().filter(|l| l.starts_with("UCN_FA(")) {
            let v: Vec<usize> = line["UCN_FA(".len()..line.len() - 1].split(',').map(|x| x.trim().parse().unwrap()).collect();
            let (dmax, r, nw) = (v[0], v[1], v[2] as u32);
            for (kv, tn) in [(ty::GGML_TYPE_F32, "f32"), (ty::GGML_TYPE_F16, "f16"), (ty::GGML_TYPE_BF16, "bf16")] {
                let name = gpu_kernel(kv, dmax, r).unwrap().to_str().unwrap();
                assert_eq!(name, format!("ucn_flash_attn_ext_{tn}_d{dmax}_r{r}"));
                assert!(src.contains(&format!("UCN_FA1({tn}, DMAX, R, NW, C)")), "{tn}");
            }
            assert_eq!(nw, if r == 1 { GPU_DECODE_WARPS } else { GPU_SHARED_WARPS }, "{line}");
            n += 1;
        }
        let table = [64, 128, 256, 512, 576].iter().flat_map(|&d| [1, 2, 4, 8].map(|r| (d, r)));
        assert_eq!(n, table.filter(|&(d, r)| gpu_kernel(ty::GGML_TYPE_F16, d, r).is_some()).count());
    }
}
