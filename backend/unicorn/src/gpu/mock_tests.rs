//! The APU memory paths with a fault-injecting `Driver` (no GPU needed): a refused
//! registration of the mapped model becomes a copy at the same address, never a failed load;
//! host memory the runtime maps at another device address is refused, not misused.
use std::ffi::{c_void, CStr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use super::{DevPtr, Driver, Gpu, GpuError, Handle, HostMemory, Result};
use crate::buffer::Memory;

#[derive(Default)]
struct Mock {
    /// Registrations still to refuse.
    refuse: AtomicUsize,
    /// (ptr, size) of every registration that succeeded.
    registered: Mutex<Vec<(usize, usize)>>,
    /// Added to a host address to make its "device address".
    device_offset: u64,
    host_allocs: Mutex<Vec<(usize, usize)>>,
    host_frees: AtomicUsize,
}

fn no<T>() -> Result<T> {
    Err(GpuError("not in the mock".into()))
}

impl Driver for Mock {
    fn runtime(&self) -> &'static str {
        "MOCK"
    }
    fn device_name(&self) -> String {
        "mock APU".into()
    }
    fn arch(&self) -> String {
        "gfx1103".into()
    }
    fn integrated(&self) -> bool {
        true
    }
    fn mem_info(&self) -> Result<(usize, usize)> {
        Ok((0, 0))
    }
    fn code_object_name(&self) -> &'static str {
        "none"
    }
    unsafe fn alloc(&self, _size: usize) -> Result<DevPtr> {
        no()
    }
    unsafe fn free(&self, _ptr: DevPtr) -> Result<()> {
        Ok(())
    }
    unsafe fn host_alloc(&self, size: usize) -> Result<*mut u8> {
        // SAFETY: a fresh anonymous mapping.
        let p = unsafe { libc::mmap(std::ptr::null_mut(), size, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS, -1, 0) };
        assert_ne!(p, libc::MAP_FAILED);
        self.host_allocs.lock().unwrap().push((p as usize, size));
        Ok(p as *mut u8)
    }
    unsafe fn host_free(&self, ptr: *mut u8) -> Result<()> {
        let size = self.host_allocs.lock().unwrap().iter().find(|a| a.0 == ptr as usize).map(|a| a.1).expect("freeing what was not allocated");
        // SAFETY: mapped in host_alloc with this size.
        unsafe { libc::munmap(ptr as *mut c_void, size) };
        self.host_frees.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
    unsafe fn host_register(&self, ptr: *mut u8, size: usize, _read_only: bool) -> Result<()> {
        if self.refuse.load(Ordering::SeqCst) > 0 {
            self.refuse.fetch_sub(1, Ordering::SeqCst);
            return Err(GpuError("hipHostRegister: HIP error 1 (invalid argument) [injected]".into()));
        }
        self.registered.lock().unwrap().push((ptr as usize, size));
        Ok(())
    }
    unsafe fn host_unregister(&self, _ptr: *mut u8) -> Result<()> {
        Ok(())
    }
    unsafe fn host_device_pointer(&self, ptr: *mut u8) -> Result<DevPtr> {
        Ok(ptr as DevPtr + self.device_offset)
    }
    fn stream_create(&self) -> Result<Handle> {
        no()
    }
    unsafe fn stream_destroy(&self, _s: Handle) -> Result<()> {
        Ok(())
    }
    unsafe fn stream_synchronize(&self, _s: Handle) -> Result<()> {
        Ok(())
    }
    unsafe fn memcpy_htod(&self, _d: DevPtr, _s: *const u8, _n: usize, _st: Handle) -> Result<()> {
        no()
    }
    unsafe fn memcpy_dtoh(&self, _d: *mut u8, _s: DevPtr, _n: usize, _st: Handle) -> Result<()> {
        no()
    }
    unsafe fn memcpy_dtod(&self, _d: DevPtr, _s: DevPtr, _n: usize, _st: Handle) -> Result<()> {
        no()
    }
    unsafe fn memset(&self, _d: DevPtr, _v: u8, _n: usize, _st: Handle) -> Result<()> {
        no()
    }
    fn module_load(&self, _image: &[u8]) -> Result<Handle> {
        no()
    }
    unsafe fn module_unload(&self, _m: Handle) -> Result<()> {
        Ok(())
    }
    unsafe fn module_function(&self, _m: Handle, _name: &CStr) -> Result<Handle> {
        no()
    }
    fn event_create(&self) -> Result<Handle> {
        no()
    }
    unsafe fn event_destroy(&self, _e: Handle) -> Result<()> {
        Ok(())
    }
    unsafe fn event_record(&self, _e: Handle, _s: Handle) -> Result<()> {
        no()
    }
    unsafe fn event_elapsed_ms(&self, _a: Handle, _b: Handle) -> Result<f32> {
        no()
    }
    unsafe fn launch(&self, _f: Handle, _g: [u32; 3], _b: [u32; 3], _sh: u32, _st: Handle, _p: &mut [*mut c_void]) -> Result<()> {
        no()
    }
}

fn gpu_with(mock: Mock) -> (Arc<Gpu>, &'static Mock) {
    // The mock is leaked so the test can inspect it while the Gpu owns a reference to it.
    let mock: &'static Mock = Box::leak(Box::new(mock));
    (Arc::new(Gpu { driver: Box::new(Fwd(mock)) }), mock)
}

/// A `Driver` that forwards to a `&'static Mock` (so the test keeps a handle on it).
struct Fwd(&'static Mock);

macro_rules! fwd {
    ($($(#[$u:ident])? fn $name:ident(&self $(, $a:ident: $t:ty)*) -> $r:ty;)*) => {
        impl Driver for Fwd {
            $( fwd!(@one $($u)? $name ($($a: $t),*) -> $r); )*
        }
    };
    (@one unsafe $name:ident ($($a:ident: $t:ty),*) -> $r:ty) => {
        unsafe fn $name(&self, $($a: $t),*) -> $r {
            // SAFETY: the same contract, passed on.
            unsafe { self.0.$name($($a),*) }
        }
    };
    (@one $name:ident ($($a:ident: $t:ty),*) -> $r:ty) => {
        fn $name(&self, $($a: $t),*) -> $r {
            self.0.$name($($a),*)
        }
    };
}

fwd! {
    fn runtime(&self) -> &'static str;
    fn device_name(&self) -> String;
    fn arch(&self) -> String;
    fn integrated(&self) -> bool;
    fn mem_info(&self) -> Result<(usize, usize)>;
    fn code_object_name(&self) -> &'static str;
    #[unsafe] fn alloc(&self, size: usize) -> Result<DevPtr>;
    #[unsafe] fn free(&self, ptr: DevPtr) -> Result<()>;
    #[unsafe] fn host_alloc(&self, size: usize) -> Result<*mut u8>;
    #[unsafe] fn host_free(&self, ptr: *mut u8) -> Result<()>;
    #[unsafe] fn host_register(&self, ptr: *mut u8, size: usize, read_only: bool) -> Result<()>;
    #[unsafe] fn host_unregister(&self, ptr: *mut u8) -> Result<()>;
    #[unsafe] fn host_device_pointer(&self, ptr: *mut u8) -> Result<DevPtr>;
    fn stream_create(&self) -> Result<Handle>;
    #[unsafe] fn stream_destroy(&self, s: Handle) -> Result<()>;
    #[unsafe] fn stream_synchronize(&self, s: Handle) -> Result<()>;
    #[unsafe] fn memcpy_htod(&self, d: DevPtr, s: *const u8, n: usize, st: Handle) -> Result<()>;
    #[unsafe] fn memcpy_dtoh(&self, d: *mut u8, s: DevPtr, n: usize, st: Handle) -> Result<()>;
    #[unsafe] fn memcpy_dtod(&self, d: DevPtr, s: DevPtr, n: usize, st: Handle) -> Result<()>;
    #[unsafe] fn memset(&self, d: DevPtr, v: u8, n: usize, st: Handle) -> Result<()>;
    fn module_load(&self, image: &[u8]) -> Result<Handle>;
    #[unsafe] fn module_unload(&self, m: Handle) -> Result<()>;
    #[unsafe] fn module_function(&self, m: Handle, name: &CStr) -> Result<Handle>;
    fn event_create(&self) -> Result<Handle>;
    #[unsafe] fn event_destroy(&self, e: Handle) -> Result<()>;
    #[unsafe] fn event_record(&self, e: Handle, s: Handle) -> Result<()>;
    #[unsafe] fn event_elapsed_ms(&self, a: Handle, b: Handle) -> Result<f32>;
    #[unsafe] fn launch(&self, f: Handle, g: [u32; 3], b: [u32; 3], sh: u32, st: Handle, p: &mut [*mut c_void]) -> Result<()>;
}

/// A read-only shared mapping of a file of `len` patterned bytes, as llama.cpp maps a model.
struct MappedFile {
    base: *mut u8,
    len: usize,
    bytes: Vec<u8>,
    path: std::path::PathBuf,
}

impl MappedFile {
    fn new(len: usize) -> MappedFile {
        let bytes: Vec<u8> = (0..len).map(|i| (i * 7 + i / 4096) as u8).collect();
        let path = std::env::temp_dir().join(format!("unicorn-mock-model-{}-{len}", std::process::id()));
        std::fs::write(&path, &bytes).unwrap();
        let f = std::fs::File::open(&path).unwrap();
        // SAFETY: maps the file read-only; unmapped on drop.
        let base = unsafe { libc::mmap(std::ptr::null_mut(), len, libc::PROT_READ, libc::MAP_SHARED, std::os::fd::AsRawFd::as_raw_fd(&f), 0) };
        assert_ne!(base, libc::MAP_FAILED);
        MappedFile { base: base as *mut u8, len, bytes, path }
    }
    /// The /proc/self/maps line of the mapping holding `addr`.
    fn maps_line(addr: usize) -> String {
        std::fs::read_to_string("/proc/self/maps")
            .unwrap()
            .lines()
            .find(|l| {
                let r = l.split_whitespace().next().unwrap();
                let (a, b) = r.split_once('-').unwrap();
                (usize::from_str_radix(a, 16).unwrap()..usize::from_str_radix(b, 16).unwrap()).contains(&addr)
            })
            .unwrap_or("")
            .to_string()
    }
}

impl Drop for MappedFile {
    fn drop(&mut self) {
        // SAFETY: mapped in `new` with this length.
        unsafe { libc::munmap(self.base as *mut c_void, self.len) };
        let _ = std::fs::remove_file(&self.path);
    }
}

#[test]
fn a_refused_registration_becomes_a_registered_copy_at_the_same_address() {
    let (gpu, mock) = gpu_with(Mock { refuse: AtomicUsize::new(1), ..Default::default() });
    let file = MappedFile::new(5 * 4096 + 300);
    // An unaligned range, as llama.cpp passes (tensor data after the GGUF header).
    let (off, size) = (1000, file.len - 1500);
    // SAFETY: inside the mapping.
    let ptr = unsafe { file.base.add(off) };
    assert!(MappedFile::maps_line(ptr as usize).contains("unicorn-mock-model"), "starts file-backed");
    // SAFETY: the mapping outlives `mem` (dropped first).
    let mem = unsafe { Memory::borrowed(ptr, size, Some(&gpu)) }.expect("a refused registration must not fail the load");
    assert_eq!(mem.base(), ptr, "tensors stay at the mapping's addresses");
    assert_eq!(*mock.registered.lock().unwrap(), vec![(ptr as usize, size)], "the copy is registered, same range");
    // SAFETY: the whole mapping is readable (now anonymous pages at the same addresses).
    let now = unsafe { std::slice::from_raw_parts(file.base, file.len) };
    assert!(now == &file.bytes[..], "the copy holds the file's bytes, the edge pages included");
    let line = MappedFile::maps_line(ptr as usize);
    assert!(!line.contains("unicorn-mock-model"), "the pages are the anonymous copy now: {line}");
    drop(mem);
}

#[test]
fn a_registration_refused_twice_is_an_error_not_a_null() {
    let (gpu, mock) = gpu_with(Mock { refuse: AtomicUsize::new(2), ..Default::default() });
    let file = MappedFile::new(3 * 4096);
    // SAFETY: inside the mapping; it outlives the result.
    let r = unsafe { Memory::borrowed(file.base.add(10), 4096, Some(&gpu)) };
    let e = r.err().expect("refused twice");
    assert!(e.contains("registering") && e.contains("copied"), "{e}");
    assert!(mock.registered.lock().unwrap().is_empty());
}

#[test]
fn an_accepted_registration_keeps_the_file_mapping() {
    let (gpu, mock) = gpu_with(Mock::default());
    let file = MappedFile::new(3 * 4096);
    // SAFETY: inside the mapping; it outlives `mem`.
    let mem = unsafe { Memory::borrowed(file.base.add(100), 8000, Some(&gpu)) }.unwrap();
    assert_eq!(mock.registered.lock().unwrap().len(), 1);
    assert!(MappedFile::maps_line(file.base as usize + 100).contains("unicorn-mock-model"));
    drop(mem);
}

#[test]
fn host_memory_at_another_device_address_is_refused_and_freed() {
    let (gpu, mock) = gpu_with(Mock { device_offset: 1 << 20, ..Default::default() });
    let e = HostMemory::new(&gpu, 4096).err().expect("a device address unlike the host address must be refused");
    assert!(e.0.contains("unified addressing"), "{e}");
    assert_eq!(mock.host_frees.load(Ordering::SeqCst), 1, "the allocation is freed, not leaked");
    // With unified addressing it is fine, and zeroed host memory comes back.
    let (gpu, _) = gpu_with(Mock::default());
    let m = Memory::host(10_000, Some(&gpu)).unwrap();
    // SAFETY: 10_000 bytes were allocated.
    assert!(unsafe { std::slice::from_raw_parts(m.base(), 10_000) }.iter().all(|&b| b == 0));
}
