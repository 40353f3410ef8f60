//! The reference engine: the CPU kernels of `ops`, on a thread pool of its own.
use std::sync::RwLock;

use super::{Engine, EngineError};
use crate::ops::{self, Kernel};
use crate::tensor::Tensor;

pub struct ReferenceEngine {
    pool: RwLock<rayon::ThreadPool>,
}

fn pool(n: usize) -> Result<rayon::ThreadPool, EngineError> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(n.max(1))
        .thread_name(|i| format!("unicorn-ref-{i}"))
        .build()
        .map_err(|e| EngineError::Failed(format!("thread pool: {e}")))
}

impl ReferenceEngine {
    pub fn new() -> Result<Self, EngineError> {
        let n = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        Ok(ReferenceEngine { pool: RwLock::new(pool(n)?) })
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
        let pool = self.pool.read().map_err(|_| EngineError::Failed("thread pool lock poisoned".into()))?;
        pool.install(|| ops::run(kernel, node));
        Ok(())
    }
    fn set_n_threads(&self, n: usize) {
        if let (Ok(new), Ok(mut cur)) = (pool(n), self.pool.write()) {
            if cur.current_num_threads() != n.max(1) {
                *cur = new;
            }
        }
    }
}
