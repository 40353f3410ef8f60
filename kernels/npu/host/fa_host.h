// Host-only declarations of the emulated NPU (kernels/npu/src/lib.rs mirrors them in Rust).
#pragma once
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// One head-dimension variant's compile-time layout (fa_layout.h's macros, as numbers), for
// the Rust tile schedule: block sizes and every core buffer's size in bytes.
typedef struct ucn_fa_layout {
    int32_t d, bq, bk, cols, rows;
    int32_t k_bytes, masks_bytes, km_bytes, v_bytes, q_bytes, o_bytes;
    int32_t state_bytes, s_bytes, p_bytes, scratch_bytes, rtp_words, rtp_bytes;
    int32_t q_objs, stack_bytes, core_bytes, max_kv, max_heads;
} ucn_fa_layout;

#ifdef __cplusplus
}
#endif
