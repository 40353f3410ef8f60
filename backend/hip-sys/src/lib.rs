//! Raw bindings to the part of the HIP runtime API that Unicorn's GPU engine uses, loaded at
//! run time from `libamdhip64.so` (ROCm 6 or 7), the way cudarc loads the CUDA driver: a
//! program linked with this crate starts on a machine without ROCm, and [`Hip::load`] says why
//! it could not load.
//!
//! Raw on purpose: every function is the C symbol with its C signature. Safety, error values
//! and RAII live one layer up (`unicorn::gpu::hip`).
//!
//! Values and layouts are AMD's, from ROCm's `include/hip/hip_runtime_api.h` (ROCm/HIP
//! c5e11fc): on AMD they are the runtime's ABI. (HIP's NVIDIA platform is header-only and maps
//! names to CUDA's values at compile time; `backend/hip-cuda-shim` takes these AMD values and
//! does that mapping at run time.) ROCm 5 is not supported: it lacks
//! `hipGetDevicePropertiesR0600`, the property layout read here.
#![allow(non_camel_case_types, non_snake_case, non_upper_case_globals)]
use std::ffi::{c_char, c_int, c_uint, c_void};

pub type hipError_t = c_int;
pub type hipDevice_t = c_int;
pub type hipDeviceptr_t = *mut c_void;
pub type hipStream_t = *mut c_void;
pub type hipModule_t = *mut c_void;
pub type hipFunction_t = *mut c_void;
pub type hipEvent_t = *mut c_void;
pub type hipGraph_t = *mut c_void;
pub type hipGraphNode_t = *mut c_void;
pub type hipGraphExec_t = *mut c_void;

pub const hipSuccess: hipError_t = 0;
/// `hipErrorNoBinaryForGpu`: the code object holds no ISA for this device.
pub const hipErrorNoBinaryForGpu: hipError_t = 209;
pub const hipErrorInvalidValue: hipError_t = 1;
pub const hipErrorOutOfMemory: hipError_t = 2;
pub const hipErrorNotSupported: hipError_t = 801;
pub const hipStreamNonBlocking: c_uint = 1;
// hipHostMalloc flags. What each does on AMD is documented where Unicorn chooses them
// (`unicorn::gpu::hip`, docs/apu-memory.md).
pub const hipHostMallocDefault: c_uint = 0;
pub const hipHostMallocPortable: c_uint = 0x1;
pub const hipHostMallocMapped: c_uint = 0x2;
pub const hipHostMallocWriteCombined: c_uint = 0x4;
pub const hipHostMallocNumaUser: c_uint = 0x2000_0000;
pub const hipHostMallocCoherent: c_uint = 0x4000_0000;
pub const hipHostMallocNonCoherent: c_uint = 0x8000_0000;
// hipHostRegister flags. `hipHostRegisterReadOnly` ("ignored on AMD devices") and
// `hipExtHostRegisterCoarseGrained` are the same bit.
pub const hipHostRegisterDefault: c_uint = 0;
pub const hipHostRegisterPortable: c_uint = 0x1;
pub const hipHostRegisterMapped: c_uint = 0x2;
pub const hipHostRegisterIoMemory: c_uint = 0x4;
pub const hipHostRegisterReadOnly: c_uint = 0x8;
pub const hipExtHostRegisterCoarseGrained: c_uint = 0x8;
pub const hipEventDisableTiming: c_uint = 2;

/// `hipDeviceProp_tR0600`, the property struct of ROCm 6 and 7 (`hipGetDeviceProperties` is
/// a macro for `hipGetDevicePropertiesR0600` there). Kept as its bytes: only three fields are
/// read, at the offsets of the header's layout (checked against the header by
/// `backend/hip-cuda-shim/hip_abi.h`, whose struct the shim fills, and by the shim tests).
#[repr(C, align(8))]
pub struct hipDeviceProp_tR0600 {
    pub bytes: [u8; HIP_DEVICE_PROP_R0600_SIZE],
    /// Room past the end: a runtime whose struct grew (under the same symbol) writes into it
    /// instead of past the allocation.
    pub spare: [u8; 2048],
}
pub const HIP_DEVICE_PROP_R0600_SIZE: usize = 1472;
/// `char name[256]`
pub const HIP_DEVICE_PROP_R0600_NAME: usize = 0;
/// `int integrated`
pub const HIP_DEVICE_PROP_R0600_INTEGRATED: usize = 396;
/// `char gcnArchName[256]`, e.g. `gfx1103` or `gfx90a:sramecc+:xnack-`
pub const HIP_DEVICE_PROP_R0600_GCN_ARCH_NAME: usize = 1160;

impl hipDeviceProp_tR0600 {
    pub fn zeroed() -> Self {
        hipDeviceProp_tR0600 { bytes: [0; HIP_DEVICE_PROP_R0600_SIZE], spare: [0; 2048] }
    }
    fn c_string(&self, at: usize) -> String {
        let b = &self.bytes[at..at + 256];
        let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
        String::from_utf8_lossy(&b[..end]).into_owned()
    }
    pub fn name(&self) -> String {
        self.c_string(HIP_DEVICE_PROP_R0600_NAME)
    }
    pub fn gcn_arch_name(&self) -> String {
        self.c_string(HIP_DEVICE_PROP_R0600_GCN_ARCH_NAME)
    }
    pub fn integrated(&self) -> c_int {
        let o = HIP_DEVICE_PROP_R0600_INTEGRATED;
        c_int::from_ne_bytes([self.bytes[o], self.bytes[o + 1], self.bytes[o + 2], self.bytes[o + 3]])
    }
}

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct dim3 {
    pub x: u32,
    pub y: u32,
    pub z: u32,
}

/// AMD's field order (NVIDIA's `cudaKernelNodeParams` orders them differently).
#[repr(C)]
pub struct hipKernelNodeParams {
    pub blockDim: dim3,
    pub extra: *mut *mut c_void,
    pub func: *mut c_void,
    pub gridDim: dim3,
    pub kernelParams: *mut *mut c_void,
    pub sharedMemBytes: c_uint,
}

macro_rules! hip_api {
    ($( fn $name:ident ( $( $arg:ident : $ty:ty ),* ) -> $ret:ty; )*) => {
        /// The HIP runtime's entry points, resolved from the loaded library.
        #[allow(non_snake_case)]
        pub struct Hip {
            _lib: libloading::Library,
            /// The library name that loaded.
            pub library: String,
            $( pub $name: unsafe extern "C" fn($($ty),*) -> $ret, )*
        }

        /// The name of every function [`Hip::load`] resolves, in order (a HIP runtime, or
        /// the shim, must export them all).
        pub const SYMBOLS: &[&str] = &[$(stringify!($name)),*];

        impl Hip {
            /// Loads the HIP runtime from the first of `candidates` that opens (or the usual
            /// names: `libamdhip64.so.7` (ROCm 7), `.so.6` (ROCm 6), `.so`).
            ///
            /// # Safety
            /// Loading a shared library runs its initialisers: the library found must be a HIP
            /// runtime whose symbols have the signatures declared here.
            pub unsafe fn load(candidates: &[&str]) -> Result<Hip, String> {
                let defaults = ["libamdhip64.so.7", "libamdhip64.so.6", "libamdhip64.so"];
                let names: Vec<&str> = if candidates.is_empty() { defaults.to_vec() } else { candidates.to_vec() };
                let mut errors = vec![];
                for name in names {
                    // SAFETY: caller contract.
                    match unsafe { libloading::Library::new(name) } {
                        Ok(lib) => {
                            $(
                                // SAFETY: the symbol is the HIP function of that name with this
                                // signature (caller contract); the Library outlives the pointer
                                // because both live in the returned struct.
                                let $name = unsafe {
                                    *lib.get::<unsafe extern "C" fn($($ty),*) -> $ret>(concat!(stringify!($name), "\0").as_bytes())
                                        .map_err(|e| format!("{name}: missing symbol {}: {e}", stringify!($name)))?
                                };
                            )*
                            return Ok(Hip { _lib: lib, library: name.to_string(), $($name,)* });
                        }
                        Err(e) => errors.push(format!("{name}: {e}")),
                    }
                }
                Err(format!("HIP runtime not found ({})", if errors.is_empty() { "no candidate".to_string() } else { errors.join("; ") }))
            }
        }
    };
}

hip_api! {
    fn hipInit(flags: c_uint) -> hipError_t;
    fn hipGetDeviceCount(count: *mut c_int) -> hipError_t;
    fn hipSetDevice(device: c_int) -> hipError_t;
    fn hipDeviceGetName(name: *mut c_char, len: c_int, device: hipDevice_t) -> hipError_t;
    fn hipGetDevicePropertiesR0600(prop: *mut hipDeviceProp_tR0600, device: c_int) -> hipError_t;
    fn hipDeviceTotalMem(bytes: *mut usize, device: hipDevice_t) -> hipError_t;
    fn hipMemGetInfo(free: *mut usize, total: *mut usize) -> hipError_t;
    fn hipRuntimeGetVersion(version: *mut c_int) -> hipError_t;
    fn hipGetErrorString(error: hipError_t) -> *const c_char;
    fn hipGetLastError() -> hipError_t;
    fn hipMalloc(ptr: *mut *mut c_void, size: usize) -> hipError_t;
    fn hipFree(ptr: *mut c_void) -> hipError_t;
    fn hipHostMalloc(ptr: *mut *mut c_void, size: usize, flags: c_uint) -> hipError_t;
    fn hipHostFree(ptr: *mut c_void) -> hipError_t;
    fn hipHostRegister(ptr: *mut c_void, size: usize, flags: c_uint) -> hipError_t;
    fn hipHostUnregister(ptr: *mut c_void) -> hipError_t;
    fn hipHostGetDevicePointer(dev_ptr: *mut *mut c_void, host_ptr: *mut c_void, flags: c_uint) -> hipError_t;
    fn hipMemcpyHtoDAsync(dst: hipDeviceptr_t, src: *mut c_void, size: usize, stream: hipStream_t) -> hipError_t;
    fn hipMemcpyDtoHAsync(dst: *mut c_void, src: hipDeviceptr_t, size: usize, stream: hipStream_t) -> hipError_t;
    fn hipMemcpyDtoDAsync(dst: hipDeviceptr_t, src: hipDeviceptr_t, size: usize, stream: hipStream_t) -> hipError_t;
    fn hipMemsetD8Async(dst: hipDeviceptr_t, value: u8, count: usize, stream: hipStream_t) -> hipError_t;
    fn hipStreamCreateWithFlags(stream: *mut hipStream_t, flags: c_uint) -> hipError_t;
    fn hipStreamDestroy(stream: hipStream_t) -> hipError_t;
    fn hipStreamSynchronize(stream: hipStream_t) -> hipError_t;
    fn hipModuleLoadData(module: *mut hipModule_t, image: *const c_void) -> hipError_t;
    fn hipModuleUnload(module: hipModule_t) -> hipError_t;
    fn hipModuleGetFunction(function: *mut hipFunction_t, module: hipModule_t, name: *const c_char) -> hipError_t;
    fn hipModuleLaunchKernel(
        f: hipFunction_t,
        grid_x: c_uint,
        grid_y: c_uint,
        grid_z: c_uint,
        block_x: c_uint,
        block_y: c_uint,
        block_z: c_uint,
        shared_bytes: c_uint,
        stream: hipStream_t,
        params: *mut *mut c_void,
        extra: *mut *mut c_void
    ) -> hipError_t;
    fn hipEventCreateWithFlags(event: *mut hipEvent_t, flags: c_uint) -> hipError_t;
    fn hipEventRecord(event: hipEvent_t, stream: hipStream_t) -> hipError_t;
    fn hipEventSynchronize(event: hipEvent_t) -> hipError_t;
    fn hipEventDestroy(event: hipEvent_t) -> hipError_t;
    fn hipEventElapsedTime(ms: *mut f32, start: hipEvent_t, stop: hipEvent_t) -> hipError_t;
    fn hipStreamWaitEvent(stream: hipStream_t, event: hipEvent_t, flags: c_uint) -> hipError_t;
    fn hipGraphCreate(graph: *mut hipGraph_t, flags: c_uint) -> hipError_t;
    fn hipGraphAddKernelNode(
        node: *mut hipGraphNode_t,
        graph: hipGraph_t,
        dependencies: *const hipGraphNode_t,
        num_dependencies: usize,
        params: *const hipKernelNodeParams
    ) -> hipError_t;
    fn hipGraphInstantiateWithFlags(exec: *mut hipGraphExec_t, graph: hipGraph_t, flags: u64) -> hipError_t;
    fn hipGraphExecKernelNodeSetParams(exec: hipGraphExec_t, node: hipGraphNode_t, params: *const hipKernelNodeParams) -> hipError_t;
    fn hipGraphLaunch(exec: hipGraphExec_t, stream: hipStream_t) -> hipError_t;
    fn hipGraphExecDestroy(exec: hipGraphExec_t) -> hipError_t;
    fn hipGraphDestroy(graph: hipGraph_t) -> hipError_t;
}
