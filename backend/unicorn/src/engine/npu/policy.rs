//! Where attention should run, per phase, by the cost model (`docs/npu-cost-model.md`,
//! `scripts/npu-cost-model.py`).
//!
//! Today the device-level switch `UNICORN_ATTN=npu|igpu` (registry, `Device::attention`)
//! gives every FLASH_ATTN_EXT to one device. The model says the choice should be per phase and
//! that, at Gemma3n sizes on Phoenix, the iGPU wins both:
//! - decode: one query row per sequence is 2 groups on a 16-core array (most cores idle), a few
//!   MB of K/V per layer that the NPU's 8 shim channels stream slower than the iGPU, and 40-160
//!   us of command dispatch per layer: 2.2-4.4x the iGPU's attention time per token (E2B,
//!   context 4096). Decisive under any reasonable assumption.
//! - prefill: each core's two input DMA channels (8 bytes per cycle) bound the kernel at about
//!   44 % of the MAC peak at D = 256; the NPU wins a micro-batch only if the iGPU's attention
//!   runs below 1.3 TFLOPS (kernel as written) or 2.4 TFLOPS (tuned); the model's iGPU is 4.2.
//!   Close enough that the Phoenix measurement (`scripts/npu-phoenix-validate.sh`) decides;
//!   until then the NPU takes prefill only when asked (`UNICORN_ATTN=npu`).
//!
//! [`Phase::of`] reads the phase from the node's shape, so `supports_op` can decide per node;
//! wiring it needs both devices' `Device::claims` to ask [`npu_runs`] (one function, so
//! exactly one device claims each node).
use crate::ops::flash_attn_ext::Args;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    Decode,
    Prefill,
}

/// A node with at most this many query rows per sequence is decode (one token per sequence,
/// or a few with speculative drafts).
pub const DECODE_MAX_Q: usize = 4;

/// The cost model's verdict for prefill (see the module doc): false until measured otherwise.
pub const PREFILL_ON_NPU: bool = false;

impl Phase {
    pub fn of(a: &Args) -> Phase {
        if a.q.ne[1] <= DECODE_MAX_Q {
            Phase::Decode
        } else {
            Phase::Prefill
        }
    }
}

/// The cost model's placement (`UNICORN_ATTN=auto`): does the NPU run this phase?
pub fn npu_runs(phase: Phase) -> bool {
    match phase {
        Phase::Decode => false,
        Phase::Prefill => PREFILL_ON_NPU,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_stays_on_the_igpu() {
        assert!(!npu_runs(Phase::Decode));
        assert_eq!(npu_runs(Phase::Prefill), PREFILL_ON_NPU);
    }
}
