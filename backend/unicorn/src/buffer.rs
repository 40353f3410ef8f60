//! The memory behind Unicorn's buffers.
//!
//! - `Host`: plain host memory (the emulated devices, and the NPU's view of the shared buffer
//!   when no GPU engine runs).
//! - `Mapped`: host memory allocated through the GPU runtime so the GPU reads and writes it in
//!   place: the APU's shared memory. The CPU, the iGPU and the NPU use the same bytes; no copy
//!   crosses between them.
//! - `Device`: memory of a discrete GPU (the NVIDIA machines the kernels are tested on);
//!   copies go through the GPU engine's stream.
//! - `Borrowed`: the model file as llama.cpp mapped it, used in place (no second copy of the
//!   weights); on the APU the mapping is registered with the GPU so the iGPU reads it too.
use std::ptr::NonNull;
use std::sync::Arc;

use crate::gpu::{DeviceMemory, Gpu, HostMemory, HostRegistration, Stream};
use crate::log::log_warn;

pub const ALIGNMENT: usize = 64;

/// Plain host memory from an anonymous mapping: zero-filled, page-aligned, and resident only
/// where it is touched, as the CPU backend's buffers are (an aligned `alloc_zeroed` would
/// write every page up front: a 512 MiB compute buffer became 512 MiB of resident memory).
pub struct HostBuffer {
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: the buffer owns its mapping; ggml serialises access to buffer contents.
unsafe impl Send for HostBuffer {}
unsafe impl Sync for HostBuffer {}

impl HostBuffer {
    pub fn new(size: usize) -> Result<Self, String> {
        let len = size.max(1).next_multiple_of(ALIGNMENT);
        // SAFETY: a fresh private anonymous mapping; no existing memory is affected.
        let ptr = unsafe {
            libc::mmap(std::ptr::null_mut(), len, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS, -1, 0)
        };
        if ptr == libc::MAP_FAILED {
            return Err(format!("out of host memory allocating {size} bytes: {}", std::io::Error::last_os_error()));
        }
        let ptr = NonNull::new(ptr as *mut u8).ok_or_else(|| format!("out of host memory allocating {size} bytes"))?;
        Ok(HostBuffer { ptr, len })
    }
    pub fn base(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }
    pub fn len(&self) -> usize {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl Drop for HostBuffer {
    fn drop(&mut self) {
        // SAFETY: mapped in `new` with this length, unmapped once.
        unsafe { libc::munmap(self.ptr.as_ptr() as *mut libc::c_void, self.len) };
    }
}

/// Replaces the pages holding `ptr..ptr+size` (whole pages, so a few bytes either side too)
/// by private anonymous memory with the same content, at the same addresses: `mremap` moves a
/// filled copy over the old pages in one step, so a reader never sees anything but the same
/// bytes. The copy is writable (pinning may need write access); nobody writes it. Unmapping the
/// original mapping later (llama.cpp's `munmap`) unmaps the copy with it.
///
/// # Safety
/// The range is mapped and readable; nothing relies on its pages staying file-backed.
pub unsafe fn replace_with_copy(ptr: *mut u8, size: usize) -> Result<(), String> {
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as usize;
    let start = (ptr as usize) & !(page - 1);
    let len = (ptr as usize + size.max(1)).next_multiple_of(page) - start;
    let os = || std::io::Error::last_os_error();
    // SAFETY: a fresh anonymous mapping.
    let tmp = unsafe { libc::mmap(std::ptr::null_mut(), len, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS, -1, 0) };
    if tmp == libc::MAP_FAILED {
        return Err(format!("copying {len} bytes of the mapped model: out of memory ({})", os()));
    }
    // SAFETY: both ranges are `len` readable bytes (caller contract for the source, whole pages
    // of the same mapping); the new mapping is writable.
    unsafe { std::ptr::copy_nonoverlapping(start as *const u8, tmp as *mut u8, len) };
    // SAFETY: moves our new mapping over the old pages (MREMAP_FIXED unmaps what was there).
    let moved = unsafe { libc::mremap(tmp, len, len, libc::MREMAP_MAYMOVE | libc::MREMAP_FIXED, start as *mut libc::c_void) };
    if moved == libc::MAP_FAILED {
        let e = os();
        // SAFETY: still our mapping, unused.
        unsafe { libc::munmap(tmp, len) };
        return Err(format!("moving the copy of the mapped model in place failed: {e}"));
    }
    Ok(())
}

/// Where a buffer's bytes live.
pub enum Memory {
    Host(HostBuffer),
    Mapped(HostMemory),
    Device { mem: DeviceMemory, gpu: Arc<Gpu>, stream: &'static Stream },
    /// Memory the caller owns: the model file as llama.cpp mapped it (read-only), used in place
    /// (`buffer_from_host_ptr`); registered with the GPU where one reads it.
    Borrowed { ptr: *mut u8, size: usize, _registration: Option<HostRegistration> },
}

// SAFETY: `Borrowed` only records where the owner's memory is; ggml serialises access to
// buffer contents and keeps the mapping alive while the buffer exists (llama.cpp frees the
// model's buffers before unmapping its files).
unsafe impl Send for Memory {}
unsafe impl Sync for Memory {}

impl Memory {
    /// Host memory, through the GPU runtime when `gpu` is given (so the GPU reads it in place).
    pub fn host(size: usize, gpu: Option<&Arc<Gpu>>) -> Result<Memory, String> {
        match gpu {
            Some(gpu) => {
                let m = HostMemory::new(gpu, size).map_err(|e| format!("GPU-mapped host memory, {size} bytes: {e}"))?;
                // SAFETY: m.ptr holds m.size writable bytes.
                unsafe { std::ptr::write_bytes(m.ptr, 0, m.size) };
                Ok(Memory::Mapped(m))
            }
            None => Ok(Memory::Host(HostBuffer::new(size)?)),
        }
    }

    pub fn device(size: usize, gpu: &Arc<Gpu>, stream: &'static Stream) -> Result<Memory, String> {
        let mem = DeviceMemory::new(gpu, size).map_err(|e| format!("GPU memory, {size} bytes: {e}"))?;
        Ok(Memory::Device { mem, gpu: gpu.clone(), stream })
    }

    /// Host memory the caller owns, used in place; registered with `gpu` when given.
    ///
    /// If the GPU runtime refuses to register the range (file-backed, read-only pages may be
    /// refused even when the one-time probe passed), the pages are replaced by an anonymous
    /// copy at the same addresses ([`replace_with_copy`]) and that is registered: the load goes
    /// on with copied weights instead of failing (llama.cpp throws on a NULL buffer, and
    /// places tensors at the mapping's addresses, so the copy must live there).
    ///
    /// # Safety
    /// `ptr..ptr+size` is mapped and stays mapped for as long as the returned value lives, and
    /// nothing else relies on its pages being file-backed.
    pub unsafe fn borrowed(ptr: *mut u8, size: usize, gpu: Option<&Arc<Gpu>>) -> Result<Memory, String> {
        let registration = match gpu {
            // SAFETY: caller contract.
            Some(gpu) => match unsafe { HostRegistration::new(gpu, ptr, size) } {
                Ok(r) => Some(r),
                Err(e) => {
                    log_warn!(
                        "the GPU runtime refused to register {:.1} MiB of the mapped model file ({e}); those pages are replaced by an anonymous copy at the same address, which is registered (weights copied: {:.1} MiB more memory)",
                        size as f64 / (1 << 20) as f64,
                        size as f64 / (1 << 20) as f64
                    );
                    // SAFETY: caller contract (the range is mapped; its content is kept).
                    unsafe { replace_with_copy(ptr, size)? };
                    // SAFETY: the copy is mapped where the mapping was, for as long.
                    Some(unsafe { HostRegistration::new(gpu, ptr, size) }.map_err(|e| format!("registering {size} bytes of copied model weights with the GPU: {e}"))?)
                }
            },
            None => None,
        };
        Ok(Memory::Borrowed { ptr, size, _registration: registration })
    }

    /// The base address ggml places tensors at (a device address for `Device`).
    pub fn base(&self) -> *mut u8 {
        match self {
            Memory::Host(h) => h.base(),
            Memory::Mapped(m) => m.ptr,
            Memory::Device { mem, .. } => mem.ptr as *mut u8,
            Memory::Borrowed { ptr, .. } => *ptr,
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Memory::Host(h) => h.len(),
            Memory::Mapped(m) => m.size,
            Memory::Device { mem, .. } => mem.size,
            Memory::Borrowed { size, .. } => *size,
        }
    }

    /// A mapped model file is read-only: writing it would fault.
    fn writable(&self) -> Result<(), String> {
        match self {
            Memory::Borrowed { .. } => Err("the buffer is the mapped model file, which is read-only".into()),
            _ => Ok(()),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn device_io(&self) -> Option<(&Arc<Gpu>, &Stream)> {
        match self {
            Memory::Device { gpu, stream, .. } => Some((gpu, *stream)),
            _ => None,
        }
    }

    /// Copies `src` to `base + offset`.
    ///
    /// # Safety
    /// `offset + src.len()` lies inside the buffer.
    pub unsafe fn write(&self, offset: usize, src: &[u8]) -> Result<(), String> {
        self.writable()?;
        let dst = self.base() as usize + offset;
        match self.device_io() {
            // SAFETY: caller contract; the copy completes (synchronize) before `src` is released.
            Some((gpu, stream)) => unsafe {
                gpu.driver.memcpy_htod(dst as u64, src.as_ptr(), src.len(), stream.handle).map_err(|e| e.to_string())?;
                stream.synchronize().map_err(|e| e.to_string())
            },
            None => {
                // SAFETY: caller contract; host memory.
                unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), dst as *mut u8, src.len()) };
                Ok(())
            }
        }
    }

    /// Starts copying `size` bytes at host address `src` to `base + offset` on the GPU
    /// engine's stream (a host copy here for host memory); complete after the engine's
    /// `synchronize`.
    ///
    /// # Safety
    /// `offset + size` lies inside the buffer; `src` stays valid and unchanged until the
    /// stream is synchronised.
    pub unsafe fn write_async(&self, offset: usize, src: *const u8, size: usize) -> Result<(), String> {
        self.writable()?;
        let dst = self.base() as usize + offset;
        match self.device_io() {
            // SAFETY: caller contract.
            Some((gpu, stream)) => unsafe { gpu.driver.memcpy_htod(dst as u64, src, size, stream.handle).map_err(|e| e.to_string()) },
            None => {
                // SAFETY: caller contract; host memory.
                unsafe { std::ptr::copy_nonoverlapping(src, dst as *mut u8, size) };
                Ok(())
            }
        }
    }

    /// Starts copying `base + offset` to host address `dst` (see `write_async`).
    ///
    /// # Safety
    /// `offset + size` lies inside the buffer; `dst` stays valid and unread until the stream
    /// is synchronised.
    pub unsafe fn read_async(&self, offset: usize, dst: *mut u8, size: usize) -> Result<(), String> {
        let src = self.base() as usize + offset;
        match self.device_io() {
            // SAFETY: caller contract.
            Some((gpu, stream)) => unsafe { gpu.driver.memcpy_dtoh(dst, src as u64, size, stream.handle).map_err(|e| e.to_string()) },
            None => {
                // SAFETY: caller contract; host memory.
                unsafe { std::ptr::copy_nonoverlapping(src as *const u8, dst, size) };
                Ok(())
            }
        }
    }

    /// Copies `base + offset` to `dst`.
    ///
    /// # Safety
    /// `offset + dst.len()` lies inside the buffer.
    pub unsafe fn read(&self, offset: usize, dst: &mut [u8]) -> Result<(), String> {
        let src = self.base() as usize + offset;
        match self.device_io() {
            // SAFETY: caller contract; the copy completes before `dst` is released.
            Some((gpu, stream)) => unsafe {
                gpu.driver.memcpy_dtoh(dst.as_mut_ptr(), src as u64, dst.len(), stream.handle).map_err(|e| e.to_string())?;
                stream.synchronize().map_err(|e| e.to_string())
            },
            None => {
                // SAFETY: caller contract; host memory.
                unsafe { std::ptr::copy_nonoverlapping(src as *const u8, dst.as_mut_ptr(), dst.len()) };
                Ok(())
            }
        }
    }

    /// Sets `size` bytes at `base + offset` to `value`.
    ///
    /// # Safety
    /// `offset + size` lies inside the buffer.
    pub unsafe fn fill(&self, offset: usize, value: u8, size: usize) -> Result<(), String> {
        self.writable()?;
        let dst = self.base() as usize + offset;
        match self.device_io() {
            // SAFETY: caller contract.
            Some((gpu, stream)) => unsafe {
                gpu.driver.memset(dst as u64, value, size, stream.handle).map_err(|e| e.to_string())?;
                stream.synchronize().map_err(|e| e.to_string())
            },
            None => {
                // SAFETY: caller contract; host memory.
                unsafe { std::ptr::write_bytes(dst as *mut u8, value, size) };
                Ok(())
            }
        }
    }

    /// Copies `size` bytes from address `src` (device memory of the same GPU, or host memory
    /// when `src_is_host`) to `base + offset`.
    ///
    /// # Safety
    /// Both ranges are valid for `size` bytes.
    pub unsafe fn copy_from(&self, offset: usize, src: *const u8, src_is_host: bool, size: usize) -> Result<(), String> {
        self.writable()?;
        let dst = self.base() as usize + offset;
        match self.device_io() {
            // SAFETY: caller contract.
            Some((gpu, stream)) => unsafe {
                if src_is_host {
                    gpu.driver.memcpy_htod(dst as u64, src, size, stream.handle)
                } else {
                    gpu.driver.memcpy_dtod(dst as u64, src as u64, size, stream.handle)
                }
                .map_err(|e| e.to_string())?;
                stream.synchronize().map_err(|e| e.to_string())
            },
            None => {
                // SAFETY: caller contract; both host memory here.
                unsafe { std::ptr::copy_nonoverlapping(src, dst as *mut u8, size) };
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_memory_round_trip_and_zero_fill() {
        let m = Memory::host(1000, None).unwrap();
        assert!(m.len() >= 1000 && m.base() as usize % ALIGNMENT == 0);
        let mut back = [1u8; 16];
        // SAFETY: in range.
        unsafe {
            m.read(100, &mut back).unwrap();
            assert_eq!(back, [0; 16], "fresh host memory reads as zeros");
            m.write(100, &[7; 16]).unwrap();
            m.fill(104, 9, 4).unwrap();
            m.read(100, &mut back).unwrap();
        }
        assert_eq!(&back[..8], &[7, 7, 7, 7, 9, 9, 9, 9]);
    }

    #[test]
    fn a_borrowed_mapping_is_read_only() {
        let data = vec![5u8; 64];
        // SAFETY: `data` outlives `m`.
        let m = unsafe { Memory::borrowed(data.as_ptr() as *mut u8, data.len(), None) }.unwrap();
        assert_eq!(m.base() as *const u8, data.as_ptr());
        let mut back = [0u8; 4];
        // SAFETY: in range.
        unsafe {
            m.read(0, &mut back).unwrap();
            assert!(m.write(0, &[1]).unwrap_err().contains("read-only"));
            assert!(m.fill(0, 0, 1).is_err());
        }
        assert_eq!(back, [5; 4]);
        assert_eq!(data[0], 5);
    }
}
