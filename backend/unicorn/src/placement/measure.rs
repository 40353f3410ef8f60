//! Attention timed on an engine: the measurement behind `auto`'s verdict, and the NPU
//! calibration the validation script writes for the cost model.
use std::sync::Arc;
use std::time::Instant;

use super::cost::CostModel;
use super::store::word;
use super::{Shape, PREFILL_ROWS};
use crate::buffer::Memory;
use crate::engine::Engine;
use crate::ops::Kernel;
use crate::tensor::Tensor;
use ggml_sys as sys;

/// Microseconds of one FLASH_ATTN_EXT node of `n_q` query rows at `s` on `engine` (best of a
/// few runs after a warm-up); `Ok(None)` when the engine has no kernel for it. The tensors lie
/// in host memory allocated through `gpu` when given (the APU's shared memory, which both
/// devices read).
pub fn time_attention(engine: &dyn Engine, gpu: Option<&Arc<crate::gpu::Gpu>>, s: &Shape, n_q: usize) -> Result<Option<f64>, String> {
    let kv = match s.kv_type {
        "f16" => sys::ggml_type::GGML_TYPE_F16,
        "f32" => sys::ggml_type::GGML_TYPE_F32,
        _ => sys::ggml_type::GGML_TYPE_BF16,
    };
    // SAFETY: ggml_tensor_overhead is a pure function.
    let overhead = unsafe { sys::ggml_tensor_overhead() };
    let params = sys::ggml_init_params { mem_size: 8 * overhead, mem_buffer: std::ptr::null_mut(), no_alloc: true };
    // SAFETY: a context holding tensor headers only (no_alloc); freed below.
    let ctx = unsafe { sys::ggml_init(params) };
    if ctx.is_null() {
        return Err("ggml_init failed".into());
    }
    let (d, nq, h, hk, nkv) = (s.d as i64, n_q as i64, s.heads as i64, s.kv_heads as i64, s.n_kv as i64);
    // SAFETY: tensors of a live context; shapes are those of a valid FLASH_ATTN_EXT (q F32
    // [D, n_q, H], k/v [D, n_kv, H_kv], mask F16 [n_kv, n_q]).
    let (node, srcs) = unsafe {
        let q = sys::ggml_new_tensor_4d(ctx, sys::ggml_type::GGML_TYPE_F32, d, nq, h, 1);
        let k = sys::ggml_new_tensor_4d(ctx, kv, d, nkv, hk, 1);
        let v = sys::ggml_new_tensor_4d(ctx, kv, d, nkv, hk, 1);
        let m = sys::ggml_new_tensor_4d(ctx, sys::ggml_type::GGML_TYPE_F16, nkv, nq, 1, 1);
        let node = sys::ggml_flash_attn_ext(ctx, q, k, v, m, 1.0 / (s.d as f32).sqrt(), 0.0, 0.0);
        (node, [q, k, v, m, node])
    };
    let result = (|| {
        // SAFETY: live tensors of `ctx`.
        let sizes: Vec<usize> = srcs.iter().map(|&t| unsafe { sys::ggml_nbytes(t) }.next_multiple_of(256)).collect();
        let mem = Memory::host(sizes.iter().sum(), gpu)?; // zero-filled: zero Q, K, V; mask all visible
        let mut at = mem.base();
        for (&t, size) in srcs.iter().zip(&sizes) {
            // SAFETY: `at` stays inside `mem` (the sizes add up to its length); the tensor is
            // a header of `ctx`, which nothing else uses.
            unsafe {
                (*t).data = at as *mut std::ffi::c_void;
                at = at.add(*size);
            }
        }
        // SAFETY: the node and its sources are live headers whose data lie in `mem`, which
        // outlives this closure's use of them; nothing else touches them.
        let t = unsafe { Tensor::from_raw(node) }.ok_or("no node")?;
        let Some(kernel) = engine.select(&t).filter(|k| matches!(k, Kernel::FlashAttnExt(_))) else { return Ok(None) };
        let run = || -> Result<f64, String> {
            let t0 = Instant::now();
            engine.compute(&kernel, &t).map_err(|e| e.to_string())?;
            engine.synchronize().map_err(|e| e.to_string())?;
            Ok(t0.elapsed().as_secs_f64() * 1e6)
        };
        run()?; // warm-up: first-use costs (code load, buffer import) are not the steady state
        let (mut best, started) = (f64::INFINITY, Instant::now());
        for _ in 0..5 {
            best = best.min(run()?);
            if started.elapsed().as_millis() > 50 {
                break;
            }
        }
        drop(mem);
        Ok(Some(best))
    })();
    // SAFETY: frees the context created above; no tensor of it is used afterwards.
    unsafe { sys::ggml_free(ctx) };
    result
}

/// The NPU figures the cost model needs, measured on `npu` (the validation script writes them
/// to the placement file's `npu-calibration` line): one command's latency (a node of one row
/// against one key block: no work to speak of), the K+mask stream rate of one column (a decode
/// node over 4096 keys, which the model says is DMA-bound), and the cycles per tile (a 512-row
/// prefill node, compute-bound for the kernel as written), over `n_kv` keys (4096 on the NPU).
/// Each is read through the model's own formula, so the model given these figures reproduces
/// the three timings.
pub fn calibrate(npu: &dyn Engine, gpu: Option<&Arc<crate::gpu::Gpu>>, n_kv: usize) -> Result<String, String> {
    let m = CostModel::default();
    let time = |s: &Shape, n_q: usize| -> Result<f64, String> {
        time_attention(npu, gpu, s, n_q)?.ok_or_else(|| format!("the NPU engine has no kernel for D={} heads={}/{} n_kv={} rows={n_q}", s.d, s.heads, s.kv_heads, s.n_kv))
    };
    let small = Shape { d: 256, heads: 1, kv_heads: 1, kv_type: "bf16", n_kv: CostModel::BLOCK };
    let command_us = time(&small, 1)?;
    let big = Shape { d: 256, heads: 8, kv_heads: 2, kv_type: "bf16", n_kv };
    let blocks = |s: &Shape, n_q: usize| {
        let rows = n_q * (s.heads / s.kv_heads);
        (s.kv_heads * rows.div_ceil(CostModel::GROUP_ROWS) * s.n_kv.div_ceil(CostModel::BLOCK).div_ceil(CostModel::COLS)) as f64
    };
    let cycles = |us: f64, s: &Shape, n_q: usize| ((us - command_us).max(0.0) * m.clock_ghz * 1e3 / blocks(s, n_q)).max(1.0);
    let decode_cycles = cycles(time(&big, 1)?, &big, 1);
    let dma_bytes = (CostModel::BLOCK * big.d * 2 + CostModel::GROUP_ROWS * CostModel::BLOCK * 2) as f64;
    let dma_gbs = dma_bytes / decode_cycles * m.clock_ghz;
    let cycles_per_tile = cycles(time(&big, PREFILL_ROWS)?, &big, PREFILL_ROWS);
    Ok(format!(
        "npu-calibration command_us={command_us:.1} dma_gbs={dma_gbs:.3} cycles_per_tile={cycles_per_tile:.0} source=measured engine={}",
        word(npu.name())
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use super::super::store::calibrated;

    /// The calibration runs end to end (on the CPU reference engine here: its figures describe
    /// the CPU, not an NPU) and writes a line the cost model reads back.
    #[test]
    fn calibration_line_reads_back() {
        let e = crate::engine::reference::ReferenceEngine::new().unwrap();
        let line = calibrate(&e, None, 256).unwrap();
        assert!(line.starts_with("npu-calibration ") && line.contains("engine=CPU_reference"), "{line}");
        let (m, any) = calibrated(&line);
        assert!(any, "{line}");
        assert!(m.command_us > 0.0 && m.dma_gbs > 0.0 && m.cycles_per_tile >= 1.0, "{m:?}");
    }
}
