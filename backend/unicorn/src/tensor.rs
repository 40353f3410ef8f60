//! A safe, read-mostly view of a `ggml_tensor` and its data.
//!
//! This is the only module that dereferences `ggml_tensor` pointers. Op code sees shapes,
//! strides, op parameters and byte slices, never raw pointers.
use std::borrow::Cow;
use std::ffi::CStr;

use ggml_sys as sys;

pub use sys::ggml_op::Type as Op;
pub use sys::ggml_type::Type as DType;

/// A tensor of a graph that is being computed or asked about.
#[derive(Clone, Copy)]
pub struct Tensor<'a> {
    raw: &'a sys::ggml_tensor,
}

// SAFETY: a Tensor only reads the ggml_tensor header, which nobody changes while a graph is
// computed; data access follows the `from_raw` contract, and kernels that share a node
// between threads write disjoint parts of its output.
unsafe impl Send for Tensor<'_> {}
unsafe impl Sync for Tensor<'_> {}

impl<'a> Tensor<'a> {
    /// # Safety
    /// 1. `ptr` is null or points to a `ggml_tensor` that stays valid, and whose shape does not
    ///    change, for `'a`.
    /// 2. Whenever data is read or written through the view (`data`, `data_mut`,
    ///    `src_data`), `data` points to `ggml_nbytes` bytes of host memory that no other thread
    ///    writes meanwhile. ggml guarantees this for the nodes of a graph handed to
    ///    `graph_compute` (and for their sources) once they are allocated.
    pub unsafe fn from_raw(ptr: *const sys::ggml_tensor) -> Option<Self> {
        // SAFETY: caller contract 1.
        unsafe { ptr.as_ref() }.map(|raw| Tensor { raw })
    }

    /// The data address (host or device memory, depending on the buffer).
    pub fn data_ptr(&self) -> *mut std::ffi::c_void {
        self.raw.data
    }
    pub fn as_ptr(&self) -> *const sys::ggml_tensor {
        self.raw
    }
    pub fn op(&self) -> Op {
        self.raw.op
    }
    pub fn dtype(&self) -> DType {
        self.raw.type_
    }
    pub fn ne(&self) -> [usize; 4] {
        self.raw.ne.map(|n| n.max(0) as usize)
    }
    pub fn nb(&self) -> [usize; 4] {
        self.raw.nb
    }
    pub fn nelements(&self) -> usize {
        self.ne().iter().product()
    }
    pub fn nrows(&self) -> usize {
        let ne = self.ne();
        ne[1] * ne[2] * ne[3]
    }
    pub fn flags(&self) -> i32 {
        self.raw.flags
    }
    pub fn name(&self) -> &str {
        // SAFETY: `name` is a NUL-terminated fixed-size array inside the tensor.
        unsafe { CStr::from_ptr(self.raw.name.as_ptr()) }.to_str().unwrap_or("?")
    }
    pub fn src(&self, i: usize) -> Option<Tensor<'a>> {
        let ptr = *self.raw.src.get(i)?;
        // SAFETY: sources of a valid tensor are valid tensors for as long as the graph is.
        unsafe { Tensor::from_raw(ptr) }
    }
    pub fn op_param_i32(&self, i: usize) -> i32 {
        self.raw.op_params[i]
    }
    pub fn op_param_f32(&self, i: usize) -> f32 {
        f32::from_bits(self.raw.op_params[i] as u32)
    }
    /// All op parameters, as ggml stores them (for comparing two nodes).
    pub fn op_params(&self) -> &[i32] {
        &self.raw.op_params
    }
    /// The tensor is a view of another tensor's data.
    pub fn is_view(&self) -> bool {
        !self.raw.view_src.is_null()
    }
    pub fn buffer(&self) -> sys::ggml_backend_buffer_t {
        if self.raw.view_src.is_null() {
            self.raw.buffer
        } else {
            // SAFETY: view_src is a valid tensor when non-null.
            unsafe { (*self.raw.view_src).buffer }
        }
    }
    pub fn is_contiguous(&self) -> bool {
        // SAFETY: reads only the shape of a valid tensor.
        unsafe { sys::ggml_is_contiguous(self.raw) }
    }
    /// Contiguous rows: element 0 stride is the element size (rows may be strided).
    pub fn rows_contiguous(&self) -> bool {
        // SAFETY: pure functions of the type id.
        let (ts, bs) = unsafe { (sys::ggml_type_size(self.raw.type_), sys::ggml_blck_size(self.raw.type_)) };
        self.nb()[0] == ts && (self.ne()[0] as i64) % bs == 0
    }
    pub fn type_size(&self) -> usize {
        // SAFETY: pure function of the type id.
        unsafe { sys::ggml_type_size(self.raw.type_) }
    }
    pub fn row_size(&self) -> usize {
        // SAFETY: pure function of the type id and length.
        unsafe { sys::ggml_row_size(self.raw.type_, self.raw.ne[0]) }
    }
    pub fn nbytes(&self) -> usize {
        // SAFETY: reads only the shape of a valid tensor.
        unsafe { sys::ggml_nbytes(self.raw) }
    }
    pub fn same_shape(&self, other: &Tensor) -> bool {
        self.ne() == other.ne()
    }
    fn byte_range(&self) -> (usize, usize) {
        let start = self.raw.data as usize;
        (start, start + self.nbytes())
    }

    /// The tensor's bytes. Empty when it has no data.
    pub fn data(&self) -> &'a [u8] {
        let n = self.nbytes();
        if self.raw.data.is_null() || n == 0 {
            return &[];
        }
        // SAFETY: `from_raw` contract 2: `data` holds `nbytes` readable bytes for 'a.
        unsafe { std::slice::from_raw_parts(self.raw.data as *const u8, n) }
    }

    /// The bytes of source `i` of this node, copied if they overlap this node's own data (an
    /// in-place op), so the caller can hold them next to `data_mut()`.
    pub fn src_data(&self, i: usize) -> Cow<'a, [u8]> {
        let Some(src) = self.src(i) else { return Cow::Borrowed(&[]) };
        let (a0, a1) = src.byte_range();
        let (b0, b1) = self.byte_range();
        if a0 < b1 && b0 < a1 {
            Cow::Owned(src.data().to_vec())
        } else {
            Cow::Borrowed(src.data())
        }
    }

    /// This node's output bytes.
    ///
    /// Callers take it once per node and read sources through `src_data`, which copies any
    /// source that overlaps it, so the mutable slice aliases nothing else in use.
    #[allow(clippy::mut_from_ref)]
    pub fn data_mut(&self) -> &'a mut [u8] {
        let n = self.nbytes();
        if self.raw.data.is_null() || n == 0 {
            return &mut [];
        }
        // SAFETY: `from_raw` contract 2 (the node's output is written by this backend only,
        // while it computes the node), and the single-taker rule above.
        unsafe { std::slice::from_raw_parts_mut(self.raw.data as *mut u8, n) }
    }
}

/// ggml element-type and op names, for messages.
pub fn type_name(t: DType) -> &'static str {
    // SAFETY: ggml_type_name returns a static string for every id (or "NONE").
    unsafe { CStr::from_ptr(sys::ggml_type_name(t)) }.to_str().unwrap_or("?")
}
pub fn op_name(t: &Tensor) -> &'static str {
    // SAFETY: ggml_op_desc returns a static string for a valid tensor.
    unsafe { CStr::from_ptr(sys::ggml_op_desc(t.as_ptr())) }.to_str().unwrap_or("?")
}

/// Every name `op_name` can return: ggml's ops, unary ops and GLU ops.
pub fn known_op_names() -> Vec<&'static str> {
    let name = |p: *const std::ffi::c_char| {
        // SAFETY: ggml's name functions return static NUL-terminated strings for in-range values.
        unsafe { CStr::from_ptr(p) }.to_str().unwrap_or("?")
    };
    let mut v = Vec::new();
    // SAFETY: each index is below its enum's COUNT.
    v.extend((0..sys::ggml_op::GGML_OP_COUNT).map(|i| name(unsafe { sys::ggml_op_name(i) })));
    // SAFETY: as above.
    v.extend((0..sys::ggml_unary_op::GGML_UNARY_OP_COUNT).map(|i| name(unsafe { sys::ggml_unary_op_name(i) })));
    // SAFETY: as above.
    v.extend((0..sys::ggml_glu_op::GGML_GLU_OP_COUNT).map(|i| name(unsafe { sys::ggml_glu_op_name(i) })));
    v
}

/// Reinterpret bytes as f32 (ggml f32 data is 4-byte aligned; an empty tensor may have no
/// data pointer at all).
pub fn f32s(b: &[u8]) -> &[f32] {
    if b.is_empty() {
        return &[];
    }
    bytemuck::cast_slice(b)
}
pub fn f32s_mut(b: &mut [u8]) -> &mut [f32] {
    if b.is_empty() {
        return &mut [];
    }
    bytemuck::cast_slice_mut(b)
}

#[cfg(test)]
mod tests {
    #[test]
    fn known_op_names_cover_ops_unary_and_glu() {
        let names = super::known_op_names();
        for n in ["MUL_MAT", "FLASH_ATTN_EXT", "RMS_NORM", "GELU", "SILU", "SWIGLU", "GEGLU"] {
            assert!(names.contains(&n), "{n} missing from {names:?}");
        }
        assert!(!names.contains(&"MULMAT"));
    }
}
