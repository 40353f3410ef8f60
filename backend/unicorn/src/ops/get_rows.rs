//! GET_ROWS: dst[:, i10, i11, i12] = src0[:, idx[i10, i11, i12], i11, i12], dequantized to
//! F32. src0 in any weight type `quants` knows; indices I32.
use rayon::prelude::*;

use super::Layout;
use crate::gpu::Launch;
use crate::quants;
use crate::tensor::{f32s_mut, Tensor};
use ggml_sys::ggml_type as ty;

pub use super::args::ucn_get_rows_args as Args;

pub fn select(node: &Tensor) -> Option<Args> {
    let (w, idx) = (node.src(0)?, node.src(1)?);
    quants::format(w.dtype())?;
    if idx.dtype() != ty::GGML_TYPE_I32 || node.dtype() != ty::GGML_TYPE_F32 || !w.rows_contiguous() {
        return None;
    }
    let (wn, inn, dn) = (w.ne(), idx.ne(), node.ne());
    if dn != [wn[0], inn[0], inn[1], inn[2]] || wn[2] != inn[1] || wn[3] != inn[2] || inn[3] != 1 {
        return None;
    }
    if idx.nb()[0] != 4 || !Layout::of(node).is_dense(4) {
        return None;
    }
    Some(Args { src_type: w.dtype(), src: Layout::of(&w), idx: Layout::of(&idx) })
}

pub fn run(a: &Args, node: &Tensor) {
    let (w, idx) = (node.src_data(0), node.src_data(1));
    let dst = f32s_mut(node.data_mut());
    let ne0 = a.src.ne[0];
    let row_bytes = quants::format(a.src_type).map_or(0, |f| ne0 / f.block_elems * f.block_bytes);
    dst.par_chunks_mut(ne0).enumerate().for_each(|(r, out)| {
        // dst row r is index element (i10, i11, i12) of the [ne10, ne11, ne12] index tensor.
        let (ne10, ne11) = (a.idx.ne[0], a.idx.ne[1]);
        let (i10, i11, i12) = (r % ne10, (r / ne10) % ne11, r / (ne10 * ne11));
        let io = i10 * a.idx.nb[0] + i11 * a.idx.nb[1] + i12 * a.idx.nb[2];
        let row = i32::from_le_bytes([idx[io], idx[io + 1], idx[io + 2], idx[io + 3]]);
        let off = a.src.row_offset(row.max(0) as usize, i11, i12);
        quants::dequantize_row(a.src_type, &w[off..off + row_bytes], out);
    });
}

/// The GPU kernel (`kernels/hip/get_rows.cu`): one per weight type, one thread per output
/// element, tiles over ne00 x (ne10 * ne11 * ne12).
pub fn gpu(a: &Args) -> Option<Launch> {
    let kernel = match a.src_type {
        ty::GGML_TYPE_F32 => c"ucn_get_rows_f32",
        ty::GGML_TYPE_F16 => c"ucn_get_rows_f16",
        ty::GGML_TYPE_BF16 => c"ucn_get_rows_bf16",
        ty::GGML_TYPE_Q4_0 => c"ucn_get_rows_q4_0",
        ty::GGML_TYPE_Q5_0 => c"ucn_get_rows_q5_0",
        ty::GGML_TYPE_Q8_0 => c"ucn_get_rows_q8_0",
        ty::GGML_TYPE_Q4_K => c"ucn_get_rows_q4_K",
        ty::GGML_TYPE_Q5_K => c"ucn_get_rows_q5_K",
        ty::GGML_TYPE_Q6_K => c"ucn_get_rows_q6_K",
        _ => return None,
    };
    super::tiles(kernel, a.src.ne[0], a.idx.ne[0] * a.idx.ne[1] * a.idx.ne[2])
}
