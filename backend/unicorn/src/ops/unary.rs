//! UNARY (element-wise activations), plus the element-wise ops SQR and SQRT. F32. GELU reproduces ggml-cpu's f16 lookup table (the
//! input is rounded to f16 and the tabulated result is an f16), so the emulated iGPU and the
//! CPU backend agree to the bit on Gemma's activations.
use half::f16;

use super::args::*;
use crate::gpu::Launch;
use crate::tensor::Tensor;
use ggml_sys::ggml_unary_op as u;

pub use super::args::ucn_unary_args as Args;

/// The element-wise function (`args::UCN_UNARY_*`) of a ggml unary op id, if supported.
pub fn from_ggml(op: u32) -> Option<u32> {
    Some(match op {
        u::GGML_UNARY_OP_GELU => UCN_UNARY_GELU,
        u::GGML_UNARY_OP_GELU_ERF => UCN_UNARY_GELU_ERF,
        u::GGML_UNARY_OP_GELU_QUICK => UCN_UNARY_GELU_QUICK,
        u::GGML_UNARY_OP_SILU => UCN_UNARY_SILU,
        u::GGML_UNARY_OP_RELU => UCN_UNARY_RELU,
        u::GGML_UNARY_OP_TANH => UCN_UNARY_TANH,
        u::GGML_UNARY_OP_SIGMOID => UCN_UNARY_SIGMOID,
        u::GGML_UNARY_OP_NEG => UCN_UNARY_NEG,
        _ => return None,
    })
}

pub fn select(node: &Tensor) -> Option<Args> {
    let op = match node.op() {
        ggml_sys::ggml_op::GGML_OP_SQR => UCN_UNARY_SQR,
        ggml_sys::ggml_op::GGML_OP_SQRT => UCN_UNARY_SQRT,
        _ => from_ggml(node.op_param_i32(0) as u32)?,
    };
    Some(Args { src: super::rowwise_f32(node)?, op })
}

const GELU_COEF_A: f32 = 0.044715;
const SQRT_2_OVER_PI: f32 = 0.797_884_6;
const SQRT_2_INV: f32 = std::f32::consts::FRAC_1_SQRT_2;
const GELU_QUICK_COEF: f32 = -1.702;

/// The tanh form of GELU, with the multiply-add ggml-cpu's compiler fuses (`1 + a*x*x`).
pub fn gelu_exact(x: f32) -> f32 {
    0.5 * x * (1.0 + (SQRT_2_OVER_PI * x * (GELU_COEF_A * x).mul_add(x, 1.0)).tanh())
}

/// GELU (tanh form) as ggml-cpu computes it: through an f16 table for |x| < 10.
pub fn gelu(x: f32) -> f32 {
    if x <= -10.0 {
        0.0
    } else if x >= 10.0 {
        x
    } else {
        f16::from_f32(gelu_exact(f16::from_f32(x).to_f32())).to_f32()
    }
}

pub fn gelu_erf(x: f32) -> f32 {
    0.5 * x * (1.0 + libm::erff(x * SQRT_2_INV))
}

pub fn gelu_quick(x: f32) -> f32 {
    x * (1.0 / (1.0 + (GELU_QUICK_COEF * x).exp()))
}

pub fn silu(x: f32) -> f32 {
    x / (1.0 + (-x).exp())
}

/// The element-wise function `op` (`args::UCN_UNARY_*`) at x.
pub fn apply(op: u32, x: f32) -> f32 {
    match op {
        UCN_UNARY_GELU => gelu(x),
        UCN_UNARY_GELU_ERF => gelu_erf(x),
        UCN_UNARY_GELU_QUICK => gelu_quick(x),
        UCN_UNARY_SILU => silu(x),
        UCN_UNARY_RELU => x.max(0.0),
        UCN_UNARY_TANH => x.tanh(),
        UCN_UNARY_SIGMOID => 1.0 / (1.0 + (-x).exp()),
        UCN_UNARY_NEG => -x,
        UCN_UNARY_SQR => x * x,
        UCN_UNARY_SQRT => x.sqrt(),
        _ => f32::NAN,
    }
}

pub fn run(a: &Args, node: &Tensor) {
    super::map_rows_f32(node, &a.src, |x, out| out.iter_mut().zip(x).for_each(|(o, &v)| *o = apply(a.op, v)));
}

/// The GPU kernel (`kernels/hip/unary.cu`): one thread per element, tiles over ne0 x rows.
pub fn gpu(a: &Args) -> Option<Launch> {
    super::tiles(c"ucn_unary_f32", a.src.ne[0], a.src.nrows())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gelu_known_values() {
        assert_eq!(gelu(0.0), 0.0);
        assert_eq!(gelu(-20.0), 0.0);
        assert_eq!(gelu(20.0), 20.0);
        // gelu(1) = 0.8411920 (tanh form); the table rounds to f16 (step 2^-11 near 0.84).
        assert!((gelu(1.0) - 0.841_192).abs() < 5e-4);
        assert!((gelu_erf(1.0) - 0.841_344_7).abs() < 1e-6);
    }
}
