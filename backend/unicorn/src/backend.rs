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
