//! The NPU's AIE kernels (`kernels/npu`), compiled for the host against `aie_host` (our
//! implementation of the AIE API subset they use), so the emulated NPU device runs the very
//! kernel source that Peano compiles for the XDNA1 cores.
//!
//! Raw on purpose, like a `-sys` crate: the C entry points with their C signatures. The
//! emulator in `unicorn::engine::npu` drives them under the IRON design's tile schedule and
//! owns every safety argument (buffer sizes, the cascade binding, one thread per core call).
#![allow(non_camel_case_types)]
use std::ffi::c_int;

/// `fa_layout.h` for one head dimension, as numbers (see `host/fa_host.h`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ucn_fa_layout {
    pub d: i32,
    pub bq: i32,
    pub bk: i32,
    pub cols: i32,
    pub rows: i32,
    pub k_bytes: i32,
    pub masks_bytes: i32,
    pub km_bytes: i32,
    pub v_bytes: i32,
    pub q_bytes: i32,
    pub o_bytes: i32,
    pub state_bytes: i32,
    pub s_bytes: i32,
    pub p_bytes: i32,
    pub scratch_bytes: i32,
    pub rtp_words: i32,
    pub rtp_bytes: i32,
    pub q_objs: i32,
    pub stack_bytes: i32,
    pub core_bytes: i32,
    pub max_kv: i32,
    pub max_heads: i32,
}

/// A cascade stream between two horizontally adjacent cores: `cap` words of 16 f32 at
/// `data`; the producer appends (`len`), the consumer reads (`pos`).
#[repr(C)]
#[derive(Debug)]
pub struct ucn_cascade {
    pub data: *mut f32,
    pub cap: usize,
    pub len: usize,
    pub pos: usize,
}

/// The entry points of one head-dimension variant (`flash_attn_ext.cc`, `_d<D>` symbols).
pub struct FlashAttnExt {
    pub layout: unsafe extern "C" fn(out: *mut ucn_fa_layout),
    pub group_begin: unsafe extern "C" fn(o: *mut f32, state: *mut f32, rtp: *const i32, group: i32),
    pub load_q: unsafe extern "C" fn(obj: *const f32, q: *mut u16, rtp: *const i32, k: i32),
    pub block: unsafe extern "C" fn(
        q: *const u16,
        km: *mut u8,
        v: *mut u8,
        o: *mut f32,
        state: *mut f32,
        scratch: *mut u8,
        rtp: *const i32,
        blk: i32,
    ),
    pub cascade_put: unsafe extern "C" fn(o: *const f32, state: *const f32),
    pub cascade_merge: unsafe extern "C" fn(o: *mut f32, state: *mut f32, scratch: *mut u8),
    pub group_end: unsafe extern "C" fn(o: *mut f32, state: *mut f32, scratch: *mut u8),
}

macro_rules! variant {
    ($m:ident, $layout:ident, $begin:ident, $load_q:ident, $block:ident, $put:ident, $merge:ident, $end:ident) => {
        mod $m {
            extern "C" {
                pub fn $layout(out: *mut super::ucn_fa_layout);
                pub fn $begin(o: *mut f32, state: *mut f32, rtp: *const i32, group: i32);
                pub fn $load_q(obj: *const f32, q: *mut u16, rtp: *const i32, k: i32);
                pub fn $block(
                    q: *const u16,
                    km: *mut u8,
                    v: *mut u8,
                    o: *mut f32,
                    state: *mut f32,
                    scratch: *mut u8,
                    rtp: *const i32,
                    blk: i32,
                );
                pub fn $put(o: *const f32, state: *const f32);
                pub fn $merge(o: *mut f32, state: *mut f32, scratch: *mut u8);
                pub fn $end(o: *mut f32, state: *mut f32, scratch: *mut u8);
            }
            pub const KERNELS: super::FlashAttnExt = super::FlashAttnExt {
                layout: $layout,
                group_begin: $begin,
                load_q: $load_q,
                block: $block,
                cascade_put: $put,
                cascade_merge: $merge,
                group_end: $end,
            };
        }
    };
}
variant!(d64, ucn_fa_layout_d64, fa_group_begin_d64, fa_load_q_d64, fa_block_d64, fa_cascade_put_d64, fa_cascade_merge_d64, fa_group_end_d64);
variant!(d128, ucn_fa_layout_d128, fa_group_begin_d128, fa_load_q_d128, fa_block_d128, fa_cascade_put_d128, fa_cascade_merge_d128, fa_group_end_d128);
variant!(d256, ucn_fa_layout_d256, fa_group_begin_d256, fa_load_q_d256, fa_block_d256, fa_cascade_put_d256, fa_cascade_merge_d256, fa_group_end_d256);

/// The host build of `flash_attn_ext` for head dimension `d` (64, 128 or 256).
pub fn flash_attn_ext(d: usize) -> Option<&'static FlashAttnExt> {
    match d {
        64 => Some(&d64::KERNELS),
        128 => Some(&d128::KERNELS),
        256 => Some(&d256::KERNELS),
        _ => None,
    }
}

extern "C" {
    /// Binds the calling thread's cascade input (west) and output (east); null unbinds.
    pub fn ucn_aie_host_bind_cascade(input: *mut ucn_cascade, output: *mut ucn_cascade);
    /// 1 if a cascade read or write since the last call found no word or no room.
    pub fn ucn_aie_host_take_cascade_fault() -> c_int;
    /// 1 if, since the last call on this thread, the kernel compared a NaN or multiplied a
    /// non-finite f32 (AIE-ML would have computed NaN or garbage there: see aie.hpp).
    pub fn ucn_aie_host_take_arith_fault() -> c_int;
}
