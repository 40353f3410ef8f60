//! Fusion: which runs of nodes in a split one kernel computes (planned once per split, see
//! `split`). The ops stay unaware of it: this module reads their selected `Args` and builds the
//! fused kernel's arguments.
//!
//! One pattern today, general enough to cover what ggml-cuda fuses one case at a time: a
//! **chain** of element-wise F32 nodes (ADD/SUB/MUL/DIV, SCALE, the UNARY functions, SQR,
//! SQRT), optionally headed by RMS_NORM, where each node reads the one before it and nothing
//! else reads the intermediate results: RMS_NORM + MUL (+ ADD) of every Gemma norm, ADD then
//! SCALE of the residuals, SCALE/TANH/SCALE of the logit soft-cap, GELU then MUL of the FFN,
//! SUB then RELU of the activation sparsity. `kernels/hip/chain.cu` runs it; each step there
//! computes what its own kernel computes, so fusing changes no bit of the result.
use super::split::{Split, Step, Work};
use crate::gpu::Launch;
use crate::ops::args::*;
use crate::ops::{self, Kernel};

/// A fused chain: the kernel's arguments and, per `ucn_ptrs` source slot, which node's which
/// source it reads (slot 0: the chain's input, the first node's source 0).
#[derive(Clone, Debug, PartialEq)]
pub struct Chain {
    pub args: ucn_chain_args,
    /// (node index in the split, source index of that node), per slot.
    pub sources: Vec<(usize, usize)>,
}

impl Chain {
    /// The launch: tiles over the chain's shape, or one block per row with RMS_NORM (the same
    /// threads per row as `ops::rms_norm::gpu`, so the row sum is the same to the bit).
    pub fn launch(&self) -> Option<Launch> {
        let (ne0, rows) = (self.args.src.ne[0], self.args.src.nrows());
        if self.args.rms_norm {
            Launch::rows(c"ucn_chain_rms_norm_f32", ops::row_threads(ne0), 1, rows)
        } else {
            ops::tiles(c"ucn_chain_f32", ne0, rows)
        }
    }
}

/// The steps of a split: fused chains where they apply, one node per step elsewhere.
pub fn plan(split: &Split, kernels: Vec<Kernel>) -> Vec<Step> {
    let mut steps = Vec::with_capacity(kernels.len());
    let mut i = 0;
    while i < kernels.len() {
        if let Some((chain, end)) = chain_at(split, &kernels, i) {
            steps.push(Step { nodes: i..end, work: Work::Chain(Box::new(chain)) });
            i = end;
        } else {
            steps.push(Step { nodes: i..i + 1, work: Work::Op(kernels[i].clone()) });
            i += 1;
        }
    }
    steps
}

/// One step per node, no fusion.
pub fn unfused(kernels: Vec<Kernel>) -> Vec<Step> {
    kernels.into_iter().enumerate().map(|(i, k)| Step { nodes: i..i + 1, work: Work::Op(k) }).collect()
}

fn unary(op: u32) -> ucn_chain_op {
    ucn_chain_op { kind: UCN_CHAIN_UNARY, op, ..Default::default() }
}
fn scale(a: &ops::scale::Args) -> ucn_chain_op {
    ucn_chain_op { kind: UCN_CHAIN_SCALE, scale: a.scale, bias: a.bias, ..Default::default() }
}
fn binary(op: u32, chain_is_src1: bool, slot: usize, other: ucn_layout) -> ucn_chain_op {
    ucn_chain_op { kind: UCN_CHAIN_BINARY, op, chain_is_src1, slot: slot as u32, other, ..Default::default() }
}

/// The longest chain starting at node `i` (at least two nodes), and the index after its last.
fn chain_at(split: &Split, kernels: &[Kernel], i: usize) -> Option<(Chain, usize)> {
    let max_slots = UCN_MAX_SRC as usize;
    let mut c = Chain { args: ucn_chain_args::default(), sources: vec![(i, 0)] };
    let mut ops: Vec<ucn_chain_op> = Vec::with_capacity(UCN_CHAIN_MAX as usize);
    match &kernels[i] {
        Kernel::RmsNorm(a) => {
            c.args.src = a.src;
            c.args.rms_norm = true;
            c.args.eps = a.eps;
        }
        Kernel::Unary(a) => {
            c.args.src = a.src;
            ops.push(unary(a.op));
        }
        Kernel::Scale(a) => {
            c.args.src = a.src;
            ops.push(scale(a));
        }
        Kernel::Binary(a) => {
            c.args.src = a.src0;
            c.sources.push((i, 1));
            ops.push(binary(a.op, false, 1, a.src1));
        }
        _ => return None,
    }
    let mut end = i + 1;
    while end < kernels.len() && ops.len() < UCN_CHAIN_MAX as usize && split.private[end - 1] {
        let (prev, node) = (&split.nodes[end - 1], &split.nodes[end]);
        if node.ne() != prev.ne() {
            break;
        }
        let reads = |k: usize| node.src(k).is_some_and(|s| s.as_ptr() == prev.as_ptr());
        let step = match &kernels[end] {
            Kernel::Unary(a) if reads(0) => unary(a.op),
            Kernel::Scale(a) if reads(0) => scale(a),
            Kernel::Binary(a) if c.sources.len() < max_slots && reads(0) != reads(1) => {
                let slot = c.sources.len();
                if reads(0) {
                    c.sources.push((end, 1));
                    binary(a.op, false, slot, a.src1)
                } else {
                    // The running value is the right operand: the left one has the chain's
                    // shape (the node's shape is its left operand's).
                    c.sources.push((end, 0));
                    binary(a.op, true, slot, a.src0)
                }
            }
            _ => break,
        };
        ops.push(step);
        end += 1;
    }
    if end - i < 2 {
        return None;
    }
    c.args.n_ops = ops.len() as u32;
    c.args.ops[..ops.len()].copy_from_slice(&ops);
    Some((c, end))
}

/// The CPU reference of a chain, for the emulated iGPU: each step computed as its op's own
/// reference computes it (so the result equals running the nodes one by one, to the bit), and
/// only the last node's output written, as on the GPU: a wrong fusion decision (an
/// intermediate result someone else reads) shows in the emulation too.
pub fn run_reference(c: &Chain, split: &Split, last: usize) {
    use rayon::prelude::*;
    let a = &c.args;
    let source = |slot: usize| {
        let (node, src) = c.sources[slot];
        split.nodes[node].src(src).map(|t| t.data()).unwrap_or(&[])
    };
    let input = source(0);
    let others: Vec<&[u8]> = (0..c.sources.len()).map(source).collect();
    let ne = a.src.ne;
    let mut out = vec![0f32; ne[0] * a.src.nrows()];
    out.par_chunks_mut(ne[0].max(1)).enumerate().for_each(|(r, y)| {
        let (i1, i2, i3) = a.src.row_index(r);
        let x = ops::row_f32(input, &a.src, i1, i2, i3);
        if a.rms_norm {
            ops::rms_norm::rms_norm_row(x, a.eps, y);
        } else {
            y.copy_from_slice(x);
        }
        for o in &a.ops[..a.n_ops as usize] {
            match o.kind {
                UCN_CHAIN_UNARY => y.iter_mut().for_each(|v| *v = ops::unary::apply(o.op, *v)),
                UCN_CHAIN_SCALE if o.bias == 0.0 => y.iter_mut().for_each(|v| *v *= o.scale),
                UCN_CHAIN_SCALE => y.iter_mut().for_each(|v| *v = v.mul_add(o.scale, o.bias)),
                _ => {
                    let m = o.other.ne;
                    let w = ops::row_f32(others[o.slot as usize], &o.other, i1 % m[1], i2 % m[2], i3 % m[3]);
                    for (i0, v) in y.iter_mut().enumerate() {
                        let w = w[i0 % m[0]];
                        *v = if o.chain_is_src1 { ops::binary::apply(o.op, w, *v) } else { ops::binary::apply(o.op, *v, w) };
                    }
                }
            }
        }
    });
    let dst = crate::tensor::f32s_mut(split.nodes[last].data_mut());
    dst.copy_from_slice(&out);
}
