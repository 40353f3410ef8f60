//! CONCAT: src0 and src1 joined along dimension `dim`. F32, F16, BF16 or I32; any strides.
use super::{cpy, Layout};
use crate::tensor::Tensor;
use ggml_sys::ggml_type as ty;

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct Args {
    pub dim: usize,
    pub elem: usize,
    pub src0: Layout,
    pub src1: Layout,
    pub dst: Layout,
}

pub fn elem_size(t: u32) -> Option<usize> {
    if t == ty::GGML_TYPE_I32 { Some(4) } else { cpy::float_elem_size(t) }
}

pub fn select(node: &Tensor) -> Option<Args> {
    let (a, b) = (node.src(0)?, node.src(1)?);
    let elem = elem_size(node.dtype())?;
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
    let dst = node.data_mut();
    let dn = a.dst.ne;
    let mut k = 0;
    for i3 in 0..dn[3] {
        for i2 in 0..dn[2] {
            for i1 in 0..dn[1] {
                for i0 in 0..dn[0] {
                    let mut i = [i0, i1, i2, i3];
                    let (src, l) = if i[a.dim] < a.src0.ne[a.dim] {
                        (&x, &a.src0)
                    } else {
                        i[a.dim] -= a.src0.ne[a.dim];
                        (&y, &a.src1)
                    };
                    let off = (0..4).map(|d| i[d] * l.nb[d]).sum::<usize>();
                    dst[k..k + a.elem].copy_from_slice(&src[off..off + a.elem]);
                    k += a.elem;
                }
            }
        }
    }
}
