//! Generates bindings from exactly the ggml headers of the fetched llama.cpp tree and links
//! against the `libggml-base` built from that same tree.
//!
//! Where things are found (set by `scripts/setup-llama.sh`):
//! - headers: `$UNICORN_LLAMA_DIR` or `<workspace>/vendor/llama.cpp`
//! - libraries: `$UNICORN_LLAMA_LIB_DIR` or `<workspace>/build/bin`
use std::env;
use std::path::PathBuf;

fn main() {
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let workspace = manifest.join("../..");
    let llama = env::var_os("UNICORN_LLAMA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace.join("vendor/llama.cpp"));
    let lib_dir = env::var_os("UNICORN_LLAMA_LIB_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace.join("build/bin"));
    let include = llama.join("ggml/include");
    let src = llama.join("ggml/src");
    if !include.join("ggml-backend.h").exists() || !src.join("ggml-backend-impl.h").exists() {
        panic!(
            "ggml headers not found under {}: run scripts/setup-llama.sh first (it fetches the \
             pinned llama.cpp into vendor/llama.cpp), or set UNICORN_LLAMA_DIR",
            llama.display()
        );
    }
    for h in ["ggml.h", "ggml-backend.h", "gguf.h"] {
        println!("cargo:rerun-if-changed={}", include.join(h).display());
    }
    println!("cargo:rerun-if-changed={}", src.join("ggml-backend-impl.h").display());
    println!("cargo:rerun-if-changed=wrapper.h");
    println!("cargo:rerun-if-changed=graph.c");
    println!("cargo:rerun-if-changed={}", src.join("ggml-impl.h").display());
    println!("cargo:rerun-if-env-changed=UNICORN_LLAMA_DIR");
    println!("cargo:rerun-if-env-changed=UNICORN_LLAMA_LIB_DIR");

    let bindings = bindgen::Builder::default()
        .header(manifest.join("wrapper.h").to_string_lossy())
        .clang_arg(format!("-I{}", include.display()))
        .clang_arg(format!("-I{}", src.display()))
        .clang_arg("-DGGML_BACKEND_DL")
        .allowlist_function("ggml_.*")
        .allowlist_function("gguf_.*")
        .allowlist_type("ggml_.*")
        .allowlist_type("gguf_.*")
        .allowlist_var("GGML_.*")
        .default_enum_style(bindgen::EnumVariation::Rust { non_exhaustive: false })
        // ggml passes these enums across the ABI in both directions; a Rust enum with a
        // value it does not know is UB, so keep the ones we receive as plain integers.
        .constified_enum_module("ggml_op")
        .constified_enum_module("ggml_type")
        .constified_enum_module("ggml_unary_op")
        .constified_enum_module("ggml_glu_op")
        .constified_enum_module("ggml_status")
        .constified_enum_module("ggml_backend_dev_type")
        .constified_enum_module("ggml_backend_buffer_usage")
        .constified_enum_module("ggml_log_level")
        .constified_enum_module("ggml_prec")
        .derive_default(true)
        .layout_tests(true)
        .generate()
        .expect("bindgen failed on the ggml headers");
    let out = PathBuf::from(env::var("OUT_DIR").unwrap());
    bindings.write_to_file(out.join("bindings.rs")).expect("writing bindings");

    // graph.c: the two fields of ggml_cgraph a backend needs (see the file).
    cc::Build::new()
        .file(manifest.join("graph.c"))
        .include(&include)
        .include(&src)
        .warnings(false)
        .compile("ucn_ggml_graph");

    if !lib_dir.join("libggml-base.so").exists() {
        panic!(
            "libggml-base.so not found in {}: run scripts/setup-llama.sh first, or set \
             UNICORN_LLAMA_LIB_DIR",
            lib_dir.display()
        );
    }
    let lib_dir = lib_dir.canonicalize().unwrap();
    println!("cargo:rustc-link-search=native={}", lib_dir.display());
    println!("cargo:rustc-link-lib=dylib=ggml-base");
    // Exported to dependants as DEP_GGML_BASE_LIBDIR.
    println!("cargo:libdir={}", lib_dir.display());
}
