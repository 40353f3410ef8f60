//! MUL_MAT: dst[i01, i11, i12, i13] = dot(src0 row (i01, i12/r2, i13/r3), src1 row (i11, i12, i13)).
//!
//! src0 (the weight) in F32, F16, BF16, Q4_0, Q5_0, Q8_0, Q4_K, Q5_K or Q6_K with contiguous
//! rows; src1 F32 with contiguous rows (any row strides, broadcast over dims 2 and 3);
//! dst F32, dense.
//!
//! Numerics follow ggml-cpu: each src1 row is first converted to the weight type's
//! activation format (f16, bf16, q8_0 or q8_K), then dotted with integer arithmetic for the
//! quantized formats (`quants::vec_dot`).
use rayon::prelude::*;

use super::Layout;
use crate::quants;
use crate::tensor::{f32s, f32s_mut, Tensor};
use ggml_sys::ggml_type as ty;

pub use super::args::ucn_mul_mat_args as Args;

pub fn select(node: &Tensor) -> Option<Args> {
    let (w, x) = (node.src(0)?, node.src(1)?);
    let fmt = quants::format(w.dtype())?;
    if x.dtype() != ty::GGML_TYPE_F32 || node.dtype() != ty::GGML_TYPE_F32 {
        return None;
    }
    let (wn, xn, dn) = (w.ne(), x.ne(), node.ne());
    if wn[0] != xn[0] || wn[0] % fmt.block_elems != 0 || !w.rows_contiguous() || x.nb()[0] != 4 {
        return None;
    }
    if wn[2] == 0 || wn[3] == 0 || xn[2] % wn[2] != 0 || xn[3] % wn[3] != 0 {
        return None;
    }
    if dn != [wn[1], xn[1], xn[2], xn[3]] || !Layout::of(node).is_dense(4) {
        return None;
    }
    let tinyblas = uses_tinyblas(w.dtype(), wn[0], wn[1], xn[1], x.is_contiguous());
    Some(Args { weight_type: w.dtype(), tinyblas, src0: Layout::of(&w), src1: Layout::of(&x), dst: Layout::of(node) })
}

/// Whether ggml-cpu (AVX2) hands this product to llamafile's tinyBLAS rather than `vec_dot`:
/// float weights, at least two activation columns, k a multiple of 8 and rows a multiple of 4;
/// F32 only with a contiguous src1 (F16/BF16 activations are converted into a contiguous
/// buffer first). tinyBLAS keeps one 8-lane FMA accumulator per output, which sums in another
/// order than `vec_dot`'s four. (Quantized weights: tinyBLAS's Q0 kernels equal `vec_dot`.)
fn uses_tinyblas(weight_type: u32, k: usize, rows: usize, cols: usize, src1_contiguous: bool) -> bool {
    let float = match weight_type {
        ty::GGML_TYPE_F32 => src1_contiguous,
        ty::GGML_TYPE_F16 | ty::GGML_TYPE_BF16 => true,
        _ => false,
    };
    float && cols >= 2 && k > 0 && k.is_multiple_of(8) && rows.is_multiple_of(4)
}

/// A row of F32, F16 or BF16 values widened to f32 (exact, as tinyBLAS's loads).
fn widen_row(weight_type: u32, src: &[u8], dst: &mut [f32]) {
    match weight_type {
        ty::GGML_TYPE_F32 => {
            dst.iter_mut().zip(src.chunks_exact(4)).for_each(|(d, c)| *d = f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        }
        ty::GGML_TYPE_F16 => {
            dst.iter_mut().zip(src.chunks_exact(2)).for_each(|(d, c)| *d = half::f16::from_le_bytes([c[0], c[1]]).to_f32())
        }
        _ => dst.iter_mut().zip(src.chunks_exact(2)).for_each(|(d, c)| *d = half::bf16::from_le_bytes([c[0], c[1]]).to_f32()),
    }
}

/// tinyBLAS's float dot product: 8 lanes, `acc = a * b + acc` per lane, then `hsum`
/// (k is a multiple of 8: see `uses_tinyblas`).
fn tinyblas_dot(w: &[f32], act: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    for (wc, ac) in w.chunks_exact(8).zip(act.chunks_exact(8)) {
        for lane in 0..8 {
            acc[lane] = wc[lane].mul_add(ac[lane], acc[lane]);
        }
    }
    quants::hsum_float_8(&acc)
}

/// Output rows computed per task: enough work per task, enough tasks for the threads.
const TILE: usize = 16;

pub fn run(a: &Args, node: &Tensor) {
    let (w, x) = (node.src_data(0), node.src_data(1));
    let dst = f32s_mut(node.data_mut());
    let [k, n_rows, ..] = a.src0.ne;
    let n_act = a.src1.nrows();
    let act_bytes = quants::activation_row_bytes(a.weight_type, k);
    let w_row_bytes = quants::format(a.weight_type).map_or(0, |f| k / f.block_elems * f.block_bytes);

    // 1. Every src1 row in the weight type's activation format, once.
    let mut act = vec![0u8; n_act * act_bytes];
    act.par_chunks_mut(act_bytes.max(1)).enumerate().for_each(|(r, out)| {
        let (i1, i2, i3) = a.src1.row_index(r);
        let off = a.src1.row_offset(i1, i2, i3);
        quants::quantize_activation_row(a.weight_type, f32s(&x[off..off + k * 4]), out);
    });

    // 2. Tasks own TILE weight rows and compute them against every activation row, so each
    //    weight tile is read from memory once (prefill) and tasks stay small (decode).
    let (r2, r3) = (a.src1.ne[2] / a.src0.ne[2], a.src1.ne[3] / a.src0.ne[3]);
    // weight row r of the matrix activation column `col` multiplies (broadcast over dims 2, 3)
    let matrix_of = |col: usize| {
        let (_, i12, i13) = a.src1.row_index(col);
        (i12 / r2, i13 / r3)
    };
    let w_row = |r: usize, (i02, i03): (usize, usize)| {
        let off = a.src0.row_offset(r, i02, i03);
        &w[off..off + w_row_bytes]
    };
    let out = DisjointRows::new(dst);
    let tiles = (0..n_rows.div_ceil(TILE)).into_par_iter().map(|t| t * TILE..((t + 1) * TILE).min(n_rows));

    if !a.tinyblas {
        tiles.for_each(|rows| {
            for col in 0..n_act {
                let (m, arow) = (matrix_of(col), &act[col * act_bytes..(col + 1) * act_bytes]);
                for r in rows.clone() {
                    out.write(col * n_rows + r, quants::vec_dot(a.weight_type, k, w_row(r, m), arow));
                }
            }
        });
        return;
    }

    // tinyBLAS (float weights, prefill): activations and weight rows widened to f32 once each,
    // not once per product (the widening is exact, so the sums are unchanged).
    let mut act_f32 = vec![0f32; n_act * k];
    act_f32.par_chunks_mut(k).zip(act.par_chunks(act_bytes)).for_each(|(d, s)| widen_row(a.weight_type, s, d));
    tiles.for_each(|rows| {
        let mut wf = vec![0f32; rows.len() * k];
        let mut widened_for = None; // the weight matrix whose tile rows are in `wf`
        for col in 0..n_act {
            let m = matrix_of(col);
            if widened_for != Some(m) {
                for (d, r) in wf.chunks_exact_mut(k).zip(rows.clone()) {
                    widen_row(a.weight_type, w_row(r, m), d);
                }
                widened_for = Some(m);
            }
            let arow = &act_f32[col * k..(col + 1) * k];
            for (wr, r) in wf.chunks_exact(k).zip(rows.clone()) {
                out.write(col * n_rows + r, tinyblas_dot(wr, arow));
            }
        }
    });
}

/// dst shared between tasks that write disjoint element sets (task t writes rows of tile t
/// in every column).
struct DisjointRows {
    ptr: *mut f32,
    len: usize,
}
// SAFETY: tasks write disjoint indices (see `run`), and nothing reads dst meanwhile.
unsafe impl Sync for DisjointRows {}

impl DisjointRows {
    fn new(dst: &mut [f32]) -> Self {
        DisjointRows { ptr: dst.as_mut_ptr(), len: dst.len() }
    }
    fn write(&self, i: usize, v: f32) {
        assert!(i < self.len);
        // SAFETY: in bounds (checked), and each index is written by exactly one task.
        unsafe { self.ptr.add(i).write(v) }
    }
}
