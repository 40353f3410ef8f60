//! `Driver` over the HIP runtime (AMD): the Radeon 780M of a Phoenix APU.
use std::ffi::{c_char, c_void, CStr};

use super::{DevPtr, Driver, GpuError, Handle, Result};
use hip_sys as sys;

pub struct HipDriver {
    hip: sys::Hip,
    device: i32,
    name: String,
    arch: String,
}

impl HipDriver {
    /// The first HIP device, if the runtime loads and finds one.
    pub fn open() -> std::result::Result<Self, String> {
        // SAFETY: loads the system's HIP runtime, whose symbols have the declared signatures.
        let hip = unsafe { sys::Hip::load(&[]) }?;
        let mut d = HipDriver { hip, device: 0, name: String::new(), arch: String::new() };
        // SAFETY: plain runtime calls with valid out-pointers.
        unsafe {
            d.check("hipInit", (d.hip.hipInit)(0)).map_err(|e| e.0)?;
            let mut n = 0;
            d.check("hipGetDeviceCount", (d.hip.hipGetDeviceCount)(&mut n)).map_err(|e| e.0)?;
            if n == 0 {
                return Err("HIP runtime found, but no HIP device".into());
            }
            let mut buf = [0 as c_char; 256];
            d.check("hipDeviceGetName", (d.hip.hipDeviceGetName)(buf.as_mut_ptr(), buf.len() as i32, 0)).map_err(|e| e.0)?;
            d.name = CStr::from_ptr(buf.as_ptr()).to_string_lossy().into_owned();
        }
        // The ISA comes from the kernel driver's topology (the same probe that found the iGPU);
        // hipDeviceProp_t's layout changes between ROCm releases, so it is not read here.
        d.arch = crate::probe::gfx_targets().into_iter().next().unwrap_or_else(|| "unknown gfx".into());
        Ok(d)
    }

    fn check(&self, call: &str, code: sys::hipError_t) -> Result<()> {
        if code == sys::hipSuccess {
            return Ok(());
        }
        // SAFETY: hipGetErrorString returns a static string for any code.
        let msg = unsafe { CStr::from_ptr((self.hip.hipGetErrorString)(code)) }.to_string_lossy();
        let hint = if code == sys::hipErrorNoBinaryForGpu {
            format!(" (the code object has no ISA for this GPU, {}: rebuild the kernels for it)", self.arch)
        } else {
            String::new()
        };
        Err(GpuError(format!("{call}: HIP error {code} ({msg}){hint}")))
    }

    fn bind(&self) -> Result<()> {
        // SAFETY: plain runtime call.
        self.check("hipSetDevice", unsafe { (self.hip.hipSetDevice)(self.device) })
    }
}

impl Driver for HipDriver {
    fn runtime(&self) -> &'static str {
        "HIP"
    }
    fn device_name(&self) -> String {
        self.name.clone()
    }
    fn arch(&self) -> String {
        self.arch.clone()
    }
    fn integrated(&self) -> bool {
        // Unicorn's HIP target is the APU's iGPU (gfx1103), which reads system memory.
        true
    }
    fn mem_info(&self) -> Result<(usize, usize)> {
        self.bind()?;
        let (mut free, mut total) = (0, 0);
        // SAFETY: valid out-pointers.
        self.check("hipMemGetInfo", unsafe { (self.hip.hipMemGetInfo)(&mut free, &mut total) })?;
        Ok((free, total))
    }
    fn code_object_name(&self) -> &'static str {
        "unicorn-gfx1103.hsaco"
    }
    unsafe fn alloc(&self, size: usize) -> Result<DevPtr> {
        self.bind()?;
        let mut p = std::ptr::null_mut();
        // SAFETY: valid out-pointer.
        self.check("hipMalloc", unsafe { (self.hip.hipMalloc)(&mut p, size) })?;
        Ok(p as DevPtr)
    }
    unsafe fn free(&self, ptr: DevPtr) -> Result<()> {
        self.bind()?;
        // SAFETY: trait contract.
        self.check("hipFree", unsafe { (self.hip.hipFree)(ptr as *mut c_void) })
    }
    unsafe fn host_alloc(&self, size: usize) -> Result<*mut u8> {
        self.bind()?;
        let mut p = std::ptr::null_mut();
        // SAFETY: valid out-pointer.
        self.check("hipHostMalloc", unsafe { (self.hip.hipHostMalloc)(&mut p, size, sys::hipHostMallocMapped) })?;
        Ok(p as *mut u8)
    }
    unsafe fn host_free(&self, ptr: *mut u8) -> Result<()> {
        self.bind()?;
        // SAFETY: trait contract.
        self.check("hipHostFree", unsafe { (self.hip.hipHostFree)(ptr as *mut c_void) })
    }
    unsafe fn host_register(&self, ptr: *mut u8, size: usize, read_only: bool) -> Result<()> {
        self.bind()?;
        let flags = sys::hipHostRegisterMapped | if read_only { sys::hipHostRegisterReadOnly } else { 0 };
        // SAFETY: trait contract.
        self.check("hipHostRegister", unsafe { (self.hip.hipHostRegister)(ptr as *mut c_void, size, flags) })
    }
    unsafe fn host_unregister(&self, ptr: *mut u8) -> Result<()> {
        self.bind()?;
        // SAFETY: trait contract.
        self.check("hipHostUnregister", unsafe { (self.hip.hipHostUnregister)(ptr as *mut c_void) })
    }
    fn stream_create(&self) -> Result<Handle> {
        self.bind()?;
        let mut s = std::ptr::null_mut();
        // SAFETY: valid out-pointer.
        self.check("hipStreamCreateWithFlags", unsafe { (self.hip.hipStreamCreateWithFlags)(&mut s, sys::hipStreamNonBlocking) })?;
        Ok(s as Handle)
    }
    unsafe fn stream_destroy(&self, stream: Handle) -> Result<()> {
        self.bind()?;
        // SAFETY: trait contract.
        self.check("hipStreamDestroy", unsafe { (self.hip.hipStreamDestroy)(stream as *mut c_void) })
    }
    unsafe fn stream_synchronize(&self, stream: Handle) -> Result<()> {
        self.bind()?;
        // SAFETY: trait contract.
        self.check("hipStreamSynchronize", unsafe { (self.hip.hipStreamSynchronize)(stream as *mut c_void) })
    }
    fn event_create(&self) -> Result<Handle> {
        self.bind()?;
        let mut e = std::ptr::null_mut();
        // SAFETY: valid out-pointer; 0 = hipEventDefault (timing enabled).
        self.check("hipEventCreateWithFlags", unsafe { (self.hip.hipEventCreateWithFlags)(&mut e, 0) })?;
        Ok(e as Handle)
    }
    unsafe fn event_destroy(&self, event: Handle) -> Result<()> {
        self.bind()?;
        // SAFETY: trait contract.
        self.check("hipEventDestroy", unsafe { (self.hip.hipEventDestroy)(event as sys::hipEvent_t) })
    }
    unsafe fn event_record(&self, event: Handle, stream: Handle) -> Result<()> {
        self.bind()?;
        // SAFETY: trait contract.
        self.check("hipEventRecord", unsafe { (self.hip.hipEventRecord)(event as sys::hipEvent_t, stream as sys::hipStream_t) })
    }
    unsafe fn event_elapsed_ms(&self, start: Handle, end: Handle) -> Result<f32> {
        self.bind()?;
        let mut ms = 0f32;
        // SAFETY: trait contract; valid out-pointer.
        self.check("hipEventElapsedTime", unsafe { (self.hip.hipEventElapsedTime)(&mut ms, start as sys::hipEvent_t, end as sys::hipEvent_t) })?;
        Ok(ms)
    }
    unsafe fn memcpy_htod(&self, dst: DevPtr, src: *const u8, size: usize, stream: Handle) -> Result<()> {
        self.bind()?;
        // SAFETY: trait contract.
        self.check("hipMemcpyHtoDAsync", unsafe {
            (self.hip.hipMemcpyHtoDAsync)(dst as *mut c_void, src as *mut c_void, size, stream as *mut c_void)
        })
    }
    unsafe fn memcpy_dtoh(&self, dst: *mut u8, src: DevPtr, size: usize, stream: Handle) -> Result<()> {
        self.bind()?;
        // SAFETY: trait contract.
        self.check("hipMemcpyDtoHAsync", unsafe {
            (self.hip.hipMemcpyDtoHAsync)(dst as *mut c_void, src as *mut c_void, size, stream as *mut c_void)
        })
    }
    unsafe fn memcpy_dtod(&self, dst: DevPtr, src: DevPtr, size: usize, stream: Handle) -> Result<()> {
        self.bind()?;
        // SAFETY: trait contract.
        self.check("hipMemcpyDtoDAsync", unsafe {
            (self.hip.hipMemcpyDtoDAsync)(dst as *mut c_void, src as *mut c_void, size, stream as *mut c_void)
        })
    }
    unsafe fn memset(&self, dst: DevPtr, value: u8, size: usize, stream: Handle) -> Result<()> {
        self.bind()?;
        // SAFETY: trait contract.
        self.check("hipMemsetD8Async", unsafe { (self.hip.hipMemsetD8Async)(dst as *mut c_void, value, size, stream as *mut c_void) })
    }
    fn module_load(&self, image: &[u8]) -> Result<Handle> {
        self.bind()?;
        let mut m = std::ptr::null_mut();
        // SAFETY: the image is a complete code object in memory (the runtime copies it).
        self.check("hipModuleLoadData", unsafe { (self.hip.hipModuleLoadData)(&mut m, image.as_ptr() as *const c_void) })?;
        Ok(m as Handle)
    }
    unsafe fn module_unload(&self, module: Handle) -> Result<()> {
        self.bind()?;
        // SAFETY: trait contract.
        self.check("hipModuleUnload", unsafe { (self.hip.hipModuleUnload)(module as *mut c_void) })
    }
    unsafe fn module_function(&self, module: Handle, name: &CStr) -> Result<Handle> {
        self.bind()?;
        let mut f = std::ptr::null_mut();
        // SAFETY: trait contract; `name` is NUL-terminated.
        self.check("hipModuleGetFunction", unsafe { (self.hip.hipModuleGetFunction)(&mut f, module as *mut c_void, name.as_ptr()) })
            .map_err(|e| GpuError(format!("kernel {}: {e}", name.to_string_lossy())))?;
        Ok(f as Handle)
    }
    unsafe fn launch(&self, function: Handle, grid: [u32; 3], block: [u32; 3], shared: u32, stream: Handle, params: &mut [*mut c_void]) -> Result<()> {
        self.bind()?;
        // SAFETY: trait contract: params match the kernel's parameters.
        self.check("hipModuleLaunchKernel", unsafe {
            (self.hip.hipModuleLaunchKernel)(
                function as *mut c_void,
                grid[0],
                grid[1],
                grid[2],
                block[0],
                block[1],
                block[2],
                shared,
                stream as *mut c_void,
                params.as_mut_ptr(),
                std::ptr::null_mut(),
            )
        })
    }
}
