//! The reference engine: the CPU kernels of `ops`, on a thread pool of its own.
use super::pool::CpuPool;
use super::{fuse, Engine, EngineError, Plan, Split, Step, Work};
use crate::ops::{self, Kernel};
use crate::tensor::Tensor;

pub struct ReferenceEngine {
    pool: CpuPool,
    /// Fused chains in plans (`UNICORN_GPU_FUSION`, on by default).
    fusion: bool,
}

impl ReferenceEngine {
    pub fn new() -> Result<Self, EngineError> {
        Ok(ReferenceEngine { pool: CpuPool::new("unicorn-ref")?, fusion: crate::env::switch("UNICORN_GPU_FUSION", true) })
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
    /// The iGPU's emulation plans as the GPU engine does (fused chains, `UNICORN_GPU_FUSION`),
    /// so the fusion decisions are exercised on every machine.
    fn plan(&self, split: &Split, kernels: Vec<Kernel>) -> Plan {
        Plan::new(if self.fusion { fuse::plan(split, kernels) } else { fuse::unfused(kernels) })
    }
    fn run(&self, plan: &Plan, split: &Split, mut observer: Option<&mut dyn FnMut(&Step)>) -> Result<(), (usize, EngineError)> {
        for step in &plan.steps {
            self.pool
                .install(|| match &step.work {
                    Work::Op(k) => ops::run(k, &split.nodes[step.nodes.start]),
                    Work::Chain(c) => fuse::run_reference(c, split, step.nodes.end - 1),
                })
                .map_err(|e| (step.nodes.start, e))?;
            if let Some(o) = observer.as_mut() {
                o(step);
            }
        }
        Ok(())
    }
    fn set_n_threads(&self, n: usize) {
        self.pool.set_n_threads(n);
    }
}
