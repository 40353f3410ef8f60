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

/// The name of the CPU reference engine (`engine::reference`, and the NPU's `reference`
/// emulation path): the kernels of `ops`, which keep ggml-cpu's reference summation order.
pub const REFERENCE_ENGINE: &str = "CPU reference";

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

    /// Exact numerics: the device runs on the CPU reference engine, whose results equal
    /// ggml-cpu's reference kernels bit for bit. The registry logs it per device
    /// ("numerics: exact"), and scripts/test-backend-ops.sh then asks for error bound 0.
    pub fn exact(&self) -> bool {
        self.engine.emulated() && self.engine.name() == REFERENCE_ENGINE
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
        let claimed = !disabled && self.select(node).is_some();
        if !claimed && node.op() == op::GGML_OP_FLASH_ATTN_EXT {
            say_kv_type_unread(node);
        }
        claimed
    }
}

/// Attention on a KV cache no Unicorn kernel reads (`-ctk q8_0`, ...) goes to the CPU: said once
/// per K/V type pair, so the move is not silent.
fn say_kv_type_unread(node: &Tensor) {
    static SAID: std::sync::Mutex<Vec<(u32, u32)>> = std::sync::Mutex::new(Vec::new());
    let (Some(k), Some(v)) = (node.src(1), node.src(2)) else { return };
    let float = |t: u32| crate::ops::cpy::float_elem_size(t).is_some();
    if float(k.dtype()) && float(v.dtype()) {
        return;
    }
    let Ok(mut said) = SAID.lock() else { return };
    if said.contains(&(k.dtype(), v.dtype())) {
        return;
    }
    said.push((k.dtype(), v.dtype()));
    let (kt, vt) = (crate::tensor::type_name(k.dtype()), crate::tensor::type_name(v.dtype()));
    log_warn!("FLASH_ATTN_EXT with K type {kt}, V type {vt}: no Unicorn kernel reads this KV-cache type, so attention runs on the CPU (Unicorn's attention reads f32, f16 and bf16: -ctk bf16 -ctv bf16)");
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{npu::NpuEngine, reference::ReferenceEngine};

    /// The exact flag follows the engine, not the wording of the description: both reference
    /// paths (the iGPU's engine, the NPU's default emulation) report it; the AIE host build
    /// (bounded) does not.
    #[test]
    fn reference_engines_are_exact() {
        use crate::engine::npu::Emulation;
        use crate::placement::{Attention, Placement};
        let device = |role, engine: Arc<dyn Engine>| {
            let placement = Arc::new(Placement::new(Attention::Npu, None, None));
            Device::new(role, engine, placement)
        };
        let igpu = device(Role::Igpu, Arc::new(ReferenceEngine::new().unwrap()));
        assert!(igpu.exact(), "{:?}", igpu.description);
        let npu = device(Role::Npu, Arc::new(NpuEngine::emulated(Emulation::Reference).unwrap()));
        assert!(npu.exact(), "{:?}", npu.description);
        let aie = device(Role::Npu, Arc::new(NpuEngine::emulated(Emulation::AieHost).unwrap()));
        assert!(!aie.exact(), "{:?}", aie.description);
    }
}
