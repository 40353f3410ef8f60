//! SUM_ROWS and MEAN: one value per row, the row's sum (or sum / ne0). F32; the sum is taken
//! in f64 and rounded once, as ggml-cpu's `ggml_vec_sum_f32` does; MEAN then divides in f32.
use rayon::prelude::*;

use super::Layout;
use crate::gpu::Launch;
use crate::tensor::{f32s_mut, Tensor};
use ggml_sys::{ggml_op as op, ggml_type as ty};

pub use super::args::ucn_sum_rows_args as Args;

pub fn select(node: &Tensor) -> Option<Args> {
    let x = node.src(0)?;
    let (xn, dn) = (x.ne(), node.ne());
    let ok = x.dtype() == ty::GGML_TYPE_F32
        && node.dtype() == ty::GGML_TYPE_F32
        && x.nb()[0] == 4
        && dn == [1, xn[1], xn[2], xn[3]]
        && Layout::of(node).is_dense(4);
    ok.then(|| Args { src: Layout::of(&x), mean: node.op() == op::GGML_OP_MEAN })
}

pub fn row_sum(x: &[f32]) -> f32 {
    x.iter().map(|&v| v as f64).sum::<f64>() as f32
}

pub fn run(a: &Args, node: &Tensor) {
    let x = node.src_data(0);
    let dst = f32s_mut(node.data_mut());
    dst.par_iter_mut().enumerate().for_each(|(r, out)| {
        let (i1, i2, i3) = a.src.row_index(r);
        let s = row_sum(super::row_f32(&x, &a.src, i1, i2, i3));
        *out = if a.mean { s / a.src.ne[0] as f32 } else { s };
    });
}

/// The GPU kernel (`kernels/hip/sum_rows.cu`): one block per row.
pub fn gpu(a: &Args) -> Option<Launch> {
    Launch::rows(c"ucn_sum_rows_f32", super::row_threads(a.src.ne[0]), 1, a.src.nrows())
}

#[cfg(test)]
mod tests {
    #[test]
    fn sums_in_double() {
        // 2^24 + 1 + 1 is not representable step by step in f32, but is in f64.
        assert_eq!(super::row_sum(&[16_777_216.0, 1.0, 1.0]), 16_777_218.0);
    }
}
