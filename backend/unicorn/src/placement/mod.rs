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
mod cost;
mod measure;
mod store;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Instant;

pub use cost::CostModel;
pub use measure::{calibrate, time_attention};
pub use store::file_path;
use store::{append_line, calibrated, entry_line, find_entry, injected, us};

use crate::engine::npu::Emulation as NpuEmulation;
use crate::engine::{Engine, Role};
use crate::log::{log_info, log_warn};
use crate::ops::{flash_attn_ext::Args, Kernel};
use crate::tensor::Tensor;

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

pub(super) const NPU: usize = 0;
pub(super) const IGPU: usize = 1;

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
}
