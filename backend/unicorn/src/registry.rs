//! Which devices the plugin exposes, decided once when llama.cpp loads it.
//!
//! - The bindings must match the loaded ggml (a stale plugin next to a rebuilt llama.cpp
//!   registers nothing rather than misreading tensors).
//! - The iGPU device runs the GPU engine when a GPU (HIP: the APU's gfx1103; CUDA: an NVIDIA
//!   GPU standing in for it) and its kernel code object are found.
//! - With `UNICORN_EMULATE=1`, a device whose hardware engine is missing runs on the CPU
//!   reference engine, labelled "emulated".
//! - Otherwise a device without its hardware is not registered, and the log says why.
use std::ffi::CStr;
use std::path::PathBuf;
use std::sync::Arc;

use crate::device::Device;
use crate::engine::{gpu::GpuEngine, npu, reference::ReferenceEngine, Engine, Role};
use crate::gpu::Gpu;
use crate::log::{log_info, log_warn};
use crate::placement::{Attention, Emulation, Placement};
use crate::probe;
use ggml_sys as sys;

pub struct Discovery {
    pub devices: Vec<Device>,
    /// Why no device was registered, when none was.
    pub reason: Option<String>,
}

/// Checks that ggml's op and type numbering is the one the bindings were generated from.
pub fn abi_check() -> Result<(), String> {
    let ops = [
        (sys::ggml_op::GGML_OP_MUL_MAT, "MUL_MAT"),
        (sys::ggml_op::GGML_OP_FLASH_ATTN_EXT, "FLASH_ATTN_EXT"),
        (sys::ggml_op::GGML_OP_SET_ROWS, "SET_ROWS"),
        (sys::ggml_op::GGML_OP_GLU, "GLU"),
        (sys::ggml_op::GGML_OP_ROPE, "ROPE"),
    ];
    for (id, want) in ops {
        // SAFETY: ggml_op_name returns a static string for ids below GGML_OP_COUNT.
        let got = unsafe { CStr::from_ptr(sys::ggml_op_name(id)) };
        if got.to_bytes() != want.as_bytes() {
            return Err(format!("ggml op {id} is {got:?}, expected {want}: the plugin was built against other ggml headers"));
        }
    }
    // SAFETY: pure function of the type id.
    let bf16 = unsafe { CStr::from_ptr(sys::ggml_type_name(sys::ggml_type::GGML_TYPE_BF16)) };
    // ggml_tensor_overhead() = sizeof(struct ggml_object) (32 bytes) + sizeof(struct ggml_tensor).
    // SAFETY: pure function.
    let overhead = unsafe { sys::ggml_tensor_overhead() };
    if bf16.to_bytes() != b"bf16" || overhead != 32 + std::mem::size_of::<sys::ggml_tensor>() {
        return Err("ggml type numbering or tensor layout differs from the bindings: rebuild the plugin".into());
    }
    Ok(())
}

/// The folder of the kernel code objects: `UNICORN_KERNELS`, else `unicorn-kernels/` beside
/// this plugin (where scripts/build-kernels.sh puts them).
pub fn kernels_dir() -> PathBuf {
    if let Some(d) = crate::env::text("UNICORN_KERNELS") {
        return PathBuf::from(d);
    }
    probe::plugin_dir().unwrap_or_default().join("unicorn-kernels")
}

/// The iGPU's GPU engine: a GPU through HIP or CUDA, with its code object. The error says
/// what is missing.
fn gpu_engine() -> Result<GpuEngine, String> {
    let gpu = Gpu::open()?;
    GpuEngine::new(gpu, &kernels_dir())
}

pub fn discover() -> Discovery {
    if let Err(e) = abi_check() {
        return Discovery { devices: vec![], reason: Some(e) };
    }
    // How the devices run: decided once (placement::Emulation), passed to the engines.
    let emulation = Emulation::from_env();
    let emulate = emulation.allowed;
    let hw = probe::probe();
    let mut why = vec![];

    // The iGPU: the GPU engine where a GPU and its kernels are found; else emulated when asked.
    let igpu: Option<Arc<dyn Engine>> = match gpu_engine() {
        Ok(e) => Some(Arc::new(e)),
        Err(e) if emulate => {
            log_info!("no GPU engine ({e}); UNICORN_IGPU0 is emulated");
            reference().map_err(|e| why.push(e)).ok()
        }
        Err(e) => {
            why.push(format!("UNICORN_IGPU0: {e}"));
            None
        }
    };
    // The NPU: the XRT engine where the NPU, XRT and the NPU kernel files are all found
    // (engine::npu::ready says what is missing); else emulated when asked, on the path
    // UNICORN_NPU_EMULATION names (engine::npu; an unknown name: not registered).
    let npu_hw = npu::ready::check(hw.npu.as_deref())
        .and_then(|r| npu::NpuEngine::hardware(r).map_err(|e| format!("NPU engine: {e}")));
    let npu: Option<Arc<dyn Engine>> = match npu_hw {
        Ok(e) => Some(Arc::new(e)),
        Err(e) if emulate => {
            if hw.npu.is_some() {
                log_info!("UNICORN_NPU0: {e}; UNICORN_NPU0 is emulated");
            }
            // Asked for and not started (e.g. an unknown UNICORN_NPU_EMULATION): a warning, not
            // an info line the tools hide by default.
            emulation
                .npu
                .and_then(|path| npu::NpuEngine::emulated(path).map_err(|e| e.to_string()))
                .map(|e| Arc::new(e) as Arc<dyn Engine>)
                .map_err(|e| log_warn!("UNICORN_NPU0: the emulated NPU did not start ({e}); no NPU device, attention runs on the iGPU"))
                .ok()
        }
        Err(e) => {
            why.push(format!("UNICORN_NPU0: {e}"));
            None
        }
    };

    // Which device claims which node: one placement, shared by both devices.
    let attention = Attention::choose(npu.is_some(), npu.as_ref().is_some_and(|e| e.emulated()), igpu.is_some());
    let placement = Arc::new(Placement::new(attention, npu.clone(), igpu.clone()));
    let mut devices = vec![];
    if let Some(e) = npu {
        devices.push(Device::new(Role::Npu, e, placement.clone()));
    }
    if let Some(e) = igpu {
        devices.push(Device::new(Role::Igpu, e, placement));
    }
    let reason = if devices.is_empty() {
        Some(format!("no device is registered: {}; set UNICORN_EMULATE=1 to emulate the missing Unicorn devices on the CPU", why.join("; ")))
    } else {
        for w in &why {
            log_info!("{w}");
        }
        None
    };
    Discovery { devices, reason }
}

fn reference() -> Result<Arc<dyn Engine>, String> {
    ReferenceEngine::new().map(|e| Arc::new(e) as Arc<dyn Engine>).map_err(|e| format!("emulation failed to start: {e}"))
}
