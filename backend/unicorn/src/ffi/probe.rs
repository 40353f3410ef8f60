//! What the scripts ask the plugin directly (through `ctypes`), so each has one
//! implementation:
//! - `unicorn_probe_report`: the hardware probe (`probe::report`; `scripts/common.sh`:
//!   `hardware_probe`);
//! - `unicorn_npu_calibration`: the NPU figures of the cost model, measured on the NPU
//!   (`placement::calibrate`; `scripts/phoenix-validate.sh`).
use std::ffi::c_char;

use super::guard;
use crate::engine::Role;

/// Copies `text` into the caller's buffer as `unicorn_probe_report` describes.
fn give(text: &str, buf: *mut c_char, len: usize) -> usize {
    if !buf.is_null() && len > 0 {
        let n = text.len().min(len - 1);
        // SAFETY: the caller gives `len` writable bytes at `buf`; n + 1 <= len bytes are written.
        unsafe {
            std::ptr::copy_nonoverlapping(text.as_ptr(), buf as *mut u8, n);
            *buf.add(n) = 0;
        }
    }
    text.len()
}

/// The `npu-calibration` line measured on the NPU device, or an `error=` line saying why not
/// (no NPU device, an emulated one: its figures would describe the CPU). Same buffer contract as
/// `unicorn_probe_report`; the devices are discovered as for llama.cpp.
#[no_mangle]
pub extern "C" fn unicorn_npu_calibration(buf: *mut c_char, len: usize) -> usize {
    guard("unicorn_npu_calibration", 0, || {
        let devices: Vec<_> = super::objects().devices.iter().filter_map(|&d| super::device::get(d)).collect();
        let gpu = devices.iter().find(|d| d.role == Role::Igpu).and_then(|d| d.engine.gpu());
        let text = match devices.iter().find(|d| d.role == Role::Npu) {
            None => "error=no NPU device is registered".to_string(),
            Some(d) if d.engine.emulated() => format!("error=the NPU is emulated ({}): nothing to calibrate", d.engine.name()),
            Some(d) => crate::placement::calibrate(d.engine.as_ref(), gpu, 4096).unwrap_or_else(|e| format!("error={e}")),
        };
        give(&text, buf, len)
    })
}

/// Writes the probe's `key=value` lines, NUL-terminated, into `buf` (`len` bytes, truncated to
/// fit) and returns the length of the whole report (without the NUL): call again with a larger
/// buffer if it is `len` or more. `buf` may be null with `len` 0 to ask for the length.
#[no_mangle]
pub extern "C" fn unicorn_probe_report(buf: *mut c_char, len: usize) -> usize {
    guard("unicorn_probe_report", 0, || give(&crate::probe::report(), buf, len))
}
