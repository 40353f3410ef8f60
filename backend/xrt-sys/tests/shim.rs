//! Loads the shim this build compiled (only where XRT headers were found, e.g. in the sid root
//! of scripts/npu-xrt-check.sh) and drives it as far as a machine without an NPU allows.
use std::ffi::{c_char, CStr};

/// Genuinely optional: XRT >= 2.17 exists only in the Debian sid root of
/// scripts/npu-xrt-check.sh, which builds and runs this test there (a CI stage). Elsewhere the
/// build script sets `ucn_no_shim` and cargo reports the test as ignored, with the reason.
#[test]
#[cfg_attr(ucn_no_shim, ignore = "skipped: no XRT >= 2.17 headers at build time, so no shim to load (scripts/npu-xrt-check.sh runs it with XRT)")]
fn shim_loads_and_fails_cleanly_without_an_npu() {
    let path = xrt_sys::built_shim().expect("the build script built the shim (ucn_no_shim is not set)");
    // SAFETY: the shim this crate's build.rs compiled from shim/.
    let x = unsafe { xrt_sys::Xrt::load(path) }.expect("loading the shim");
    // SAFETY: returns a static string.
    let version = unsafe { CStr::from_ptr((x.ucn_xrt_build_version)()) }.to_string_lossy().into_owned();
    println!("shim {path}: built against XRT {version}");
    assert!(version.starts_with("2."), "{version}");

    let mut err = [0 as c_char; 512];
    let mut dev = std::ptr::null_mut();
    // SAFETY: out-pointer and error buffer are live locals of the sizes given.
    let rc = unsafe { (x.ucn_xrt_device_open)(0, &mut dev, err.as_mut_ptr(), err.len()) };
    // SAFETY: the shim NUL-terminates what it writes into err.
    let msg = unsafe { CStr::from_ptr(err.as_ptr()) }.to_string_lossy().into_owned();
    if std::path::Path::new("/dev/accel/accel0").exists() {
        assert_eq!(rc, 0, "{msg}");
        // SAFETY: dev came from device_open.
        unsafe { (x.ucn_xrt_device_close)(dev) };
    } else {
        // No NPU: XRT's exception comes back as an error, not a crash.
        assert_eq!(rc, -1);
        assert!(msg.starts_with("xrt::device(0): "), "{msg}");
        println!("as expected without an NPU: {msg}");
    }
    let mut e2 = [0 as c_char; 256];
    // SAFETY: NUL-terminated path literal; error buffer as above.
    let rc = unsafe { (x.ucn_xrt_set_power_mode)(c"/nonexistent/accel".as_ptr(), 4, e2.as_mut_ptr(), e2.len()) };
    assert_eq!(rc, -1);
}
