//! SCALE: y = x * s + b. F32.
use crate::gpu::Launch;
use crate::tensor::Tensor;

pub use super::args::ucn_scale_args as Args;

pub fn select(node: &Tensor) -> Option<Args> {
    Some(Args { src: super::rowwise_f32(node)?, scale: node.op_param_f32(0), bias: node.op_param_f32(1) })
}

pub fn run(a: &Args, node: &Tensor) {
    super::map_rows_f32(node, &a.src, |x, out| {
        if a.bias == 0.0 {
            out.iter_mut().zip(x).for_each(|(o, &v)| *o = v * a.scale);
        } else {
            // ggml_vec_mad1_f32 fuses the multiply-add.
            out.iter_mut().zip(x).for_each(|(o, &v)| *o = v.mul_add(a.scale, a.bias));
        }
    });
}

/// The GPU kernel (`kernels/hip/scale.cu`): one thread per element.
pub fn gpu(a: &Args) -> Option<Launch> {
    Launch::rows(c"ucn_scale_f32", 256, a.src.ne[0].div_ceil(256), a.src.nrows())
}
