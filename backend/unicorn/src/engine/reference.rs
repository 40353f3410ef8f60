//! The reference engine: the CPU kernels of `ops`, on a thread pool of its own.
use super::pool::CpuPool;
use super::{Engine, EngineError};
use crate::ops::{self, Kernel};
use crate::tensor::Tensor;

pub struct ReferenceEngine {
    pool: CpuPool,
}

impl ReferenceEngine {
    pub fn new() -> Result<Self, EngineError> {
        Ok(ReferenceEngine { pool: CpuPool::new("unicorn-ref")? })
    }
}

impl Engine for ReferenceEngine {
    fn name(&self) -> &str {
        "CPU reference"
    }
    fn emulated(&self) -> bool {
        true
    }
    fn select(&self, node: &Tensor) -> Option<Kernel> {
        ops::select(node)
    }
    fn compute(&self, kernel: &Kernel, node: &Tensor) -> Result<(), EngineError> {
        self.pool.install(|| ops::run(kernel, node))
    }
    fn set_n_threads(&self, n: usize) {
        self.pool.set_n_threads(n);
    }
}
