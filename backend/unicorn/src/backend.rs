//! A stream of work on one Unicorn device: computes the graph splits the scheduler hands it.
use std::sync::{Arc, Mutex};

use crate::device::Device;
use crate::engine::{Plan, Split, Step};
use crate::tensor::{op_name, type_name};

pub struct Backend {
    pub device: &'static Device,
    /// Plans of the splits computed lately (decode computes the same few splits token after
    /// token), most recent last.
    plans: Mutex<Vec<Cached>>,
}

struct Cached {
    uid: u64,
    signature: Vec<u64>,
    plan: Arc<Plan>,
}

/// Plans kept per backend: a token's graph has a few splits per device, prompt and decode
/// differ, and llama-server's slots add a few shapes more.
const MAX_PLANS: usize = 16;

impl Backend {
    pub fn new(device: &'static Device) -> Backend {
        Backend { device, plans: Mutex::new(Vec::new()) }
    }

    /// Computes a split: its plan (made once, kept while the same split comes again), run by
    /// the device's engine, then one wait for all of it.
    ///
    /// # Errors
    /// A node that no kernel of this device computes (the scheduler only hands over nodes
    /// `supports_op` accepted, so this means a bug) or an engine failure, naming the node.
    pub fn graph_compute(&self, split: &Split) -> Result<(), String> {
        let dev = self.device.name.to_string_lossy();
        if let Some(e) = fault::injected_in(split) {
            return Err(format!("{dev}: {e}"));
        }
        let plan = self.plan(split).map_err(|e| format!("{dev}: {e}"))?;
        let engine = &self.device.engine;
        let split_t0 = std::time::Instant::now(); // observability hook (trace.rs, stats.rs)
        let mut step_t0 = split_t0;
        let mut observer = |step: &Step| observe::step(self.device, split, step, &mut step_t0); // observability hook
        let watch: Option<&mut dyn FnMut(&Step)> = if observe::enabled() { Some(&mut observer) } else { None };
        if let Err((i, e)) = engine.run(&plan, split, watch) {
            // Let the work already enqueued finish before the graph's memory is reused.
            let _ = engine.synchronize();
            let node = &split.nodes[i];
            return Err(format!("{dev}: {} ({}) {e}", node.name(), op_name(node)));
        }
        // One wait per split: the engine may have only enqueued the work.
        let done = engine.synchronize().map_err(|e| format!("{dev}: {e}"));
        observe::split(self.device, split_t0); // observability hook
        done
    }

    /// The plan of `split`: a kept one when the scheduler's id or, failing that, the split's
    /// signature matches; otherwise a new one (kernels chosen by the device, steps by its
    /// engine).
    fn plan(&self, split: &Split) -> Result<Arc<Plan>, String> {
        let mut plans = self.plans.lock().map_err(|_| "plan cache lock poisoned".to_string())?;
        if split.uid != 0 {
            if let Some(c) = plans.iter().find(|c| c.uid == split.uid) {
                return Ok(c.plan.clone());
            }
        }
        let signature = split.signature();
        if let Some(c) = plans.iter_mut().find(|c| c.signature == signature) {
            c.uid = split.uid;
            return Ok(c.plan.clone());
        }
        let kernels = split
            .nodes
            .iter()
            .map(|node| {
                self.device.select(node).ok_or_else(|| {
                    format!("no kernel for {} ({}) of type {}", node.name(), op_name(node), type_name(node.dtype()))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let plan = Arc::new(self.device.engine.plan(split, kernels));
        if log_plans() {
            crate::log::log_debug!("{}: new plan {}: {}", self.device.name.to_string_lossy(), plan.id, describe(&plan, split));
        }
        if plans.len() >= MAX_PLANS {
            plans.remove(0);
        }
        plans.push(Cached { uid: split.uid, signature, plan: plan.clone() });
        Ok(plan)
    }
}

/// `UNICORN_LOG_PLANS=1`: a debug line per new plan (what `describe` says). Off by default:
/// test-backend-ops makes a plan per case and prints every debug line.
fn log_plans() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| crate::env::switch("UNICORN_LOG_PLANS", false))
}

/// "N nodes in M steps (K fused chains of J nodes); single-node steps: MUL_MAT 12, ADD 3, ..."
/// (debug log, for tuning fusion: every step is a kernel launch on the GPU).
fn describe(plan: &Plan, split: &Split) -> String {
    use std::collections::BTreeMap;
    let (mut chains, mut fused) = (0, 0);
    let mut single: BTreeMap<&str, usize> = BTreeMap::new();
    for step in &plan.steps {
        match step.work {
            crate::engine::Work::Chain(_) => {
                chains += 1;
                fused += step.nodes.len();
            }
            crate::engine::Work::Op(_) => *single.entry(op_name(&split.nodes[step.nodes.start])).or_default() += 1,
        }
    }
    let mut by_count: Vec<_> = single.into_iter().collect();
    by_count.sort_by(|a, b| b.1.cmp(&a.1));
    let ops: Vec<String> = by_count.iter().map(|(op, n)| format!("{op} {n}")).collect();
    format!(
        "{} nodes in {} steps ({chains} fused chains of {fused} nodes); single-node steps: {}",
        split.nodes.len(),
        plan.n_steps(),
        ops.join(", ")
    )
}

impl Drop for Backend {
    /// The engine's measurements (the GPU profiler's table) and the placement verdicts, once
    /// per backend freed.
    fn drop(&mut self) {
        self.device.report();
        crate::trace::write(); // observability hook
    }
}

/// Observability hooks (`UNICORN_TRACE`, `UNICORN_STATS`): what `graph_compute` calls, one line
/// per call site. Both are a check of a `OnceLock` when off. A span is a step of the plan: one
/// node's kernel, or a fused chain (named `OP+OP+... (fused)`, its `nodes` field the count).
/// Host clocks: under emulation the step's computation; on a GPU its enqueueing (the engine
/// then runs step by step, without launch graphs, while a hook is on).
mod observe {
    use crate::device::Device;
    use crate::engine::{Split, Step};
    use crate::tensor::op_name;
    use crate::{stats, trace};
    use std::time::Instant;

    pub fn enabled() -> bool {
        trace::enabled() || stats::enabled()
    }

    /// `step` of a plan of `split` ran from `*t0` to now (then `*t0` moves to now).
    pub fn step(device: &Device, split: &Split, step: &Step, t0: &mut Instant) {
        let t1 = Instant::now();
        let (start, t) = (*t0, t1);
        *t0 = t1;
        let dev = device.name.to_string_lossy();
        let nodes = &split.nodes[step.nodes.clone()];
        let last = &nodes[nodes.len() - 1];
        let name = if nodes.len() == 1 {
            op_name(last).to_string()
        } else {
            format!("{} (fused)", nodes.iter().map(op_name).collect::<Vec<_>>().join("+"))
        };
        stats::record(&dev, &name, t - start, nodes.iter().map(stats::node_bytes).sum());
        if trace::enabled() {
            let mut fields = trace::node_fields(last, device.engine.name());
            fields[0].1 = name.clone();
            fields.push(("nodes", nodes.len().to_string()));
            trace::span(&dev, &name, &fields, start, t);
        }
    }

    /// A split (one graph_compute call) ran from `t0` to now, its synchronize included.
    pub fn split(device: &Device, t0: Instant) {
        if trace::enabled() {
            trace::span(&device.name.to_string_lossy(), "split", &[], t0, Instant::now());
        }
    }
}

/// Fault injection for tests: `UNICORN_FAULT=OP[:N]` makes the N-th computation (default 1st,
/// counted over the process) of the ggml op `OP` fail as an engine failure would, so the
/// error path (a failed graph_compute, llama.cpp's handling of it) can be exercised on any
/// machine.
mod fault {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::OnceLock;

    fn spec() -> Option<&'static (String, u64)> {
        static SPEC: OnceLock<Option<(String, u64)>> = OnceLock::new();
        SPEC.get_or_init(|| {
            let v = std::env::var("UNICORN_FAULT").ok()?;
            let (op, n) = v.split_once(':').unwrap_or((v.as_str(), "1"));
            match n.trim().parse::<u64>() {
                Ok(n) if n > 0 && !op.trim().is_empty() => Some((op.trim().to_uppercase(), n)),
                _ => {
                    crate::log::log_warn!("UNICORN_FAULT={v:?} is not OP or OP:N (N >= 1); ignored");
                    None
                }
            }
        })
        .as_ref()
    }

    /// The injected failure for a node of this split, if one is the chosen computation
    /// (every node of the split counts as computed once).
    pub fn injected_in(split: &crate::engine::Split) -> Option<String> {
        spec()?;
        split.nodes.iter().find_map(|node| {
            let op = crate::tensor::op_name(node);
            injected(op).map(|why| format!("{} ({op}) {why}", node.name()))
        })
    }

    /// The injected failure for this computation of `op`, if it is the chosen one.
    fn injected(op: &str) -> Option<String> {
        static SEEN: AtomicU64 = AtomicU64::new(0);
        let (want, n) = spec()?;
        if op != want {
            return None;
        }
        let k = SEEN.fetch_add(1, Ordering::Relaxed) + 1;
        (k == *n).then(|| format!("failed: fault injected by UNICORN_FAULT ({want} #{k})"))
    }
}

#[cfg(test)]
mod tests {
    //! The plan cache: a split computed again gets its plan back; a split that differs in
    //! anything a plan depends on (here an address) gets a new one.
    use super::*;
    use crate::engine::reference::ReferenceEngine;
    use crate::placement::{Attention, Placement};
    use ggml_sys as sys;
    use std::sync::Arc;

    fn backend() -> Backend {
        let engine: Arc<dyn crate::engine::Engine> = Arc::new(ReferenceEngine::new().expect("a CPU pool"));
        let placement = Arc::new(Placement::new(Attention::Igpu, None, Some(engine.clone())));
        let device = Box::leak(Box::new(Device::new(crate::engine::Role::Igpu, engine, placement)));
        Backend::new(device)
    }

    #[test]
    fn plans_are_kept_by_uid_and_signature() {
        let params = sys::ggml_init_params { mem_size: 16 << 20, mem_buffer: std::ptr::null_mut(), no_alloc: false };
        // SAFETY: ggml calls on a context of our own, freed at the end; the graphs and tensors
        // live in it.
        unsafe {
            let ctx = sys::ggml_init(params);
            let x = sys::ggml_new_tensor_2d(ctx, sys::ggml_type::GGML_TYPE_F32, 64, 2);
            let w = sys::ggml_new_tensor_1d(ctx, sys::ggml_type::GGML_TYPE_F32, 64);
            let y = sys::ggml_mul(ctx, sys::ggml_rms_norm(ctx, x, 1e-6), w);
            sys::ggml_set_output(y);
            let gf = sys::ggml_new_graph(ctx);
            sys::ggml_build_forward_expand(gf, y);
            let b = backend();
            let split = crate::ffi::backend::split_of(gf);
            assert_eq!(split.uid, 0, "a graph of our own has no scheduler id");
            let p1 = b.plan(&split).expect("a plan");
            assert_eq!(p1.n_steps(), 1, "norm + mul fused: {:?}", p1.steps);
            let p2 = b.plan(&crate::ffi::backend::split_of(gf)).expect("a plan");
            assert!(Arc::ptr_eq(&p1, &p2), "the same split gets its plan back (signature)");
            // Another output address: not the same plan (a launch graph holds addresses).
            let old = (*y).data;
            (*y).data = sys::ggml_new_tensor_2d(ctx, sys::ggml_type::GGML_TYPE_F32, 64, 2).as_ref().unwrap().data;
            let p3 = b.plan(&crate::ffi::backend::split_of(gf)).expect("a plan");
            assert!(!Arc::ptr_eq(&p1, &p3), "a moved output gets a new plan");
            (*y).data = old;
            // A scheduler id seen before returns its plan without a signature.
            let mut s = crate::ffi::backend::split_of(gf);
            s.uid = 7;
            let p4 = b.plan(&s).expect("a plan");
            assert!(Arc::ptr_eq(&p1, &p4));
            s.nodes.clear(); // even with nothing else to go by
            s.private.clear();
            assert!(Arc::ptr_eq(&p1, &b.plan(&s).expect("a plan")));
            sys::ggml_free(ctx);
        }
    }
}
