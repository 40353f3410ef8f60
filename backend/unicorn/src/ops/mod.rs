//! Op families, one file each, named after the ggml op.
//!
//! Each file has three layers, as ggml's own backends do:
//! - `select(node) -> Option<Args>`: the single decision whether (and how) the op is run;
//!   `supports_op` and the compute dispatch both call it, so an op is claimed exactly when a
//!   kernel exists for it;
//! - an `Args` struct (plain sizes/strides/params): the kernel-argument type every engine
//!   uses. It is defined once, in C, in `kernels/hip/args.h` (see `args`), and the GPU kernels
//!   take exactly that struct;
//! - `run(&Args, node)`: the CPU reference kernel, the numerical oracle for the others.
use crate::gpu::Launch;
use crate::tensor::Tensor;

pub mod args;
pub mod binary;
pub mod concat;
pub mod cpy;
pub mod flash_attn_ext;
pub mod get_rows;
pub mod glu;
pub mod mul_mat;
pub mod repeat;
pub mod rms_norm;
pub mod rope;
pub mod scale;
pub mod set_rows;
pub mod sum_rows;
pub mod unary;

use ggml_sys::ggml_op as op;

/// One planned kernel launch: which op family, with its arguments.
#[derive(Clone, Debug, PartialEq)]
pub enum Kernel {
    FlashAttnExt(flash_attn_ext::Args),
    MulMat(mul_mat::Args),
    GetRows(get_rows::Args),
    SetRows(set_rows::Args),
    Cpy(cpy::Args),
    Unary(unary::Args),
    Glu(glu::Args),
    Binary(binary::Args),
    Scale(scale::Args),
    RmsNorm(rms_norm::Args),
    Rope(rope::Args),
    SumRows(sum_rows::Args),
    Concat(concat::Args),
    Repeat(repeat::Args),
}

/// Which kernel computes `node`, if any.
pub fn select(node: &Tensor) -> Option<Kernel> {
    match node.op() {
        op::GGML_OP_FLASH_ATTN_EXT => flash_attn_ext::select(node).map(Kernel::FlashAttnExt),
        op::GGML_OP_MUL_MAT => mul_mat::select(node).map(Kernel::MulMat),
        op::GGML_OP_GET_ROWS => get_rows::select(node).map(Kernel::GetRows),
        op::GGML_OP_SET_ROWS => set_rows::select(node).map(Kernel::SetRows),
        op::GGML_OP_CPY | op::GGML_OP_CONT | op::GGML_OP_DUP => cpy::select(node).map(Kernel::Cpy),
        op::GGML_OP_UNARY | op::GGML_OP_SQR | op::GGML_OP_SQRT => unary::select(node).map(Kernel::Unary),
        op::GGML_OP_SUM_ROWS | op::GGML_OP_MEAN => sum_rows::select(node).map(Kernel::SumRows),
        op::GGML_OP_CONCAT => concat::select(node).map(Kernel::Concat),
        op::GGML_OP_REPEAT => repeat::select(node).map(Kernel::Repeat),
        op::GGML_OP_GLU => glu::select(node).map(Kernel::Glu),
        op::GGML_OP_ADD | op::GGML_OP_SUB | op::GGML_OP_MUL | op::GGML_OP_DIV => {
            binary::select(node).map(Kernel::Binary)
        }
        op::GGML_OP_SCALE => scale::select(node).map(Kernel::Scale),
        op::GGML_OP_RMS_NORM => rms_norm::select(node).map(Kernel::RmsNorm),
        op::GGML_OP_ROPE => rope::select(node).map(Kernel::Rope),
        _ => None,
    }
}

/// Run a selected kernel with the CPU reference implementation.
pub fn run(kernel: &Kernel, node: &Tensor) {
    match kernel {
        Kernel::FlashAttnExt(a) => flash_attn_ext::run(a, node),
        Kernel::MulMat(a) => mul_mat::run(a, node),
        Kernel::GetRows(a) => get_rows::run(a, node),
        Kernel::SetRows(a) => set_rows::run(a, node),
        Kernel::Cpy(a) => cpy::run(a, node),
        Kernel::Unary(a) => unary::run(a, node),
        Kernel::Glu(a) => glu::run(a, node),
        Kernel::Binary(a) => binary::run(a, node),
        Kernel::Scale(a) => scale::run(a, node),
        Kernel::RmsNorm(a) => rms_norm::run(a, node),
        Kernel::Rope(a) => rope::run(a, node),
        Kernel::SumRows(a) => sum_rows::run(a, node),
        Kernel::Concat(a) => concat::run(a, node),
        Kernel::Repeat(a) => repeat::run(a, node),
    }
}

/// The GPU launch of a selected kernel, with a pointer to its arguments (the kernel's first
/// parameter); `None` when `kernels/hip` has no kernel for it. Like `select`, this is the one
/// decision: the GPU engine claims a node exactly when this returns a launch.
pub fn gpu_launch(kernel: &Kernel) -> Option<(Launch, *const std::ffi::c_void)> {
    fn with<A>(l: Option<Launch>, a: &A) -> Option<(Launch, *const std::ffi::c_void)> {
        l.map(|l| (l, a as *const A as *const std::ffi::c_void))
    }
    match kernel {
        Kernel::Scale(a) => with(scale::gpu(a), a),
        Kernel::MulMat(a) => with(mul_mat::gpu(a), a),
        Kernel::GetRows(a) => with(get_rows::gpu(a), a),
        Kernel::SetRows(a) => with(set_rows::gpu(a), a),
        Kernel::Cpy(a) => with(cpy::gpu(a), a),
        Kernel::Unary(a) => with(unary::gpu(a), a),
        Kernel::Glu(a) => with(glu::gpu(a), a),
        Kernel::Binary(a) => with(binary::gpu(a), a),
        Kernel::RmsNorm(a) => with(rms_norm::gpu(a), a),
        Kernel::Rope(a) => with(rope::gpu(a), a),
        Kernel::SumRows(a) => with(sum_rows::gpu(a), a),
        Kernel::Concat(a) => with(concat::gpu(a), a),
        Kernel::Repeat(a) => with(repeat::gpu(a), a),
        Kernel::FlashAttnExt(a) => with(flash_attn_ext::gpu(a), a),
    }
}

/// The launch of an element-wise kernel over `ne0` columns and `nrows` rows: blocks of 256
/// threads shaped (tx, 256 / tx), tx the power of two that covers ne0 (at most 256), so short
/// rows share a block and long ones are split over grid x; the row blocks spread over grid y
/// and z. Kernels find their element with `ucn_tile_col()` / `ucn_tile_row()`
/// (`kernels/hip/common.cuh`). `None` when there is nothing to do, or for 2^32 rows or more
/// (the kernels index rows in 32 bits).
pub(crate) fn tiles(kernel: &'static std::ffi::CStr, ne0: usize, nrows: usize) -> Option<Launch> {
    if ne0 == 0 || nrows == 0 || nrows > u32::MAX as usize {
        return None;
    }
    let tx = ne0.next_power_of_two().min(256);
    let ty = 256 / tx;
    let mut l = Launch::rows(kernel, tx as u32, ne0.div_ceil(tx), nrows.div_ceil(ty))?;
    l.block = [tx as u32, ty as u32, 1];
    Some(l)
}

/// Threads of a block that reduces one row of `ne0` elements: about 8 elements per thread, a
/// power of two from 32 (one wave) to 1024.
pub(crate) fn row_threads(ne0: usize) -> u32 {
    (ne0 / 8).next_power_of_two().clamp(32, 1024) as u32
}

/// Shape and strides of a tensor, as plain numbers (part of most `Args`).
pub use args::ucn_layout as Layout;

impl Layout {
    pub fn of(t: &Tensor) -> Self {
        Layout { ne: t.ne(), nb: t.nb() }
    }
    pub fn nrows(&self) -> usize {
        self.ne[1] * self.ne[2] * self.ne[3]
    }
    /// Byte offset of row (i1, i2, i3).
    pub fn row_offset(&self, i1: usize, i2: usize, i3: usize) -> usize {
        i1 * self.nb[1] + i2 * self.nb[2] + i3 * self.nb[3]
    }
    /// Byte offset of element (i0, i1, i2, i3).
    pub fn offset(&self, i: [usize; 4]) -> usize {
        (0..4).map(|d| i[d] * self.nb[d]).sum()
    }
    /// (i1, i2, i3) of flat row index r.
    pub fn row_index(&self, r: usize) -> (usize, usize, usize) {
        let i1 = r % self.ne[1];
        let i2 = (r / self.ne[1]) % self.ne[2];
        let i3 = r / (self.ne[1] * self.ne[2]);
        (i1, i2, i3)
    }
    /// Rows are packed one after another (dense), elements of `elem` bytes.
    pub fn is_dense(&self, elem: usize) -> bool {
        self.nb[0] == elem
            && self.nb[1] == self.nb[0] * self.ne[0]
            && self.nb[2] == self.nb[1] * self.ne[1]
            && self.nb[3] == self.nb[2] * self.ne[2]
    }
}

/// Element size of the types CONCAT and REPEAT move as plain bytes: F32, F16, BF16, I32.
pub(crate) fn plain_elem_size(t: u32) -> Option<usize> {
    if t == ggml_sys::ggml_type::GGML_TYPE_I32 { Some(4) } else { cpy::float_elem_size(t) }
}

/// Fills the dense tensor data `dst` (shape `ne`, elements of `elem` bytes, in ggml order)
/// element by element with the bytes `src_of([i0, i1, i2, i3])` gives for each index.
pub(crate) fn gather_elements<'s>(dst: &mut [u8], ne: [usize; 4], elem: usize, src_of: impl Fn([usize; 4]) -> &'s [u8]) {
    let mut k = 0;
    for i3 in 0..ne[3] {
        for i2 in 0..ne[2] {
            for i1 in 0..ne[1] {
                for i0 in 0..ne[0] {
                    dst[k..k + elem].copy_from_slice(src_of([i0, i1, i2, i3]));
                    k += elem;
                }
            }
        }
    }
}

/// The shape row-wise F32 ops share: src0 F32 with contiguous rows, dst a dense F32 tensor
/// of the same shape. Returns src0's layout.
pub(crate) fn rowwise_f32(node: &Tensor) -> Option<Layout> {
    use ggml_sys::ggml_type as ty;
    let x = node.src(0)?;
    let ok = x.dtype() == ty::GGML_TYPE_F32
        && node.dtype() == ty::GGML_TYPE_F32
        && x.nb()[0] == 4
        && node.same_shape(&x)
        && Layout::of(node).is_dense(4);
    ok.then(|| Layout::of(&x))
}

/// Runs `f(src_row, dst_row)` for every row of a `rowwise_f32` node, rows in parallel.
pub(crate) fn map_rows_f32(node: &Tensor, src: &Layout, f: impl Fn(&[f32], &mut [f32]) + Sync) {
    use rayon::prelude::*;
    let x = node.src_data(0);
    let dst = crate::tensor::f32s_mut(node.data_mut());
    dst.par_chunks_mut(src.ne[0].max(1)).enumerate().for_each(|(r, out)| {
        let (i1, i2, i3) = src.row_index(r);
        f(row_f32(&x, src, i1, i2, i3), out);
    });
}

/// f32 row `r` of a tensor whose rows are contiguous f32.
pub(crate) fn row_f32<'a>(data: &'a [u8], l: &Layout, i1: usize, i2: usize, i3: usize) -> &'a [f32] {
    let off = l.row_offset(i1, i2, i3);
    crate::tensor::f32s(&data[off..off + l.ne[0] * 4])
}

/// Convert f32 to bf16 the way ggml does (`GGML_FP32_TO_BF16`): round to nearest even, NaN
/// kept as a quiet NaN.
pub fn f32_to_bf16(x: f32) -> half::bf16 {
    let u = x.to_bits();
    if (u & 0x7fff_ffff) > 0x7f80_0000 {
        return half::bf16::from_bits(((u >> 16) | 64) as u16);
    }
    half::bf16::from_bits(((u + (0x7fff + ((u >> 16) & 1))) >> 16) as u16)
}
