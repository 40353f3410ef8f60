//! A graph split as a device computes it: the nodes the scheduler handed over, and the plan
//! that computes them.
//!
//! An engine plans a split once ([`super::Engine::plan`]): which node or run of nodes each step
//! computes and with which kernel (fusion, `fuse`). The backend keeps the plan while llama.cpp
//! computes the same split again, which it does token after token in decode: the scheduler
//! keeps a split's id ([`Split::uid`]) while it reuses the graph, and a split without a known
//! id is recognised by its [`Split::signature`], everything a plan depends on.
use std::ops::Range;

use crate::ops::Kernel;
use crate::tensor::Tensor;

/// The nodes of one split that compute something, in order.
pub struct Split<'a> {
    pub nodes: Vec<Tensor<'a>>,
    /// Per node: no node outside the one that follows it reads its result (read once in the
    /// whole graph, not a view, not a graph output), so a fused kernel may leave it unwritten.
    pub private: Vec<bool>,
    /// The scheduler's id for this split (0: none).
    pub uid: u64,
}

/// One step of a plan: a kernel computing the nodes `nodes` (one, or a fused run whose last
/// node's output is the only one written).
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    pub nodes: Range<usize>,
    pub work: Work,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Work {
    /// One node, by its op's kernel.
    Op(Kernel),
    /// A fused run of element-wise nodes (`fuse::Chain`).
    Chain(Box<super::fuse::Chain>),
}

/// How a device computes a split: its steps, in order. `id` is unique in the process, so an
/// engine can keep state per plan (the GPU engine's launch graph).
#[derive(Debug)]
pub struct Plan {
    pub id: u64,
    pub steps: Vec<Step>,
}

impl Plan {
    pub fn new(steps: Vec<Step>) -> Plan {
        use std::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(1);
        Plan { id: NEXT.fetch_add(1, Ordering::Relaxed), steps }
    }
    /// Launches (or reference computations) per run of the split.
    pub fn n_steps(&self) -> usize {
        self.steps.len()
    }
}

impl<'a> Split<'a> {
    /// Everything a plan of this split depends on, as numbers: per node its op, type, shape,
    /// strides, op parameters, data address and whether its result is private, and the same
    /// of its sources (their data addresses, types, shapes and strides). Two splits with equal
    /// signatures get equal plans.
    pub fn signature(&self) -> Vec<u64> {
        let mut s = Vec::with_capacity(self.nodes.len() * 72);
        for (node, &private) in self.nodes.iter().zip(&self.private) {
            s.push(node.op() as u64 | (node.dtype() as u64) << 16 | (private as u64) << 32);
            push_shape(&mut s, node);
            s.extend(node.op_params().chunks(2).map(|c| c[0] as u32 as u64 | (*c.get(1).unwrap_or(&0) as u32 as u64) << 32));
            for i in 0..ggml_sys::GGML_MAX_SRC as usize {
                match node.src(i) {
                    Some(src) => {
                        s.push(src.dtype() as u64 + 1);
                        push_shape(&mut s, &src);
                    }
                    None => s.push(0),
                }
            }
        }
        s
    }
}

fn push_shape(s: &mut Vec<u64>, t: &Tensor) {
    s.push(t.data_ptr() as u64);
    s.extend(t.ne().iter().chain(t.nb().iter()).map(|&v| v as u64));
}
