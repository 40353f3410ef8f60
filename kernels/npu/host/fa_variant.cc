// One head-dimension variant of the flash-attention kernel, built for the host (build.rs
// compiles this file once per FA_D), plus its layout as numbers for the Rust schedule.
#include "flash_attn_ext.cc"
#include "fa_host.h"

extern "C" void FA_FN(ucn_fa_layout)(ucn_fa_layout *out) {
    *out = ucn_fa_layout{FA_D, FA_BQ, FA_BK, FA_COLS, FA_ROWS,
                         FA_K_BYTES, FA_MASKS_BYTES, FA_KM_BYTES, FA_V_BYTES, FA_Q_BYTES, FA_O_BYTES,
                         FA_STATE_BYTES, FA_S_BYTES, FA_P_BYTES, FA_SCRATCH_BYTES, FA_RTP_WORDS, FA_RTP_BYTES,
                         FA_Q_OBJS, FA_STACK_BYTES, FA_CORE_BYTES, FA_MAX_KV, FA_MAX_HEADS};
}
