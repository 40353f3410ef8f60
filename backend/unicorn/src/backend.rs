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
        let split_t0 = std::time::Instant::now(); // observability hook (trace.rs, stats.rs)
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
            let t0 = std::time::Instant::now(); // observability hook
            if let Err(e) = engine.compute(&kernel, &node) {
                // Let the work already enqueued finish before the graph's memory is reused.
                let _ = engine.synchronize();
                return Err(format!("{}: {} ({}) {e}", self.device.name.to_string_lossy(), node.name(), op_name(&node)));
            }
            observe::kernel(self.device, &node, t0); // observability hook
        }
        // One wait per split: the engine may have only enqueued the work.
        let done = self.device.engine.synchronize().map_err(|e| format!("{}: {e}", self.device.name.to_string_lossy()));
        observe::split(self.device, split_t0); // observability hook
        done
    }
}

impl Drop for Backend {
    /// The engine's measurements (the GPU profiler's table), once per backend freed.
    fn drop(&mut self) {
        self.device.engine.report();
        crate::trace::write(); // observability hook
    }
}

/// Observability hooks (`UNICORN_TRACE`, `UNICORN_STATS`): what `graph_compute` calls, one line
/// per call site, so the hooks re-attach to a rewritten loop as they are. Both are a check of a
/// `OnceLock` when off.
mod observe {
    use crate::device::Device;
    use crate::tensor::{op_name, Tensor};
    use crate::{stats, trace};
    use std::time::Instant;

    /// A kernel of `node` ran from `t0` to now.
    pub fn kernel(device: &Device, node: &Tensor, t0: Instant) {
        if !trace::enabled() && !stats::enabled() {
            return;
        }
        let t1 = Instant::now();
        let dev = device.name.to_string_lossy();
        stats::record(&dev, op_name(node), t1 - t0, stats::node_bytes(node));
        if trace::enabled() {
            trace::span(&dev, op_name(node), &trace::node_fields(node, device.engine.name()), t0, t1);
        }
    }

    /// A split (one graph_compute call) ran from `t0` to now, its synchronize included.
    pub fn split(device: &Device, t0: Instant) {
        if trace::enabled() {
            trace::span(&device.name.to_string_lossy(), "split", &[], t0, Instant::now());
        }
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
