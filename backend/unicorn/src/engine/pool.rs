//! A resizable CPU thread pool for the engines that compute on the CPU (the reference engine,
//! the NPU's host-build emulation). llama.cpp sets the thread count per backend
//! (`ggml_backend_set_n_threads`).
use std::sync::RwLock;

use super::EngineError;

pub struct CpuPool {
    prefix: &'static str,
    pool: RwLock<rayon::ThreadPool>,
}

fn build(prefix: &'static str, n: usize) -> Result<rayon::ThreadPool, EngineError> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(n.max(1))
        .thread_name(move |i| format!("{prefix}-{i}"))
        .build()
        .map_err(|e| EngineError::Failed(format!("thread pool: {e}")))
}

impl CpuPool {
    /// A pool of one thread per core, threads named `prefix-N`.
    pub fn new(prefix: &'static str) -> Result<Self, EngineError> {
        let n = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        Ok(CpuPool { prefix, pool: RwLock::new(build(prefix, n)?) })
    }

    /// Runs `f` inside the pool (its rayon work uses the pool's threads).
    pub fn install<R: Send>(&self, f: impl FnOnce() -> R + Send) -> Result<R, EngineError> {
        let pool = self.pool.read().map_err(|_| EngineError::Failed("thread pool lock poisoned".into()))?;
        Ok(pool.install(f))
    }

    pub fn set_n_threads(&self, n: usize) {
        if let (Ok(new), Ok(mut cur)) = (build(self.prefix, n), self.pool.write()) {
            if cur.current_num_threads() != n.max(1) {
                *cur = new;
            }
        }
    }
}
