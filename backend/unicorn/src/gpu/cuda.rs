//! `Driver` over the CUDA driver API (cudarc's raw bindings, loaded at run time): NVIDIA GPUs,
//! where the kernels written for the 780M run for real and are timed against ggml-cuda.
use std::ffi::{c_void, CStr};
use std::mem::MaybeUninit;

use super::{DevPtr, Driver, GpuError, Handle, KernelCall, Result};
use cudarc::driver::sys;

pub struct CudaDriver {
    ctx: sys::CUcontext,
    name: String,
    arch: String,
    integrated: bool,
}

// SAFETY: a CUDA context handle may be made current on any thread (done before every call).
unsafe impl Send for CudaDriver {}
unsafe impl Sync for CudaDriver {}

fn check(call: &str, r: sys::CUresult) -> Result<()> {
    if r == sys::CUresult::CUDA_SUCCESS {
        return Ok(());
    }
    let mut s: *const std::ffi::c_char = std::ptr::null();
    // SAFETY: cuGetErrorString writes a static string pointer (or leaves it null).
    unsafe { sys::cuGetErrorString(r, &mut s) };
    let msg = if s.is_null() {
        "unknown".into()
    } else {
        // SAFETY: non-null static NUL-terminated string from the driver.
        unsafe { CStr::from_ptr(s) }.to_string_lossy().into_owned()
    };
    Err(GpuError(format!("{call}: CUDA error {r:?} ({msg})")))
}

impl CudaDriver {
    /// Device 0 of the CUDA driver, if libcuda loads and finds one.
    pub fn open() -> std::result::Result<Self, String> {
        // SAFETY: only tries to open the library.
        if !unsafe { sys::is_culib_present() } {
            return Err("CUDA driver (libcuda.so) not found".into());
        }
        let e = |e: GpuError| e.0;
        // SAFETY: plain driver calls with valid out-pointers, after cuInit.
        unsafe {
            check("cuInit", sys::cuInit(0)).map_err(e)?;
            let mut n = 0;
            check("cuDeviceGetCount", sys::cuDeviceGetCount(&mut n)).map_err(e)?;
            if n == 0 {
                return Err("CUDA driver found, but no CUDA device".into());
            }
            let mut dev = MaybeUninit::uninit();
            check("cuDeviceGet", sys::cuDeviceGet(dev.as_mut_ptr(), 0)).map_err(e)?;
            let dev = dev.assume_init();
            let mut ctx = MaybeUninit::uninit();
            check("cuDevicePrimaryCtxRetain", sys::cuDevicePrimaryCtxRetain(ctx.as_mut_ptr(), dev)).map_err(e)?;
            let ctx = ctx.assume_init();
            let mut buf = [0 as std::ffi::c_char; 256];
            check("cuDeviceGetName", sys::cuDeviceGetName(buf.as_mut_ptr(), buf.len() as i32, dev)).map_err(e)?;
            let name = CStr::from_ptr(buf.as_ptr()).to_string_lossy().into_owned();
            let attr = |a: sys::CUdevice_attribute| {
                let mut v = 0;
                check("cuDeviceGetAttribute", sys::cuDeviceGetAttribute(&mut v, a, dev)).map(|_| v)
            };
            let major = attr(sys::CUdevice_attribute::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR).map_err(e)?;
            let minor = attr(sys::CUdevice_attribute::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR).map_err(e)?;
            let integrated = attr(sys::CUdevice_attribute::CU_DEVICE_ATTRIBUTE_INTEGRATED).map_err(e)? != 0;
            Ok(CudaDriver { ctx, name, arch: format!("sm_{major}{minor}"), integrated })
        }
    }

    fn bind(&self) -> Result<()> {
        // SAFETY: the retained primary context lives as long as the process.
        check("cuCtxSetCurrent", unsafe { sys::cuCtxSetCurrent(self.ctx) })
    }
}

impl Driver for CudaDriver {
    fn runtime(&self) -> &'static str {
        "CUDA"
    }
    fn device_name(&self) -> String {
        self.name.clone()
    }
    fn arch(&self) -> String {
        self.arch.clone()
    }
    fn integrated(&self) -> bool {
        self.integrated
    }
    fn mem_info(&self) -> Result<(usize, usize)> {
        self.bind()?;
        let (mut free, mut total) = (0, 0);
        // SAFETY: valid out-pointers.
        check("cuMemGetInfo", unsafe { sys::cuMemGetInfo_v2(&mut free, &mut total) })?;
        Ok((free, total))
    }
    fn code_object_name(&self) -> &'static str {
        "unicorn-cuda.fatbin"
    }
    unsafe fn alloc(&self, size: usize) -> Result<DevPtr> {
        self.bind()?;
        let mut p = 0;
        // SAFETY: valid out-pointer.
        check("cuMemAlloc", unsafe { sys::cuMemAlloc_v2(&mut p, size) })?;
        Ok(p)
    }
    unsafe fn free(&self, ptr: DevPtr) -> Result<()> {
        self.bind()?;
        // SAFETY: trait contract.
        check("cuMemFree", unsafe { sys::cuMemFree_v2(ptr) })
    }
    unsafe fn host_alloc(&self, size: usize) -> Result<*mut u8> {
        self.bind()?;
        let mut p = std::ptr::null_mut();
        // SAFETY: valid out-pointer.
        check("cuMemHostAlloc", unsafe { sys::cuMemHostAlloc(&mut p, size, sys::CU_MEMHOSTALLOC_DEVICEMAP) })?;
        Ok(p as *mut u8)
    }
    unsafe fn host_free(&self, ptr: *mut u8) -> Result<()> {
        self.bind()?;
        // SAFETY: trait contract.
        check("cuMemFreeHost", unsafe { sys::cuMemFreeHost(ptr as *mut c_void) })
    }
    unsafe fn host_register(&self, ptr: *mut u8, size: usize, read_only: bool) -> Result<()> {
        self.bind()?;
        let flags = sys::CU_MEMHOSTREGISTER_DEVICEMAP | if read_only { sys::CU_MEMHOSTREGISTER_READ_ONLY } else { 0 };
        // SAFETY: trait contract.
        check("cuMemHostRegister", unsafe { sys::cuMemHostRegister_v2(ptr as *mut c_void, size, flags) })
    }
    unsafe fn host_unregister(&self, ptr: *mut u8) -> Result<()> {
        self.bind()?;
        // SAFETY: trait contract.
        check("cuMemHostUnregister", unsafe { sys::cuMemHostUnregister(ptr as *mut c_void) })
    }
    fn stream_create(&self) -> Result<Handle> {
        self.bind()?;
        let mut s = MaybeUninit::uninit();
        // SAFETY: valid out-pointer; 1 = CU_STREAM_NON_BLOCKING.
        check("cuStreamCreate", unsafe { sys::cuStreamCreate(s.as_mut_ptr(), 1) })?;
        // SAFETY: initialised by the successful call.
        Ok(unsafe { s.assume_init() } as Handle)
    }
    unsafe fn stream_destroy(&self, stream: Handle) -> Result<()> {
        self.bind()?;
        // SAFETY: trait contract.
        check("cuStreamDestroy", unsafe { sys::cuStreamDestroy_v2(stream as sys::CUstream) })
    }
    unsafe fn stream_synchronize(&self, stream: Handle) -> Result<()> {
        self.bind()?;
        // SAFETY: trait contract.
        check("cuStreamSynchronize", unsafe { sys::cuStreamSynchronize(stream as sys::CUstream) })
    }
    fn event_create(&self) -> Result<Handle> {
        self.bind()?;
        let mut e = MaybeUninit::uninit();
        // SAFETY: valid out-pointer; 0 = CU_EVENT_DEFAULT (timing enabled).
        check("cuEventCreate", unsafe { sys::cuEventCreate(e.as_mut_ptr(), 0) })?;
        // SAFETY: initialised by the successful call.
        Ok(unsafe { e.assume_init() } as Handle)
    }
    unsafe fn event_destroy(&self, event: Handle) -> Result<()> {
        self.bind()?;
        // SAFETY: trait contract.
        check("cuEventDestroy", unsafe { sys::cuEventDestroy_v2(event as sys::CUevent) })
    }
    unsafe fn event_record(&self, event: Handle, stream: Handle) -> Result<()> {
        self.bind()?;
        // SAFETY: trait contract.
        check("cuEventRecord", unsafe { sys::cuEventRecord(event as sys::CUevent, stream as sys::CUstream) })
    }
    unsafe fn event_elapsed_ms(&self, start: Handle, end: Handle) -> Result<f32> {
        self.bind()?;
        let mut ms = 0f32;
        // SAFETY: trait contract; valid out-pointer.
        check("cuEventElapsedTime", unsafe { sys::cuEventElapsedTime_v2(&mut ms, start as sys::CUevent, end as sys::CUevent) })?;
        Ok(ms)
    }
    unsafe fn memcpy_htod(&self, dst: DevPtr, src: *const u8, size: usize, stream: Handle) -> Result<()> {
        self.bind()?;
        // SAFETY: trait contract.
        check("cuMemcpyHtoDAsync", unsafe { sys::cuMemcpyHtoDAsync_v2(dst, src as *const c_void, size, stream as sys::CUstream) })
    }
    unsafe fn memcpy_dtoh(&self, dst: *mut u8, src: DevPtr, size: usize, stream: Handle) -> Result<()> {
        self.bind()?;
        // SAFETY: trait contract.
        check("cuMemcpyDtoHAsync", unsafe { sys::cuMemcpyDtoHAsync_v2(dst as *mut c_void, src, size, stream as sys::CUstream) })
    }
    unsafe fn memcpy_dtod(&self, dst: DevPtr, src: DevPtr, size: usize, stream: Handle) -> Result<()> {
        self.bind()?;
        // SAFETY: trait contract.
        check("cuMemcpyDtoDAsync", unsafe { sys::cuMemcpyDtoDAsync_v2(dst, src, size, stream as sys::CUstream) })
    }
    unsafe fn memset(&self, dst: DevPtr, value: u8, size: usize, stream: Handle) -> Result<()> {
        self.bind()?;
        // SAFETY: trait contract.
        check("cuMemsetD8Async", unsafe { sys::cuMemsetD8Async(dst, value, size, stream as sys::CUstream) })
    }
    fn module_load(&self, image: &[u8]) -> Result<Handle> {
        self.bind()?;
        let mut m = MaybeUninit::uninit();
        // SAFETY: the image is a complete fatbin in memory (the driver copies it).
        check("cuModuleLoadData", unsafe { sys::cuModuleLoadData(m.as_mut_ptr(), image.as_ptr() as *const c_void) })?;
        // SAFETY: initialised by the successful call.
        Ok(unsafe { m.assume_init() } as Handle)
    }
    unsafe fn module_unload(&self, module: Handle) -> Result<()> {
        self.bind()?;
        // SAFETY: trait contract.
        check("cuModuleUnload", unsafe { sys::cuModuleUnload(module as sys::CUmodule) })
    }
    unsafe fn module_function(&self, module: Handle, name: &CStr) -> Result<Handle> {
        self.bind()?;
        let mut f = MaybeUninit::uninit();
        // SAFETY: trait contract; `name` is NUL-terminated.
        check("cuModuleGetFunction", unsafe { sys::cuModuleGetFunction(f.as_mut_ptr(), module as sys::CUmodule, name.as_ptr()) })
            .map_err(|e| GpuError(format!("kernel {}: {e}", name.to_string_lossy())))?;
        // SAFETY: initialised by the successful call.
        Ok(unsafe { f.assume_init() } as Handle)
    }
    fn supports_graphs(&self) -> bool {
        true
    }
    fn graph_create(&self) -> Result<Handle> {
        self.bind()?;
        let mut g = MaybeUninit::uninit();
        // SAFETY: valid out-pointer.
        check("cuGraphCreate", unsafe { sys::cuGraphCreate(g.as_mut_ptr(), 0) })?;
        // SAFETY: initialised by the successful call.
        Ok(unsafe { g.assume_init() } as Handle)
    }
    unsafe fn graph_add_kernel(&self, graph: Handle, after: Option<Handle>, k: &KernelCall, params: &mut [*mut c_void]) -> Result<Handle> {
        self.bind()?;
        let p = node_params(k, params);
        let deps: Vec<sys::CUgraphNode> = after.map(|n| n as sys::CUgraphNode).into_iter().collect();
        let mut node = MaybeUninit::uninit();
        // SAFETY: trait contract; the driver copies the parameter values.
        check("cuGraphAddKernelNode", unsafe {
            sys::cuGraphAddKernelNode_v2(node.as_mut_ptr(), graph as sys::CUgraph, deps.as_ptr(), deps.len(), &p)
        })?;
        // SAFETY: initialised by the successful call.
        Ok(unsafe { node.assume_init() } as Handle)
    }
    unsafe fn graph_instantiate(&self, graph: Handle) -> Result<Handle> {
        self.bind()?;
        let mut e = MaybeUninit::uninit();
        // SAFETY: trait contract.
        check("cuGraphInstantiate", unsafe { sys::cuGraphInstantiateWithFlags(e.as_mut_ptr(), graph as sys::CUgraph, 0) })?;
        // SAFETY: initialised by the successful call.
        Ok(unsafe { e.assume_init() } as Handle)
    }
    unsafe fn graph_set_kernel(&self, exec: Handle, node: Handle, k: &KernelCall, params: &mut [*mut c_void]) -> Result<()> {
        self.bind()?;
        let p = node_params(k, params);
        // SAFETY: trait contract; the driver copies the parameter values.
        check("cuGraphExecKernelNodeSetParams", unsafe {
            sys::cuGraphExecKernelNodeSetParams_v2(exec as sys::CUgraphExec, node as sys::CUgraphNode, &p)
        })
    }
    unsafe fn graph_launch(&self, exec: Handle, stream: Handle) -> Result<()> {
        self.bind()?;
        // SAFETY: trait contract.
        check("cuGraphLaunch", unsafe { sys::cuGraphLaunch(exec as sys::CUgraphExec, stream as sys::CUstream) })
    }
    unsafe fn graph_destroy(&self, graph: Handle, exec: Handle) -> Result<()> {
        self.bind()?;
        // SAFETY: trait contract: both made by this driver, destroyed once.
        unsafe {
            if exec != 0 {
                check("cuGraphExecDestroy", sys::cuGraphExecDestroy(exec as sys::CUgraphExec))?;
            }
            check("cuGraphDestroy", sys::cuGraphDestroy(graph as sys::CUgraph))
        }
    }
    unsafe fn launch(&self, function: Handle, grid: [u32; 3], block: [u32; 3], shared: u32, stream: Handle, params: &mut [*mut c_void]) -> Result<()> {
        self.bind()?;
        // SAFETY: trait contract: params match the kernel's parameters.
        check("cuLaunchKernel", unsafe {
            sys::cuLaunchKernel(
                function as sys::CUfunction,
                grid[0],
                grid[1],
                grid[2],
                block[0],
                block[1],
                block[2],
                shared,
                stream as sys::CUstream,
                params.as_mut_ptr(),
                std::ptr::null_mut(),
            )
        })
    }
}

fn node_params(k: &KernelCall, params: &mut [*mut c_void]) -> sys::CUDA_KERNEL_NODE_PARAMS {
    sys::CUDA_KERNEL_NODE_PARAMS {
        func: k.function as sys::CUfunction,
        gridDimX: k.grid[0],
        gridDimY: k.grid[1],
        gridDimZ: k.grid[2],
        blockDimX: k.block[0],
        blockDimY: k.block[1],
        blockDimZ: k.block[2],
        sharedMemBytes: k.shared,
        kernelParams: params.as_mut_ptr(),
        extra: std::ptr::null_mut(),
        kern: std::ptr::null_mut(),
        ctx: std::ptr::null_mut(),
    }
}
