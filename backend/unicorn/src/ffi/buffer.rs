//! Buffer types and their buffers.
//!
//! - `UNICORN_HOST` (`is_host`): shared by both devices. On the APU it is allocated through
//!   the GPU runtime, so the iGPU (and the NPU, and the CPU) use the same bytes in place.
//! - `UNICORN_IGPU0` (device memory): only when the GPU engine runs on a discrete GPU (the
//!   NVIDIA machines). The scheduler copies at split boundaries, as with llama.cpp's own GPU
//!   backends.
use std::ffi::{c_char, c_void, CString};

use super::guard;
use crate::buffer::{Memory, ALIGNMENT};
use crate::device::Device;
use crate::log::log_error;
use ggml_sys as sys;

/// What a buffer type allocates.
pub(super) struct BufferKind {
    name: CString,
    /// The device whose GPU engine (if any) allocates and copies.
    device: &'static Device,
    host: bool,
}

impl BufferKind {
    fn alloc(&self, size: usize) -> Result<Memory, String> {
        let gpu = self.device.engine.gpu();
        if self.host {
            // GPU-mapped only where the GPU reads host memory in place (integrated).
            return Memory::host(size, gpu.filter(|g| g.driver.integrated()));
        }
        match (gpu, self.device.engine.stream()) {
            (Some(gpu), Some(stream)) => Memory::device(size, gpu, stream),
            _ => Err("device memory requested from a device without a GPU engine".into()),
        }
    }
}

/// A buffer type allocating host memory (`host`) or `device`'s GPU memory.
pub(super) fn new_type(dev: sys::ggml_backend_dev_t, device: &'static Device, name: &str, host: bool) -> sys::ggml_backend_buffer_type_t {
    let kind = Box::new(BufferKind { name: CString::new(name).unwrap_or_default(), device, host });
    Box::into_raw(Box::new(sys::ggml_backend_buffer_type {
        iface: sys::ggml_backend_buffer_type_i {
            get_name: Some(buft_get_name),
            alloc_buffer: Some(buft_alloc_buffer),
            get_alignment: Some(buft_get_alignment),
            get_max_size: None,
            get_alloc_size: None,
            is_host: Some(buft_is_host),
        },
        device: dev,
        context: Box::into_raw(kind).cast(),
    }))
}

fn kind<'a>(buft: sys::ggml_backend_buffer_type_t) -> &'a BufferKind {
    // SAFETY: every buffer type with these functions was made by `new_type`, whose context is
    // a leaked BufferKind (buffer types live for the whole process).
    unsafe { &*((*buft).context as *const BufferKind) }
}

extern "C" fn buft_get_name(buft: sys::ggml_backend_buffer_type_t) -> *const c_char {
    guard("buft get_name", c"UNICORN".as_ptr(), || kind(buft).name.as_ptr())
}

extern "C" fn buft_get_alignment(_buft: sys::ggml_backend_buffer_type_t) -> usize {
    ALIGNMENT
}

/// Host buffers hold plain ggml layout in host memory: the CPU backend may read them and
/// llama.cpp's loader may write weights into them directly.
extern "C" fn buft_is_host(buft: sys::ggml_backend_buffer_type_t) -> bool {
    guard("buft is_host", false, || kind(buft).host)
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

/// A ggml buffer of type `buft` over `mem`.
pub(super) fn wrap(buft: sys::ggml_backend_buffer_type_t, mem: Memory) -> sys::ggml_backend_buffer_t {
    let size = mem.len();
    let ctx = Box::into_raw(Box::new(mem));
    // SAFETY: buft is ours; ggml takes ownership of ctx and hands it back to free_buffer.
    unsafe { sys::ggml_backend_buffer_init(buft, BUFFER_I, ctx.cast(), size) }
}

extern "C" fn buft_alloc_buffer(buft: sys::ggml_backend_buffer_type_t, size: usize) -> sys::ggml_backend_buffer_t {
    guard("alloc_buffer", std::ptr::null_mut(), || {
        let k = kind(buft);
        match k.alloc(size) {
            Ok(mem) => wrap(buft, mem),
            Err(e) => {
                log_error!("{}: {e}", k.name.to_string_lossy());
                std::ptr::null_mut()
            }
        }
    })
}

/// The memory behind `tensor`'s buffer and the tensor's offset in it, when the buffer is one
/// of ours.
///
/// # Safety
/// `tensor` is a valid, allocated tensor.
pub(super) unsafe fn tensor_memory<'a>(tensor: *const sys::ggml_tensor) -> Option<(&'a Memory, usize)> {
    // SAFETY: caller contract.
    let buffer = unsafe { (*tensor).buffer };
    // SAFETY: a non-null buffer of a valid tensor is a valid buffer.
    if buffer.is_null() {
        return None;
    }
    // SAFETY: a valid buffer; ours are exactly those of our buffer types.
    let buft = unsafe { (*buffer).buft };
    let o = super::objects();
    if buft != o.buft && o.vram != Some(buft) {
        return None;
    }
    // SAFETY: one of ours (its vtable), and the tensor lies in it.
    Some((memory(buffer), unsafe { offset_in(buffer, tensor, 0) }))
}

/// The memory behind one of our buffers.
fn memory<'a>(buffer: sys::ggml_backend_buffer_t) -> &'a Memory {
    // SAFETY: every buffer with this vtable was made by `buft_alloc_buffer`, whose context is
    // a boxed Memory, alive until free_buffer.
    unsafe { &*((*buffer).context as *const Memory) }
}

/// Offset of `tensor`'s data (plus `offset`) from its buffer's base.
///
/// # Safety
/// `tensor` is a valid tensor allocated in `buffer`.
unsafe fn offset_in(buffer: sys::ggml_backend_buffer_t, tensor: *const sys::ggml_tensor, offset: usize) -> usize {
    // SAFETY: caller contract.
    unsafe { (*tensor).data as usize - memory(buffer).base() as usize + offset }
}

fn report(what: &str, r: Result<(), String>) {
    if let Err(e) = r {
        log_error!("{what}: {e}");
    }
}

extern "C" fn free_buffer(buffer: sys::ggml_backend_buffer_t) {
    guard("free_buffer", (), || {
        // SAFETY: context was created by Box::into_raw in buft_alloc_buffer; freed once here.
        drop(unsafe { Box::from_raw((*buffer).context as *mut Memory) })
    })
}

extern "C" fn get_base(buffer: sys::ggml_backend_buffer_t) -> *mut c_void {
    guard("get_base", std::ptr::null_mut(), || memory(buffer).base().cast())
}

// ggml's ggml_backend_tensor_* wrappers check `offset + size <= ggml_nbytes(tensor)` before
// calling these, and tensors lie inside their buffer: that is the range contract of the
// Memory methods below.

extern "C" fn memset_tensor(buffer: sys::ggml_backend_buffer_t, tensor: *mut sys::ggml_tensor, value: u8, offset: usize, size: usize) {
    guard("memset_tensor", (), || {
        // SAFETY: see above.
        report("memset_tensor", unsafe { memory(buffer).fill(offset_in(buffer, tensor, offset), value, size) })
    })
}

extern "C" fn set_tensor(buffer: sys::ggml_backend_buffer_t, tensor: *mut sys::ggml_tensor, data: *const c_void, offset: usize, size: usize) {
    guard("set_tensor", (), || {
        // SAFETY: see above; `data` holds `size` readable bytes.
        report("set_tensor", unsafe {
            let src = std::slice::from_raw_parts(data as *const u8, size);
            memory(buffer).write(offset_in(buffer, tensor, offset), src)
        })
    })
}

extern "C" fn get_tensor(buffer: sys::ggml_backend_buffer_t, tensor: *const sys::ggml_tensor, data: *mut c_void, offset: usize, size: usize) {
    guard("get_tensor", (), || {
        // SAFETY: see above; `data` has room for `size` bytes.
        report("get_tensor", unsafe {
            let dst = std::slice::from_raw_parts_mut(data as *mut u8, size);
            memory(buffer).read(offset_in(buffer, tensor, offset), dst)
        })
    })
}

/// Copies from a host buffer, or from another buffer of ours on the same GPU.
extern "C" fn cpy_tensor(buffer: sys::ggml_backend_buffer_t, src: *const sys::ggml_tensor, dst: *mut sys::ggml_tensor) -> bool {
    guard("cpy_tensor", false, || {
        // SAFETY: valid tensors; ggml only asks for copies between tensors of equal size.
        unsafe {
            let sb = (*src).buffer;
            if sb.is_null() {
                return false;
            }
            let src_is_host = sys::ggml_backend_buffer_is_host(sb);
            let same_gpu = (*sb).buft == (*buffer).buft; // one of our device-memory buffers
            if !src_is_host && !same_gpu {
                return false;
            }
            let r = memory(buffer).copy_from(offset_in(buffer, dst, 0), (*src).data as *const u8, src_is_host, sys::ggml_nbytes(src));
            report("cpy_tensor", r.clone());
            r.is_ok()
        }
    })
}

extern "C" fn clear(buffer: sys::ggml_backend_buffer_t, value: u8) {
    guard("clear", (), || {
        let m = memory(buffer);
        // SAFETY: the whole buffer.
        report("clear", unsafe { m.fill(0, value, m.len()) })
    })
}
