//! The seam between a Unicorn device and the code that computes on it.
//!
//! Each device runs one engine, chosen when the registry starts:
//! - `reference`: the CPU reference kernels of `ops`, used for emulation (`UNICORN_EMULATE=1`)
//!   and as the numerical oracle of the hardware engines;
//! - a HIP engine (iGPU, gfx1103) and an XRT engine (NPU): loaded at run time, so the plugin
//!   loads on machines without ROCm or XRT. They take the same `ops::Kernel` arguments.
pub mod reference;

use crate::ops::Kernel;
use crate::tensor::Tensor;

/// What a device is for: it decides which op families the device claims.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// XDNA NPU: attention.
    Npu,
    /// Radeon 780M: feed-forward and the rest of each layer.
    Igpu,
}

impl Role {
    /// The placement policy: attention on the NPU, every other kernel on the iGPU. Keeping
    /// the two sets disjoint stops the scheduler from moving ops between the two devices,
    /// which share one buffer type.
    pub fn claims(self, kernel: &Kernel) -> bool {
        match kernel {
            Kernel::FlashAttnExt(_) => self == Role::Npu,
            _ => self == Role::Igpu,
        }
    }
}

#[derive(Debug)]
pub enum EngineError {
    Unsupported(String),
    Failed(String),
}

impl std::fmt::Display for EngineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EngineError::Unsupported(s) => write!(f, "unsupported: {s}"),
            EngineError::Failed(s) => write!(f, "failed: {s}"),
        }
    }
}

pub trait Engine: Send + Sync {
    /// Short name for logs and device descriptions.
    fn name(&self) -> &str;
    /// True when the engine runs on the CPU in place of the hardware.
    fn emulated(&self) -> bool;
    /// The one decision per op: the kernel that computes `node` on this engine, if any.
    fn select(&self, node: &Tensor) -> Option<Kernel>;
    /// Compute `node` with a kernel `select` returned for it.
    fn compute(&self, kernel: &Kernel, node: &Tensor) -> Result<(), EngineError>;
    fn set_n_threads(&self, n: usize);
}
