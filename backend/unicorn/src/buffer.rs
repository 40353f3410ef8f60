//! Host memory shared by both Unicorn devices (and readable by the CPU backend).
//!
//! On a Phoenix APU the iGPU and the NPU read system memory directly, so one buffer type in
//! host memory serves both devices and tensors cross between them without copies.
use std::alloc::{alloc_zeroed, dealloc, Layout};
use std::ptr::NonNull;

pub const ALIGNMENT: usize = 64;

pub struct HostBuffer {
    ptr: NonNull<u8>,
    layout: Layout,
}

// SAFETY: the buffer owns its allocation; ggml serialises access to buffer contents.
unsafe impl Send for HostBuffer {}
unsafe impl Sync for HostBuffer {}

impl HostBuffer {
    pub fn new(size: usize) -> Result<Self, String> {
        let layout = Layout::from_size_align(size.max(1).next_multiple_of(ALIGNMENT), ALIGNMENT)
            .map_err(|e| format!("bad buffer size {size}: {e}"))?;
        // SAFETY: layout has a non-zero size.
        let ptr = unsafe { alloc_zeroed(layout) };
        let ptr = NonNull::new(ptr).ok_or_else(|| format!("out of host memory allocating {size} bytes"))?;
        Ok(HostBuffer { ptr, layout })
    }
    pub fn base(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }
    pub fn len(&self) -> usize {
        self.layout.size()
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    pub fn fill(&mut self, value: u8) {
        // SAFETY: ptr is valid for len bytes, owned exclusively through &mut self.
        unsafe { std::ptr::write_bytes(self.ptr.as_ptr(), value, self.len()) }
    }
}

impl Drop for HostBuffer {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with this layout.
        unsafe { dealloc(self.ptr.as_ptr(), self.layout) }
    }
}
