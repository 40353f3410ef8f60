//! A stream of work on one Unicorn device: computes the graph splits the scheduler hands it.
use std::sync::{Arc, Mutex};

use crate::device::Device;
use crate::engine::{Plan, Split};
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
        if let Err((i, e)) = engine.run(&plan, split) {
            // Let the work already enqueued finish before the graph's memory is reused.
            let _ = engine.synchronize();
            let node = &split.nodes[i];
            return Err(format!("{dev}: {} ({}) {e}", node.name(), op_name(node)));
        }
        // One wait per split: the engine may have only enqueued the work.
        engine.synchronize().map_err(|e| format!("{dev}: {e}"))
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
        crate::log::log_debug!("{}: new plan {}: {}", self.device.name.to_string_lossy(), plan.id, describe(&plan, split));
        if plans.len() >= MAX_PLANS {
            plans.remove(0);
        }
        plans.push(Cached { uid: split.uid, signature, plan: plan.clone() });
        Ok(plan)
    }
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
