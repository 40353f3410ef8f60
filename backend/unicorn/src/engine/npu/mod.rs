//! The NPU engine: FLASH_ATTN_EXT on the XDNA1 NPU of a Phoenix APU, and its emulation.
//!
//! Three paths run the same op family:
//!
//! | path        | runs                                                              | chosen by |
//! |-------------|-------------------------------------------------------------------|-----------|
//! | `reference` | the CPU reference of `ops::flash_attn_ext` (bit-exact vs ggml-cpu) | emulation, `UNICORN_NPU_EMULATION=reference` (default) |
//! | `aie-host`  | the AIE kernel source (`kernels/npu`) built for the host, under the npu1 tile schedule (`schedule`, `emulator`) | emulation, `UNICORN_NPU_EMULATION=aie-host` |
//! | `xrt`       | the same kernel on the NPU: xclbin + instruction sequence through XRT (`xrt`) | hardware found and ready (`ready`) |
//!
//! Why `reference` is the emulation default: it is the oracle every other check compares
//! with, and the integration tests ask for exactly ggml-cpu's tokens and log-probabilities
//! (KL divergence 0). `aie-host` computes what the NPU computes: Q, K, V and the softmax
//! probabilities in bf16, a polynomial exp2, a different summation order; it agrees with the
//! CPU to llama.cpp's test tolerance, not to the bit. It also declines what the NPU kernel
//! cannot do (head sizes other than 64/128/256, K/V types other than bf16/f16, ...), which
//! then runs on the CPU. `scripts/test.sh` runs test-backend-ops on both paths.
pub mod emulator;
pub mod ready;
pub mod schedule;
pub mod xrt;

use super::pool::CpuPool;

use super::{reference::ReferenceEngine, Engine, EngineError};
use crate::ops::{self, Kernel};
use crate::tensor::Tensor;

/// Which of the emulation paths runs (`UNICORN_NPU_EMULATION`, read once by the registry's
/// placement decision and passed in).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Emulation {
    Reference,
    AieHost,
}

enum Path {
    Reference(ReferenceEngine),
    /// The kernel's host build, on a CPU pool of its own.
    AieHost(CpuPool),
    Xrt(Box<xrt::XrtEngine>),
}

pub struct NpuEngine {
    path: Path,
    name: String,
}

impl NpuEngine {
    /// The emulated NPU (`UNICORN_EMULATE=1`), on the path the registry chose.
    pub fn emulated(emulation: Emulation) -> Result<NpuEngine, EngineError> {
        let (path, name) = match emulation {
            Emulation::Reference => (Path::Reference(ReferenceEngine::new()?), "CPU reference".to_string()),
            Emulation::AieHost => {
                schedule::check_budget().map_err(EngineError::Failed)?;
                (Path::AieHost(CpuPool::new("unicorn-npu")?), "aie-host (the AIE kernel built for the CPU, npu1 tile schedule)".to_string())
            }
        };
        Ok(NpuEngine { path, name })
    }

    /// The NPU itself, when `ready::check` found the device, XRT and the kernel files.
    pub fn hardware(ready: ready::Ready) -> Result<NpuEngine, EngineError> {
        let engine = xrt::XrtEngine::open(ready)?;
        let name = engine.describe();
        Ok(NpuEngine { path: Path::Xrt(Box::new(engine)), name })
    }

}

impl Engine for NpuEngine {
    fn name(&self) -> &str {
        &self.name
    }
    fn emulated(&self) -> bool {
        !matches!(self.path, Path::Xrt(_))
    }
    /// The reference path offers every op (the device keeps attention); the kernel paths only
    /// the FLASH_ATTN_EXT nodes the NPU kernel supports (and, on the NPU, has a template for).
    fn select(&self, node: &Tensor) -> Option<Kernel> {
        let k = ops::select(node)?;
        match (&self.path, &k) {
            (Path::Reference(_), _) => Some(k),
            (Path::AieHost(_), Kernel::FlashAttnExt(a)) => schedule::supports(a).is_ok().then_some(k),
            (Path::Xrt(x), Kernel::FlashAttnExt(a)) => x.takes(a).then_some(k),
            _ => None,
        }
    }
    fn compute(&self, kernel: &Kernel, node: &Tensor) -> Result<(), EngineError> {
        match (&self.path, kernel) {
            (Path::Reference(r), _) => r.compute(kernel, node),
            (Path::AieHost(pool), Kernel::FlashAttnExt(a)) => {
                let t = schedule::supports(a).map_err(EngineError::Unsupported)?;
                let k = npu_kernels::flash_attn_ext(t.d).ok_or_else(|| EngineError::Unsupported(format!("D={}", t.d)))?;
                let mask = node.src_data(3);
                let sinks = node.src_data(4);
                let plan = schedule::plan(a, t, &mask, crate::tensor::f32s(&sinks));
                pool.install(|| emulator::run(k, &plan, a, node))?.map_err(EngineError::Failed)
            }
            (Path::Xrt(x), Kernel::FlashAttnExt(a)) => x.compute(a, node),
            _ => Err(EngineError::Unsupported("the NPU runs FLASH_ATTN_EXT only".into())),
        }
    }
    fn set_n_threads(&self, n: usize) {
        match &self.path {
            Path::Reference(r) => r.set_n_threads(n),
            Path::AieHost(pool) => pool.set_n_threads(n),
            Path::Xrt(_) => {}
        }
    }
}
