//! RMS_NORM: y = x / sqrt(mean(x^2) + eps), per row. F32; squares in f32 summed in f64, as
//! ggml-cpu does.
use rayon::prelude::*;

use super::Layout;
use crate::tensor::{f32s_mut, Tensor};
use ggml_sys::ggml_type as ty;

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct Args {
    pub src: Layout,
    pub eps: f32,
}

pub fn select(node: &Tensor) -> Option<Args> {
    let x = node.src(0)?;
    if x.dtype() != ty::GGML_TYPE_F32 || node.dtype() != ty::GGML_TYPE_F32 || x.nb()[0] != 4 {
        return None;
    }
    if !node.same_shape(&x) || !Layout::of(node).is_dense(4) {
        return None;
    }
    Some(Args { src: Layout::of(&x), eps: node.op_param_f32(0) })
}

pub fn rms_norm_row(x: &[f32], eps: f32, y: &mut [f32]) {
    // As ggml-cpu: square in f32, accumulate in f64.
    let sum: f64 = x.iter().map(|&v| (v * v) as f64).sum();
    let mean = (sum / x.len() as f64) as f32;
    let scale = 1.0 / (mean + eps).sqrt();
    y.iter_mut().zip(x).for_each(|(o, &v)| *o = v * scale);
}

pub fn run(a: &Args, node: &Tensor) {
    let x = node.src_data(0);
    let dst = f32s_mut(node.data_mut());
    dst.par_chunks_mut(a.src.ne[0]).enumerate().for_each(|(r, out)| {
        let (i1, i2, i3) = a.src.row_index(r);
        rms_norm_row(super::row_f32(&x, &a.src, i1, i2, i3), a.eps, out);
    });
}

#[cfg(test)]
mod tests {
    #[test]
    fn unit_rms_after_norm() {
        let x = [3.0f32, -4.0, 0.0, 0.0];
        let mut y = [0f32; 4];
        super::rms_norm_row(&x, 0.0, &mut y);
        // mean(x^2) = 25/4, rms = 2.5
        assert_eq!(y, [1.2, -1.6, 0.0, 0.0]);
    }
}
