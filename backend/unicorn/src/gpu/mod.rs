//! The GPU layer: one safe interface over two runtimes, so the GPU engine does not know the
//! vendor.
//!
//! - `hip`: the HIP runtime (`hip-sys`, loaded at run time): the product, the iGPU of an RDNA3
//!   APU (Radeon 780M, gfx1103, in a Phoenix APU). On the NVIDIA machines it runs through
//!   `backend/hip-cuda-shim` (docs/hip-shim.md).
//! - `cuda`: the CUDA driver (cudarc, loaded at run time): NVIDIA GPUs, where the same kernel
//!   source runs for real and is timed against ggml-cuda.
//!
//! Both are reached through [`Driver`], a thin table of the calls the engine needs with plain
//! handles; [`Gpu`] owns one and hands out RAII types ([`DeviceMemory`], [`HostMemory`],
//! [`Stream`], [`Module`]) whose `Drop` never panics (an error while freeing is logged).
mod cuda;
mod hip;
#[cfg(test)]
mod mock_tests;

use std::ffi::{c_void, CStr};
use std::sync::Arc;

use crate::log::log_warn;

/// A failed runtime call: which call, the runtime's code and its message.
#[derive(Debug, Clone)]
pub struct GpuError(pub String);

impl std::fmt::Display for GpuError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

pub type Result<T> = std::result::Result<T, GpuError>;

/// An opaque runtime handle (stream, module, function).
pub type Handle = usize;
/// A device address.
pub type DevPtr = u64;

/// The calls the engine makes, per runtime. Every method makes the device current on the
/// calling thread first (llama.cpp may call from any thread).
///
/// # Safety (for the unsafe methods)
/// Pointers and handles come from this same driver and are still alive; sizes lie within the
/// allocations they name; asynchronous operations keep their host memory alive and unmoved
/// until the stream is synchronised.
pub trait Driver: Send + Sync {
    /// "HIP" or "CUDA".
    fn runtime(&self) -> &'static str;
    fn device_name(&self) -> String;
    /// The instruction set the kernels must be compiled for: `gfx1103`, `sm_90`, ...
    fn arch(&self) -> String;
    /// The GPU shares system memory with the CPU (an APU's iGPU).
    fn integrated(&self) -> bool;
    /// (free, total) device memory in bytes.
    fn mem_info(&self) -> Result<(usize, usize)>;
    /// The file name of this runtime's kernel code object (in the kernels folder).
    fn code_object_name(&self) -> &'static str;

    unsafe fn alloc(&self, size: usize) -> Result<DevPtr>;
    unsafe fn free(&self, ptr: DevPtr) -> Result<()>;
    /// Page-locked host memory the GPU reads and writes in place.
    unsafe fn host_alloc(&self, size: usize) -> Result<*mut u8>;
    unsafe fn host_free(&self, ptr: *mut u8) -> Result<()>;
    /// Makes existing host memory readable by the GPU in place.
    unsafe fn host_register(&self, ptr: *mut u8, size: usize, read_only: bool) -> Result<()>;
    unsafe fn host_unregister(&self, ptr: *mut u8) -> Result<()>;
    /// The device address of host memory from `host_alloc` or `host_register`
    /// (`hipHostGetDevicePointer`). The default: the host address (unified addressing, as
    /// the CUDA driver gives for memory it pins).
    unsafe fn host_device_pointer(&self, ptr: *mut u8) -> Result<DevPtr> {
        Ok(ptr as DevPtr)
    }

    fn stream_create(&self) -> Result<Handle>;
    unsafe fn stream_destroy(&self, stream: Handle) -> Result<()>;
    unsafe fn stream_synchronize(&self, stream: Handle) -> Result<()>;
    unsafe fn memcpy_htod(&self, dst: DevPtr, src: *const u8, size: usize, stream: Handle) -> Result<()>;
    unsafe fn memcpy_dtoh(&self, dst: *mut u8, src: DevPtr, size: usize, stream: Handle) -> Result<()>;
    unsafe fn memcpy_dtod(&self, dst: DevPtr, src: DevPtr, size: usize, stream: Handle) -> Result<()>;
    unsafe fn memset(&self, dst: DevPtr, value: u8, size: usize, stream: Handle) -> Result<()>;

    /// Loads a code object (HIP) or fatbin (CUDA) image.
    fn module_load(&self, image: &[u8]) -> Result<Handle>;
    unsafe fn module_unload(&self, module: Handle) -> Result<()>;
    unsafe fn module_function(&self, module: Handle, name: &CStr) -> Result<Handle>;
    /// Whether this runtime builds and replays launch graphs (`graph_*`). Without them the
    /// engine launches node by node.
    fn supports_graphs(&self) -> bool {
        false
    }
    /// A new, empty launch graph.
    fn graph_create(&self) -> Result<Handle> {
        Err(GpuError("launch graphs are not supported by this runtime".into()))
    }
    /// Appends a kernel node to `graph` after `after` (a node of the same graph); returns it.
    /// Parameter values are copied.
    unsafe fn graph_add_kernel(&self, _graph: Handle, _after: Option<Handle>, _k: &KernelCall, _params: &mut [*mut c_void]) -> Result<Handle> {
        Err(GpuError("launch graphs are not supported by this runtime".into()))
    }
    /// An executable instance of `graph`.
    unsafe fn graph_instantiate(&self, _graph: Handle) -> Result<Handle> {
        Err(GpuError("launch graphs are not supported by this runtime".into()))
    }
    /// Changes the launch and parameter values of `node` in the instance `exec`.
    unsafe fn graph_set_kernel(&self, _exec: Handle, _node: Handle, _k: &KernelCall, _params: &mut [*mut c_void]) -> Result<()> {
        Err(GpuError("launch graphs are not supported by this runtime".into()))
    }
    unsafe fn graph_launch(&self, _exec: Handle, _stream: Handle) -> Result<()> {
        Err(GpuError("launch graphs are not supported by this runtime".into()))
    }
    /// Frees a graph and its instance.
    unsafe fn graph_destroy(&self, _graph: Handle, _exec: Handle) -> Result<()> {
        Ok(())
    }
    /// A timing event (for the profiler, `UNICORN_GPU_PROFILE`).
    fn event_create(&self) -> Result<Handle>;
    unsafe fn event_destroy(&self, event: Handle) -> Result<()>;
    /// Records `event` on `stream`: it completes when the work enqueued before it has.
    unsafe fn event_record(&self, event: Handle, stream: Handle) -> Result<()>;
    /// Milliseconds between two completed events.
    unsafe fn event_elapsed_ms(&self, start: Handle, end: Handle) -> Result<f32>;
    /// Launches `function`; `params[i]` points to the value of the kernel's i-th parameter.
    unsafe fn launch(
        &self,
        function: Handle,
        grid: [u32; 3],
        block: [u32; 3],
        shared: u32,
        stream: Handle,
        params: &mut [*mut c_void],
    ) -> Result<()>;
}

/// A kernel function with its launch shape (a graph node's launch).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct KernelCall {
    pub function: Handle,
    pub grid: [u32; 3],
    pub block: [u32; 3],
    pub shared: u32,
}

/// One GPU, through whichever runtime found it.
pub struct Gpu {
    pub driver: Box<dyn Driver>,
}

impl Gpu {
    /// The GPU of the HIP runtime (the APU's iGPU, chosen by architecture), else of the CUDA
    /// driver. `UNICORN_GPU_RUNTIME=hip` or `cuda` takes that runtime only (`hip` with
    /// `UNICORN_HIP_LIB` naming the shim runs the HIP path on NVIDIA). The error says, for each
    /// runtime tried, why it gave no device.
    pub fn open() -> std::result::Result<Arc<Gpu>, String> {
        let only = crate::env::choice("UNICORN_GPU_RUNTIME", &["hip", "cuda", "auto"]);
        let driver: Box<dyn Driver> = match only {
            Some("hip") => Box::new(hip::HipDriver::open().map_err(|e| format!("no GPU (UNICORN_GPU_RUNTIME=hip): {e}"))?),
            Some("cuda") => Box::new(cuda::CudaDriver::open().map_err(|e| format!("no GPU (UNICORN_GPU_RUNTIME=cuda): {e}"))?),
            _ => match hip::HipDriver::open() {
                Ok(d) => Box::new(d),
                Err(hip_why) => match cuda::CudaDriver::open() {
                    Ok(d) => Box::new(d),
                    Err(cuda_why) => return Err(format!("no GPU: {hip_why}; {cuda_why}")),
                },
            },
        };
        Ok(Arc::new(Gpu { driver }))
    }

    /// Checks that the runtime gives host memory at `ptr` the same device address: the engine
    /// passes host addresses to kernels (unified addressing, which ROCm on Linux gives for
    /// `hipHostMalloc` and registered memory). A runtime that maps it elsewhere is refused
    /// with a clear error, never used with a wrong address.
    fn check_unified(&self, ptr: *mut u8, what: &str) -> Result<()> {
        // SAFETY: ptr comes from host_alloc/host_register of this driver (callers).
        let dev = unsafe { self.driver.host_device_pointer(ptr)? };
        if dev != ptr as DevPtr {
            return Err(GpuError(format!(
                "{what}: the {} runtime maps host address {ptr:p} at device address {dev:#x}; Unicorn needs them equal (unified addressing)",
                self.driver.runtime()
            )));
        }
        Ok(())
    }

    pub fn describe(&self) -> String {
        format!("{} ({}, {})", self.driver.device_name(), self.driver.arch(), self.driver.runtime())
    }
}

/// Device memory, freed on drop.
pub struct DeviceMemory {
    gpu: Arc<Gpu>,
    pub ptr: DevPtr,
    pub size: usize,
}

impl DeviceMemory {
    pub fn new(gpu: &Arc<Gpu>, size: usize) -> Result<Self> {
        // SAFETY: a plain allocation; the pointer is owned by the returned value.
        let ptr = unsafe { gpu.driver.alloc(size.max(1))? };
        Ok(DeviceMemory { gpu: gpu.clone(), ptr, size })
    }
}

impl Drop for DeviceMemory {
    fn drop(&mut self) {
        // SAFETY: allocated by this driver in `new`, freed once.
        if let Err(e) = unsafe { self.gpu.driver.free(self.ptr) } {
            log_warn!("freeing {} bytes of GPU memory: {e}", self.size);
        }
    }
}

/// Page-locked host memory mapped into the GPU's address space (the APU's shared memory),
/// freed on drop. The host pointer is also the device address (unified addressing).
pub struct HostMemory {
    gpu: Arc<Gpu>,
    pub ptr: *mut u8,
    pub size: usize,
}

// SAFETY: the allocation is owned; ggml serialises access to buffer contents.
unsafe impl Send for HostMemory {}
unsafe impl Sync for HostMemory {}

impl HostMemory {
    pub fn new(gpu: &Arc<Gpu>, size: usize) -> Result<Self> {
        // SAFETY: a plain allocation; the pointer is owned by the returned value.
        let ptr = unsafe { gpu.driver.host_alloc(size.max(1))? };
        // Dropped (freed) if the device address differs.
        let m = HostMemory { gpu: gpu.clone(), ptr, size };
        gpu.check_unified(ptr, "host memory")?;
        Ok(m)
    }
}

impl Drop for HostMemory {
    fn drop(&mut self) {
        // SAFETY: allocated by this driver in `new`, freed once.
        if let Err(e) = unsafe { self.gpu.driver.host_free(self.ptr) } {
            log_warn!("freeing {} bytes of GPU-mapped host memory: {e}", self.size);
        }
    }
}

/// Host memory the caller owns (a mapped model file), made readable by the GPU in place for
/// as long as this value lives.
pub struct HostRegistration {
    gpu: Arc<Gpu>,
    ptr: *mut u8,
}

// SAFETY: only the registration is owned; the memory's owner outlives it (see `new`).
unsafe impl Send for HostRegistration {}
unsafe impl Sync for HostRegistration {}

impl HostRegistration {
    /// # Safety
    /// `ptr..ptr+size` is mapped host memory that stays mapped until this value is dropped.
    pub unsafe fn new(gpu: &Arc<Gpu>, ptr: *mut u8, size: usize) -> Result<Self> {
        // SAFETY: caller contract.
        unsafe { gpu.driver.host_register(ptr, size, true)? };
        // Unregistered on drop if the device address differs.
        let r = HostRegistration { gpu: gpu.clone(), ptr };
        gpu.check_unified(ptr, "registered host memory")?;
        Ok(r)
    }
}

impl Drop for HostRegistration {
    fn drop(&mut self) {
        // SAFETY: registered in `new`, unregistered once.
        if let Err(e) = unsafe { self.gpu.driver.host_unregister(self.ptr) } {
            log_warn!("unregistering host memory from the GPU: {e}");
        }
    }
}

/// An ordered queue of GPU work.
pub struct Stream {
    gpu: Arc<Gpu>,
    pub handle: Handle,
}

impl Stream {
    pub fn new(gpu: &Arc<Gpu>) -> Result<Self> {
        Ok(Stream { gpu: gpu.clone(), handle: gpu.driver.stream_create()? })
    }
    pub fn synchronize(&self) -> Result<()> {
        // SAFETY: the handle is alive (owned by self).
        unsafe { self.gpu.driver.stream_synchronize(self.handle) }
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        // SAFETY: created in `new`, destroyed once.
        if let Err(e) = unsafe { self.gpu.driver.stream_destroy(self.handle) } {
            log_warn!("destroying a GPU stream: {e}");
        }
    }
}

/// A loaded code object and the kernels found in it.
pub struct Module {
    gpu: Arc<Gpu>,
    handle: Handle,
}

impl Module {
    pub fn load(gpu: &Arc<Gpu>, image: &[u8]) -> Result<Self> {
        Ok(Module { gpu: gpu.clone(), handle: gpu.driver.module_load(image)? })
    }
    /// The kernel `name` (an `extern "C"` symbol of the code object).
    pub fn function(&self, name: &CStr) -> Result<Handle> {
        // SAFETY: the module is alive (owned by self); the function handle is used only while
        // the module lives (the engine owns both).
        unsafe { self.gpu.driver.module_function(self.handle, name) }
    }
}

impl Drop for Module {
    fn drop(&mut self) {
        // SAFETY: loaded in `load`, unloaded once.
        if let Err(e) = unsafe { self.gpu.driver.module_unload(self.handle) } {
            log_warn!("unloading the kernel module: {e}");
        }
    }
}

/// How one node's kernel is launched: which `extern "C"` kernel of `kernels/hip`, its grid and
/// block, and its dynamic shared memory. The kernel's parameters are always the op's `Args`
/// (by value) and `ucn_ptrs` (the node's source and output addresses); see `kernels/hip/args.h`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Launch {
    pub kernel: &'static CStr,
    pub grid: [u32; 3],
    pub block: [u32; 3],
    pub shared: u32,
}

/// Largest grid y and z (the same on CUDA and HIP).
pub const MAX_GRID_YZ: usize = 65535;

impl Launch {
    /// A 1-D block of `threads` over a grid of `blocks_x` x `rows`, the rows spread over grid
    /// y and z (kernels recover the row as `blockIdx.y + blockIdx.z * gridDim.y`). `None` when
    /// the rows do not fit a grid.
    pub fn rows(kernel: &'static CStr, threads: u32, blocks_x: usize, rows: usize) -> Option<Launch> {
        let rows = rows.max(1);
        let y = rows.min(MAX_GRID_YZ);
        let z = rows.div_ceil(y);
        if blocks_x == 0 || blocks_x > u32::MAX as usize || z > MAX_GRID_YZ {
            return None;
        }
        Some(Launch { kernel, grid: [blocks_x as u32, y as u32, z as u32], block: [threads, 1, 1], shared: 0 })
    }
}

impl Gpu {
    /// Whether this GPU can read a read-only file mapping in place, the way llama.cpp maps a
    /// model and hands it to `buffer_from_host_ptr`: tried once, on a range like the real one.
    /// A file of [`PROBE_FILE_BYTES`] (sparse: no disk written) in the cache folder (a disk
    /// file system, as a model is; not /tmp, often tmpfs), mapped `PROT_READ`/`MAP_SHARED` as
    /// llama.cpp does, registered from an unaligned address to an unaligned end, its device
    /// address checked. Registration of file-backed, read-only pages is up to the runtime and
    /// the kernel driver (on amdgpu a userptr registration); if this refuses, weights are
    /// copied, and if the real registration refuses later all the same, `buffer` copies them
    /// in place of the mapping (never a failed load).
    pub fn can_register_file_mappings(self: &Arc<Self>) -> std::result::Result<(), String> {
        let dir = probe_dir();
        let path = dir.join(format!("unicorn-mmap-probe-{}", std::process::id()));
        let result = (|| {
            let f = std::fs::File::create(&path).map_err(|e| format!("probe file {}: {e}", path.display()))?;
            f.set_len(PROBE_FILE_BYTES as u64).map_err(|e| format!("probe file {}: {e}", path.display()))?;
            drop(f);
            let f = std::fs::File::open(&path).map_err(|e| e.to_string())?;
            // SAFETY: maps a file we own, read-only; unmapped below.
            let base = unsafe {
                libc::mmap(std::ptr::null_mut(), PROBE_FILE_BYTES, libc::PROT_READ, libc::MAP_SHARED, std::os::fd::AsRawFd::as_raw_fd(&f), 0)
            };
            if base == libc::MAP_FAILED {
                return Err(format!("mmap of the probe file failed: {}", std::io::Error::last_os_error()));
            }
            // Unaligned start and end, as a model's tensor range is (a GGUF header before it).
            let (start, end) = (PROBE_OFFSET, PROBE_FILE_BYTES - 1000);
            // SAFETY: inside the mapping.
            let ptr = unsafe { (base as *mut u8).add(start) };
            // SAFETY: the range stays mapped until after the registration is dropped.
            let r = unsafe { HostRegistration::new(self, ptr, end - start) }.map(drop).map_err(|e| e.to_string());
            // SAFETY: mapped above, no longer used.
            unsafe { libc::munmap(base, PROBE_FILE_BYTES) };
            r
        })();
        let _ = std::fs::remove_file(&path);
        result.map_err(|e| format!("{e} (probe: {} MiB read-only file mapping in {}, from offset {PROBE_OFFSET})", PROBE_FILE_BYTES >> 20, dir.display()))
    }
}

/// The probe's file size: large enough to cross many page-table boundaries (a model is
/// hundreds of MiB to GiBs), small enough to take milliseconds.
pub const PROBE_FILE_BYTES: usize = 64 << 20;
/// Where the probed range starts in the file: not page-aligned.
pub const PROBE_OFFSET: usize = 4096 * 3 + 1234;

/// The cache folder (`UNICORN_CACHE`, else ~/.cache/unicorn) if it can be created, else the
/// temporary folder.
fn probe_dir() -> std::path::PathBuf {
    let cache = std::env::var_os("UNICORN_CACHE")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| std::path::PathBuf::from(h).join(".cache/unicorn")));
    match cache {
        Some(d) if std::fs::create_dir_all(&d).is_ok() => d,
        _ => std::env::temp_dir(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_spread_over_grid_y_and_z() {
        let l = Launch::rows(c"k", 256, 3, 10).unwrap();
        assert_eq!((l.grid, l.block), ([3, 10, 1], [256, 1, 1]));
        // 262144 rows (a vocabulary): y at the limit, z covers the rest.
        let l = Launch::rows(c"k", 256, 1, 262_144).unwrap();
        assert_eq!(l.grid, [1, 65535, 5]);
        assert!(l.grid[1] as usize * l.grid[2] as usize >= 262_144);
        assert_eq!(Launch::rows(c"k", 256, 1, 0).unwrap().grid, [1, 1, 1]);
        assert!(Launch::rows(c"k", 256, 0, 4).is_none());
        assert!(Launch::rows(c"k", 256, 1, 65535 * 65536).is_none());
    }
}
