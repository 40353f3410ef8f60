//! CONCAT: src0 and src1 joined along dimension `dim`. F32, F16, BF16 or I32; any strides.
use super::{gather_elements, plain_elem_size, Layout};
use crate::gpu::Launch;
use crate::tensor::Tensor;

pub use super::args::ucn_concat_args as Args;

pub fn select(node: &Tensor) -> Option<Args> {
    let (a, b) = (node.src(0)?, node.src(1)?);
    let elem = plain_elem_size(node.dtype())?;
    let dim = usize::try_from(node.op_param_i32(0)).ok().filter(|&d| d < 4)?;
    if a.dtype() != node.dtype() || b.dtype() != node.dtype() {
        return None;
    }
    let (an, bn, dn) = (a.ne(), b.ne(), node.ne());
    let shape_ok = (0..4).all(|d| if d == dim { dn[d] == an[d] + bn[d] } else { an[d] == dn[d] && bn[d] == dn[d] });
    if !shape_ok || !Layout::of(node).is_dense(elem) {
        return None;
    }
    Some(Args { dim, elem, src0: Layout::of(&a), src1: Layout::of(&b), dst: Layout::of(node) })
}

pub fn run(a: &Args, node: &Tensor) {
    let (x, y) = (node.src_data(0), node.src_data(1));
    let split = a.src0.ne[a.dim];
    gather_elements(node.data_mut(), a.dst.ne, a.elem, |mut i| {
        let (src, l) = if i[a.dim] < split {
            (&x, &a.src0)
        } else {
            i[a.dim] -= split;
            (&y, &a.src1)
        };
        let off = l.offset(i);
        &src[off..off + a.elem]
    });
}

/// The GPU kernel (`kernels/hip/concat.cu`): one per element size (bits moved as they are), one
/// thread per dst element, tiles over ne0 x rows.
pub fn gpu(a: &Args) -> Option<Launch> {
    let kernel = match a.elem {
        4 => c"ucn_concat_b32",
        2 => c"ucn_concat_b16",
        _ => return None,
    };
    super::tiles(kernel, a.dst.ne[0], a.dst.nrows())
}
