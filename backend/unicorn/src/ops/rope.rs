//! ROPE (modes NORMAL and NEOX): rotate pairs of each row by position-dependent angles, with
//! YaRN extension/scaling and optional per-dimension frequency factors.
//!
//! src0 F32 `[ne0, n_head, n_tok, ne3]` (rows contiguous, any row strides); src1 I32
//! positions `[n_tok]`; src2 F32 frequency factors `[>= n_dims/2]` (optional); dst F32 dense.
//! The angle table is built as ggml-cpu builds it (theta multiplied up step by step).
use rayon::prelude::*;

use super::Layout;
use crate::gpu::Launch;
use crate::tensor::{f32s, f32s_mut, Tensor};
use ggml_sys::ggml_type as ty;

pub const MODE_NORMAL: i32 = 0;
pub const MODE_NEOX: i32 = 2;

pub use super::args::ucn_rope_args as Args;

pub fn select(node: &Tensor) -> Option<Args> {
    let (x, pos) = (node.src(0)?, node.src(1)?);
    let mode = node.op_param_i32(2);
    if mode != MODE_NORMAL && mode != MODE_NEOX {
        return None;
    }
    if x.dtype() != ty::GGML_TYPE_F32 || node.dtype() != ty::GGML_TYPE_F32 || pos.dtype() != ty::GGML_TYPE_I32 {
        return None;
    }
    let n_dims = node.op_param_i32(1);
    let n_offs = node.op_param_i32(15);
    let ne = x.ne();
    if n_dims <= 0 || n_dims % 2 != 0 || n_offs < 0 || n_offs % 2 != 0 || (n_offs + n_dims) as usize > ne[0] {
        return None;
    }
    if x.nb()[0] != 4 || !node.same_shape(&x) || !Layout::of(node).is_dense(4) || pos.nelements() < ne[2] || !pos.is_contiguous() {
        return None;
    }
    let has_freq_factors = match node.src(2) {
        Some(ff) => {
            if ff.dtype() != ty::GGML_TYPE_F32 || ff.ne()[0] < n_dims as usize / 2 || !ff.is_contiguous() {
                return None;
            }
            true
        }
        None => false,
    };
    let freq_base = node.op_param_f32(5);
    Some(Args {
        src: Layout::of(&x),
        n_dims: n_dims as usize,
        n_offs: n_offs as usize,
        neox: mode == MODE_NEOX,
        n_ctx_orig: node.op_param_i32(4),
        freq_base,
        freq_scale: node.op_param_f32(6),
        ext_factor: node.op_param_f32(7),
        attn_factor: node.op_param_f32(8),
        beta_fast: node.op_param_f32(9),
        beta_slow: node.op_param_f32(10),
        has_freq_factors,
        // As `angle_table` computes it (for the GPU kernel, which multiplies up the same way).
        theta_scale: freq_base.powf(-2.0 / n_dims as f32),
    })
}

fn corr_dim(n_dims: usize, n_ctx_orig: i32, n_rot: f32, base: f32) -> f32 {
    n_dims as f32 * (n_ctx_orig as f32 / (n_rot * 2.0 * std::f32::consts::PI)).ln() / (2.0 * base.ln())
}

/// YaRN correction range [start, end] of rotary dimensions.
pub fn yarn_corr_dims(n_dims: usize, n_ctx_orig: i32, base: f32, beta_fast: f32, beta_slow: f32) -> [f32; 2] {
    let start = corr_dim(n_dims, n_ctx_orig, beta_fast, base).floor();
    let end = corr_dim(n_dims, n_ctx_orig, beta_slow, base).ceil();
    [start.max(0.0), end.min(n_dims as f32 - 1.0)]
}

fn yarn_ramp(low: f32, high: f32, i0: usize) -> f32 {
    let y = ((i0 / 2) as f32 - low) / (high - low).max(0.001);
    1.0 - y.clamp(0.0, 1.0)
}

/// (cos, sin) pairs for every even dimension of a row at position `p`.
fn angle_table(a: &Args, p: f32, ff: Option<&[f32]>, corr: [f32; 2], out: &mut [f32]) {
    let theta_scale = a.freq_base.powf(-2.0 / a.n_dims as f32);
    let mut theta = p;
    for i0 in (0..out.len()).step_by(2) {
        let f = ff.map_or(1.0, |ff| ff[i0 / 2]);
        let extrap = theta / f;
        let interp = a.freq_scale * extrap;
        let (mut t, mut mscale) = (interp, a.attn_factor);
        if a.ext_factor != 0.0 {
            let mix = yarn_ramp(corr[0], corr[1], i0) * a.ext_factor;
            t = interp * (1.0 - mix) + extrap * mix;
            mscale *= 1.0 + 0.1 * (1.0 / a.freq_scale).ln();
        }
        out[i0] = t.cos() * mscale;
        out[i0 + 1] = t.sin() * mscale;
        theta *= theta_scale;
    }
}

pub fn run(a: &Args, node: &Tensor) {
    let (x, pos) = (node.src_data(0), node.src_data(1));
    let ff = node.src_data(2);
    let ff = if a.has_freq_factors { Some(f32s(&ff)) } else { None };
    let pos: &[i32] = bytemuck::cast_slice(&pos);
    let dst = f32s_mut(node.data_mut());
    let ne0 = a.src.ne[0];
    let corr = yarn_corr_dims(a.n_dims, a.n_ctx_orig, a.freq_base, a.beta_fast, a.beta_slow);
    let (nd, offs) = (a.n_dims, a.n_offs);

    dst.par_chunks_mut(ne0).enumerate().for_each_init(
        // Only the rotated dimensions need angles (frequency factors cover n_dims/2).
        || (usize::MAX, vec![0f32; nd]),
        |(last_pos_index, cache), (r, out)| {
            let (i1, i2, i3) = a.src.row_index(r);
            if *last_pos_index != i2 {
                angle_table(a, pos[i2] as f32, ff, corr, cache);
                *last_pos_index = i2;
            }
            let off = a.src.row_offset(i1, i2, i3);
            let src = f32s(&x[off..off + ne0 * 4]);
            out.copy_from_slice(src);
            // NORMAL rotates neighbours (i, i+1); NEOX rotates halves (i, i + n_dims/2).
            for i0 in (0..nd).step_by(2) {
                let (ic, pair) = if a.neox { (offs + i0 / 2, nd / 2) } else { (offs + i0, 1) };
                let (c, s) = (cache[i0], cache[i0 + 1]);
                let (x0, x1) = (src[ic], src[ic + pair]);
                // ggml-cpu is compiled with FP contraction: these are its two fused forms.
                out[ic] = x0.mul_add(c, -(x1 * s));
                out[ic + pair] = x0.mul_add(s, x1 * c);
            }
        },
    );
}

/// The GPU kernel (`kernels/hip/rope.cu`): one thread per rotated pair or copied element, tiles
/// over (ne0 - n_dims/2) x rows.
pub fn gpu(a: &Args) -> Option<Launch> {
    super::tiles(c"ucn_rope_f32", a.src.ne[0] - a.n_dims / 2, a.src.nrows())
}
