//! A Unicorn device: its role, its names and the engine that computes on it.
use std::ffi::CString;

use std::sync::Arc;

use crate::engine::{Engine, Role};
use crate::log::log_warn;
use crate::ops::Kernel;
use crate::placement::Placement;
use crate::probe;
use crate::tensor::Tensor;
use ggml_sys::{ggml_backend_dev_type as dt, ggml_op as op};

pub struct Device {
    pub role: Role,
    pub name: CString,
    pub description: CString,
    pub engine: Arc<dyn Engine>,
    /// Which device claims which node (`placement`): one value shared by both devices, so
    /// exactly one claims each attention node.
    pub placement: Arc<Placement>,
    /// Op names (as ggml prints them, e.g. `MUL_MAT`) this device leaves to other backends:
    /// `UNICORN_DISABLE_OPS=FLASH_ATTN_EXT,ROPE`.
    pub disabled_ops: Vec<String>,
    /// Memory budget from `UNICORN_IGPU_MEM` / `UNICORN_NPU_MEM`, read once at start-up.
    pub budget: Option<usize>,
    /// `uses_mapped_weights`, decided on first use.
    mapped_weights: std::sync::OnceLock<bool>,
}

impl Device {
    pub fn new(role: Role, engine: Arc<dyn Engine>, placement: Arc<Placement>) -> Self {
        let name = match role {
            Role::Npu => "UNICORN_NPU0",
            Role::Igpu => "UNICORN_IGPU0",
        };
        let work = placement.describe(role);
        let description = match (role, engine.gpu()) {
            (Role::Npu, _) if engine.emulated() => format!("AMD XDNA NPU (Phoenix): {work}, emulated on the CPU by the {} engine", engine.name()),
            (Role::Npu, _) => format!("AMD XDNA NPU (Phoenix): {work}, {}", engine.name()),
            (Role::Igpu, None) => format!("AMD Radeon 780M (gfx1103): {work}, emulated on the CPU by the {} engine", engine.name()),
            (Role::Igpu, Some(gpu)) if gpu.driver.arch() == "gfx1103" => format!("AMD Radeon 780M (gfx1103): {work}, {}", engine.name()),
            // Honest about the stand-in: the iGPU's kernels, run on another GPU.
            (Role::Igpu, Some(_)) => format!("iGPU role ({work}) standing in for the Radeon 780M: {}", engine.name()),
        };
        Device {
            role,
            name: CString::new(name).unwrap_or_default(),
            description: CString::new(description).unwrap_or_default(),
            engine,
            placement,
            budget: budget_from_env(role),
            mapped_weights: std::sync::OnceLock::new(),
            disabled_ops: disabled_ops_from_env(),
        }
    }

    /// NPU: an accelerator llama.cpp adds to every scheduler, holding no weights.
    /// iGPU: the device that holds offloaded layers (a GPU when the engine runs on a discrete
    /// one).
    pub fn ggml_type(&self) -> dt::Type {
        match self.role {
            Role::Npu => dt::GGML_BACKEND_DEVICE_TYPE_ACCEL,
            Role::Igpu if self.discrete_gpu() => dt::GGML_BACKEND_DEVICE_TYPE_GPU,
            Role::Igpu => dt::GGML_BACKEND_DEVICE_TYPE_IGPU,
        }
    }

    /// Weights can be used where llama.cpp mapped the model file (`buffer_from_host_ptr`): the
    /// device reads host memory in place. Emulated devices do; a discrete GPU does not (its
    /// weights go to its own memory); the APU's iGPU does when the GPU runtime can register
    /// a read-only file mapping (tried once; otherwise weights are copied, and the log says
    /// so once).
    pub fn uses_mapped_weights(&self) -> bool {
        let Some(gpu) = self.engine.gpu() else { return true };
        if !gpu.driver.integrated() {
            return false;
        }
        *self.mapped_weights.get_or_init(|| match gpu.can_register_file_mappings() {
            Ok(()) => true,
            Err(e) => {
                log_warn!("{}: the GPU cannot read the mapped model file in place ({e}); weights are copied into GPU-visible memory", self.name.to_string_lossy());
                false
            }
        })
    }

    /// The engine runs on a GPU with memory of its own: weights and activations live there.
    pub fn discrete_gpu(&self) -> bool {
        self.engine.gpu().is_some_and(|g| !g.driver.integrated())
    }

    /// Logs what the engine measured and (once per backend pair: from the iGPU) the placement
    /// verdicts, which llama.cpp may have silenced when they were first decided (its `--fit`
    /// dry run loads the model with logging off).
    pub fn report(&self) {
        self.engine.report();
        if self.role == Role::Igpu {
            self.placement.report();
        }
    }

    /// The kernel this device runs for `node`, if it claims it (`Placement::claims`).
    pub fn select(&self, node: &Tensor) -> Option<Kernel> {
        self.engine.select(node).filter(|k| self.placement.claims(self.role, k, node))
    }

    /// (free, total) bytes: the budget llama.cpp fits layers into (`--fit`).
    ///
    /// The APU's devices use system memory, so that is the default figure (a discrete GPU
    /// reports its own memory). A budget set with
    /// `UNICORN_IGPU_MEM` / `UNICORN_NPU_MEM` (e.g. `2G`, `512M`, bytes) replaces it, capped
    /// by the free host memory: llama.cpp then keeps on the device only the layers that fit
    /// and leaves the rest to the CPU.
    pub fn memory(&self) -> (usize, usize) {
        let (free, total) = match self.engine.gpu().filter(|_| self.discrete_gpu()).map(|g| g.driver.mem_info()) {
            Some(Ok(m)) => m,
            Some(Err(e)) => {
                log_warn!("{}: reading GPU memory: {e}", self.name.to_string_lossy());
                (0, 0)
            }
            None => probe::host_memory(),
        };
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
        !disabled && self.select(node).is_some()
    }
}

/// `UNICORN_DISABLE_OPS`: ggml op names (as `op_name` gives them), read once for both devices;
/// a name that is no op is said in a log line and dropped.
fn disabled_ops_from_env() -> Vec<String> {
    static OPS: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    OPS.get_or_init(|| {
        let names = crate::env::text("UNICORN_DISABLE_OPS").unwrap_or_default();
        let known = crate::tensor::known_op_names();
        let (ops, unknown): (Vec<String>, Vec<String>) = names
            .split(',')
            .map(|s| s.trim().to_uppercase())
            .filter(|s| !s.is_empty())
            .partition(|s| known.contains(&s.as_str()));
        if !unknown.is_empty() {
            log_warn!("UNICORN_DISABLE_OPS: {} is no ggml op name (e.g. MUL_MAT, FLASH_ATTN_EXT, GELU); ignored", unknown.join(", "));
        }
        ops
    })
    .clone()
}

/// The budget the user set for this device, if any; a value that is not a size is reported
/// and ignored (the device then reports the system memory).
fn budget_from_env(role: Role) -> Option<usize> {
    let var = match role {
        Role::Npu => "UNICORN_NPU_MEM",
        Role::Igpu => "UNICORN_IGPU_MEM",
    };
    crate::env::size(var, "the system memory figure")
}

/// Ops that compute nothing (ggml skips them in graph_compute).
pub fn is_empty_op(o: op::Type) -> bool {
    matches!(o, op::GGML_OP_NONE | op::GGML_OP_RESHAPE | op::GGML_OP_VIEW | op::GGML_OP_PERMUTE | op::GGML_OP_TRANSPOSE)
}
