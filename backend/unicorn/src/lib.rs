//! Unicorn: a ggml backend for AMD Phoenix APUs (Ryzen 7040/8040).
//!
//! llama.cpp loads `libggml-unicorn.so` as a dynamic backend. It registers the backend
//! `Unicorn` with two devices:
//!
//! | device          | ggml type | runs                                   | engine            |
//! |-----------------|-----------|----------------------------------------|-------------------|
//! | `UNICORN_NPU0`  | ACCEL     | FLASH_ATTN_EXT                         | XRT (NPU) / ref   |
//! | `UNICORN_IGPU0` | IGPU      | MUL_MAT, norms, RoPE, GLU, KV writes.. | HIP (iGPU) / ref  |
//!
//! Both share one host-memory buffer type (`UNICORN_HOST`), so tensors cross between them
//! without copies. Without hardware, `UNICORN_EMULATE=1` runs both on the CPU reference
//! engines, which are also the numerical oracle for the hardware engines.
//!
//! Layers, top to bottom: `ffi` (the C ABI edge, the only `extern "C"` code) → `registry`,
//! `device`, `backend`, `buffer` (safe state; `placement` decides which device claims which
//! node) → `engine` (the seam to the hardware) →
//! `ops` (one file per ggml op family) and `quants` (block formats).
pub mod backend;
pub mod buffer;
pub mod device;
pub mod engine;
pub mod env;
pub(crate) mod ffi;
pub mod gguf;
pub mod gpu;
pub mod log;
pub mod ops;
pub mod placement;
pub mod plan;
pub mod probe;
pub mod quants;
pub mod registry;
pub mod stats;
pub mod tensor;
pub mod trace;
