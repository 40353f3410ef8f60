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
}
