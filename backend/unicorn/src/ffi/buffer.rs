//! The shared buffer type (`UNICORN_HOST`) and its buffers.
use std::ffi::c_char;

use super::guard;
use crate::buffer::{HostBuffer, ALIGNMENT};
use crate::log::log_error;
use ggml_sys as sys;

pub(super) fn new_type(device: sys::ggml_backend_dev_t) -> sys::ggml_backend_buffer_type_t {
    Box::into_raw(Box::new(sys::ggml_backend_buffer_type {
        iface: sys::ggml_backend_buffer_type_i {
            get_name: Some(buft_get_name),
            alloc_buffer: Some(buft_alloc_buffer),
            get_alignment: Some(buft_get_alignment),
            get_max_size: None,
            get_alloc_size: None,
            is_host: Some(buft_is_host),
        },
        device,
        context: std::ptr::null_mut(),
    }))
}

extern "C" fn buft_get_name(_buft: sys::ggml_backend_buffer_type_t) -> *const c_char {
    c"UNICORN_HOST".as_ptr()
}

extern "C" fn buft_get_alignment(_buft: sys::ggml_backend_buffer_type_t) -> usize {
    ALIGNMENT
}

/// Plain ggml layout in host memory: the CPU backend may read it and llama.cpp's loader may
/// write weights into it directly.
extern "C" fn buft_is_host(_buft: sys::ggml_backend_buffer_type_t) -> bool {
    true
}

const BUFFER_I: sys::ggml_backend_buffer_i = sys::ggml_backend_buffer_i {
    free_buffer: Some(free_buffer),
    get_base: Some(get_base),
    init_tensor: None,
    memset_tensor: Some(memset_tensor),
    set_tensor: Some(set_tensor),
    get_tensor: Some(get_tensor),
    set_tensor_2d: None,
    get_tensor_2d: None,
    cpy_tensor: Some(cpy_tensor),
    clear: Some(clear),
    reset: None,
};

extern "C" fn buft_alloc_buffer(buft: sys::ggml_backend_buffer_type_t, size: usize) -> sys::ggml_backend_buffer_t {
    guard("alloc_buffer", std::ptr::null_mut(), || match HostBuffer::new(size) {
        Ok(host) => {
            let ctx = Box::into_raw(Box::new(host));
            // SAFETY: buft is ours; ggml takes ownership of ctx and hands it back to free_buffer.
            unsafe { sys::ggml_backend_buffer_init(buft, BUFFER_I, ctx.cast(), size) }
        }
        Err(e) => {
            log_error!("UNICORN_HOST: {e}");
            std::ptr::null_mut()
        }
    })
}

/// The host allocation behind one of our buffers.
fn host<'a>(buffer: sys::ggml_backend_buffer_t) -> &'a mut HostBuffer {
    // SAFETY: every buffer with this vtable was made by `buft_alloc_buffer`, whose context is
    // a boxed HostBuffer, alive until free_buffer; ggml does not call a buffer concurrently.
    unsafe { &mut *((*buffer).context as *mut HostBuffer) }
}

/// (tensor data + offset) as a mutable pointer, for `size` bytes.
///
/// # Safety
/// `tensor` is a valid tensor allocated in a host buffer and `offset + size <= nbytes`
/// (ggml's `ggml_backend_tensor_*` wrappers assert this before calling the vtable).
unsafe fn at(tensor: *const sys::ggml_tensor, offset: usize) -> *mut u8 {
    // SAFETY: caller contract.
    unsafe { ((*tensor).data as *mut u8).add(offset) }
}

extern "C" fn free_buffer(buffer: sys::ggml_backend_buffer_t) {
    guard("free_buffer", (), || {
        // SAFETY: context was created by Box::into_raw in buft_alloc_buffer; freed once here.
        drop(unsafe { Box::from_raw((*buffer).context as *mut HostBuffer) })
    })
}

extern "C" fn get_base(buffer: sys::ggml_backend_buffer_t) -> *mut std::ffi::c_void {
    guard("get_base", std::ptr::null_mut(), || host(buffer).base().cast())
}

extern "C" fn memset_tensor(_b: sys::ggml_backend_buffer_t, tensor: *mut sys::ggml_tensor, value: u8, offset: usize, size: usize) {
    // SAFETY: see `at`; the range lies inside the tensor.
    guard("memset_tensor", (), || unsafe { std::ptr::write_bytes(at(tensor, offset), value, size) })
}

extern "C" fn set_tensor(_b: sys::ggml_backend_buffer_t, tensor: *mut sys::ggml_tensor, data: *const std::ffi::c_void, offset: usize, size: usize) {
    // SAFETY: see `at`; `data` holds `size` readable bytes and does not overlap the tensor.
    guard("set_tensor", (), || unsafe { std::ptr::copy_nonoverlapping(data as *const u8, at(tensor, offset), size) })
}

extern "C" fn get_tensor(_b: sys::ggml_backend_buffer_t, tensor: *const sys::ggml_tensor, data: *mut std::ffi::c_void, offset: usize, size: usize) {
    // SAFETY: see `at`; `data` has room for `size` bytes and does not overlap the tensor.
    guard("get_tensor", (), || unsafe { std::ptr::copy_nonoverlapping(at(tensor, offset), data as *mut u8, size) })
}

extern "C" fn cpy_tensor(_b: sys::ggml_backend_buffer_t, src: *const sys::ggml_tensor, dst: *mut sys::ggml_tensor) -> bool {
    guard("cpy_tensor", false, || {
        // SAFETY: valid tensors; src's buffer is checked to be host memory before reading it,
        // and ggml only asks for copies between tensors of equal size.
        unsafe {
            if (*src).buffer.is_null() || !sys::ggml_backend_buffer_is_host((*src).buffer) {
                return false;
            }
            std::ptr::copy_nonoverlapping(at(src, 0), at(dst, 0), sys::ggml_nbytes(src));
        }
        true
    })
}

extern "C" fn clear(buffer: sys::ggml_backend_buffer_t, value: u8) {
    guard("clear", (), || host(buffer).fill(value))
}
