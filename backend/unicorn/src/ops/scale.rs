//! SCALE: y = x * s + b. F32.
use rayon::prelude::*;

use super::Layout;
use crate::tensor::{f32s_mut, Tensor};
use ggml_sys::ggml_type as ty;

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct Args {
    pub src: Layout,
    pub scale: f32,
    pub bias: f32,
}

pub fn select(node: &Tensor) -> Option<Args> {
    let x = node.src(0)?;
    if x.dtype() != ty::GGML_TYPE_F32 || node.dtype() != ty::GGML_TYPE_F32 || x.nb()[0] != 4 {
        return None;
    }
    if !node.same_shape(&x) || !Layout::of(node).is_dense(4) {
        return None;
    }
    Some(Args { src: Layout::of(&x), scale: node.op_param_f32(0), bias: node.op_param_f32(1) })
}

pub fn run(a: &Args, node: &Tensor) {
    let x = node.src_data(0);
    let dst = f32s_mut(node.data_mut());
    dst.par_chunks_mut(a.src.ne[0]).enumerate().for_each(|(r, out)| {
        let (i1, i2, i3) = a.src.row_index(r);
        let src = super::row_f32(&x, &a.src, i1, i2, i3);
        if a.bias == 0.0 {
            out.iter_mut().zip(src).for_each(|(o, &v)| *o = v * a.scale);
        } else {
            out.iter_mut().zip(src).for_each(|(o, &v)| *o = v.mul_add(a.scale, a.bias));
        }
    });
}
