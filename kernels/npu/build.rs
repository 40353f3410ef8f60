//! Builds the AIE kernels of `kernels/npu` for the host: the same C++ source Peano compiles for
//! the NPU cores, against `aie_host/aie_api/aie.hpp` (our implementation of the AIE API subset
//! the kernels use) instead of AMD's header. One library per head-dimension variant.
use std::path::{Path, PathBuf};

fn base(dir: &Path) -> cc::Build {
    let mut b = cc::Build::new();
    b.cpp(true)
        .std("c++17")
        .opt_level(2)
        .include(dir.join("aie_host"))
        .include(dir.join("flash_attn_ext"))
        .include(dir.join("host"))
        // aie.hpp's contract: every f32 multiply and add rounds on its own. No contraction
        // into fused multiply-adds (the plugin is built for x86-64-v3, which has FMA).
        .flag("-ffp-contract=off")
        .flag("-fno-fast-math")
        .warnings(true)
        .extra_warnings(true);
    b
}

fn main() {
    let dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    for f in [
        "flash_attn_ext/flash_attn_ext.cc",
        "flash_attn_ext/fa_layout.h",
        "aie_host/aie_api/aie.hpp",
        "host/fa_host.h",
        "host/fa_variant.cc",
        "host/glue.cc",
    ] {
        println!("cargo:rerun-if-changed={}", dir.join(f).display());
    }
    base(&dir).file(dir.join("host/glue.cc")).compile("unicorn_npu_glue");
    for d in [64, 128, 256] {
        base(&dir)
            .define("FA_D", d.to_string().as_str())
            .file(dir.join("host/fa_variant.cc"))
            .compile(&format!("unicorn_npu_fa_d{d}"));
    }
}
