//! UNARY (element-wise activations), plus the element-wise ops SQR and SQRT. F32. GELU reproduces ggml-cpu's f16 lookup table (the
//! input is rounded to f16 and the tabulated result is an f16), so the emulated iGPU and the
//! CPU backend agree to the bit on Gemma's activations.
use half::f16;

use super::Layout;
use crate::tensor::Tensor;
use ggml_sys::ggml_unary_op as u;

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct Args {
    pub src: Layout,
    pub func: Func,
}

/// The element-wise function: a ggml unary op, or one of the stand-alone ops.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Func {
    Unary(u32),
    Sqr,
    Sqrt,
}

const SUPPORTED: &[u32] = &[
    u::GGML_UNARY_OP_GELU,
    u::GGML_UNARY_OP_GELU_ERF,
    u::GGML_UNARY_OP_GELU_QUICK,
    u::GGML_UNARY_OP_SILU,
    u::GGML_UNARY_OP_RELU,
    u::GGML_UNARY_OP_TANH,
    u::GGML_UNARY_OP_SIGMOID,
    u::GGML_UNARY_OP_NEG,
];

pub fn select(node: &Tensor) -> Option<Args> {
    let func = match node.op() {
        ggml_sys::ggml_op::GGML_OP_SQR => Func::Sqr,
        ggml_sys::ggml_op::GGML_OP_SQRT => Func::Sqrt,
        _ => Func::Unary(node.op_param_i32(0) as u32),
    };
    if matches!(func, Func::Unary(op) if !SUPPORTED.contains(&op)) {
        return None;
    }
    Some(Args { src: super::rowwise_f32(node)?, func })
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

pub fn apply(op: u32, x: f32) -> f32 {
    match op {
        u::GGML_UNARY_OP_GELU => gelu(x),
        u::GGML_UNARY_OP_GELU_ERF => gelu_erf(x),
        u::GGML_UNARY_OP_GELU_QUICK => gelu_quick(x),
        u::GGML_UNARY_OP_SILU => silu(x),
        u::GGML_UNARY_OP_RELU => x.max(0.0),
        u::GGML_UNARY_OP_TANH => x.tanh(),
        u::GGML_UNARY_OP_SIGMOID => 1.0 / (1.0 + (-x).exp()),
        u::GGML_UNARY_OP_NEG => -x,
        _ => f32::NAN,
    }
}

pub fn run(a: &Args, node: &Tensor) {
    let f = |v: f32| match a.func {
        Func::Unary(op) => apply(op, v),
        Func::Sqr => v * v,
        Func::Sqrt => v.sqrt(),
    };
    super::map_rows_f32(node, &a.src, |x, out| out.iter_mut().zip(x).for_each(|(o, &v)| *o = f(v)));
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
