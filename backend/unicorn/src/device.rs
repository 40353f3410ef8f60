//! A Unicorn device: its role, its names and the engine that computes on it.
use std::ffi::CString;

use crate::engine::{Engine, Role};
use crate::log::log_warn;
use crate::probe;
use crate::tensor::Tensor;
use ggml_sys::{ggml_backend_dev_type as dt, ggml_op as op};

pub struct Device {
    pub role: Role,
    pub name: CString,
    pub description: CString,
    pub engine: Box<dyn Engine>,
    /// Op names (as ggml prints them, e.g. `MUL_MAT`) this device leaves to other backends:
    /// `UNICORN_DISABLE_OPS=FLASH_ATTN_EXT,ROPE`.
    pub disabled_ops: Vec<String>,
    /// Memory budget from `UNICORN_IGPU_MEM` / `UNICORN_NPU_MEM`, read once at start-up.
    pub budget: Option<usize>,
}

impl Device {
    pub fn new(role: Role, engine: Box<dyn Engine>) -> Self {
        let (name, what) = match role {
            Role::Npu => ("UNICORN_NPU0", "AMD XDNA NPU (Phoenix): attention"),
            Role::Igpu => ("UNICORN_IGPU0", "AMD Radeon 780M (gfx1103): feed-forward and layer ops"),
        };
        let how = if engine.emulated() {
            format!("emulated on the CPU by the {} engine", engine.name())
        } else {
            engine.name().to_string()
        };
        Device {
            role,
            name: CString::new(name).unwrap_or_default(),
            description: CString::new(format!("{what}, {how}")).unwrap_or_default(),
            engine,
            budget: budget_from_env(role),
            disabled_ops: std::env::var("UNICORN_DISABLE_OPS")
                .unwrap_or_default()
                .split(',')
                .map(|s| s.trim().to_uppercase())
                .filter(|s| !s.is_empty())
                .collect(),
        }
    }

    /// NPU: an accelerator llama.cpp adds to every scheduler, holding no weights.
    /// iGPU: the device that holds offloaded layers.
    pub fn ggml_type(&self) -> dt::Type {
        match self.role {
            Role::Npu => dt::GGML_BACKEND_DEVICE_TYPE_ACCEL,
            Role::Igpu => dt::GGML_BACKEND_DEVICE_TYPE_IGPU,
        }
    }

    /// (free, total) bytes: the budget llama.cpp fits layers into (`--fit`).
    ///
    /// The APU's devices use system memory, so that is the default figure. A budget set with
    /// `UNICORN_IGPU_MEM` / `UNICORN_NPU_MEM` (e.g. `2G`, `512M`, bytes) replaces it, capped
    /// by the free host memory: llama.cpp then keeps on the device only the layers that fit
    /// and leaves the rest to the CPU.
    pub fn memory(&self) -> (usize, usize) {
        let (free, total) = probe::host_memory();
        match self.budget {
            Some(budget) => (budget.min(free), budget),
            None => (free, total),
        }
    }

    pub fn supports_op(&self, node: &Tensor) -> bool {
        if is_empty_op(node.op()) {
            return true;
        }
        let disabled = self.disabled_ops.iter().any(|d| d == crate::tensor::op_name(node));
        !disabled && self.engine.select(node).is_some()
    }
}

/// The budget the user set for this device, if any; a value that is not a size is reported
/// once and ignored (the device then reports the system memory).
fn budget_from_env(role: Role) -> Option<usize> {
    let var = match role {
        Role::Npu => "UNICORN_NPU_MEM",
        Role::Igpu => "UNICORN_IGPU_MEM",
    };
    let value = std::env::var(var).ok()?;
    let size = parse_size(&value);
    if size.is_none() {
        log_warn!("{var}={value:?} is not a size (e.g. 2G, 512M, bytes); ignored, using the system memory figure");
    }
    size
}

/// "2G", "1.5GiB", "512M", "4096K" or plain bytes.
pub fn parse_size(s: &str) -> Option<usize> {
    let s = s.trim();
    let split = s.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let num: f64 = num.parse().ok()?;
    let mult = match unit.trim().to_ascii_uppercase().trim_end_matches("IB").trim_end_matches('B') {
        "" => 1.0,
        "K" => 1024.0,
        "M" => 1024.0 * 1024.0,
        "G" => 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    Some((num * mult) as usize)
}

/// Ops that compute nothing (ggml skips them in graph_compute).
pub fn is_empty_op(o: op::Type) -> bool {
    matches!(o, op::GGML_OP_NONE | op::GGML_OP_RESHAPE | op::GGML_OP_VIEW | op::GGML_OP_PERMUTE | op::GGML_OP_TRANSPOSE)
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("2G"), Some(2 << 30));
        assert_eq!(parse_size("1.5GiB"), Some(3 << 29));
        assert_eq!(parse_size("512M"), Some(512 << 20));
        assert_eq!(parse_size("4096"), Some(4096));
        assert_eq!(parse_size("2X"), None);
        assert_eq!(parse_size("lots"), None);
    }
}
