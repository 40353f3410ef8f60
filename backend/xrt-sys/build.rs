//! Builds `libunicorn-xrt.so`, the C++ shim over XRT (`shim/ucn_xrt.cpp`), when XRT >= 2.17
//! headers are present (`XRT_ROOT`, else /opt/xilinx/xrt, else /usr). The shim is a separate
//! shared library that the plugin opens at run time, so nothing here links the crate itself
//! against XRT: without XRT the crate still builds, and `built_shim()` is None.
use std::path::{Path, PathBuf};

fn xrt_version(include: &Path) -> Option<(u32, u32)> {
    let text = std::fs::read_to_string(include.join("xrt/detail/version-slim.h")).ok()?;
    let line = text.lines().find(|l| l.contains("define XRT_VERSION_CODE"))?;
    let args = line.split("XRT_VERSION(").nth(1)?.split(')').next()?;
    let mut it = args.split(',').map(|s| s.trim().parse::<u32>());
    Some((it.next()?.ok()?, it.next()?.ok()?))
}

fn main() {
    println!("cargo:rerun-if-changed=shim/ucn_xrt.cpp");
    println!("cargo:rerun-if-changed=include/ucn_xrt.h");
    println!("cargo:rerun-if-env-changed=XRT_ROOT");
    // `ucn_no_shim`: no shim was built; the test that loads it is then reported as ignored.
    println!("cargo::rustc-check-cfg=cfg(ucn_no_shim)");
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    let roots: Vec<PathBuf> = match std::env::var("XRT_ROOT") {
        Ok(r) if !r.is_empty() => vec![PathBuf::from(r)],
        _ => vec![PathBuf::from("/opt/xilinx/xrt"), PathBuf::from("/usr")],
    };
    let Some(root) = roots.iter().find(|r| r.join("include/xrt/xrt_hw_context.h").exists()) else {
        println!("cargo:rustc-env=UCN_XRT_SHIM=");
        println!("cargo:rustc-cfg=ucn_no_shim");
        return;
    };
    let include = root.join("include");
    match xrt_version(&include) {
        Some(v) if v >= (2, 17) => {}
        v => {
            println!("cargo:warning=XRT headers in {} are {v:?}, older than 2.17 (no hw_context): libunicorn-xrt.so not built", root.display());
            println!("cargo:rustc-env=UCN_XRT_SHIM=");
            println!("cargo:rustc-cfg=ucn_no_shim");
            return;
        }
    }
    let mut build = cc::Build::new();
    build
        .cpp(true)
        .std("c++17")
        .pic(true)
        .opt_level(2)
        .include("include")
        .include(&include)
        .file("shim/ucn_xrt.cpp")
        .warnings(true);
    let objects = build.compile_intermediates();
    let lib = out.join("libunicorn-xrt.so");
    let libdir = [root.join("lib"), root.join("lib/x86_64-linux-gnu"), root.join("lib64")]
        .into_iter()
        .find(|d| d.join("libxrt_coreutil.so").exists())
        .unwrap_or_else(|| root.join("lib"));
    let status = build
        .get_compiler()
        .to_command()
        .arg("-shared")
        .arg("-Wl,-soname,libunicorn-xrt.so")
        .arg("-o")
        .arg(&lib)
        .args(&objects)
        .arg(format!("-L{}", libdir.display()))
        .arg(format!("-Wl,-rpath,{}", libdir.display()))
        .arg("-lxrt_coreutil")
        .arg("-Wl,--no-undefined")
        .status()
        .expect("running the C++ compiler to link libunicorn-xrt.so");
    assert!(status.success(), "linking libunicorn-xrt.so against {} failed", libdir.display());
    println!("cargo:rustc-env=UCN_XRT_SHIM={}", lib.display());
}
