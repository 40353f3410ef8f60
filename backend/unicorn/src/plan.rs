//! Capacity-aware placement ("dynamic model sharding"): how many layers of a model fit on the
//! iGPU within its memory budget, the rest staying with the CPU.
//!
//! llama.cpp offloads the *last* `n_gpu_layers` layers, the output layer counting as one and
//! going first. The plan fills the budget the same way: output layer, then layers from the
//! last one down. It counts weights exactly (from the GGUF's tensor sizes) and keeps an
//! eighth of the budget for the KV cache and compute buffers, which also live on the device.
//! `--backend` applies the plan only while `-ngl` is left at auto; `-ngl` and `-ot` override.
use crate::gguf::GgufFile;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub n_layer: usize,
    /// Layers `first_on_device..n_layer` go to the device.
    pub first_on_device: usize,
    pub output_on_device: bool,
    /// Bytes of weights the plan puts on the device.
    pub device_bytes: u64,
    pub budget: u64,
}

impl Plan {
    /// The value for llama.cpp's `n_gpu_layers`.
    pub fn n_gpu_layers(&self) -> usize {
        (self.n_layer - self.first_on_device) + usize::from(self.output_on_device)
    }

    pub fn describe(&self, device: &str) -> String {
        let gib = |b: u64| b as f64 / (1u64 << 30) as f64;
        let mut parts = vec![];
        if self.first_on_device > 0 {
            parts.push(format!("layers 0-{} on CPU", self.first_on_device - 1));
        }
        if self.first_on_device < self.n_layer {
            parts.push(format!("layers {}-{} on {device}", self.first_on_device, self.n_layer - 1));
        }
        parts.push(format!("output on {}", if self.output_on_device { device } else { "CPU" }));
        format!(
            "{}: {:.2} GiB of weights on {device}, budget {:.2} GiB",
            parts.join(", "),
            gib(self.device_bytes),
            gib(self.budget)
        )
    }
}

/// Share of the budget kept free for the KV cache and compute buffers.
pub const RESERVE_DIVISOR: u64 = 8;

/// The plan for per-layer weight sizes `layers` and output-layer size `output`.
pub fn plan(layers: &[u64], output: u64, budget: u64) -> Plan {
    let usable = budget - budget / RESERVE_DIVISOR;
    let n_layer = layers.len();
    let mut p = Plan { n_layer, first_on_device: n_layer, output_on_device: false, device_bytes: 0, budget };
    if output > usable {
        return p;
    }
    p.output_on_device = true;
    p.device_bytes = output;
    while p.first_on_device > 0 && p.device_bytes + layers[p.first_on_device - 1] <= usable {
        p.first_on_device -= 1;
        p.device_bytes += layers[p.first_on_device];
    }
    p
}

/// Per-layer and output-layer weight bytes of a GGUF model.
///
/// `blk.N.*` tensors belong to layer N. The input embeddings (`token_embd`,
/// `per_layer_token_embd`) stay with the CPU input layer; every other tensor counts as the
/// output layer, plus `token_embd` once more when the output is tied to it.
pub fn model_sizes(file: &GgufFile) -> Result<(Vec<u64>, u64), String> {
    let arch = file.str("general.architecture").ok_or("no general.architecture")?;
    let n_layer = file.u32(&format!("{arch}.block_count")).ok_or("no block_count")? as usize;
    let mut layers = vec![0u64; n_layer];
    let (mut output, mut token_embd, mut tied) = (0u64, 0u64, true);
    for (name, bytes) in file.tensors() {
        let bytes = bytes as u64;
        if let Some(rest) = name.strip_prefix("blk.") {
            let n: usize = rest.split('.').next().and_then(|s| s.parse().ok()).ok_or(format!("tensor {name}"))?;
            *layers.get_mut(n).ok_or(format!("tensor {name} beyond block_count {n_layer}"))? += bytes;
        } else if name.starts_with("token_embd.") {
            token_embd += bytes;
        } else if name.starts_with("per_layer_token_embd.") {
            // the per-layer token embeddings stay with the CPU input layer: not counted
        } else {
            tied &= !name.starts_with("output.weight");
            output += bytes;
        }
    }
    Ok((layers, output + if tied { token_embd } else { 0 }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn everything_fits() {
        let p = plan(&[10, 10, 10], 5, 1000);
        assert_eq!((p.first_on_device, p.output_on_device, p.n_gpu_layers()), (0, true, 4));
    }

    #[test]
    fn last_layers_first() {
        // usable = 80 - 10 = 70: output 20, then layers 2 and 1 (20 each), layer 0 does not fit.
        let p = plan(&[20, 20, 20], 20, 80);
        assert_eq!((p.first_on_device, p.output_on_device, p.device_bytes), (1, true, 60));
        assert_eq!(p.n_gpu_layers(), 3);
        assert_eq!(p.describe("D"), "layers 0-0 on CPU, layers 1-2 on D, output on D: 0.00 GiB of weights on D, budget 0.00 GiB");
    }

    #[test]
    fn nothing_fits() {
        let p = plan(&[20, 20], 100, 80);
        assert_eq!((p.n_gpu_layers(), p.output_on_device), (0, false));
    }
}
