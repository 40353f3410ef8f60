//! ADD, SUB, MUL, DIV with src1 broadcast (repeated) over src0. F32.
use rayon::prelude::*;

use super::args::*;
use super::Layout;
use crate::gpu::Launch;
use crate::tensor::{f32s_mut, Tensor};
use ggml_sys::{ggml_op as op, ggml_type as ty};

pub use super::args::ucn_binary_args as Args;

pub fn select(node: &Tensor) -> Option<Args> {
    let (x, y) = (node.src(0)?, node.src(1)?);
    let f32_all = [x.dtype(), y.dtype(), node.dtype()].iter().all(|&t| t == ty::GGML_TYPE_F32);
    if !f32_all || x.nb()[0] != 4 || y.nb()[0] != 4 || !node.same_shape(&x) || !Layout::of(node).is_dense(4) {
        return None;
    }
    let (xn, yn) = (x.ne(), y.ne());
    if (0..4).any(|d| yn[d] == 0 || xn[d] % yn[d] != 0) {
        return None;
    }
    let op = match node.op() {
        op::GGML_OP_ADD => UCN_BINARY_ADD,
        op::GGML_OP_SUB => UCN_BINARY_SUB,
        op::GGML_OP_MUL => UCN_BINARY_MUL,
        op::GGML_OP_DIV => UCN_BINARY_DIV,
        _ => return None,
    };
    Some(Args { op, src0: Layout::of(&x), src1: Layout::of(&y) })
}

pub(crate) fn apply(o: u32, a: f32, b: f32) -> f32 {
    match o {
        UCN_BINARY_ADD => a + b,
        UCN_BINARY_SUB => a - b,
        UCN_BINARY_MUL => a * b,
        _ => a / b,
    }
}

pub fn run(a: &Args, node: &Tensor) {
    let (x, y) = (node.src_data(0), node.src_data(1));
    let dst = f32s_mut(node.data_mut());
    let yn = a.src1.ne;
    dst.par_chunks_mut(a.src0.ne[0]).enumerate().for_each(|(r, out)| {
        let (i1, i2, i3) = a.src0.row_index(r);
        let xr = super::row_f32(&x, &a.src0, i1, i2, i3);
        let yr = super::row_f32(&y, &a.src1, i1 % yn[1], i2 % yn[2], i3 % yn[3]);
        if yr.len() == xr.len() {
            out.iter_mut().zip(xr.iter().zip(yr)).for_each(|(o, (&p, &q))| *o = apply(a.op, p, q));
        } else {
            for (i, o) in out.iter_mut().enumerate() {
                *o = apply(a.op, xr[i], yr[i % yn[0]]);
            }
        }
    });
}

/// The GPU kernel (`kernels/hip/binary.cu`): one thread per element, tiles over ne0 x rows.
pub fn gpu(a: &Args) -> Option<Launch> {
    super::tiles(c"ucn_binary_f32", a.src0.ne[0], a.src0.nrows())
}
