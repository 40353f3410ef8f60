//! REPEAT: src tiled to dst's shape (each dst dimension a multiple of src's).
//! F32, F16, BF16 or I32; any source strides.
use super::{gather_elements, plain_elem_size, Layout};
use crate::gpu::Launch;
use crate::tensor::Tensor;

pub use super::args::ucn_repeat_args as Args;

pub fn select(node: &Tensor) -> Option<Args> {
    let x = node.src(0)?;
    let elem = plain_elem_size(node.dtype())?;
    let (xn, dn) = (x.ne(), node.ne());
    if x.dtype() != node.dtype() || (0..4).any(|d| xn[d] == 0 || dn[d] % xn[d] != 0) || !Layout::of(node).is_dense(elem) {
        return None;
    }
    Some(Args { elem, src: Layout::of(&x), dst: Layout::of(node) })
}

pub fn run(a: &Args, node: &Tensor) {
    let x = node.src_data(0);
    let sn = a.src.ne;
    gather_elements(node.data_mut(), a.dst.ne, a.elem, |i| {
        let off = a.src.offset([i[0] % sn[0], i[1] % sn[1], i[2] % sn[2], i[3] % sn[3]]);
        &x[off..off + a.elem]
    });
}

/// The GPU kernel (`kernels/hip/repeat.cu`): one per element size (bits moved as they are), one
/// thread per dst element, tiles over ne0 x rows.
pub fn gpu(a: &Args) -> Option<Launch> {
    let kernel = match a.elem {
        4 => c"ucn_repeat_b32",
        2 => c"ucn_repeat_b16",
        _ => return None,
    };
    super::tiles(kernel, a.dst.ne[0], a.dst.nrows())
}
