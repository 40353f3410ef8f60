//! RMS_NORM: y = x / sqrt(mean(x^2) + eps), per row. F32; squares in f32 summed in f64, as
//! ggml-cpu does.
use crate::gpu::Launch;
use crate::tensor::Tensor;

pub use super::args::ucn_rms_norm_args as Args;

pub fn select(node: &Tensor) -> Option<Args> {
    Some(Args { src: super::rowwise_f32(node)?, eps: node.op_param_f32(0) })
}

pub fn rms_norm_row(x: &[f32], eps: f32, y: &mut [f32]) {
    // As ggml-cpu: square in f32, accumulate in f64.
    let sum: f64 = x.iter().map(|&v| (v * v) as f64).sum();
    let mean = (sum / x.len() as f64) as f32;
    let scale = 1.0 / (mean + eps).sqrt();
    y.iter_mut().zip(x).for_each(|(o, &v)| *o = v * scale);
}

pub fn run(a: &Args, node: &Tensor) {
    super::map_rows_f32(node, &a.src, |x, y| rms_norm_row(x, a.eps, y));
}

/// The GPU kernel (`kernels/hip/rms_norm.cu`): one block per row.
pub fn gpu(a: &Args) -> Option<Launch> {
    Launch::rows(c"ucn_rms_norm_f32", super::row_threads(a.src.ne[0]), 1, a.src.nrows())
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
