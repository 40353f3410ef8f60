//! The seam between a Unicorn device and the code that computes on it.
//!
//! Each device runs one engine, chosen when the registry starts:
//! - `reference`: the CPU reference kernels of `ops`, used for emulation (`UNICORN_EMULATE=1`)
//!   and as the numerical oracle of the hardware engines;
//! - a HIP engine (iGPU, gfx1103) and an XRT engine (NPU): loaded at run time, so the plugin
//!   loads on machines without ROCm or XRT. They take the same `ops::Kernel` arguments.
//!
//! The seam is the graph split (`split`): an engine plans a whole split once (`plan`: which
//! kernel runs each node, which runs of nodes fuse into one kernel, `fuse`), the backend keeps
//! the plan while llama.cpp computes the same split again, and the engine runs it (`run`).
pub mod fuse;
pub mod gpu;
mod gpu_profile;
pub mod split;
pub mod pool;
pub mod npu;
pub mod reference;

use std::sync::Arc;

use crate::ops::Kernel;
use crate::tensor::Tensor;
pub use split::{Plan, Split, Step, Work};

/// What a device is for: it decides which op families the device claims.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// XDNA NPU: attention.
    Npu,
    /// Radeon 780M: feed-forward and the rest of each layer.
    Igpu,
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
    /// The one decision per op: the kernel that computes `node` on this engine, if any. (Which
    /// of those a device claims is the device's placement policy: `Device::select`.)
    fn select(&self, node: &Tensor) -> Option<Kernel>;
    /// Compute `node` with a kernel `select` returned for it. An engine may only enqueue the
    /// work; `synchronize` waits for all of it.
    fn compute(&self, kernel: &Kernel, node: &Tensor) -> Result<(), EngineError>;
    /// Plans a split, given the kernel `select` chose for each of its nodes: by default one
    /// step per node; an engine with fused kernels groups nodes (`fuse`).
    fn plan(&self, _split: &Split, kernels: Vec<Kernel>) -> Plan {
        Plan::new(fuse::unfused(kernels))
    }
    /// Runs (or enqueues) a plan of `split`, calling `observer` (when given: tracing or
    /// statistics are on) after each step. On failure: the index of the node whose step
    /// failed, and why.
    fn run(&self, plan: &Plan, split: &Split, mut observer: Option<&mut dyn FnMut(&Step)>) -> Result<(), (usize, EngineError)> {
        for step in &plan.steps {
            let i = step.nodes.start;
            match &step.work {
                Work::Op(k) => self.compute(k, &split.nodes[i]).map_err(|e| (i, e))?,
                Work::Chain(_) => return Err((i, EngineError::Unsupported("a fused chain on an engine without fused kernels".into()))),
            }
            if let Some(o) = observer.as_mut() {
                o(step);
            }
        }
        Ok(())
    }
    /// Waits until every `compute` so far has finished; reports a failure of any of them.
    fn synchronize(&self) -> Result<(), EngineError> {
        Ok(())
    }
    fn set_n_threads(&self, n: usize);
    /// Logs what the engine measured since the last report, if it measures anything (the GPU
    /// profiler); called when a backend of the device is freed.
    fn report(&self) {}
    /// The GPU this engine runs on, if any (its buffers are allocated through it).
    fn gpu(&self) -> Option<&Arc<crate::gpu::Gpu>> {
        None
    }
    /// The stream this engine's work runs on, if any (buffer copies are ordered on it).
    fn stream(&self) -> Option<&crate::gpu::Stream> {
        None
    }
}
