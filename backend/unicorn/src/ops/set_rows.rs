//! SET_ROWS: dst[:, idx[i01, i02 % ne11, i03 % ne12], i02, i03] = src0[:, i01, i02, i03],
//! converted to dst's type (F32, F16 or BF16). This is how the KV cache is written.
use super::{cpy, Layout};
use crate::gpu::Launch;
use crate::tensor::Tensor;
use ggml_sys::ggml_type as ty;

pub use super::args::ucn_set_rows_args as Args;

pub fn select(node: &Tensor) -> Option<Args> {
    let (x, idx) = (node.src(0)?, node.src(1)?);
    let esz = cpy::float_elem_size(node.dtype())?;
    let idx_is_i64 = match idx.dtype() {
        ty::GGML_TYPE_I64 => true,
        ty::GGML_TYPE_I32 => false,
        _ => return None,
    };
    let (xn, inn, dn) = (x.ne(), idx.ne(), node.ne());
    if x.dtype() != ty::GGML_TYPE_F32 || x.nb()[0] != 4 || node.nb()[0] != esz {
        return None;
    }
    if xn[0] != dn[0] || inn[0] != xn[1] || inn[1] == 0 || inn[2] == 0 || xn[2] % inn[1] != 0 || xn[3] % inn[2] != 0 {
        return None;
    }
    if xn[2] != dn[2] || xn[3] != dn[3] {
        return None;
    }
    Some(Args { dst_type: node.dtype(), src: Layout::of(&x), idx: Layout::of(&idx), idx_is_i64, dst: Layout::of(node) })
}

pub fn run(a: &Args, node: &Tensor) {
    let (x, idx) = (node.src_data(0), node.src_data(1));
    let dst = node.data_mut();
    let esz = cpy::float_elem_size(a.dst_type).unwrap_or(4);
    let [ne00, ne01, ne02, ne03] = a.src.ne;
    for i03 in 0..ne03 {
        for i02 in 0..ne02 {
            for i01 in 0..ne01 {
                let io = i01 * a.idx.nb[0] + (i02 % a.idx.ne[1]) * a.idx.nb[1] + (i03 % a.idx.ne[2]) * a.idx.nb[2];
                let row = if a.idx_is_i64 {
                    i64::from_le_bytes(idx[io..io + 8].try_into().unwrap_or([0; 8]))
                } else {
                    i32::from_le_bytes(idx[io..io + 4].try_into().unwrap_or([0; 4])) as i64
                };
                let row = usize::try_from(row).ok().filter(|&r| r < a.dst.ne[1]);
                let Some(row) = row else { continue };
                let src = super::row_f32(&x, &a.src, i01, i02, i03);
                let d0 = a.dst.row_offset(row, i02, i03);
                let out = &mut dst[d0..d0 + ne00 * esz];
                for (i, &v) in src.iter().enumerate() {
                    cpy::write(a.dst_type, v, &mut out[i * esz..]);
                }
            }
        }
    }
}

/// The GPU kernel (`kernels/hip/set_rows.cu`): one thread per source element, tiles over
/// ne00 x source rows.
pub fn gpu(a: &Args) -> Option<Launch> {
    super::tiles(c"ucn_set_rows_f32", a.src.ne[0], a.src.nrows())
}
