// The kernels the tests call, declared as kernels/hip defines them. kernels.cpp includes this
// after the kernels themselves, so a declaration that differs from a definition (a renamed args
// struct, another parameter) does not compile. An op's block is built only when its kernel file
// is in kernels/hip/unicorn.cu (scripts/test-kernels-cpu.sh defines UCN_EMU_HAVE_<FILE>).
#pragma once
#include "args.h"

#define KT_KERNEL(name, args) extern "C" void name(const args a, const ucn_ptrs p);

#ifdef UCN_EMU_HAVE_SCALE
KT_KERNEL(ucn_scale_f32, ucn_scale_args)
#endif
#ifdef UCN_EMU_HAVE_GET_ROWS
KT_KERNEL(ucn_get_rows_f32, ucn_get_rows_args)
KT_KERNEL(ucn_get_rows_f16, ucn_get_rows_args)
KT_KERNEL(ucn_get_rows_bf16, ucn_get_rows_args)
KT_KERNEL(ucn_get_rows_q4_0, ucn_get_rows_args)
KT_KERNEL(ucn_get_rows_q5_0, ucn_get_rows_args)
KT_KERNEL(ucn_get_rows_q8_0, ucn_get_rows_args)
KT_KERNEL(ucn_get_rows_q4_K, ucn_get_rows_args)
KT_KERNEL(ucn_get_rows_q5_K, ucn_get_rows_args)
KT_KERNEL(ucn_get_rows_q6_K, ucn_get_rows_args)
#endif
#ifdef UCN_EMU_HAVE_SET_ROWS
KT_KERNEL(ucn_set_rows_f32, ucn_set_rows_args)
#endif
#ifdef UCN_EMU_HAVE_CPY
KT_KERNEL(ucn_cpy, ucn_cpy_args)
#endif
#ifdef UCN_EMU_HAVE_UNARY
KT_KERNEL(ucn_unary_f32, ucn_unary_args)
#endif
#ifdef UCN_EMU_HAVE_GLU
KT_KERNEL(ucn_glu_f32, ucn_glu_args)
#endif
#ifdef UCN_EMU_HAVE_BINARY
KT_KERNEL(ucn_binary_f32, ucn_binary_args)
#endif
#ifdef UCN_EMU_HAVE_RMS_NORM
KT_KERNEL(ucn_rms_norm_f32, ucn_rms_norm_args)
#endif
#ifdef UCN_EMU_HAVE_CHAIN
KT_KERNEL(ucn_chain_f32, ucn_chain_args)
KT_KERNEL(ucn_chain_rms_norm_f32, ucn_chain_args)
#endif
#ifdef UCN_EMU_HAVE_ROPE
KT_KERNEL(ucn_rope_f32, ucn_rope_args)
#endif
#ifdef UCN_EMU_HAVE_SUM_ROWS
KT_KERNEL(ucn_sum_rows_f32, ucn_sum_rows_args)
#endif
#ifdef UCN_EMU_HAVE_CONCAT
KT_KERNEL(ucn_concat_b32, ucn_concat_args)
KT_KERNEL(ucn_concat_b16, ucn_concat_args)
#endif
#ifdef UCN_EMU_HAVE_REPEAT
KT_KERNEL(ucn_repeat_b32, ucn_repeat_args)
KT_KERNEL(ucn_repeat_b16, ucn_repeat_args)
#endif
#ifdef UCN_EMU_HAVE_FLASH_ATTN_EXT
// ucn_flash_attn_ext_<kv type>_d<Dmax>_r<rows per block>
#define KT_FA_SHAPES(X) X(64, 1) X(64, 2) X(64, 4) X(64, 8) X(128, 1) X(128, 2) X(128, 4) X(256, 1) X(256, 2) X(256, 4) X(512, 1) X(512, 2) X(576, 1) X(576, 2)
#define KT_FA_DECL(D, R)                                                                                                   \
    KT_KERNEL(ucn_flash_attn_ext_f32_d##D##_r##R, ucn_flash_attn_ext_args)                                                \
    KT_KERNEL(ucn_flash_attn_ext_f16_d##D##_r##R, ucn_flash_attn_ext_args)                                                \
    KT_KERNEL(ucn_flash_attn_ext_bf16_d##D##_r##R, ucn_flash_attn_ext_args)
KT_FA_SHAPES(KT_FA_DECL)
// ucn_flash_attn_ext_<kv type>_d<Dmax>_r<R>_split and the combine: the KV split's two launches
#define KT_FAS_SHAPES(X) X(64, 1) X(64, 2) X(64, 4) X(128, 1) X(128, 2) X(128, 4) X(256, 1) X(256, 2) X(256, 4)
#define KT_FAS_DECL(D, R)                                                                                                  \
    KT_KERNEL(ucn_flash_attn_ext_f32_d##D##_r##R##_split, ucn_flash_attn_ext_args)                                        \
    KT_KERNEL(ucn_flash_attn_ext_f16_d##D##_r##R##_split, ucn_flash_attn_ext_args)                                        \
    KT_KERNEL(ucn_flash_attn_ext_bf16_d##D##_r##R##_split, ucn_flash_attn_ext_args)
KT_FAS_SHAPES(KT_FAS_DECL)
KT_KERNEL(ucn_flash_attn_ext_combine, ucn_flash_attn_ext_args)
#endif
#ifdef UCN_EMU_HAVE_MUL_MAT
// ucn_mul_mat_vec_<type>_<nc>, ucn_mul_mat_mma_<type>, ucn_mul_mat_mma128_<type>, ucn_mul_mat_generic,
// ucn_mul_mat_small_k
#define KT_MM_TYPES(X) X(f32) X(f16) X(bf16) X(q4_0) X(q5_0) X(q8_0) X(q4_K) X(q5_K) X(q6_K)
#define KT_MM_DECL(T)                                                                                                      \
    KT_KERNEL(ucn_mul_mat_vec_##T##_1, ucn_mul_mat_args)                                                                   \
    KT_KERNEL(ucn_mul_mat_vec_##T##_2, ucn_mul_mat_args)                                                                   \
    KT_KERNEL(ucn_mul_mat_vec_##T##_4, ucn_mul_mat_args)                                                                   \
    KT_KERNEL(ucn_mul_mat_vec_##T##_8, ucn_mul_mat_args)                                                                   \
    KT_KERNEL(ucn_mul_mat_mma_##T, ucn_mul_mat_args)                                                                       \
    KT_KERNEL(ucn_mul_mat_mma128_##T, ucn_mul_mat_args)
KT_MM_TYPES(KT_MM_DECL)
// ucn_mul_mat_vecq_<type>_<nc> (quantized types) and ucn_mul_mat_quantize_x: x quantized once
#define KT_MMQ_TYPES(X) X(q4_0) X(q5_0) X(q8_0) X(q4_K) X(q5_K) X(q6_K)
#define KT_MMQ_DECL(T)                                                                                                     \
    KT_KERNEL(ucn_mul_mat_vecq_##T##_1, ucn_mul_mat_args)                                                                  \
    KT_KERNEL(ucn_mul_mat_vecq_##T##_2, ucn_mul_mat_args)                                                                  \
    KT_KERNEL(ucn_mul_mat_vecq_##T##_4, ucn_mul_mat_args)                                                                  \
    KT_KERNEL(ucn_mul_mat_vecq_##T##_8, ucn_mul_mat_args)
KT_MMQ_TYPES(KT_MMQ_DECL)
KT_KERNEL(ucn_mul_mat_quantize_x, ucn_mul_mat_args)
KT_KERNEL(ucn_mul_mat_generic, ucn_mul_mat_args)
KT_KERNEL(ucn_mul_mat_small_k, ucn_mul_mat_args)
#endif
