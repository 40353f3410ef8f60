//! Where attention should run, per phase, by the cost model (`docs/npu-cost-model.md`).
//!
//! Today the device-level switch `UNICORN_ATTN=npu|igpu` (registry, `Device::attention`)
//! gives every FLASH_ATTN_EXT to one device. The cost model says the split should be per
//! phase: a decode node is a few MB of K/V per layer that the iGPU streams faster than one
//! NPU command can even start (40-160 us of dispatch on Phoenix), while a prefill node is
//! compute-bound and the NPU takes it off the iGPU. [`Phase::of`] reads the phase from the
//! node's shape, so `supports_op` can decide it per node; wiring it needs both devices'
//! `Device::claims` to ask [`npu_runs`] (one place, so exactly one device claims each node).
use crate::ops::flash_attn_ext::Args;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    Decode,
    Prefill,
}

/// A node with at most this many query rows per sequence is decode (one token per sequence,
/// or a few with speculative drafts).
pub const DECODE_MAX_Q: usize = 4;

impl Phase {
    pub fn of(a: &Args) -> Phase {
        if a.q.ne[1] <= DECODE_MAX_Q {
            Phase::Decode
        } else {
            Phase::Prefill
        }
    }
}

/// The cost model's placement for `UNICORN_ATTN=auto`: prefill on the NPU, decode on the iGPU.
pub fn npu_runs(phase: Phase) -> bool {
    phase == Phase::Prefill
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefill_goes_to_the_npu() {
        assert!(npu_runs(Phase::Prefill));
        assert!(!npu_runs(Phase::Decode));
    }
}
