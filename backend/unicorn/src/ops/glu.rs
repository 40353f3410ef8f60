//! GLU: y = act(x) * g for REGLU, GEGLU, SWIGLU, GEGLU_ERF, GEGLU_QUICK. F32.
//! Fused form: one src whose rows hold [x | g] (or [g | x] when swapped); split form: x and g
//! in two tensors.
use rayon::prelude::*;

use super::{unary, Layout};
use crate::gpu::Launch;
use crate::tensor::{f32s_mut, Tensor};
use super::args::*;
use ggml_sys::{ggml_glu_op as g, ggml_type as ty};

pub use super::args::ucn_glu_args as Args;

/// The activation of a ggml GLU op, as an element-wise function (`args::UCN_UNARY_*`).
fn activation(op: u32) -> Option<u32> {
    match op {
        g::GGML_GLU_OP_REGLU => Some(UCN_UNARY_RELU),
        g::GGML_GLU_OP_GEGLU => Some(UCN_UNARY_GELU),
        g::GGML_GLU_OP_SWIGLU => Some(UCN_UNARY_SILU),
        g::GGML_GLU_OP_GEGLU_ERF => Some(UCN_UNARY_GELU_ERF),
        g::GGML_GLU_OP_GEGLU_QUICK => Some(UCN_UNARY_GELU_QUICK),
        _ => None,
    }
}

pub fn select(node: &Tensor) -> Option<Args> {
    let act = activation(node.op_param_i32(0) as u32)?;
    let x = node.src(0)?;
    if x.dtype() != ty::GGML_TYPE_F32 || node.dtype() != ty::GGML_TYPE_F32 || x.nb()[0] != 4 {
        return None;
    }
    let (xn, dn) = (x.ne(), node.ne());
    let nc = dn[0];
    if !Layout::of(node).is_dense(4) || xn[1..] != dn[1..] {
        return None;
    }
    let src1 = match node.src(1) {
        Some(gt) => {
            if gt.dtype() != ty::GGML_TYPE_F32 || gt.nb()[0] != 4 || gt.ne() != dn || xn[0] != nc {
                return None;
            }
            Some(Layout::of(&gt))
        }
        None if xn[0] == 2 * nc => None,
        None => return None,
    };
    let has_src1 = src1.is_some();
    Some(Args { src0: Layout::of(&x), src1: src1.unwrap_or_default(), has_src1, swapped: node.op_param_i32(1) != 0, act, nc })
}

pub fn run(a: &Args, node: &Tensor) {
    let (x, gt) = (node.src_data(0), node.src_data(1));
    let dst = f32s_mut(node.data_mut());
    dst.par_chunks_mut(a.nc).enumerate().for_each(|(r, out)| {
        let (i1, i2, i3) = a.src0.row_index(r);
        let row0 = super::row_f32(&x, &a.src0, i1, i2, i3);
        let (xs, gs) = if a.has_src1 {
            (&row0[..a.nc], super::row_f32(&gt, &a.src1, i1, i2, i3))
        } else if a.swapped {
            (&row0[a.nc..], &row0[..a.nc])
        } else {
            (&row0[..a.nc], &row0[a.nc..])
        };
        out.iter_mut().zip(xs.iter().zip(gs)).for_each(|(o, (&xv, &gv))| *o = unary::apply(a.act, xv) * gv);
    });
}

/// The GPU kernel (`kernels/hip/glu.cu`): one thread per output element, tiles over nc x rows.
pub fn gpu(a: &Args) -> Option<Launch> {
    super::tiles(c"ucn_glu_f32", a.nc, a.src0.nrows())
}
