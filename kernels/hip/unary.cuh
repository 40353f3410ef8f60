// The element-wise functions of UNARY, SQR, SQRT and the GLU activations (enum ucn_unary_op),
// shared by unary.cu and glu.cu.
#pragma once
#include "common.cuh"

#define UCN_GELU_COEF_A 0.044715f
#define UCN_SQRT_2_OVER_PI 0.79788456080286535587989211986876f
#define UCN_SQRT_2_INV 0.70710678118654752440084436210484f
#define UCN_GELU_QUICK_COEF (-1.702f)

// GELU, tanh form, as the reference (ops/unary.rs) and ggml-cpu compute it: the input rounded
// to f16, the tanh formula in f32 with ggml-cpu's fused `1 + a*x*x`, the result rounded to f16
// (ggml-cpu's f16 table); exact outside (-10, 10).
static __device__ __forceinline__ float ucn_gelu(float x) {
    if (x <= -10.0f) {
        return 0.0f;
    }
    if (x >= 10.0f) {
        return x;
    }
    const float h = __half2float(__float2half_rn(x));
    const float y = 0.5f * h * (1.0f + tanhf(UCN_SQRT_2_OVER_PI * h * fmaf(UCN_GELU_COEF_A * h, h, 1.0f)));
    return __half2float(__float2half_rn(y));
}

// The element-wise function `op` (enum ucn_unary_op) at x.
static __device__ __forceinline__ float ucn_unary_apply(uint32_t op, float x) {
    switch (op) {
    case UCN_UNARY_GELU: return ucn_gelu(x);
    case UCN_UNARY_GELU_ERF: return 0.5f * x * (1.0f + erff(x * UCN_SQRT_2_INV));
    case UCN_UNARY_GELU_QUICK: return x * (1.0f / (1.0f + expf(UCN_GELU_QUICK_COEF * x)));
    case UCN_UNARY_SILU: return x / (1.0f + expf(-x));
    case UCN_UNARY_RELU: return fmaxf(x, 0.0f);
    case UCN_UNARY_TANH: return tanhf(x);
    case UCN_UNARY_SIGMOID: return 1.0f / (1.0f + expf(-x));
    case UCN_UNARY_NEG: return -x;
    case UCN_UNARY_SQR: return x * x;
    case UCN_UNARY_SQRT: return sqrtf(x);
    default: return __int_as_float(0x7fc00000); // NaN: an op the host never selects
    }
}
