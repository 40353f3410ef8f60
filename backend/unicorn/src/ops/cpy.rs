//! CPY, CONT, DUP: copy elements in logical (row-major) order between tensors of equal
//! element count, converting between F32, F16 and BF16. Any strides on either side.
use half::f16;
use rayon::prelude::*;

use super::{f32_to_bf16, Layout};
use crate::gpu::Launch;
use crate::tensor::Tensor;
use ggml_sys::ggml_type as ty;

pub use super::args::ucn_cpy_args as Args;

/// The plain float types this family converts between, with their element size.
pub fn float_elem_size(t: u32) -> Option<usize> {
    match t {
        ty::GGML_TYPE_F32 => Some(4),
        ty::GGML_TYPE_F16 | ty::GGML_TYPE_BF16 => Some(2),
        _ => None,
    }
}

pub fn read(t: u32, b: &[u8]) -> f32 {
    match t {
        ty::GGML_TYPE_F32 => f32::from_le_bytes([b[0], b[1], b[2], b[3]]),
        ty::GGML_TYPE_F16 => f16::from_le_bytes([b[0], b[1]]).to_f32(),
        _ => half::bf16::from_le_bytes([b[0], b[1]]).to_f32(),
    }
}

pub fn write(t: u32, v: f32, b: &mut [u8]) {
    match t {
        ty::GGML_TYPE_F32 => b[..4].copy_from_slice(&v.to_le_bytes()),
        ty::GGML_TYPE_F16 => b[..2].copy_from_slice(&f16::from_f32(v).to_le_bytes()),
        _ => b[..2].copy_from_slice(&f32_to_bf16(v).to_le_bytes()),
    }
}

pub fn select(node: &Tensor) -> Option<Args> {
    let src = node.src(0)?;
    let (st, dt) = (src.dtype(), node.dtype());
    float_elem_size(st)?;
    float_elem_size(dt)?;
    if src.nelements() != node.nelements() {
        return None;
    }
    Some(Args { src_type: st, dst_type: dt, src: Layout::of(&src), dst: Layout::of(node) })
}

fn offset(l: &Layout, mut k: usize) -> usize {
    let mut off = 0;
    for d in 0..4 {
        off += (k % l.ne[d]) * l.nb[d];
        k /= l.ne[d];
    }
    off
}

pub fn run(a: &Args, node: &Tensor) {
    let src = node.src_data(0);
    let dst = node.data_mut();
    let (ss, ds) = (float_elem_size(a.src_type).unwrap_or(4), float_elem_size(a.dst_type).unwrap_or(4));
    let n: usize = a.src.ne.iter().product();
    if a.dst.is_dense(ds) {
        // Rows of dst in parallel; each element's source found by its logical index.
        let ne0 = a.dst.ne[0].max(1);
        dst.par_chunks_mut(ne0 * ds).enumerate().for_each(|(r, out)| {
            for i in 0..ne0.min(n - r * ne0) {
                let so = offset(&a.src, r * ne0 + i);
                write(a.dst_type, read(a.src_type, &src[so..so + ss]), &mut out[i * ds..]);
            }
        });
    } else {
        for k in 0..n {
            let (so, d) = (offset(&a.src, k), offset(&a.dst, k));
            write(a.dst_type, read(a.src_type, &src[so..so + ss]), &mut dst[d..d + ds]);
        }
    }
}

/// The GPU kernel (`kernels/hip/cpy.cu`): one thread per element, tiles over dst's ne0 x rows.
pub fn gpu(a: &Args) -> Option<Launch> {
    super::tiles(c"ucn_cpy", a.dst.ne[0], a.dst.nrows())
}
