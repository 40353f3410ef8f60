//! REPEAT: src tiled to dst's shape (each dst dimension a multiple of src's).
//! F32, F16, BF16 or I32; any source strides.
use super::{concat::elem_size, Layout};
use crate::tensor::Tensor;

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct Args {
    pub elem: usize,
    pub src: Layout,
    pub dst: Layout,
}

pub fn select(node: &Tensor) -> Option<Args> {
    let x = node.src(0)?;
    let elem = elem_size(node.dtype())?;
    let (xn, dn) = (x.ne(), node.ne());
    if x.dtype() != node.dtype() || (0..4).any(|d| xn[d] == 0 || dn[d] % xn[d] != 0) || !Layout::of(node).is_dense(elem) {
        return None;
    }
    Some(Args { elem, src: Layout::of(&x), dst: Layout::of(node) })
}

pub fn run(a: &Args, node: &Tensor) {
    let x = node.src_data(0);
    let dst = node.data_mut();
    let (dn, sn) = (a.dst.ne, a.src.ne);
    let mut k = 0;
    for i3 in 0..dn[3] {
        for i2 in 0..dn[2] {
            for i1 in 0..dn[1] {
                for i0 in 0..dn[0] {
                    let off = (i0 % sn[0]) * a.src.nb[0] + (i1 % sn[1]) * a.src.nb[1] + (i2 % sn[2]) * a.src.nb[2] + (i3 % sn[3]) * a.src.nb[3];
                    dst[k..k + a.elem].copy_from_slice(&x[off..off + a.elem]);
                    k += a.elem;
                }
            }
        }
    }
}
