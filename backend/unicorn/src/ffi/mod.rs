//! The C ABI edge. Every `extern "C"` function of the plugin lives under this module, runs
//! its body inside `guard` (no panic crosses into llama.cpp) and only converts arguments
//! before calling safe Rust in the modules above.
//!
//! The ggml objects (registry, devices, the shared buffer type) are created once and live
//! for the rest of the process, as in ggml's own backends.
pub(crate) mod backend;
mod buffer;
mod device;
mod probe;
mod reg;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::OnceLock;

use crate::log::log_error;
use ggml_sys as sys;

/// Runs `f`; a panic becomes an error log line and `fallback`.
pub(crate) fn guard<R>(what: &str, fallback: R, f: impl FnOnce() -> R) -> R {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(p) => {
            let msg = p
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| p.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            log_error!("{what}: internal error: {msg}");
            fallback
        }
    }
}

/// The process-wide ggml objects, built on first use and never freed.
pub(crate) struct Objects {
    pub reg: *mut sys::ggml_backend_reg,
    pub devices: Vec<*mut sys::ggml_backend_device>,
    /// The host-memory buffer type both devices share (`UNICORN_HOST`).
    pub buft: *mut sys::ggml_backend_buffer_type,
    /// The GPU-memory buffer type of the iGPU device when its engine runs on a discrete GPU.
    pub vram: Option<*mut sys::ggml_backend_buffer_type>,
}
// SAFETY: the pointed-to objects are immutable after construction and live forever.
unsafe impl Send for Objects {}
unsafe impl Sync for Objects {}

static OBJECTS: OnceLock<Objects> = OnceLock::new();

pub(crate) fn objects() -> &'static Objects {
    OBJECTS.get_or_init(reg::build)
}

/// True when `dev` is one of the devices this plugin created.
fn objects_ready_contains(dev: sys::ggml_backend_dev_t) -> bool {
    OBJECTS.get().is_some_and(|o| !dev.is_null() && o.devices.contains(&dev))
}

/// Entry point of a dynamic ggml backend: the (single, static) registry.
#[no_mangle]
pub extern "C" fn ggml_backend_init() -> sys::ggml_backend_reg_t {
    guard("ggml_backend_init", std::ptr::null_mut(), || match check_ggml_version() {
        Ok(()) => objects().reg,
        Err(why) => {
            log_error!("{why}");
            std::ptr::null_mut()
        }
    })
}

/// The ggml this process runs must be the one the plugin was built against: the backend API
/// version alone does not protect `ggml_op` numbering or `ggml_tensor`'s layout, so another
/// ggml version is refused with a message instead of computing garbage or crashing.
/// `UNICORN_FAULT=GGML_VERSION` pretends a mismatch (to test this message).
fn check_ggml_version() -> Result<(), String> {
    let built = env!("UNICORN_GGML_VERSION");
    // SAFETY: ggml_version returns a pointer to a static NUL-terminated string (ggml.c).
    let running = unsafe { std::ffi::CStr::from_ptr(sys::ggml_version()) }.to_string_lossy().into_owned();
    let built = if std::env::var("UNICORN_FAULT").is_ok_and(|f| f.trim().eq_ignore_ascii_case("GGML_VERSION")) {
        "0.0.0 (UNICORN_FAULT=GGML_VERSION)"
    } else {
        built
    };
    if running == built {
        return Ok(());
    }
    Err(format!(
        "ggml version mismatch: libggml-unicorn.so was built against ggml {built} (backend API {}), \
         but this process runs ggml {running}; not loading. Rebuild the plugin against this \
         llama.cpp (UNICORN_LLAMA_DIR=<its source> UNICORN_LLAMA_LIB_DIR=<its bin> cargo build \
         --release -p unicorn) or use the pinned llama.cpp (scripts/setup-llama.sh)",
        sys::GGML_BACKEND_API_VERSION
    ))
}

/// Loadable everywhere: without hardware or emulation the registry explains itself and
/// offers no device.
#[no_mangle]
pub extern "C" fn ggml_backend_score() -> i32 {
    1
}
