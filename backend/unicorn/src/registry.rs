//! Which devices the plugin exposes, decided once when llama.cpp loads it.
//!
//! - The bindings must match the loaded ggml (a stale plugin next to a rebuilt llama.cpp
//!   registers nothing rather than misreading tensors).
//! - With `UNICORN_EMULATE=1`, both devices run on the CPU reference engines, labelled so.
//! - Otherwise the hardware is probed; the hardware engines are not part of this build yet,
//!   so found hardware is reported and no device is registered.
use std::ffi::CStr;

use crate::device::Device;
use crate::engine::{reference::ReferenceEngine, Role};
use crate::probe;
use ggml_sys as sys;

pub struct Discovery {
    pub devices: Vec<Device>,
    /// Why no device was registered, when none was.
    pub reason: Option<String>,
}

pub fn emulation_requested() -> bool {
    std::env::var("UNICORN_EMULATE").is_ok_and(|v| !v.is_empty() && v != "0")
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

pub fn discover() -> Discovery {
    if let Err(e) = abi_check() {
        return Discovery { devices: vec![], reason: Some(e) };
    }
    if emulation_requested() {
        let mut devices = vec![];
        for role in [Role::Npu, Role::Igpu] {
            match ReferenceEngine::new(role) {
                Ok(engine) => devices.push(Device::new(role, Box::new(engine))),
                Err(e) => return Discovery { devices: vec![], reason: Some(format!("emulation failed to start: {e}")) },
            }
        }
        return Discovery { devices, reason: None };
    }
    let hw = probe::probe();
    let reason = match (&hw.npu, &hw.igpu) {
        (None, None) => "no Phoenix NPU (amdxdna) or gfx1103 iGPU found, so no device is registered; \
                         set UNICORN_EMULATE=1 to emulate both Unicorn devices on the CPU"
            .to_string(),
        _ => format!(
            "Phoenix hardware found (NPU: {}, iGPU: {}) but this build has no hardware engines yet; \
             set UNICORN_EMULATE=1 to run the emulated devices",
            hw.npu.as_deref().unwrap_or("none"),
            hw.igpu.as_deref().unwrap_or("none")
        ),
    };
    Discovery { devices: vec![], reason: Some(reason) }
}
