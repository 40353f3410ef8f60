//! `Driver` over the HIP runtime (AMD): the iGPU of an RDNA3 APU (Radeon 780M / 760M of
//! Phoenix, gfx1103; 890M of Strix Point, gfx1150; 8060S of Strix Halo, gfx1151), or an RDNA3
//! discrete GPU when no APU is there. Also runs on NVIDIA through `backend/hip-cuda-shim`
//! (a HIP runtime on the CUDA driver API, docs/hip-shim.md), which is how this file is
//! executed for real on the NVIDIA test machines.
//!
//! Memory flags are chosen here, each with the ROCm source that says what it does
//! ([`HOST_ALLOC_FLAGS`], [`HOST_REGISTER_FLAGS`]; docs/apu-memory.md).
use std::ffi::{c_void, CStr};

use super::{DevPtr, Driver, GpuError, Handle, KernelCall, Result};
use crate::log::{log_info, log_warn};
use hip_sys as sys;

/// `hipHostMalloc` flags for every buffer the APU's iGPU uses (activations, KV cache, copied
/// weights): **coarse-grained** system memory.
///
/// What `hipHostMallocNonCoherent` does (ROCm/clr `hipamd/src/hip_memory.cpp`,
/// `ihipHostMalloc`): the allocation is `CL_MEM_SVM_FINE_GRAIN_BUFFER` without
/// `CL_MEM_SVM_ATOMICS`, which rocclr (`rocclr/device/rocm/rocmemory.cpp`, `Buffer::create`)
/// serves with `Device::hostAlloc(.., kNoAtomics)`, i.e. from the CPU agent's coarse-grained
/// memory pool (`rocdevice.cpp`: `system_coarse_segment_`). Coarse-grained memory is coherent
/// at dispatch boundaries only (the header's `hipMemAdviseSetCoarseGrain`), which is all the
/// engine needs: the CPU writes before a launch, reads after `hipStreamSynchronize`, whose
/// barrier packet releases at system scope (`rocvirtual.cpp`, `kBarrierPacketHeader`).
///
/// Why not `hipHostMallocMapped` (the flag used before): `ihipHostMalloc` adds
/// `CL_MEM_SVM_ATOMICS` for `Mapped` (and for flags 0), which makes the memory fine-grained,
/// served coherently and slowly to the GPU (llama.cpp's coarse-grained HIP UMA change measured
/// tg 6.05 -> 9.26 t/s and pp 97 -> 180 t/s on a 7940HS). On AMD every `hipHostMalloc`
/// allocation is mapped into the GPU's address space whatever the flags; the device address is
/// taken from `hipHostGetDevicePointer` all the same. In ROCm 5.7 `Mapped|NonCoherent` stays
/// fine-grained (only newer releases let `NonCoherent` clear the atomics), so `NonCoherent`
/// alone is the value that means coarse-grained in every release.
///
/// Not chosen: `hipMallocManaged` + `hipMemAdvise(hipMemAdviseSetCoarseGrain)` (llama.cpp's
/// GGML_HIP_UMA): the same coarse-grained system memory in two calls, the second one depending
/// on the kernel's SVM/HMM support; `hipExtMallocWithFlags(hipDeviceMallocDefault)`: the BIOS
/// carve-out ("VRAM", often 512 MiB on a laptop), too small for the weights.
pub const HOST_ALLOC_FLAGS: u32 = sys::hipHostMallocNonCoherent;

/// `hipHostRegister` flags for the mapped model file (read-only pages).
///
/// - `hipHostRegisterMapped`: the range gets a device address, read back with
///   `hipHostGetDevicePointer` (the header's doc of the flag).
/// - `hipExtHostRegisterCoarseGrained` (0x8): the weights need coherence at dispatch boundaries
///   only. The same bit is `hipHostRegisterReadOnly`, which the header says is ignored on AMD
///   and which HIP's NVIDIA platform passes on as `cudaHostRegisterReadOnly` (that one is
///   needed there: CUDA refuses to pin read-only pages without it).
///
/// What ROCm does with them: `ihipHostRegister` (ROCm/clr `hip_memory.cpp`) accepts
/// `Portable|Mapped|CoarseGrained` (and `Uncached` in newer releases; ROCm 6.2 only checks
/// `flags <= 15`), then always creates the buffer with `CL_MEM_USE_HOST_PTR |
/// CL_MEM_SVM_ATOMICS`, and rocclr locks it to the fine-grained system pool
/// (`hsa_amd_memory_lock_to_pool` with `SystemSegment()`, `rocmemory.cpp`). So in the ROCm
/// sources read (clr f9f995c, Oct 2024, and the later `Uncached` revision) a registration is
/// fine-grained whatever is asked; the flag records the intent and costs nothing (see
/// docs/apu-memory.md for what that means for the weights).
pub const HOST_REGISTER_FLAGS: u32 = sys::hipHostRegisterMapped | sys::hipExtHostRegisterCoarseGrained;

/// The code object built for each architecture (scripts/build-kernels.sh): the RDNA3 and
/// RDNA3.5 family, and `sm_*` for the NVIDIA machines where the shim runs this driver.
pub fn code_object_for(arch: &str) -> Option<&'static str> {
    Some(match arch {
        "gfx1100" => "unicorn-gfx1100.hsaco",
        "gfx1101" => "unicorn-gfx1101.hsaco",
        "gfx1102" => "unicorn-gfx1102.hsaco",
        "gfx1103" => "unicorn-gfx1103.hsaco",
        "gfx1150" => "unicorn-gfx1150.hsaco",
        "gfx1151" => "unicorn-gfx1151.hsaco",
        a if a.starts_with("sm_") => "unicorn-cuda.fatbin",
        _ => return None,
    })
}

/// One HIP device as the runtime describes it (`hipDeviceProp_t`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceInfo {
    pub index: i32,
    pub name: String,
    /// `gcnArchName` without its feature suffix (`gfx1103`, not `gfx1103:xnack-`).
    pub arch: String,
    pub integrated: bool,
}

/// Picks the device to use and says why: `wanted` (`UNICORN_HIP_DEVICE`) if given; else the
/// first integrated GPU with a code object (the APU's iGPU, what Unicorn is for); else the
/// first discrete one with a code object. A device without a code object is never taken, and
/// a discrete GPU is taken only when no APU is there, and the log line says so.
pub fn choose_device(devices: &[DeviceInfo], wanted: Option<i32>) -> std::result::Result<(usize, String), String> {
    let listing = || devices.iter().map(|d| format!("{}: {} ({}, {})", d.index, d.name, d.arch, if d.integrated { "integrated" } else { "discrete" })).collect::<Vec<_>>().join("; ");
    if devices.is_empty() {
        return Err("HIP runtime found, but no HIP device".into());
    }
    if let Some(w) = wanted {
        let Some(i) = devices.iter().position(|d| d.index == w) else {
            return Err(format!("UNICORN_HIP_DEVICE={w}: no such HIP device (devices: {})", listing()));
        };
        if code_object_for(&devices[i].arch).is_none() {
            return Err(format!("UNICORN_HIP_DEVICE={w}: {} is {}, for which no kernels are built (gfx1100-gfx1103, gfx1150, gfx1151)", devices[i].name, devices[i].arch));
        }
        return Ok((i, format!("chosen by UNICORN_HIP_DEVICE={w}")));
    }
    let usable = |d: &&DeviceInfo| code_object_for(&d.arch).is_some();
    if let Some(d) = devices.iter().filter(usable).find(|d| d.integrated) {
        let i = devices.iter().position(|x| x == d).unwrap_or(0);
        let others = devices.len() - 1;
        return Ok((i, if others > 0 { format!("the integrated GPU (passed over: {} other device(s); devices: {})", others, listing()) } else { "the only HIP device".into() }));
    }
    if let Some(d) = devices.iter().find(usable) {
        let i = devices.iter().position(|x| x == d).unwrap_or(0);
        return Ok((i, format!("no integrated GPU with kernels found, so the discrete GPU {} ({}) is used, with its own memory (devices: {}; UNICORN_HIP_DEVICE=N picks another)", d.name, d.arch, listing())));
    }
    Err(format!("no HIP device Unicorn has kernels for (gfx1100-gfx1103, gfx1150, gfx1151): {}", listing()))
}

/// What `HSA_OVERRIDE_GFX_VERSION` does, said plainly, when it is set.
pub fn hsa_override_note(value: &str, arch: &str) -> String {
    format!(
        "HSA_OVERRIDE_GFX_VERSION={value} is set: it makes ROCm report every GPU as that ISA version and load code built for it \
         (the runtime now reports {arch}), a workaround for programs shipped without code for the GPU. Unicorn builds native code \
         objects for gfx1100, gfx1101, gfx1102, gfx1103, gfx1150 and gfx1151, so it is not needed: unset it \
         (`unset HSA_OVERRIDE_GFX_VERSION`) so that your GPU's own code object is loaded"
    )
}

pub struct HipDriver {
    hip: sys::Hip,
    device: i32,
    name: String,
    arch: String,
    integrated: bool,
}

impl HipDriver {
    /// The HIP device [`choose_device`] picks, if the runtime loads and finds one. The runtime
    /// library is `UNICORN_HIP_LIB` when set (a path or name, e.g. the shim), else the
    /// system's `libamdhip64.so.7` / `.so.6` / `.so`.
    pub fn open() -> std::result::Result<Self, String> {
        let lib = std::env::var("UNICORN_HIP_LIB").ok().filter(|v| !v.trim().is_empty());
        let candidates: Vec<&str> = lib.as_deref().into_iter().collect();
        // SAFETY: loads a HIP runtime, whose symbols have the declared signatures.
        let hip = unsafe { sys::Hip::load(&candidates) }.map_err(|e| {
            if e.contains("hipGetDevicePropertiesR0600") {
                format!("{e} (ROCm 6 or newer is needed)")
            } else {
                e
            }
        })?;
        let mut d = HipDriver { hip, device: 0, name: String::new(), arch: String::new(), integrated: false };
        let mut devices = vec![];
        // SAFETY: plain runtime calls with valid out-pointers; the property struct has the
        // R0600 size the runtime writes.
        unsafe {
            d.check("hipInit", (d.hip.hipInit)(0)).map_err(|e| e.0)?;
            let mut n = 0;
            d.check("hipGetDeviceCount", (d.hip.hipGetDeviceCount)(&mut n)).map_err(|e| e.0)?;
            for i in 0..n {
                let mut p = sys::hipDeviceProp_tR0600::zeroed();
                d.check("hipGetDeviceProperties", (d.hip.hipGetDevicePropertiesR0600)(&mut p, i)).map_err(|e| e.0)?;
                let arch = p.gcn_arch_name().split(':').next().unwrap_or("").to_string();
                devices.push(DeviceInfo { index: i, name: p.name(), arch, integrated: p.integrated() != 0 });
            }
        }
        // Said before the choice: with an override to an ISA Unicorn has no kernels for, no
        // device is chosen, and this line is the explanation.
        if let Some(v) = std::env::var("HSA_OVERRIDE_GFX_VERSION").ok().filter(|v| !v.is_empty()) {
            let reported = devices.iter().map(|d| d.arch.as_str()).collect::<Vec<_>>().join(", ");
            log_warn!("{}", hsa_override_note(&v, &reported));
        }
        let wanted = std::env::var("UNICORN_HIP_DEVICE").ok().filter(|v| !v.trim().is_empty()).map(|v| v.trim().parse::<i32>().map_err(|_| format!("UNICORN_HIP_DEVICE={v:?} is not a device number")));
        let wanted = wanted.transpose()?;
        let (i, why) = choose_device(&devices, wanted)?;
        let chosen = &devices[i];
        (d.device, d.name, d.arch, d.integrated) = (chosen.index, chosen.name.clone(), chosen.arch.clone(), chosen.integrated);
        log_info!("HIP ({}): device {} of {}: {} ({}, {}): {why}", d.hip.library, d.device, devices.len(), d.name, d.arch, if d.integrated { "integrated" } else { "discrete" });
        Ok(d)
    }

    fn check(&self, call: &str, code: sys::hipError_t) -> Result<()> {
        if code == sys::hipSuccess {
            return Ok(());
        }
        // SAFETY: hipGetErrorString returns a static string for any code.
        let msg = unsafe { CStr::from_ptr((self.hip.hipGetErrorString)(code)) }.to_string_lossy();
        let hint = if code == sys::hipErrorNoBinaryForGpu {
            let o = std::env::var("HSA_OVERRIDE_GFX_VERSION").map(|v| format!("; {}", hsa_override_note(&v, &self.arch))).unwrap_or_default();
            format!(" (the code object has no ISA for this GPU, {}: rebuild the kernels for it with scripts/build-kernels.sh{o})", self.arch)
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
        // hipDeviceProp_t.integrated, from the runtime.
        self.integrated
    }
    fn mem_info(&self) -> Result<(usize, usize)> {
        self.bind()?;
        let (mut free, mut total) = (0, 0);
        // SAFETY: valid out-pointers.
        self.check("hipMemGetInfo", unsafe { (self.hip.hipMemGetInfo)(&mut free, &mut total) })?;
        Ok((free, total))
    }
    fn code_object_name(&self) -> &'static str {
        // `open` took only a device with a code object.
        code_object_for(&self.arch).unwrap_or("unicorn-gfx1103.hsaco")
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
        self.check("hipHostMalloc", unsafe { (self.hip.hipHostMalloc)(&mut p, size, HOST_ALLOC_FLAGS) })?;
        Ok(p as *mut u8)
    }
    unsafe fn host_free(&self, ptr: *mut u8) -> Result<()> {
        self.bind()?;
        // SAFETY: trait contract.
        self.check("hipHostFree", unsafe { (self.hip.hipHostFree)(ptr as *mut c_void) })
    }
    unsafe fn host_register(&self, ptr: *mut u8, size: usize, _read_only: bool) -> Result<()> {
        self.bind()?;
        // SAFETY: trait contract.
        self.check("hipHostRegister", unsafe { (self.hip.hipHostRegister)(ptr as *mut c_void, size, HOST_REGISTER_FLAGS) })
    }
    unsafe fn host_device_pointer(&self, ptr: *mut u8) -> Result<DevPtr> {
        self.bind()?;
        let mut d = std::ptr::null_mut();
        // SAFETY: trait contract; valid out-pointer; flags must be 0 (the header).
        self.check("hipHostGetDevicePointer", unsafe { (self.hip.hipHostGetDevicePointer)(&mut d, ptr as *mut c_void, 0) })?;
        Ok(d as DevPtr)
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
    fn supports_graphs(&self) -> bool {
        true
    }
    fn graph_create(&self) -> Result<Handle> {
        self.bind()?;
        let mut g = std::ptr::null_mut();
        // SAFETY: valid out-pointer; flags must be 0.
        self.check("hipGraphCreate", unsafe { (self.hip.hipGraphCreate)(&mut g, 0) })?;
        Ok(g as Handle)
    }
    unsafe fn graph_add_kernel(&self, graph: Handle, after: Option<Handle>, k: &KernelCall, params: &mut [*mut c_void]) -> Result<Handle> {
        self.bind()?;
        // A module function (hipFunction_t) as the node's `func`: ROCm's graph code takes it as
        // such when it is no registered host function (clr hip_graph_internal.hpp, getFunc:
        // StatCO::getStatFunc answers hipErrorInvalidSymbol for it, hip_code_object.cpp).
        let p = node_params(k, params);
        let deps: Vec<sys::hipGraphNode_t> = after.map(|n| n as sys::hipGraphNode_t).into_iter().collect();
        let mut node = std::ptr::null_mut();
        // SAFETY: trait contract; the runtime copies the parameter values.
        self.check("hipGraphAddKernelNode", unsafe { (self.hip.hipGraphAddKernelNode)(&mut node, graph as sys::hipGraph_t, deps.as_ptr(), deps.len(), &p) })?;
        Ok(node as Handle)
    }
    unsafe fn graph_instantiate(&self, graph: Handle) -> Result<Handle> {
        self.bind()?;
        let mut e = std::ptr::null_mut();
        // SAFETY: trait contract; valid out-pointer.
        self.check("hipGraphInstantiateWithFlags", unsafe { (self.hip.hipGraphInstantiateWithFlags)(&mut e, graph as sys::hipGraph_t, 0) })?;
        Ok(e as Handle)
    }
    unsafe fn graph_set_kernel(&self, exec: Handle, node: Handle, k: &KernelCall, params: &mut [*mut c_void]) -> Result<()> {
        self.bind()?;
        let p = node_params(k, params);
        // SAFETY: trait contract; the runtime copies the parameter values.
        self.check("hipGraphExecKernelNodeSetParams", unsafe {
            (self.hip.hipGraphExecKernelNodeSetParams)(exec as sys::hipGraphExec_t, node as sys::hipGraphNode_t, &p)
        })
    }
    unsafe fn graph_launch(&self, exec: Handle, stream: Handle) -> Result<()> {
        self.bind()?;
        // SAFETY: trait contract.
        self.check("hipGraphLaunch", unsafe { (self.hip.hipGraphLaunch)(exec as sys::hipGraphExec_t, stream as sys::hipStream_t) })
    }
    unsafe fn graph_destroy(&self, graph: Handle, exec: Handle) -> Result<()> {
        self.bind()?;
        // SAFETY: trait contract: both made by this driver, destroyed once.
        unsafe {
            if exec != 0 {
                self.check("hipGraphExecDestroy", (self.hip.hipGraphExecDestroy)(exec as sys::hipGraphExec_t))?;
            }
            self.check("hipGraphDestroy", (self.hip.hipGraphDestroy)(graph as sys::hipGraph_t))
        }
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

fn node_params(k: &KernelCall, params: &mut [*mut c_void]) -> sys::hipKernelNodeParams {
    sys::hipKernelNodeParams {
        blockDim: sys::dim3 { x: k.block[0], y: k.block[1], z: k.block[2] },
        extra: std::ptr::null_mut(),
        func: k.function as *mut c_void,
        gridDim: sys::dim3 { x: k.grid[0], y: k.grid[1], z: k.grid[2] },
        kernelParams: params.as_mut_ptr(),
        sharedMemBytes: k.shared,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dev(index: i32, arch: &str, integrated: bool) -> DeviceInfo {
        DeviceInfo { index, name: format!("gpu{index}"), arch: arch.into(), integrated }
    }

    #[test]
    fn the_apu_is_chosen_over_a_discrete_gpu_listed_first() {
        let devs = [dev(0, "gfx1100", false), dev(1, "gfx1103", true)];
        let (i, why) = choose_device(&devs, None).unwrap();
        assert_eq!(i, 1);
        assert!(why.contains("integrated"), "{why}");
    }

    #[test]
    fn a_discrete_gpu_is_taken_only_without_an_apu_and_says_so() {
        let devs = [dev(0, "gfx90a", false), dev(1, "gfx1101", false)];
        let (i, why) = choose_device(&devs, None).unwrap();
        assert_eq!(i, 1);
        assert!(why.contains("discrete"), "{why}");
        // An integrated GPU without kernels (an older APU) is not taken.
        let e = choose_device(&[dev(0, "gfx90c", true)], None).unwrap_err();
        assert!(e.contains("gfx90c"), "{e}");
    }

    #[test]
    fn unicorn_hip_device_overrides_but_needs_kernels() {
        let devs = [dev(0, "gfx1103", true), dev(1, "gfx1100", false)];
        assert_eq!(choose_device(&devs, Some(1)).unwrap().0, 1);
        assert!(choose_device(&devs, Some(5)).is_err());
        assert!(choose_device(&[dev(0, "gfx906", false)], Some(0)).is_err());
    }

    #[test]
    fn every_rdna3_apu_and_the_nvidia_shim_have_a_code_object() {
        for a in ["gfx1100", "gfx1101", "gfx1102", "gfx1103", "gfx1150", "gfx1151"] {
            assert_eq!(code_object_for(a), Some(format!("unicorn-{a}.hsaco")).as_deref());
        }
        assert_eq!(code_object_for("sm_90"), Some("unicorn-cuda.fatbin"));
        assert_eq!(code_object_for("gfx1030"), None);
    }

    #[test]
    fn the_hsa_override_line_says_what_it_does_and_what_to_do() {
        let n = hsa_override_note("11.0.0", "gfx1100");
        assert!(n.contains("HSA_OVERRIDE_GFX_VERSION=11.0.0") && n.contains("reports gfx1100"), "{n}");
        assert!(n.contains("unset HSA_OVERRIDE_GFX_VERSION") && n.contains("gfx1103"), "{n}");
    }

    #[test]
    fn memory_flags_are_coarse_grained() {
        // hipHostMallocNonCoherent alone (Mapped would make it fine-grained, see the doc).
        assert_eq!(HOST_ALLOC_FLAGS, 0x8000_0000);
        assert_eq!(HOST_ALLOC_FLAGS & sys::hipHostMallocMapped, 0);
        assert_eq!(HOST_REGISTER_FLAGS, sys::hipHostRegisterMapped | sys::hipExtHostRegisterCoarseGrained);
        assert_eq!(sys::hipExtHostRegisterCoarseGrained, sys::hipHostRegisterReadOnly);
    }
}

/// This driver against the HIP shim in fake mode (devices on the host, no GPU): what the HIP
/// calls receive, recorded by the shim. Run by scripts/test-hip-shim.sh, which builds the shim
/// and sets UNICORN_HIP_LIB, HIPSHIM_FAKE=gfx1100:discrete,gfx1103:integrated and HIPSHIM_LOG.
#[cfg(test)]
mod shim_tests {
    use super::*;
    use crate::gpu::{Gpu, HostMemory};
    use std::sync::Arc;

    fn log() -> String {
        std::fs::read_to_string(std::env::var("HIPSHIM_LOG").expect("HIPSHIM_LOG")).unwrap_or_default()
    }

    #[test]
    #[ignore = "needs the HIP shim: scripts/test-hip-shim.sh"]
    fn through_the_shim_the_apu_gets_coarse_grained_memory_and_survives_refusals() {
        assert_eq!(std::env::var("HIPSHIM_FAKE").as_deref(), Ok("gfx1100:discrete,gfx1103:integrated"), "run by scripts/test-hip-shim.sh");
        // The APU, listed second, is chosen; integrated comes from hipDeviceProp_t.
        let d = HipDriver::open().expect("the shim loads with every symbol hip-sys resolves");
        assert_eq!((d.device, d.arch.as_str(), d.integrated()), (1, "gfx1103", true));
        assert_eq!(d.code_object_name(), "unicorn-gfx1103.hsaco");
        let gpu = Arc::new(Gpu { driver: Box::new(d) });

        // Activations, KV, copied weights: hipHostMalloc with hipHostMallocNonCoherent alone.
        let m = HostMemory::new(&gpu, 1 << 20).unwrap();
        assert!(log().contains("hipHostMalloc size=1048576 flags=0x80000000 "), "{}", log());
        assert!(log().contains(&format!("hipHostGetDevicePointer host={:p} -> 0", m.ptr)), "{}", log());
        drop(m);

        // The probe: a 64 MiB file mapping, registered Mapped|CoarseGrained from an unaligned
        // address.
        gpu.can_register_file_mappings().unwrap();
        let reg = log().lines().find(|l| l.starts_with("hipHostRegister ")).unwrap_or_default().to_string();
        assert!(reg.contains("flags=0xa ") && reg.contains(&format!("size={}", super::super::PROBE_FILE_BYTES - 1000 - super::super::PROBE_OFFSET)), "{reg}");
        let ptr = usize::from_str_radix(reg.split("ptr=0x").nth(1).unwrap().split(' ').next().unwrap(), 16).unwrap();
        assert_ne!(ptr % 4096, 0, "the probed range starts unaligned");

        // A registration the runtime refuses (injected): the load goes on with a copy.
        // SAFETY: single-threaded test (the script runs it alone); the shim reads it per call.
        unsafe { std::env::set_var("HIPSHIM_FAIL", "hipHostRegister:1") };
        let path = std::env::temp_dir().join(format!("unicorn-shim-model-{}", std::process::id()));
        std::fs::write(&path, vec![7u8; 3 * 4096]).unwrap();
        let f = std::fs::File::open(&path).unwrap();
        // SAFETY: maps the file read-only; unmapped below, after the buffer is dropped.
        let base = unsafe { libc::mmap(std::ptr::null_mut(), 3 * 4096, libc::PROT_READ, libc::MAP_SHARED, std::os::fd::AsRawFd::as_raw_fd(&f), 0) };
        assert_ne!(base, libc::MAP_FAILED);
        // SAFETY: inside the mapping, which outlives the buffer.
        let mem = unsafe { crate::buffer::Memory::borrowed((base as *mut u8).add(100), 8000, Some(&gpu)) }.expect("never a NULL buffer");
        assert_eq!(mem.base(), (base as *mut u8).wrapping_add(100));
        let l = log();
        assert!(l.contains("size=8000 flags=0xa -> 1 (injected)"), "{l}");
        assert!(l.contains("size=8000 flags=0xa cuda_flags=0xa -> 0"), "the copy is registered: {l}");
        drop(mem);
        // SAFETY: mapped above.
        unsafe { libc::munmap(base, 3 * 4096) };
        let _ = std::fs::remove_file(&path);
    }
}
