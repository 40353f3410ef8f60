//! Looks for the Phoenix hardware: the XDNA NPU (amdxdna driver) and a gfx1103 GPU agent.
//!
//! The one implementation of the probe: the scripts ask the plugin ([`report`], exported as
//! `unicorn_probe_report`, printed by `scripts/common.sh`'s `hardware_probe`) rather than
//! re-implementing it.
use std::fs;
use std::path::Path;

#[derive(Debug, Default)]
pub struct Hardware {
    pub npu: Option<String>,
    pub igpu: Option<String>,
}

pub fn probe() -> Hardware {
    let mut hw = Hardware::default();
    if let Ok(entries) = fs::read_dir("/sys/class/accel") {
        for e in entries.flatten() {
            let driver = fs::read_link(e.path().join("device/driver")).ok();
            if driver.as_deref().and_then(Path::file_name).is_some_and(|d| d == "amdxdna") {
                hw.npu = Some(format!("/dev/accel/{}", e.file_name().to_string_lossy()));
            }
        }
    }
    if let Ok(nodes) = fs::read_dir("/sys/class/kfd/kfd/topology/nodes") {
        for n in nodes.flatten() {
            let props = fs::read_to_string(n.path().join("properties")).unwrap_or_default();
            if props.lines().any(|l| l.trim() == "gfx_target_version 110003") {
                hw.igpu = Some(format!("kfd node {}", n.file_name().to_string_lossy()));
            }
        }
    }
    hw
}

/// The probe as `key=value` lines, for the scripts:
/// `npu=` the NPU's device node or `none`; `igpu=` the gfx1103 agent or `none`; `gfx=` every GPU
/// agent's target, comma-separated; `gfx11=` the first RDNA3 (gfx11xx) target or `none` (what
/// the scripts build the code object for); `phoenix=yes|no` (an NPU or a gfx1103 agent).
/// `UNICORN_PROBE_OVERRIDE=phoenix` (tests) reports a Phoenix APU and says `override=phoenix`;
/// it changes only this report, never which engines the plugin opens.
pub fn report() -> String {
    let (hw, gfx, overridden) = match crate::env::text("UNICORN_PROBE_OVERRIDE").as_deref().map(str::trim) {
        Some("phoenix") => (
            Hardware { npu: Some("/dev/accel/accel0".into()), igpu: Some("kfd node 1".into()) },
            vec!["gfx1103".to_string()],
            Some("phoenix"),
        ),
        Some(other) => {
            crate::log::log_warn!("UNICORN_PROBE_OVERRIDE={other:?}: only `phoenix` is known; the real probe is reported");
            (probe(), gfx_targets(), None)
        }
        None => (probe(), gfx_targets(), None),
    };
    let gfx11 = gfx.iter().find(|g| g.starts_with("gfx11")).cloned();
    let mut out = format!(
        "npu={}\nigpu={}\ngfx={}\ngfx11={}\nphoenix={}\n",
        hw.npu.as_deref().unwrap_or("none"),
        hw.igpu.as_deref().unwrap_or("none").replace(' ', "_"),
        if gfx.is_empty() { "none".to_string() } else { gfx.join(",") },
        gfx11.as_deref().unwrap_or("none"),
        if hw.npu.is_some() || hw.igpu.is_some() { "yes" } else { "no" },
    );
    if let Some(o) = overridden {
        out.push_str(&format!("override={o}\n"));
    }
    out
}

/// The gfx targets of the GPU agents the kernel driver reports (e.g. `gfx1103`).
pub fn gfx_targets() -> Vec<String> {
    let mut out = vec![];
    if let Ok(nodes) = fs::read_dir("/sys/class/kfd/kfd/topology/nodes") {
        for n in nodes.flatten() {
            let props = fs::read_to_string(n.path().join("properties")).unwrap_or_default();
            let v = props.lines().find_map(|l| l.trim().strip_prefix("gfx_target_version ")).and_then(|v| v.trim().parse::<u32>().ok());
            if let Some(name) = v.and_then(gfx_name) {
                out.push(name);
            }
        }
    }
    out
}

/// The gfx name of a KFD `gfx_target_version` (major * 10000 + minor * 100 + stepping):
/// 110003 is gfx1103, 90010 is gfx90a. 0 (a CPU node) has none.
fn gfx_name(v: u32) -> Option<String> {
    (v > 0).then(|| format!("gfx{}{}{:x}", v / 10000, (v / 100) % 100, v % 100))
}

/// The folder `libggml-unicorn.so` was loaded from (its kernel files lie beside it).
pub fn plugin_dir() -> Option<std::path::PathBuf> {
    // SAFETY: Dl_info is a plain C struct of pointers; all-zero is a valid value.
    let mut info: libc::Dl_info = unsafe { std::mem::zeroed() };
    // SAFETY: dladdr only reads the address (of a function of this library) and fills `info`,
    // a live local.
    let found = unsafe { libc::dladdr(plugin_dir as *const libc::c_void, &mut info) } != 0;
    if !found || info.dli_fname.is_null() {
        return None;
    }
    // SAFETY: dli_fname is a NUL-terminated path owned by the dynamic loader.
    let path = unsafe { std::ffi::CStr::from_ptr(info.dli_fname) }.to_string_lossy().into_owned();
    Path::new(&path).canonicalize().ok()?.parent().map(Path::to_path_buf)
}

/// (available, total) host memory in bytes, from /proc/meminfo.
pub fn host_memory() -> (usize, usize) {
    let text = fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let field = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<usize>().ok())
            .map_or(0, |kb| kb * 1024)
    };
    (field("MemAvailable:"), field("MemTotal:"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn report_has_every_key() {
        let r = super::report();
        for key in ["npu=", "igpu=", "gfx=", "gfx11=", "phoenix="] {
            assert_eq!(r.lines().filter(|l| l.starts_with(key)).count(), 1, "{key} in {r}");
        }
        let phoenix = r.lines().any(|l| l == "phoenix=yes");
        let found = r.lines().any(|l| l.starts_with("npu=/dev/accel/")) || !r.lines().any(|l| l == "igpu=none");
        assert_eq!(phoenix, found, "{r}");
    }

    #[test]
    fn gfx_names() {
        assert_eq!(super::gfx_name(110003).as_deref(), Some("gfx1103"));
        assert_eq!(super::gfx_name(90010).as_deref(), Some("gfx90a"));
        assert_eq!(super::gfx_name(0), None);
    }
}
