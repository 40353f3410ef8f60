//! A stream of work on one Unicorn device: computes the nodes of a graph split.
use crate::device::{is_empty_op, Device};
use crate::tensor::{op_name, type_name, Tensor};

pub struct Backend {
    pub device: &'static Device,
}

impl Backend {
    /// Computes every node the scheduler handed this device.
    ///
    /// # Errors
    /// A node that no kernel of this device computes (the scheduler only hands over nodes
    /// `supports_op` accepted, so this means a bug) or an engine failure.
    pub fn graph_compute<'a>(&self, nodes: impl Iterator<Item = Tensor<'a>>) -> Result<(), String> {
        const COMPUTE: i32 = ggml_sys::ggml_tensor_flag::GGML_TENSOR_FLAG_COMPUTE as i32;
        for node in nodes {
            if node.flags() & COMPUTE == 0 || is_empty_op(node.op()) {
                continue;
            }
            if let Some(why) = fault::injected(op_name(&node)) {
                return Err(format!("{}: {} ({}) {why}", self.device.name.to_string_lossy(), node.name(), op_name(&node)));
            }
            let engine = &self.device.engine;
            let kernel = self.device.select(&node).ok_or_else(|| {
                format!(
                    "{}: no kernel for {} ({}) of type {}",
                    self.device.name.to_string_lossy(),
                    node.name(),
                    op_name(&node),
                    type_name(node.dtype())
                )
            })?;
            if let Err(e) = engine.compute(&kernel, &node) {
                // Let the work already enqueued finish before the graph's memory is reused.
                let _ = engine.synchronize();
                return Err(format!("{}: {} ({}) {e}", self.device.name.to_string_lossy(), node.name(), op_name(&node)));
            }
        }
        // One wait per split: the engine may have only enqueued the work.
        self.device.engine.synchronize().map_err(|e| format!("{}: {e}", self.device.name.to_string_lossy()))
    }
}

impl Drop for Backend {
    /// The engine's measurements (the GPU profiler's table) and the placement verdicts, once
    /// per backend freed.
    fn drop(&mut self) {
        self.device.report();
    }
}

/// Fault injection for tests: `UNICORN_FAULT=OP[:N]` makes the N-th computation (default 1st,
/// counted over the process) of the ggml op `OP` fail as an engine failure would, so the
/// error path (a failed graph_compute, llama.cpp's handling of it) can be exercised on any
/// machine.
mod fault {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::OnceLock;

    fn spec() -> Option<&'static (String, u64)> {
        static SPEC: OnceLock<Option<(String, u64)>> = OnceLock::new();
        SPEC.get_or_init(|| {
            let v = std::env::var("UNICORN_FAULT").ok()?;
            let (op, n) = v.split_once(':').unwrap_or((v.as_str(), "1"));
            match n.trim().parse::<u64>() {
                Ok(n) if n > 0 && !op.trim().is_empty() => Some((op.trim().to_uppercase(), n)),
                _ => {
                    crate::log::log_warn!("UNICORN_FAULT={v:?} is not OP or OP:N (N >= 1); ignored");
                    None
                }
            }
        })
        .as_ref()
    }

    /// The injected failure for this computation of `op`, if it is the chosen one.
    pub fn injected(op: &str) -> Option<String> {
        static SEEN: AtomicU64 = AtomicU64::new(0);
        let (want, n) = spec()?;
        if op != want {
            return None;
        }
        let k = SEEN.fetch_add(1, Ordering::Relaxed) + 1;
        (k == *n).then(|| format!("failed: fault injected by UNICORN_FAULT ({want} #{k})"))
    }
}
