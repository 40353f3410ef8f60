// Kernel arguments, defined once for the Rust host code and the GPU kernels.
//
// Rust reads this header through bindgen (backend/unicorn/build.rs): every op family's `Args`
// in backend/unicorn/src/ops/ *is* the struct below, so the CPU reference, the GPU launcher and
// the kernel see one layout. A field added here without its counterpart does not compile on
// either side.
//
// Every kernel takes exactly two parameters: its op's args struct, by value, and `ucn_ptrs`
// (the device addresses of the node's sources and of its output):
//     __global__ void ucn_scale_f32(const ucn_scale_args a, const ucn_ptrs p);
// Sizes and strides are ggml's: ne[] in elements, nb[] in bytes, dimension 0 first.
#pragma once
#ifdef __cplusplus
#include <cstddef>
#include <cstdint>
#else
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#endif

#define UCN_MAX_SRC 5

// Device addresses of a node's sources (null where absent) and of its output.
typedef struct ucn_ptrs {
    const void *src[UCN_MAX_SRC];
    void *dst;
} ucn_ptrs;

// Shape and strides of a tensor.
typedef struct ucn_layout {
    size_t ne[4];
    size_t nb[4];
} ucn_layout;

// ggml type ids used here. They are fixed by the GGUF file format (the Rust side checks them
// against the ggml headers it is built with).
enum ucn_type {
    UCN_TYPE_F32 = 0,
    UCN_TYPE_F16 = 1,
    UCN_TYPE_Q4_0 = 2,
    UCN_TYPE_Q5_0 = 6,
    UCN_TYPE_Q8_0 = 8,
    UCN_TYPE_Q4_K = 12,
    UCN_TYPE_Q5_K = 13,
    UCN_TYPE_Q6_K = 14,
    UCN_TYPE_I32 = 26,
    UCN_TYPE_I64 = 27,
    UCN_TYPE_BF16 = 30,
};

// Element-wise functions (UNARY, SQR, SQRT) and GLU activations.
enum ucn_unary_op {
    UCN_UNARY_GELU = 0,
    UCN_UNARY_GELU_ERF = 1,
    UCN_UNARY_GELU_QUICK = 2,
    UCN_UNARY_SILU = 3,
    UCN_UNARY_RELU = 4,
    UCN_UNARY_TANH = 5,
    UCN_UNARY_SIGMOID = 6,
    UCN_UNARY_NEG = 7,
    UCN_UNARY_SQR = 8,
    UCN_UNARY_SQRT = 9,
};

enum ucn_binary_op {
    UCN_BINARY_ADD = 0,
    UCN_BINARY_SUB = 1,
    UCN_BINARY_MUL = 2,
    UCN_BINARY_DIV = 3,
};

// MUL_MAT: dst[i01, i11, i12, i13] = dot(src0 row (i01, i12/r2, i13/r3), src1 row (i11, i12, i13)).
// src0: the weight (weight_type, rows contiguous); src1: F32 activations; dst: F32, dense.
typedef struct ucn_mul_mat_args {
    uint32_t weight_type;
    // The CPU backend computes this product with llamafile's tinyBLAS (CPU reference only).
    bool tinyblas;
    ucn_layout src0;
    ucn_layout src1;
    ucn_layout dst;
} ucn_mul_mat_args;

// FLASH_ATTN_EXT: q F32 [Dk, n_q, n_head, ne3]; k, v of kv_type [D, n_kv, n_head_kv, ne3];
// mask F16 (src 3, when has_mask); sinks F32 [n_head] (src 4, when has_sinks);
// dst F32 [Dv, n_head, n_q, ne3].
typedef struct ucn_flash_attn_ext_args {
    ucn_layout q;
    ucn_layout k;
    ucn_layout v;
    ucn_layout mask;
    ucn_layout dst;
    bool has_mask;
    bool has_sinks;
    uint32_t kv_type;
    float scale;
    float max_bias;
    float logit_softcap;
} ucn_flash_attn_ext_args;

// GET_ROWS: dst[:, i10, i11, i12] = src0[:, idx[i10, i11, i12], i11, i12] as F32; idx I32.
typedef struct ucn_get_rows_args {
    uint32_t src_type;
    ucn_layout src;
    ucn_layout idx;
} ucn_get_rows_args;

// SET_ROWS: dst[:, idx[i01, i02 % ne11, i03 % ne12], i02, i03] = src0[:, i01, i02, i03], as dst_type.
typedef struct ucn_set_rows_args {
    uint32_t dst_type;
    bool idx_is_i64;
    ucn_layout src;
    ucn_layout idx;
    ucn_layout dst;
} ucn_set_rows_args;

// CPY, CONT, DUP: elements in logical order, converted between F32, F16 and BF16.
typedef struct ucn_cpy_args {
    uint32_t src_type;
    uint32_t dst_type;
    ucn_layout src;
    ucn_layout dst;
} ucn_cpy_args;

// UNARY, SQR, SQRT on F32 rows; dst dense, same shape.
typedef struct ucn_unary_args {
    ucn_layout src;
    uint32_t op; // enum ucn_unary_op
} ucn_unary_args;

// GLU: y = act(x) * g. Fused (has_src1 false: rows [x | g], or [g | x] when swapped) or split.
typedef struct ucn_glu_args {
    ucn_layout src0;
    ucn_layout src1;
    bool has_src1;
    bool swapped;
    uint32_t act; // enum ucn_unary_op
    size_t nc;
} ucn_glu_args;

// ADD, SUB, MUL, DIV with src1 repeated over src0; F32; dst dense, src0's shape.
typedef struct ucn_binary_args {
    uint32_t op; // enum ucn_binary_op
    ucn_layout src0;
    ucn_layout src1;
} ucn_binary_args;

// SCALE: y = x * scale + bias; F32.
typedef struct ucn_scale_args {
    ucn_layout src;
    float scale;
    float bias;
} ucn_scale_args;

// RMS_NORM: y = x / sqrt(mean(x^2) + eps) per row; F32.
typedef struct ucn_rms_norm_args {
    ucn_layout src;
    float eps;
} ucn_rms_norm_args;

// ROPE, modes NORMAL and NEOX: src0 F32 [ne0, n_head, n_tok, ne3]; src1 I32 positions [n_tok];
// src2 F32 frequency factors (when has_freq_factors); dst F32 dense.
typedef struct ucn_rope_args {
    ucn_layout src;
    size_t n_dims;
    size_t n_offs;
    bool neox;
    bool has_freq_factors;
    int32_t n_ctx_orig;
    float freq_base;
    float freq_scale;
    float ext_factor;
    float attn_factor;
    float beta_fast;
    float beta_slow;
    // freq_base^(-2/n_dims), computed on the host as ggml-cpu does, so the GPU builds each
    // angle by the same step-by-step product (theta_i = pos * theta_scale^i) to the bit.
    float theta_scale;
} ucn_rope_args;

// SUM_ROWS and MEAN: one value per row.
typedef struct ucn_sum_rows_args {
    ucn_layout src;
    bool mean;
} ucn_sum_rows_args;

// CONCAT along dim; elements of elem bytes (F32, F16, BF16, I32).
typedef struct ucn_concat_args {
    size_t dim;
    size_t elem;
    ucn_layout src0;
    ucn_layout src1;
    ucn_layout dst;
} ucn_concat_args;

// REPEAT: src tiled to dst's shape; elements of elem bytes.
typedef struct ucn_repeat_args {
    size_t elem;
    ucn_layout src;
    ucn_layout dst;
} ucn_repeat_args;

// --- Fused kernels (backend/unicorn/src/engine/fuse.rs plans them) -------------------------

// A chain of element-wise ops fused into one kernel (chain.cu): the value of each element of
// the chain's input (src 0), optionally normalised per row first (RMS_NORM), goes through
// `n_ops` steps, each computed exactly as its own kernel computes it (unary.cu, binary.cu,
// scale.cu), and only the last result is written (dense, the input's shape). What ggml-cuda
// fuses one pattern at a time (RMS_NORM+MUL+ADD, ADD chains, the soft-cap's SCALE/TANH/SCALE,
// GELU then MUL), one kernel does here.
#define UCN_CHAIN_MAX 8

enum ucn_chain_kind {
    UCN_CHAIN_UNARY = 0,  // v = unary(op, v)
    UCN_CHAIN_BINARY = 1, // v = v op w, or w op v (chain_is_src1); w from source `slot`
    UCN_CHAIN_SCALE = 2,  // v = v * scale + bias
};

typedef struct ucn_chain_op {
    uint32_t kind;      // enum ucn_chain_kind
    uint32_t op;        // enum ucn_unary_op / enum ucn_binary_op
    bool chain_is_src1; // BINARY: the running value is the right operand
    uint32_t slot;      // BINARY: the ucn_ptrs source of the other operand (1..4)
    ucn_layout other;   // BINARY: its layout, repeated over the chain's shape as in binary.cu
    float scale;        // SCALE
    float bias;         // SCALE
} ucn_chain_op;

typedef struct ucn_chain_args {
    ucn_layout src;  // the chain's input (src 0, F32, rows contiguous); its shape is the chain's
    bool rms_norm;   // normalise each row first (the chain starts with RMS_NORM)
    float eps;       // RMS_NORM's epsilon
    uint32_t n_ops;  // steps after the optional norm, at most UCN_CHAIN_MAX
    ucn_chain_op ops[UCN_CHAIN_MAX];
} ucn_chain_args;
