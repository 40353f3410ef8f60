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

#[cfg(test)]
mod tests {
    //! The planner on real ggml graphs (built with ggml's own API, use counts from ggml).
    use super::*;
    use ggml_sys as sys;
    use sys::ggml_type::GGML_TYPE_F32 as F32;

    /// Builds a graph in a fresh context with `build` (it returns the graph's outputs), then
    /// plans it as the iGPU would (every node's kernel from `ops::select`).
    fn plan_of(build: impl FnOnce(*mut sys::ggml_context) -> Vec<*mut sys::ggml_tensor>) -> Vec<Step> {
        let params = sys::ggml_init_params { mem_size: 64 << 20, mem_buffer: std::ptr::null_mut(), no_alloc: false };
        // SAFETY: a plain context of our own, freed below; the tensors built in it live as long.
        unsafe {
            let ctx = sys::ggml_init(params);
            let outs = build(ctx);
            let gf = sys::ggml_new_graph(ctx);
            for &o in &outs {
                sys::ggml_set_output(o);
                sys::ggml_build_forward_expand(gf, o);
            }
            let split = crate::ffi::backend::split_of(gf);
            let kernels = split.nodes.iter().map(|n| ops::select(n).expect("a kernel for every node")).collect();
            let steps = plan(&split, kernels);
            sys::ggml_free(ctx);
            steps
        }
    }

    fn chains(steps: &[Step]) -> Vec<(std::ops::Range<usize>, bool, u32)> {
        steps
            .iter()
            .filter_map(|s| match &s.work {
                Work::Chain(c) => Some((s.nodes.clone(), c.args.rms_norm, c.args.n_ops)),
                Work::Op(_) => None,
            })
            .collect()
    }

    #[test]
    fn norm_mul_add_is_one_chain() {
        // SAFETY: ggml calls on the context plan_of made, with tensors of that context.
        let steps = plan_of(|ctx| unsafe {
            let x = sys::ggml_new_tensor_2d(ctx, F32, 64, 3);
            let w = sys::ggml_new_tensor_1d(ctx, F32, 64);
            let b = sys::ggml_new_tensor_2d(ctx, F32, 64, 3);
            let n = sys::ggml_rms_norm(ctx, x, 1e-6);
            vec![sys::ggml_add(ctx, sys::ggml_mul(ctx, n, w), b)]
        });
        assert_eq!(steps.len(), 1, "{steps:?}");
        assert_eq!(chains(&steps), vec![(0..3, true, 2)]);
        let Work::Chain(c) = &steps[0].work else { unreachable!() };
        assert_eq!(c.sources, vec![(0, 0), (1, 1), (2, 1)]);
    }

    #[test]
    fn a_result_read_twice_ends_the_chain() {
        // mul's result feeds the add and a second node: it must be written, so the chain is
        // norm + mul and the add is a step of its own.
        // SAFETY: ggml calls on the context plan_of made, with tensors of that context.
        let steps = plan_of(|ctx| unsafe {
            let x = sys::ggml_new_tensor_2d(ctx, F32, 64, 3);
            let w = sys::ggml_new_tensor_1d(ctx, F32, 64);
            let m = sys::ggml_mul(ctx, sys::ggml_rms_norm(ctx, x, 1e-6), w);
            vec![sys::ggml_add(ctx, m, x), sys::ggml_scale(ctx, m, 2.0)]
        });
        assert_eq!(chains(&steps), vec![(0..2, true, 1)], "{steps:?}");
        assert_eq!(steps.len(), 3);
    }

    #[test]
    fn a_graph_output_is_never_fused_away() {
        // SAFETY: ggml calls on the context plan_of made, with tensors of that context.
        let steps = plan_of(|ctx| unsafe {
            let x = sys::ggml_new_tensor_2d(ctx, F32, 64, 3);
            let t = sys::ggml_tanh(ctx, sys::ggml_scale(ctx, x, 0.5));
            vec![t, sys::ggml_scale(ctx, t, 30.0)]
        });
        // scale + tanh fuse; tanh is an output (read by the caller), so the last scale is alone
        assert_eq!(chains(&steps), vec![(0..2, false, 2)], "{steps:?}");
    }

    #[test]
    fn chain_as_right_operand_and_shape_change() {
        // GELU(g) * u, the chain value on the right; then a broadcast add into a larger shape
        // (the node's shape differs from the chain's): not fused.
        // SAFETY: ggml calls on the context plan_of made, with tensors of that context.
        let steps = plan_of(|ctx| unsafe {
            let g = sys::ggml_new_tensor_2d(ctx, F32, 64, 1);
            let u = sys::ggml_new_tensor_2d(ctx, F32, 64, 1);
            let big = sys::ggml_new_tensor_2d(ctx, F32, 64, 4);
            let m = sys::ggml_mul(ctx, u, sys::ggml_gelu(ctx, g));
            vec![sys::ggml_add(ctx, big, m)]
        });
        assert_eq!(chains(&steps), vec![(0..2, false, 2)], "{steps:?}");
        let Work::Chain(c) = &steps[0].work else { unreachable!() };
        assert!(c.args.ops[1].chain_is_src1);
        assert_eq!(steps.len(), 2);
    }
}
