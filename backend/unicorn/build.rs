//! Link settings for `libggml-unicorn.so`: it is loaded from llama.cpp's `build/bin`, next to
//! `libggml-base.so`, so it finds that library through `$ORIGIN`. Test and bench executables
//! find it through the absolute library folder ggml-sys reports.
fn main() {
    let libdir = std::env::var("DEP_GGML_BASE_LIBDIR").expect("ggml-sys exports its libdir");
    println!("cargo:rustc-cdylib-link-arg=-Wl,-rpath,$ORIGIN");
    // Unit-test and bench executables (the cdylib searches $ORIGIN first).
    println!("cargo:rustc-link-arg=-Wl,-rpath,{libdir}");
}
