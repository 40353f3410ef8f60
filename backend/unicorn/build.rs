//! Link settings for `libggml-unicorn.so`, and the kernel-argument structs.
//!
//! - It is loaded from llama.cpp's `build/bin`, next to `libggml-base.so`, so it finds that
//!   library through `$ORIGIN`. Test and bench executables find it through the absolute
//!   library folder ggml-sys reports.
//! - `kernels/hip/args.h` defines every op family's kernel arguments once; bindgen turns it
//!   into the Rust `Args` types of `ops` (see `ops/args.rs`), so the CPU reference, the GPU
//!   launcher and the GPU kernels share one layout.
use std::path::PathBuf;

fn main() {
    let libdir = std::env::var("DEP_GGML_BASE_LIBDIR").expect("ggml-sys exports its libdir");
    println!("cargo:rustc-cdylib-link-arg=-Wl,-rpath,$ORIGIN");
    // Unit-test and bench executables (the cdylib searches $ORIGIN first).
    println!("cargo:rustc-link-arg=-Wl,-rpath,{libdir}");

    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    ggml_version(&manifest);
    let header = manifest.join("../../kernels/hip/args.h");
    println!("cargo:rerun-if-changed={}", header.display());
    let bindings = bindgen::Builder::default()
        .header(header.to_string_lossy())
        .allowlist_type("ucn_.*")
        .allowlist_var("UCN_.*")
        .prepend_enum_name(false)
        .default_enum_style(bindgen::EnumVariation::Consts)
        .derive_default(true)
        .derive_debug(true)
        .derive_partialeq(true)
        .layout_tests(true)
        .generate()
        .expect("bindgen failed on kernels/hip/args.h");
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    bindings.write_to_file(out.join("args.rs")).expect("writing args.rs");
}

/// `UNICORN_GGML_VERSION`: the ggml version (`GGML_VERSION_{MAJOR,MINOR,PATCH}` of
/// ggml/CMakeLists.txt) of the tree the bindings come from (the tree ggml-sys reads), which
/// `ggml_backend_init` compares with the running `ggml_version()` (ffi/mod.rs).
fn ggml_version(manifest: &std::path::Path) {
    let llama = std::env::var_os("UNICORN_LLAMA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest.join("../../vendor/llama.cpp"));
    let cmake = llama.join("ggml/CMakeLists.txt");
    println!("cargo:rerun-if-changed={}", cmake.display());
    let text = std::fs::read_to_string(&cmake).unwrap_or_default();
    let part = |name: &str| {
        text.lines()
            .find_map(|l| l.trim().strip_prefix(&format!("set({name} ")).map(|r| r.trim_end_matches(')').trim().to_string()))
            .unwrap_or_else(|| "?".into())
    };
    let v = format!("{}.{}.{}", part("GGML_VERSION_MAJOR"), part("GGML_VERSION_MINOR"), part("GGML_VERSION_PATCH"));
    println!("cargo:rustc-env=UNICORN_GGML_VERSION={v}");
}
