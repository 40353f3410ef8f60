//! Placement: which Unicorn device claims which node, decided in this one module.
//!
//! - Every kernel but FLASH_ATTN_EXT belongs to the iGPU ([`Placement::claims`]); the two
//!   devices' op sets stay disjoint, so llama.cpp's scheduler never moves ops between them.
//! - FLASH_ATTN_EXT goes to exactly one device, per node: [`Attention`] says how that is
//!   decided (`UNICORN_ATTN=npu|igpu|auto`, and the default when unset).
//! - `auto` decides per phase ([`Phase`]: decode or prefill, read from the node's shape) by a
//!   verdict ([`Verdict`]), obtained once per attention shape, in this order:
//!   1. injected timings (`UNICORN_PLACEMENT_TIMINGS`, for tests);
//!   2. the verdict stored for this machine's devices and this shape in the placement file
//!      (`$UNICORN_CACHE/placement.txt`);
//!   3. a measurement: attention timed on the NPU and on the iGPU at the node's shape, decode
//!      and prefill (when both devices run on hardware, or `UNICORN_PLACEMENT_MEASURE=1`),
//!      stored in the placement file;
//!   4. the cost model ([`CostModel`], `docs/npu-cost-model.md`), with the NPU figures the
//!      validation script measured (`scripts/phoenix-validate.sh`: the file's
//!      `npu-calibration` line) where present.
//!   A node the NPU engine cannot run (no kernel for its shape) goes to the iGPU under `auto`.
//! - How the devices run is decided once, here too ([`Emulation`]): the hardware engine where
//!   found, else the CPU emulation when `UNICORN_EMULATE=1`, on the NPU emulation path
//!   `UNICORN_NPU_EMULATION` names; the registry passes the decision to the engines.
//!
//! `engine/` and `ops/` know nothing of this module; it reads them (`Engine::select` and
//! `compute` for the measurement, the attention kernel's arguments for the phase).
//! `docs/placement.md` describes it for users.
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::buffer::Memory;
use crate::engine::npu::Emulation as NpuEmulation;
use crate::engine::{Engine, Role};
use crate::log::{log_info, log_warn};
use crate::ops::{flash_attn_ext::Args, Kernel};
use crate::tensor::Tensor;
use ggml_sys as sys;

// ---- how the devices run --------------------------------------------------------------------

/// How the devices run, decided once when the registry starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Emulation {
    /// `UNICORN_EMULATE=1`: a device whose hardware engine is missing runs on the CPU.
    pub allowed: bool,
    /// Which emulation path the NPU takes (`UNICORN_NPU_EMULATION`); an unknown name is an
    /// error (the emulated NPU is then not registered, and the log says why).
    pub npu: Result<NpuEmulation, String>,
}

impl Emulation {
    pub fn from_env() -> Emulation {
        let allowed = crate::env::switch("UNICORN_EMULATE", false);
        let npu = match crate::env::text("UNICORN_NPU_EMULATION").unwrap_or_default().trim() {
            "" | "reference" => Ok(NpuEmulation::Reference),
            "aie-host" => Ok(NpuEmulation::AieHost),
            other => Err(format!("UNICORN_NPU_EMULATION={other:?}: expected reference or aie-host")),
        };
        Emulation { allowed, npu }
    }
}

// ---- attention ------------------------------------------------------------------------------

/// Which device runs FLASH_ATTN_EXT. Exactly one device claims each attention node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Attention {
    /// Every attention node on the NPU (`UNICORN_ATTN=npu`; the default when the NPU is
    /// emulated, so the emulation shows the whole design's path).
    Npu,
    /// Every attention node on the iGPU (`UNICORN_ATTN=igpu`; the only choice without an NPU).
    Igpu,
    /// Per phase, by the measured or modelled verdict: the default when the NPU runs on its
    /// hardware engine.
    Auto,
}

impl Attention {
    /// `UNICORN_ATTN=npu|igpu|auto`, else the default; limited by the devices present (no
    /// NPU: the iGPU; no iGPU: the NPU).
    pub fn choose(have_npu: bool, npu_emulated: bool, have_igpu: bool) -> Attention {
        let default = if npu_emulated { Attention::Npu } else { Attention::Auto };
        let asked = match crate::env::choice("UNICORN_ATTN", &["npu", "igpu", "auto"]) {
            Some("igpu") => Attention::Igpu,
            Some("npu") => Attention::Npu,
            Some("auto") => Attention::Auto,
            _ => default,
        };
        if !have_npu {
            if asked == Attention::Npu && crate::env::text("UNICORN_ATTN").is_some() {
                log_warn!("UNICORN_ATTN=npu but there is no NPU device: attention runs on the iGPU");
            }
            return Attention::Igpu;
        }
        if !have_igpu {
            return Attention::Npu;
        }
        asked
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    Decode,
    Prefill,
}

/// A node with at most this many query rows per sequence is decode (one token per sequence,
/// or a few with speculative drafts).
pub const DECODE_MAX_Q: usize = 4;

/// The query rows a prefill measurement uses (llama.cpp's default micro-batch).
pub const PREFILL_ROWS: usize = 512;

impl Phase {
    pub fn of(a: &Args) -> Phase {
        if a.q.ne[1] <= DECODE_MAX_Q {
            Phase::Decode
        } else {
            Phase::Prefill
        }
    }
}

/// What identifies an attention workload for placement: the model's head layout and KV type.
/// (`n_kv`, the context, is that of the first node seen: llama.cpp reserves its graphs at the
/// full context first.)
#[derive(Clone, Debug, PartialEq)]
pub struct Shape {
    pub d: usize,
    pub heads: usize,
    pub kv_heads: usize,
    pub kv_type: &'static str,
    pub n_kv: usize,
}

impl Shape {
    pub fn of(a: &Args) -> Shape {
        Shape {
            d: a.k.ne[0],
            heads: a.q.ne[2],
            kv_heads: a.k.ne[2],
            kv_type: crate::tensor::type_name(a.kv_type),
            n_kv: a.k.ne[1],
        }
    }
    fn same_model(&self, o: &Shape) -> bool {
        self.d == o.d && self.heads == o.heads && self.kv_heads == o.kv_heads && self.kv_type == o.kv_type
    }
}

/// Microseconds of one attention node per phase, on each device (`None`: the device has no
/// kernel for that shape).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Timings {
    pub decode: [Option<f64>; 2],
    pub prefill: [Option<f64>; 2],
}

const NPU: usize = 0;
const IGPU: usize = 1;

/// Where each phase's attention runs, and why.
#[derive(Clone, Debug, PartialEq)]
pub struct Verdict {
    pub decode: Role,
    pub prefill: Role,
    pub source: String,
}

impl Verdict {
    /// The faster device per phase (the NPU only where it was timed and is strictly faster).
    pub fn from_timings(t: &Timings, source: &str) -> Verdict {
        let faster = |p: [Option<f64>; 2]| match (p[NPU], p[IGPU]) {
            (Some(n), Some(g)) if n < g => Role::Npu,
            (Some(_), None) => Role::Npu,
            _ => Role::Igpu,
        };
        Verdict { decode: faster(t.decode), prefill: faster(t.prefill), source: source.to_string() }
    }
    pub fn of(&self, p: Phase) -> Role {
        match p {
            Phase::Decode => self.decode,
            Phase::Prefill => self.prefill,
        }
    }
}

// ---- the cost model -------------------------------------------------------------------------

/// The cost model of `docs/npu-cost-model.md` (`scripts/npu-cost-model.py`, "as written"
/// kernel), reduced to the terms that decide placement. The NPU figures are the ones the
/// validation script measures and writes to the placement file's `npu-calibration` line.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CostModel {
    /// One XRT command, submit to completion (public Phoenix figures: 42..160 us; the middle).
    pub command_us: f64,
    /// One column's K+mask input stream, GB/s (one shim channel, 4 B/cycle at 1.6 GHz).
    pub dma_gbs: f64,
    /// Cycles of one core for one 16-row tile against one 16-key block at D = 256.
    pub cycles_per_tile: f64,
    pub clock_ghz: f64,
    /// The iGPU: K/V read rate, attention math rate and launch cost (assumptions of the doc).
    pub igpu_gbs: f64,
    pub igpu_tflops: f64,
    pub igpu_launch_us: f64,
}

impl Default for CostModel {
    fn default() -> Self {
        CostModel {
            command_us: 100.0,
            dma_gbs: 6.4,
            cycles_per_tile: 5120.0,
            clock_ghz: 1.6,
            igpu_gbs: 0.74 * 89.6,
            igpu_tflops: 0.25 * 16.6,
            igpu_launch_us: 10.0,
        }
    }
}

impl CostModel {
    pub const COLS: usize = 4;
    pub const GROUP_ROWS: usize = 64; // 4 cores x 16 packed query rows per column
    pub const BLOCK: usize = 16; // keys per block

    /// Modelled microseconds of one attention node of `n_q` query rows on the NPU.
    pub fn npu_us(&self, s: &Shape, n_q: usize) -> f64 {
        let g = (s.heads / s.kv_heads.max(1)).max(1);
        let rows = n_q * g;
        let groups = s.kv_heads * rows.div_ceil(Self::GROUP_ROWS);
        let per_col = s.n_kv.div_ceil(Self::BLOCK).div_ceil(Self::COLS);
        let tile_rows = rows.min(16).div_ceil(4) as f64 / 4.0;
        let tile = self.cycles_per_tile * (s.d as f64 / 256.0) * tile_rows;
        let dma_bytes = (Self::BLOCK * s.d * 2 + Self::GROUP_ROWS * Self::BLOCK * 2) as f64;
        let dma = dma_bytes / (self.dma_gbs / self.clock_ghz);
        self.command_us + (groups * per_col) as f64 * tile.max(dma) / (self.clock_ghz * 1e3)
    }

    /// Modelled microseconds of the same node on the iGPU.
    pub fn igpu_us(&self, s: &Shape, n_q: usize) -> f64 {
        let bytes = (2 * s.n_kv * s.d * s.kv_heads * 2) as f64;
        let flops = (4 * n_q * s.n_kv * s.d * s.heads) as f64;
        self.igpu_launch_us + (bytes / (self.igpu_gbs * 1e3)).max(flops / (self.igpu_tflops * 1e6))
    }

    pub fn timings(&self, s: &Shape) -> Timings {
        let t = |n_q| [Some(self.npu_us(s, n_q)), Some(self.igpu_us(s, n_q))];
        Timings { decode: t(1), prefill: t(PREFILL_ROWS) }
    }
}

// ---- the placement file ---------------------------------------------------------------------

/// `$UNICORN_CACHE/placement.txt`: one `attention` line per measured (devices, shape), and the
/// `npu-calibration` line the validation script writes. Lines of `key=value` words.
pub fn file_path() -> PathBuf {
    crate::env::cache_dir().join("placement.txt")
}

/// A device's engine name as one word (the file's key).
fn word(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join("_").replace('=', ":")
}

fn fields(line: &str) -> Vec<(&str, &str)> {
    line.split_whitespace().filter_map(|w| w.split_once('=')).collect()
}

fn us(v: Option<f64>) -> String {
    v.map_or("none".into(), |v| format!("{v:.1}"))
}

/// The `attention` line of a verdict from timings.
fn entry_line(npu: &str, igpu: &str, s: &Shape, t: &Timings, source: &str) -> String {
    format!(
        "attention d={} heads={} kv_heads={} kv={} n_kv={} decode_npu_us={} decode_igpu_us={} prefill_npu_us={} prefill_igpu_us={} source={} npu={} igpu={}",
        s.d, s.heads, s.kv_heads, s.kv_type, s.n_kv,
        us(t.decode[NPU]), us(t.decode[IGPU]), us(t.prefill[NPU]), us(t.prefill[IGPU]),
        word(source), word(npu), word(igpu)
    )
}

/// The timings stored for these devices and this model's shape, with their source.
fn find_entry(text: &str, npu: &str, igpu: &str, s: &Shape) -> Option<(Timings, String)> {
    let (npu, igpu) = (word(npu), word(igpu));
    text.lines().filter(|l| l.starts_with("attention ")).find_map(|l| {
        let f = fields(l);
        let get = |k: &str| f.iter().find(|(key, _)| *key == k).map(|(_, v)| *v);
        let num = |k: &str| get(k).and_then(|v| v.parse::<usize>().ok());
        let stored = Shape { d: num("d")?, heads: num("heads")?, kv_heads: num("kv_heads")?, kv_type: s.kv_type, n_kv: num("n_kv")? };
        let matches = get("kv") == Some(s.kv_type) && stored.same_model(s) && get("npu") == Some(npu.as_str()) && get("igpu") == Some(igpu.as_str());
        if !matches {
            return None;
        }
        let t = |k: &str| get(k).and_then(|v| v.parse::<f64>().ok());
        let timings = Timings { decode: [t("decode_npu_us"), t("decode_igpu_us")], prefill: [t("prefill_npu_us"), t("prefill_igpu_us")] };
        Some((timings, format!("{} (stored in {})", get("source").unwrap_or("measured"), file_path().display())))
    })
}

/// The cost model with the NPU figures of the file's `npu-calibration` line, if any.
fn calibrated(text: &str) -> (CostModel, bool) {
    let mut m = CostModel::default();
    let Some(line) = text.lines().find(|l| l.starts_with("npu-calibration ")) else { return (m, false) };
    let mut any = false;
    for (k, v) in fields(line) {
        let Ok(v) = v.parse::<f64>() else { continue };
        if !(v.is_finite() && v > 0.0) {
            continue;
        }
        match k {
            "command_us" => m.command_us = v,
            "dma_gbs" => m.dma_gbs = v,
            "cycles_per_tile" => m.cycles_per_tile = v,
            _ => continue,
        }
        any = true;
    }
    (m, any)
}

fn append_line(path: &Path, line: &str) -> Result<(), String> {
    use std::io::Write;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let mut f = std::fs::OpenOptions::new().create(true).append(true).open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    writeln!(f, "{line}").map_err(|e| format!("{}: {e}", path.display()))
}

/// `UNICORN_PLACEMENT_TIMINGS=decode=NPU_US/IGPU_US,prefill=NPU_US/IGPU_US` (tests).
fn injected() -> Option<Timings> {
    let v = crate::env::text("UNICORN_PLACEMENT_TIMINGS")?;
    let parsed = parse_injected(&v);
    if parsed.is_none() {
        log_warn!("UNICORN_PLACEMENT_TIMINGS={v:?} is not decode=NPU_US/IGPU_US,prefill=NPU_US/IGPU_US; ignored");
    }
    parsed
}

fn parse_injected(v: &str) -> Option<Timings> {
    let mut t = Timings { decode: [None; 2], prefill: [None; 2] };
    let mut seen = (false, false);
    for part in v.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (phase, pair) = part.split_once('=')?;
        let (n, g) = pair.split_once('/')?;
        let pair = [Some(n.trim().parse::<f64>().ok()?), Some(g.trim().parse::<f64>().ok()?)];
        match phase.trim() {
            "decode" => (t.decode, seen.0) = (pair, true),
            "prefill" => (t.prefill, seen.1) = (pair, true),
            _ => return None,
        }
    }
    (seen.0 && seen.1).then_some(t)
}

// ---- the measurement ------------------------------------------------------------------------

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

// ---- the placement --------------------------------------------------------------------------

/// The placement of a registered pair of devices, shared by both.
pub struct Placement {
    pub attention: Attention,
    npu: Option<Arc<dyn Engine>>,
    igpu: Option<Arc<dyn Engine>>,
    /// `auto`'s verdicts, one per model shape seen.
    verdicts: Mutex<Vec<(Shape, Verdict)>>,
}

impl Placement {
    pub fn new(attention: Attention, npu: Option<Arc<dyn Engine>>, igpu: Option<Arc<dyn Engine>>) -> Placement {
        Placement { attention, npu, igpu, verdicts: Mutex::new(vec![]) }
    }

    /// Does the device of `role` claim `kernel` (selected for `node` by its engine)? Attention on
    /// the device [`Attention`] names for this node, every other kernel on the iGPU.
    pub fn claims(&self, role: Role, kernel: &Kernel, node: &Tensor) -> bool {
        match kernel {
            Kernel::FlashAttnExt(a) => self.attention_on(a, node) == role,
            _ => role == Role::Igpu,
        }
    }

    /// The device that runs this attention node.
    pub fn attention_on(&self, a: &Args, node: &Tensor) -> Role {
        match self.attention {
            Attention::Npu => Role::Npu,
            Attention::Igpu => Role::Igpu,
            Attention::Auto => {
                let wanted = self.verdict(&Shape::of(a)).of(Phase::of(a));
                // A node the NPU has no kernel for runs on the iGPU rather than the CPU.
                let npu_can = self.npu.as_ref().is_some_and(|e| e.select(node).is_some());
                if wanted == Role::Npu && npu_can {
                    Role::Npu
                } else {
                    Role::Igpu
                }
            }
        }
    }

    /// `auto`'s verdict for this model shape: decided on first sight (see the module doc) and
    /// logged once.
    pub fn verdict(&self, s: &Shape) -> Verdict {
        let mut known = match self.verdicts.lock() {
            Ok(k) => k,
            Err(p) => p.into_inner(),
        };
        if let Some((_, v)) = known.iter().find(|(k, _)| k.same_model(s)) {
            return v.clone();
        }
        let v = self.decide(s);
        log_verdict(s, &v);
        known.push((s.clone(), v.clone()));
        v
    }

    /// Logs every `auto` verdict decided so far (the line `verdict` logs when it decides).
    pub fn report(&self) {
        let known = match self.verdicts.lock() {
            Ok(k) => k.clone(),
            Err(p) => p.into_inner().clone(),
        };
        for (s, v) in &known {
            log_verdict(s, v);
        }
    }

    fn names(&self) -> (String, String) {
        let name = |e: &Option<Arc<dyn Engine>>| e.as_ref().map_or("none".to_string(), |e| e.name().to_string());
        (name(&self.npu), name(&self.igpu))
    }

    fn decide(&self, s: &Shape) -> Verdict {
        self.decide_with(s, &file_path(), injected(), crate::env::switch("UNICORN_PLACEMENT_MEASURE", false))
    }

    /// The verdict from, in order: `injected` timings, the entry stored in the file at `path`,
    /// a measurement (hardware on both sides, or `measure_emulated`), the cost model.
    fn decide_with(&self, s: &Shape, path: &Path, injected: Option<Timings>, measure_emulated: bool) -> Verdict {
        let (npu, igpu) = self.names();
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let store = |t: &Timings, source: &str| {
            if let Err(e) = append_line(path, &entry_line(&npu, &igpu, s, t, source)) {
                log_warn!("placement: cannot store the verdict ({e}); it is measured again next time");
            }
        };
        if let Some(t) = injected {
            store(&t, "injected");
            return Verdict::from_timings(&t, "timings injected by UNICORN_PLACEMENT_TIMINGS");
        }
        if let Some((t, source)) = find_entry(&text, &npu, &igpu, s) {
            return Verdict::from_timings(&t, &source);
        }
        let hardware = [&self.npu, &self.igpu].iter().all(|e| e.as_ref().is_some_and(|e| !e.emulated()));
        if hardware || measure_emulated {
            match self.measure(s) {
                Ok(t) => {
                    let source = if hardware { "measured" } else { "measured-on-emulated-devices" };
                    store(&t, source);
                    return Verdict::from_timings(&t, &format!("{source}, stored in {}", path.display()));
                }
                Err(e) => log_warn!("placement: measuring attention failed ({e}); the cost model decides"),
            }
        }
        let (model, calibrated) = calibrated(&text);
        let source = if calibrated { format!("cost model, NPU calibrated from {}", path.display()) } else { "cost model".into() };
        Verdict::from_timings(&model.timings(s), &source)
    }

    /// Times decode (1 query row) and prefill (`PREFILL_ROWS` rows) on both devices.
    fn measure(&self, s: &Shape) -> Result<Timings, String> {
        let (Some(npu), Some(igpu)) = (&self.npu, &self.igpu) else { return Err("one device is missing".into()) };
        // Both engines read the same memory: the iGPU's GPU-mapped host memory where it has a GPU.
        let gpu = igpu.gpu();
        let started = Instant::now();
        let mut t = Timings { decode: [None; 2], prefill: [None; 2] };
        for (phase, n_q) in [(Phase::Decode, 1), (Phase::Prefill, PREFILL_ROWS)] {
            let pair = [time_attention(npu.as_ref(), gpu, s, n_q)?, time_attention(igpu.as_ref(), gpu, s, n_q)?];
            match phase {
                Phase::Decode => t.decode = pair,
                Phase::Prefill => t.prefill = pair,
            }
        }
        log_info!(
            "placement: measured attention in {} ms: decode NPU {} us / iGPU {} us, prefill ({PREFILL_ROWS} rows) NPU {} us / iGPU {} us",
            started.elapsed().as_millis(), us(t.decode[NPU]), us(t.decode[IGPU]), us(t.prefill[NPU]), us(t.prefill[IGPU])
        );
        Ok(t)
    }

    /// Words for a device description: what attention work a device of `role` does.
    pub fn describe(&self, role: Role) -> &'static str {
        match (role, self.attention) {
            (Role::Npu, Attention::Auto) => "attention in the phases placement gives it (measured or cost model)",
            (Role::Npu, _) => "attention",
            (Role::Igpu, Attention::Npu) => "feed-forward and layer ops",
            (Role::Igpu, Attention::Igpu) => "attention, feed-forward and layer ops",
            (Role::Igpu, Attention::Auto) => "feed-forward, layer ops and attention in the phases placement gives it",
        }
    }
}

fn log_verdict(s: &Shape, v: &Verdict) {
    log_info!(
        "placement (UNICORN_ATTN=auto) for attention D={} heads={}/{} {} n_kv={}: decode on {}, prefill on {} ({})",
        s.d, s.heads, s.kv_heads, s.kv_type, s.n_kv, role_name(v.decode), role_name(v.prefill), v.source
    );
}

pub fn role_name(r: Role) -> &'static str {
    match r {
        Role::Npu => "UNICORN_NPU0",
        Role::Igpu => "UNICORN_IGPU0",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Gemma3n E2B's attention (8 query heads over 2 KV heads of 256, bf16 cache), context 4096.
    fn e2b() -> Shape {
        Shape { d: 256, heads: 8, kv_heads: 2, kv_type: "bf16", n_kv: 4096 }
    }

    #[test]
    fn cost_model_matches_the_docs_tables() {
        // docs/npu-cost-model.md, per layer at context 4096 (global layer): decode NPU
        // 254-372 us against the iGPU's 137 us; prefill 512 NPU 12.5-12.7 ms against 3.9 ms.
        let m = CostModel::default();
        let s = e2b();
        let (nd, gd) = (m.npu_us(&s, 1), m.igpu_us(&s, 1));
        let (np, gp) = (m.npu_us(&s, 512), m.igpu_us(&s, 512));
        assert!((250.0..=375.0).contains(&nd), "decode NPU {nd} us");
        assert!((125.0..=150.0).contains(&gd), "decode iGPU {gd} us");
        assert!((12_000.0..=13_500.0).contains(&np), "prefill NPU {np} us");
        assert!((3_700.0..=4_300.0).contains(&gp), "prefill iGPU {gp} us");
        let v = Verdict::from_timings(&m.timings(&s), "cost model");
        assert_eq!((v.decode, v.prefill), (Role::Igpu, Role::Igpu));
    }

    #[test]
    fn a_calibrated_fast_npu_takes_prefill_only() {
        // An NPU whose tile runs at the tuned kernel's DMA bound (2,560 cycles), with a fast
        // command: prefill moves to the NPU, decode (a K/V stream plus a command) stays.
        let (m, any) = calibrated("npu-calibration command_us=40 dma_gbs=12.8 cycles_per_tile=1446 source=test\n");
        assert!(any);
        assert_eq!(m.cycles_per_tile, 1446.0);
        let v = Verdict::from_timings(&m.timings(&e2b()), "calibrated");
        assert_eq!((v.decode, v.prefill), (Role::Igpu, Role::Npu), "{:?}", m.timings(&e2b()));
        // Rubbish in the calibration line is ignored, not taken for a figure.
        let (m, any) = calibrated("npu-calibration command_us=-3 dma_gbs=fast\n");
        assert!(!any);
        assert_eq!(m, CostModel::default());
    }

    #[test]
    fn verdicts_follow_timings_per_phase() {
        let t = Timings { decode: [Some(90.0), Some(100.0)], prefill: [Some(5000.0), Some(4000.0)] };
        let v = Verdict::from_timings(&t, "x");
        assert_eq!((v.decode, v.prefill), (Role::Npu, Role::Igpu));
        // A device without a kernel for the shape never wins; equal times stay on the iGPU.
        let t = Timings { decode: [None, Some(100.0)], prefill: [Some(10.0), Some(10.0)] };
        let v = Verdict::from_timings(&t, "x");
        assert_eq!((v.decode, v.prefill), (Role::Igpu, Role::Igpu));
    }

    #[test]
    fn injected_timings_parse_or_are_refused() {
        let t = parse_injected("decode=50/100, prefill=3000/2000").unwrap();
        assert_eq!(t.decode, [Some(50.0), Some(100.0)]);
        assert_eq!(t.prefill, [Some(3000.0), Some(2000.0)]);
        for bad in ["decode=50/100", "decode=50,prefill=1/2", "decode=a/b,prefill=1/2", "train=1/2,decode=1/2,prefill=1/2"] {
            assert_eq!(parse_injected(bad), None, "{bad}");
        }
    }

    #[test]
    fn stored_entries_are_found_for_the_same_devices_and_model_only() {
        let s = e2b();
        let t = Timings { decode: [Some(80.0), Some(120.0)], prefill: [None, Some(4000.0)] };
        let line = entry_line("XRT on RyzenAI-npu1", "HIP gfx1103", &s, &t, "measured");
        let text = format!("# comment\n{line}\n");
        let (got, source) = find_entry(&text, "XRT on RyzenAI-npu1", "HIP gfx1103", &Shape { n_kv: 256, ..s.clone() }).unwrap();
        assert_eq!(got, t);
        assert!(source.starts_with("measured"), "{source}");
        assert!(find_entry(&text, "CPU reference (emulated)", "HIP gfx1103", &s).is_none(), "other devices");
        assert!(find_entry(&text, "XRT on RyzenAI-npu1", "HIP gfx1103", &Shape { d: 128, ..s.clone() }).is_none(), "other model");
        assert!(find_entry(&text, "XRT on RyzenAI-npu1", "HIP gfx1103", &Shape { kv_type: "f16", ..s }).is_none(), "other KV type");
    }

    #[test]
    fn phase_is_read_from_the_query_rows() {
        let mut a = Args::default();
        a.q.ne = [256, 1, 8, 1];
        assert_eq!(Phase::of(&a), Phase::Decode);
        a.q.ne[1] = DECODE_MAX_Q;
        assert_eq!(Phase::of(&a), Phase::Decode);
        a.q.ne[1] = DECODE_MAX_Q + 1;
        assert_eq!(Phase::of(&a), Phase::Prefill);
    }

    /// The whole `auto` path on the emulated engines: measured once (the real timer, on the CPU
    /// reference engines), stored, then read back by a new placement instead of measuring.
    #[test]
    fn measured_once_then_read_from_the_file() {
        use crate::engine::reference::ReferenceEngine;
        let dir = std::env::temp_dir().join(format!("unicorn-placement-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = dir.join("placement.txt");
        let engine = || Some(Arc::new(ReferenceEngine::new().unwrap()) as Arc<dyn Engine>);
        // Gemma 3 270M's attention: 4 query heads over 1 KV head of 256, a 256-token context.
        let s = Shape { d: 256, heads: 4, kv_heads: 1, kv_type: "bf16", n_kv: 256 };

        let p = Placement::new(Attention::Auto, engine(), engine());
        // Emulated engines are not measured unless asked: the cost model decides.
        assert_eq!(p.decide_with(&s, &path, None, false).source, "cost model");
        assert!(!path.exists(), "a cost-model verdict is not stored");
        let measured = p.decide_with(&s, &path, None, true);
        assert!(measured.source.starts_with("measured-on-emulated-devices"), "{}", measured.source);
        let text = std::fs::read_to_string(&path).unwrap();
        let (t, _) = find_entry(&text, "CPU reference", "CPU reference", &s).expect("stored entry");
        for us in [t.decode, t.prefill].iter().flatten() {
            assert!(us.is_some_and(|us| us > 0.0), "every device timed: {t:?}");
        }
        // Prefill (512 rows) costs more than decode (1 row) on the same engine.
        assert!(t.prefill[IGPU].unwrap() > t.decode[IGPU].unwrap(), "{t:?}");

        let again = Placement::new(Attention::Auto, engine(), engine()).decide_with(&s, &path, None, true);
        assert!(again.source.contains("stored in"), "{}", again.source);
        assert_eq!((again.decode, again.prefill), (measured.decode, measured.prefill));
        assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 1, "not measured twice");

        // Injected timings win over the file, and are stored as such.
        let t = Timings { decode: [Some(10.0), Some(20.0)], prefill: [Some(900.0), Some(300.0)] };
        let v = Placement::new(Attention::Auto, engine(), engine()).decide_with(&s, &path, Some(t), false);
        assert_eq!((v.decode, v.prefill), (Role::Npu, Role::Igpu));
        assert!(std::fs::read_to_string(&path).unwrap().contains("source=injected"));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn attention_choice_follows_the_devices_present() {
        // Without the environment variable set (the test runner does not set UNICORN_ATTN).
        if crate::env::text("UNICORN_ATTN").is_some() {
            return;
        }
        assert_eq!(Attention::choose(true, true, true), Attention::Npu, "emulated NPU: the whole design's path");
        assert_eq!(Attention::choose(true, false, true), Attention::Auto, "hardware NPU: per phase");
        assert_eq!(Attention::choose(false, false, true), Attention::Igpu, "no NPU");
        assert_eq!(Attention::choose(true, false, false), Attention::Npu, "no iGPU");
    }

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
