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

use std::ffi::CStr;

use super::Layout;
use crate::gpu::{Launch, MAX_GRID_YZ};
use crate::quants;
use crate::tensor::{f32s, f32s_mut, Tensor};
use ggml_sys::ggml_type as ty;

pub use super::args::ucn_mul_mat_args as Args;

pub fn select(node: &Tensor) -> Option<Args> {
    let (w, x) = (node.src(0)?, node.src(1)?);
    // A Hadamard rotation (llama.cpp rotates Q, K and V this way for a quantized KV cache,
    // `-ctk q8_0`): ggml-cpu computes it as a fast Walsh-Hadamard transform by default and as
    // this mat-mul with its reference kernels, two results that differ in the last bits. No one
    // kernel here equals both, so it is left to the CPU, which then agrees with the CPU backend
    // in either configuration (a quantized KV cache keeps attention on the CPU anyway).
    if node.op_param_i32(1) == ggml_sys::ggml_op_hint::GGML_HINT_SRC0_IS_HADAMARD as i32 {
        return None;
    }
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

/// The GPU kernel (`kernels/hip/mul_mat.cu`; the dispatch rules are in `kernels/hip/mul_mat.md`):
/// - ne11 <= 8 (decode): `ucn_mul_mat_vec_<type>_<nc>`, nc = ne11 rounded up to 1, 2, 4 or 8;
///   8 warps per block as (32, ks, 8 / ks) threads, each group of ks warps owning
///   `vec_rows(type, nc)` rows and splitting K. Quantized weights: ks doubles (up to 8) while
///   there are fewer than 256 row groups and each warp keeps at least two steps of K; with
///   ks = 1 the blocks (at most 1024 / nc) loop over the row groups. Float weights: a block per
///   group, ks doubling while there are fewer than 1024 blocks (two steps per warp);
/// - ne11 > 8 (prefill): `ucn_mul_mat_mma_<type>`, 128 x 64 tiles on the matrix cores
///   (`UNICORN_MUL_MAT=mma128`: `ucn_mul_mat_mma128_<type>`, 128 x 128 tiles, for n > 64);
/// - otherwise (a grid past its limits) or with `UNICORN_MUL_MAT=generic`:
///   `ucn_mul_mat_generic`, one warp per output.
pub fn gpu(a: &Args) -> Option<Launch> {
    let [k, m, ..] = a.src0.ne;
    let [_, n, ne12, ne13] = a.src1.ne;
    let batch = ne12 * ne13;
    let choice = choice();
    if choice != Choice::Generic {
        if k <= SMALL_K && is_float(a.weight_type) {
            if let Some(l) = Launch::rows(c"ucn_mul_mat_small_k", 256, (m * n).div_ceil(256).max(1), batch) {
                return Some(l);
            }
        }
        if n <= 8 {
            if let Some(l) = gpu_vec(a.weight_type, k, m, n, batch, false) {
                return Some(l);
            }
        } else {
            let (kind, bn) = if choice == Choice::Mma128 && n > 64 { ("mma128", 128) } else { ("mma", 64) };
            let tiles_m = m.div_ceil(MMA_BM).max(1);
            if let Some(name) = kernel_name(a.weight_type, kind, 0) {
                if tiles_m <= MAX_GRID_YZ && batch.max(1) <= MAX_GRID_YZ {
                    let grid = [u32::try_from(n.div_ceil(bn)).ok()?, tiles_m as u32, batch.max(1) as u32];
                    return Some(Launch { kernel: name, grid, block: [256, 1, 1], shared: 0 });
                }
            }
        }
    }
    Launch::rows(c"ucn_mul_mat_generic", 256, m.div_ceil(8).max(1), n * batch)
}

/// Largest K of `ucn_mul_mat_small_k` (one thread per output).
const SMALL_K: usize = 32;

fn is_float(ty: u32) -> bool {
    matches!(ty, ty::GGML_TYPE_F32 | ty::GGML_TYPE_F16 | ty::GGML_TYPE_BF16)
}

/// Output rows of a matrix-core tile (UCN_MMA_BM in mul_mat.cu; its columns: 64 or 128).
const MMA_BM: usize = 128;

/// Rows per warp of the mat-vec kernels (mul_mat_vec.cuh). Quantized (UCN_MMV_ROWS): two for one
/// column and units of 32 weights (every type but Q6_K, whose lane units hold 64), else one.
/// Float (UCN_MMVF_ROWS): two for one column, four for more (each x load serves four rows).
fn vec_rows(ty: u32, nc: usize) -> usize {
    if is_float(ty) {
        return if nc == 1 { 2 } else { 4 };
    }
    if nc == 1 && ty != ty::GGML_TYPE_Q6_K {
        2
    } else {
        1
    }
}

/// Mat-vec grid bounds: split K over warps below VEC_MIN_BLOCKS row groups; at most
/// VEC_MAX_BLOCKS / nc blocks (each loops over its share of the groups).
const VEC_MIN_BLOCKS: usize = 256;
const VEC_MAX_BLOCKS: usize = 1024;

/// Quantized weights whose x is quantized once per product (issue 15: x quantized by every block
/// before): two launches on one stream, the engine providing a buffer of `scratch_bytes` (16-byte
/// aligned) that lives from the first launch to the end of the second.
/// - `quantize`: `ucn_mul_mat_quantize_x` with the node's `Args`, its pointers but `dst` = the
///   buffer (it reads x from `src[1]`);
/// - `product`: `ucn_mul_mat_vecq_<type>_<nc>` with the node's `Args` and pointers plus
///   `src[2]` = the buffer (MUL_MAT has no third source, so the slot is free).
///
/// The product reads x through the cache and no block quantizes anything: a block per row group,
/// weights 16-byte loads straight into registers (kernels/hip/mul_mat_vec.cuh).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Prequantized {
    pub quantize: Launch,
    pub product: Launch,
    pub scratch_bytes: usize,
}

/// The two-launch plan of a product, for quantized weights with at most 8 columns (decode,
/// parallel slots, speculative drafts); `None` where `gpu()` alone applies (float weights,
/// prefill, `UNICORN_MUL_MAT=generic`, grids past their limits). When it returns a plan, the
/// plan and `gpu()` compute the same product (both are checked by tests/kernels).
pub fn gpu_prequantized(a: &Args) -> Option<Prequantized> {
    let [k, m, ..] = a.src0.ne;
    let [_, n, ne12, ne13] = a.src1.ne;
    if choice() == Choice::Generic || is_float(a.weight_type) || n == 0 || n > 8 || k == 0 || !k.is_multiple_of(32) {
        return None;
    }
    let batch = ne12 * ne13;
    let nrows = n * batch;
    let groups = nrows.checked_mul(k / 16)?;
    let quantize = Launch::rows(c"ucn_mul_mat_quantize_x", 256, groups.div_ceil(256), 1)?;
    let product = gpu_vec(a.weight_type, k, m, n, batch, true)?;
    Some(Prequantized { quantize, product, scratch_bytes: groups * 24 })
}

/// Mat-vec launches. `xg`: the kernel reads a pre-quantized x (`gpu_prequantized`), so its blocks
/// cost no quantization and get the float kernels' rule (a block per group, K split while the
/// grid has fewer than 1024 blocks).
fn gpu_vec(ty: u32, k: usize, m: usize, n: usize, batch: usize, xg: bool) -> Option<Launch> {
    let nc = n.max(1).next_power_of_two();
    let name = kernel_name(ty, if xg { "vecq" } else { "vec" }, nc)?;
    // K per warp step: 32 lanes x 8 floats, or 32 lanes x one unit of a quantized block.
    let float = is_float(ty);
    let step = match ty {
        _ if float => 256,
        ty::GGML_TYPE_Q6_K => 32 * 64,
        _ => 32 * 32,
    };
    let steps = k.div_ceil(step);
    let rows = vec_rows(ty, nc);
    // Row groups of 8 / ks warps x rows; K is split over ks warps only when the groups are too
    // few to fill the GPU (every block quantizes all of x: fewer, fuller blocks waste less).
    let groups = |ks: usize| m.div_ceil(8 / ks * rows).max(1);
    let mut ks = 1;
    let blocks = if float || xg {
        // Float weights or pre-quantized x, read through the cache: a block per group, K split while the grid
        // has fewer than 1024 blocks and every warp keeps two steps.
        while ks < 8 && groups(ks) * batch < 1024 && steps >= 4 * ks {
            ks *= 2;
        }
        groups(ks)
    } else {
        while ks < 8 && groups(ks) * batch < VEC_MIN_BLOCKS && steps >= 4 * ks {
            ks *= 2;
        }
        // ks = 1: blocks loop over groups (x quantized once per block); ks > 1: a block per group.
        if ks == 1 {
            groups(1).min(VEC_MAX_BLOCKS / nc)
        } else {
            groups(ks)
        }
    };
    let bx = u32::try_from(blocks).ok()?;
    let y = batch.clamp(1, MAX_GRID_YZ);
    let z = batch.max(1).div_ceil(y);
    if z > MAX_GRID_YZ {
        return None;
    }
    Some(Launch { kernel: name, grid: [bx, y as u32, z as u32], block: [32, ks as u32, (8 / ks) as u32], shared: 0 })
}

/// `ucn_mul_mat_<kind>_<type>[_<nc>]`, the kernels mul_mat.cu defines.
fn kernel_name(ty: u32, kind: &str, nc: usize) -> Option<&'static CStr> {
    if kind == "vecq" && is_float(ty) {
        return None; // float weights take x as it is
    }
    macro_rules! names {
        ($t:literal) => {
            match (kind, nc) {
                ("vec", 1) => Some(concat!("ucn_mul_mat_vec_", $t, "_1\0")),
                ("vec", 2) => Some(concat!("ucn_mul_mat_vec_", $t, "_2\0")),
                ("vec", 4) => Some(concat!("ucn_mul_mat_vec_", $t, "_4\0")),
                ("vec", 8) => Some(concat!("ucn_mul_mat_vec_", $t, "_8\0")),
                ("vecq", 1) => Some(concat!("ucn_mul_mat_vecq_", $t, "_1\0")),
                ("vecq", 2) => Some(concat!("ucn_mul_mat_vecq_", $t, "_2\0")),
                ("vecq", 4) => Some(concat!("ucn_mul_mat_vecq_", $t, "_4\0")),
                ("vecq", 8) => Some(concat!("ucn_mul_mat_vecq_", $t, "_8\0")),
                ("mma", _) => Some(concat!("ucn_mul_mat_mma_", $t, "\0")),
                ("mma128", _) => Some(concat!("ucn_mul_mat_mma128_", $t, "\0")),
                _ => None,
            }
        };
    }
    let name: Option<&'static str> = match ty {
        ty::GGML_TYPE_F32 => names!("f32"),
        ty::GGML_TYPE_F16 => names!("f16"),
        ty::GGML_TYPE_BF16 => names!("bf16"),
        ty::GGML_TYPE_Q4_0 => names!("q4_0"),
        ty::GGML_TYPE_Q5_0 => names!("q5_0"),
        ty::GGML_TYPE_Q8_0 => names!("q8_0"),
        ty::GGML_TYPE_Q4_K => names!("q4_K"),
        ty::GGML_TYPE_Q5_K => names!("q5_K"),
        ty::GGML_TYPE_Q6_K => names!("q6_K"),
        _ => None,
    };
    name.and_then(|s| CStr::from_bytes_with_nul(s.as_bytes()).ok())
}

/// `UNICORN_MUL_MAT`: `generic` runs every MUL_MAT through the simple fallback kernel (to tell a
/// fast kernel's fault from the rest); `mma128` takes 128 x 128 tiles for prefill (fewer
/// dequantizations per product, one block per multiprocessor: a measurement to make). Read once.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Choice {
    Default,
    Generic,
    Mma128,
}

fn choice() -> Choice {
    static CHOICE: std::sync::OnceLock<Choice> = std::sync::OnceLock::new();
    *CHOICE.get_or_init(|| match crate::env::choice("UNICORN_MUL_MAT", &["generic", "mma128"]) {
        Some("generic") => Choice::Generic,
        Some("mma128") => Choice::Mma128,
        _ => Choice::Default,
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    fn args(ty: u32, k: usize, m: usize, n: usize, batch: [usize; 2]) -> Args {
        let lay = |ne: [usize; 4], elem: usize| {
            let nb0 = elem;
            Layout { ne, nb: [nb0, nb0 * ne[0], nb0 * ne[0] * ne[1], nb0 * ne[0] * ne[1] * ne[2]] }
        };
        let f = quants::format(ty).unwrap();
        let row = k / f.block_elems * f.block_bytes;
        let mut src0 = lay([k, m, 1, 1], f.block_bytes);
        src0.nb[1] = row;
        src0.nb[2] = row * m;
        src0.nb[3] = row * m;
        Args {
            weight_type: ty,
            tinyblas: false,
            src0,
            src1: lay([k, n, batch[0], batch[1]], 4),
            dst: lay([m, n, batch[0], batch[1]], 4),
        }
    }

    #[test]
    fn gpu_picks_a_kernel_per_shape() {
        // Gemma3n E2B decode: the vocabulary projection, 16384 groups of 16 rows over 1024 blocks.
        let l = gpu(&args(ty::GGML_TYPE_Q4_K, 2048, 262_144, 1, [1, 1])).unwrap();
        assert_eq!(l.kernel, c"ucn_mul_mat_vec_q4_K_1");
        assert_eq!((l.grid, l.block), ([1024, 1, 1], [32, 1, 8]));
        // Gemma3n's altup mix in a prompt (K 4, 2048 rows, 4 columns, 512 tokens): a thread per
        // output (a warp per row left 28 of 32 lanes idle: 14x slower than ggml-cuda on an H100).
        let l = gpu(&args(ty::GGML_TYPE_F32, 4, 2048, 4, [512, 1])).unwrap();
        assert_eq!(l.kernel, c"ucn_mul_mat_small_k");
        assert_eq!((l.grid, l.block), ([32, 512, 1], [256, 1, 1]));
        // FFN up (K 2048, 8192 rows): a block per group of 16 rows.
        let l = gpu(&args(ty::GGML_TYPE_Q4_K, 2048, 8192, 1, [1, 1])).unwrap();
        assert_eq!((l.grid, l.block), ([512, 1, 1], [32, 1, 8]));
        // FFN down (K 8192, 2048 rows): 128 groups, so K split over 2 warps.
        let l = gpu(&args(ty::GGML_TYPE_Q4_K, 8192, 2048, 1, [1, 1])).unwrap();
        assert_eq!((l.grid, l.block), ([256, 1, 1], [32, 2, 4]));
        // Q6_K: one row per warp.
        let l = gpu(&args(ty::GGML_TYPE_Q6_K, 2048, 8192, 1, [1, 1])).unwrap();
        assert_eq!(l.kernel, c"ucn_mul_mat_vec_q6_K_1");
        assert_eq!((l.grid, l.block), ([1024, 1, 1], [32, 1, 8]));
        // 3 columns round up to the 4-column kernel; batches over y and z.
        let l = gpu(&args(ty::GGML_TYPE_F16, 64, 10, 3, [70_000, 2])).unwrap();
        assert_eq!(l.kernel, c"ucn_mul_mat_vec_f16_4");
        assert_eq!((l.grid[1], l.grid[2]), (65_535, 3));
        // Prefill: the matrix cores, 128 x 64 tiles, column tiles in x.
        let l = gpu(&args(ty::GGML_TYPE_Q8_0, 2048, 8192, 512, [1, 1])).unwrap();
        assert_eq!(l.kernel, c"ucn_mul_mat_mma_q8_0");
        assert_eq!((l.grid, l.block), ([8, 64, 1], [256, 1, 1]));
        // A batch past grid z: the generic kernel.
        let l = gpu(&args(ty::GGML_TYPE_F32, 64, 4, 16, [70_000, 1])).unwrap();
        assert_eq!(l.kernel, c"ucn_mul_mat_generic");
        // x quantized once per product: the E2B output head, a block per group of 16 rows; the
        // quantize kernel a thread per 16 x values, the buffer 1.5 bytes per x value.
        let pq = gpu_prequantized(&args(ty::GGML_TYPE_Q6_K, 2048, 262_144, 1, [1, 1])).unwrap();
        assert_eq!(pq.product.kernel, c"ucn_mul_mat_vecq_q6_K_1");
        assert_eq!((pq.product.grid, pq.product.block), ([32_768, 1, 1], [32, 1, 8]));
        assert_eq!(pq.quantize.kernel, c"ucn_mul_mat_quantize_x");
        assert_eq!((pq.quantize.grid, pq.quantize.block), ([1, 1, 1], [256, 1, 1]));
        assert_eq!(pq.scratch_bytes, 2048 * 3 / 2);
        // FFN down with 8 columns (K 8192, 2048 rows: 256 groups of 8 rows, K split over 4 warps).
        let pq = gpu_prequantized(&args(ty::GGML_TYPE_Q4_K, 8192, 2048, 8, [1, 1])).unwrap();
        assert_eq!(pq.product.kernel, c"ucn_mul_mat_vecq_q4_K_8");
        assert_eq!((pq.product.grid, pq.product.block), ([1024, 1, 1], [32, 4, 2]));
        assert_eq!(pq.scratch_bytes, 8 * 8192 * 3 / 2);
        // Not for float weights, nor past 8 columns.
        assert!(gpu_prequantized(&args(ty::GGML_TYPE_F16, 2048, 64, 1, [1, 1])).is_none());
        assert!(gpu_prequantized(&args(ty::GGML_TYPE_Q4_0, 2048, 64, 9, [1, 1])).is_none());
        // Every kernel name exists for every type.
        for t in [0u32, 1, 2, 6, 8, 12, 13, 14, 30] {
            for nc in [1, 2, 4, 8] {
                assert!(kernel_name(t, "vec", nc).is_some());
                assert_eq!(kernel_name(t, "vecq", nc).is_some(), !is_float(t));
            }
            assert!(kernel_name(t, "mma", 0).is_some() && kernel_name(t, "mma128", 0).is_some());
        }
    }
}
