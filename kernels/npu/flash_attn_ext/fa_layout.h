// flash_attn_ext on the XDNA1 NPU: the numbers every side of the design shares.
//
// One kernel variant per head dimension FA_D (64, 128, 256: -DFA_D=...). Read by
//  - flash_attn_ext.cc (the AIE kernel; Peano for npu1, the host compiler for the emulator),
//  - tiling.py (the IRON design's memory map and block sizes: it parses the FA_* defines),
//  - backend/unicorn/src/engine/npu/schedule.rs (the emulated tile schedule; its unit test
//    checks its copy of these numbers against this file).
//
// The array: 4 columns x 4 compute rows. A column is one KV stage: it sees the KV blocks j
// with j % 4 == column. A row is one Q tile of the current group (4 Q tiles share one KV
// head, so each K/V byte read from DRAM feeds 4 cores). Partial results flow west to east
// along each row by cascade; column 3 normalises and writes the output.
#pragma once

#define FA_COLS 4 // KV stages, merged west -> east by cascade
#define FA_ROWS 4 // Q tiles per group (cores per column)

// Block sizes per head dimension: FA_BQ packed query rows per Q tile (query x GQA head),
// FA_BK keys per KV block. Chosen so that every core's buffers fit its 64 KB.
#define FA_BQ_D64 32
#define FA_BK_D64 32
#define FA_BQ_D128 32
#define FA_BK_D128 16
#define FA_BQ_D256 16
#define FA_BK_D256 16

#define FA_MAX_KV 32768   // KV slice the instruction sequence is compiled for
#define FA_MAX_HEADS 32   // query heads with a per-head ALiBi slope or sink in the RTP
#define FA_STACK_BYTES 1024
#define FA_CORE_BYTES 65536

// Runtime parameters: one int32 array per core, written by the runtime sequence (the host
// patches the values per call; see README.md "Per call").
#define FA_RTP_N_GROUPS 0    // groups in this call (all columns, all rows)
#define FA_RTP_N_BLOCKS 1    // KV blocks this column sees per group
#define FA_RTP_KV_LEN 2      // keys in the KV slice
#define FA_RTP_ROWS 3        // packed rows per (batch, KV head): n_q * G
#define FA_RTP_GROUPS_PER_BG 4 // groups per (batch, KV head): ceil(rows / (4 * FA_BQ))
#define FA_RTP_G 5           // query heads per KV head
#define FA_RTP_N_KV_HEADS 6
#define FA_RTP_FLAGS 7       // FA_FLAG_*
#define FA_RTP_SCALE 8       // f32 bits: scale (already divided by the soft-cap, as ggml does)
#define FA_RTP_SOFTCAP 9     // f32 bits
#define FA_RTP_COL 10        // this core's column (KV stage)
#define FA_RTP_ROW 11        // this core's row (Q tile slot)
#define FA_RTP_SLOPES 16     // f32 bits x FA_MAX_HEADS: ALiBi slope per query head
#define FA_RTP_SINKS (FA_RTP_SLOPES + FA_MAX_HEADS) // f32 bits x FA_MAX_HEADS
#define FA_RTP_WORDS (FA_RTP_SINKS + FA_MAX_HEADS)

#define FA_FLAG_KV_F16 1   // K/V arrive as f16 and are converted to bf16 in the core
#define FA_FLAG_MASK 2     // add slope * mask (f16) to the scores
#define FA_FLAG_SOFTCAP 4  // s = softcap * tanh(s)
#define FA_FLAG_SINKS 8    // one extra logit per head (no value) in the normalisation

#define FA_CAT2(a, b) a##b
#define FA_CAT(a, b) FA_CAT2(a, b)

#ifdef FA_D
#define FA_BQ FA_CAT(FA_BQ_D, FA_D)
#define FA_BK FA_CAT(FA_BK_D, FA_D)
// Bytes of each core buffer (the IRON design allocates the same list, in this order).
#define FA_K_BYTES (FA_BK * FA_D * 2)                     // K block, bf16/f16, row-major
#define FA_MASKS_BYTES (FA_ROWS * FA_BQ * FA_BK * 2)      // f16 mask rows of the group's queries
#define FA_KM_BYTES (FA_K_BYTES + FA_MASKS_BYTES)         // one KM object (fifo depth 2)
#define FA_V_BYTES (FA_BK * FA_D * 2)                     // one V object, 8x4 tiles (depth 2)
#define FA_Q_BYTES (FA_BQ * FA_D * 2)                     // this core's Q tile, bf16, 4x8 tiles
#define FA_O_BYTES (FA_BQ * FA_D * 4)                     // output accumulator, f32, 4x4 tiles
#define FA_STATE_WORDS (4 * FA_BQ + 16)                   // m, l, slope, sink per row + header
#define FA_STATE_BYTES (FA_STATE_WORDS * 4)
#define FA_S_BYTES (FA_BQ * FA_BK * 4)                    // scores, f32, row-major
#define FA_P_BYTES (FA_BQ * FA_BK * 2)                    // probabilities, bf16, 4x8 tiles
#define FA_SCRATCH_BYTES (FA_S_BYTES + FA_P_BYTES + 64)   // + 16 floats of row-block factors
#define FA_RTP_BYTES (FA_RTP_WORDS * 4)
// A group's Q (4 tiles x FA_BQ rows x FA_D f32) arrives first on the KM channel, broadcast,
// in this many KM objects; each core keeps its own rows.
#define FA_QG_BYTES (FA_ROWS * FA_BQ * FA_D * 4)
#define FA_Q_OBJS ((FA_QG_BYTES + FA_KM_BYTES - 1) / FA_KM_BYTES)
#endif
