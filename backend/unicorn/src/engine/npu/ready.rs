//! Is the NPU usable? It is when all three are present:
//!
//! 1. the device: an amdxdna accel node (`/dev/accel/accel*`, found by `probe`);
//! 2. XRT: our shim `libunicorn-xrt.so` (`UNICORN_XRT_SHIM`, else beside the plugin), which
//!    links XRT's `libxrt_coreutil` (>= 2.17); it is opened when the engine starts;
//! 3. the kernel files (`UNICORN_NPU_KERNELS`, else `npu/` beside the plugin):
//!    `flash_attn_ext_d<D>.xclbin` for at least one head dimension, and for it at least one
//!    instruction-sequence template `flash_attn_ext_d<D>_<shape>.insts.bin` with its patch
//!    table `.patch` (`kernels/npu/flash_attn_ext/Makefile` builds them on a Phoenix box).
//!
//! Anything missing: `check` says what and where, in one line; the NPU device is then not
//! registered and attention runs on another device.
use std::path::PathBuf;

/// (head dimension, xclbin, instruction-sequence templates as (insts, patch table)).
pub type KernelFiles = (usize, PathBuf, Vec<(PathBuf, PathBuf)>);

#[derive(Clone, Debug)]
pub struct Ready {
    pub accel: String,
    pub shim: PathBuf,
    pub kernels: PathBuf,
    /// One entry per head dimension found.
    pub variants: Vec<KernelFiles>,
}

fn env_path(var: &str) -> Option<PathBuf> {
    std::env::var_os(var).filter(|v| !v.is_empty()).map(PathBuf::from)
}

/// Looks for the three; `accel` is the probe's amdxdna node, if any.
pub fn check(accel: Option<&str>) -> Result<Ready, String> {
    let accel = accel.ok_or("no amdxdna NPU (/dev/accel/accel*)")?.to_string();
    let here = crate::probe::plugin_dir();
    let shim = env_path("UNICORN_XRT_SHIM")
        .or_else(|| here.as_ref().map(|d| d.join(xrt_sys::SHIM_FILE)))
        .ok_or("cannot locate the plugin's folder to look for libunicorn-xrt.so; set UNICORN_XRT_SHIM")?;
    if !shim.exists() {
        return Err(format!(
            "NPU {accel} found, but not XRT: {} is missing (scripts/phoenix-install.sh builds it against the installed XRT; or set UNICORN_XRT_SHIM)",
            shim.display()
        ));
    }
    let kernels = env_path("UNICORN_NPU_KERNELS")
        .or_else(|| here.as_ref().map(|d| d.join("npu")))
        .ok_or("cannot locate the plugin's folder to look for the NPU kernels; set UNICORN_NPU_KERNELS")?;
    let mut variants = vec![];
    for d in super::schedule::HEAD_DIMS {
        let xclbin = kernels.join(format!("flash_attn_ext_d{d}.xclbin"));
        if !xclbin.exists() {
            continue;
        }
        let prefix = format!("flash_attn_ext_d{d}_");
        let mut templates = vec![];
        for e in std::fs::read_dir(&kernels).map_err(|e| format!("{}: {e}", kernels.display()))?.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if let Some(stem) = name.strip_prefix(&prefix).and_then(|n| n.strip_suffix(".insts.bin")) {
                let patch = kernels.join(format!("{prefix}{stem}.patch"));
                if patch.exists() {
                    templates.push((e.path(), patch));
                }
            }
        }
        templates.sort();
        if !templates.is_empty() {
            variants.push((d, xclbin, templates));
        }
    }
    if variants.is_empty() {
        return Err(format!(
            "NPU {accel} and XRT found, but no NPU kernels in {}: expected flash_attn_ext_d<64|128|256>.xclbin with \
             flash_attn_ext_d<D>_<shape>.insts.bin + .patch (build them with scripts/npu-build.sh, which scripts/phoenix-install.sh runs; or set UNICORN_NPU_KERNELS)",
            kernels.display()
        ));
    }
    Ok(Ready { accel, shim, kernels, variants })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_pieces_are_named() {
        assert!(check(None).unwrap_err().contains("no amdxdna NPU"));
        std::env::set_var("UNICORN_XRT_SHIM", "/nonexistent/libunicorn-xrt.so");
        let e = check(Some("/dev/accel/accel0")).unwrap_err();
        std::env::remove_var("UNICORN_XRT_SHIM");
        assert!(e.contains("not XRT") && e.contains("/nonexistent/libunicorn-xrt.so"), "{e}");
    }
}
