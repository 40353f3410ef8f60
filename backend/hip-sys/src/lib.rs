//! Raw bindings to the part of the HIP runtime API that Unicorn's GPU engine uses, loaded at
//! run time from `libamdhip64.so` (ROCm 5 or 6), the way cudarc loads the CUDA driver: a
//! program linked with this crate starts on a machine without ROCm, and [`Hip::load`] says why
//! it could not load.
//!
//! Raw on purpose: every function is the C symbol with its C signature. Safety, error values
//! and RAII live one layer up (`unicorn::gpu::hip`).
#![allow(non_camel_case_types, non_snake_case, non_upper_case_globals)]
use std::ffi::{c_char, c_int, c_uint, c_void};

pub type hipError_t = c_int;
pub type hipDevice_t = c_int;
pub type hipDeviceptr_t = *mut c_void;
pub type hipStream_t = *mut c_void;
pub type hipModule_t = *mut c_void;
pub type hipFunction_t = *mut c_void;
pub type hipEvent_t = *mut c_void;

pub const hipSuccess: hipError_t = 0;
/// `hipErrorNoBinaryForGpu`: the code object holds no ISA for this device.
pub const hipErrorNoBinaryForGpu: hipError_t = 209;
pub const hipStreamNonBlocking: c_uint = 1;
pub const hipHostMallocDefault: c_uint = 0;
pub const hipHostMallocMapped: c_uint = 2;
pub const hipHostRegisterMapped: c_uint = 2;
pub const hipHostRegisterReadOnly: c_uint = 8;
pub const hipEventDisableTiming: c_uint = 2;

macro_rules! hip_api {
    ($( fn $name:ident ( $( $arg:ident : $ty:ty ),* ) -> $ret:ty; )*) => {
        /// The HIP runtime's entry points, resolved from the loaded library.
        #[allow(non_snake_case)]
        pub struct Hip {
            _lib: libloading::Library,
            $( pub $name: unsafe extern "C" fn($($ty),*) -> $ret, )*
        }

        impl Hip {
            /// Loads the HIP runtime from the first of `candidates` that opens (or the usual
            /// names: `libamdhip64.so`, `.so.6`, `.so.5`).
            ///
            /// # Safety
            /// Loading a shared library runs its initialisers: the library found must be a HIP
            /// runtime whose symbols have the signatures declared here.
            pub unsafe fn load(candidates: &[&str]) -> Result<Hip, String> {
                let defaults = ["libamdhip64.so", "libamdhip64.so.6", "libamdhip64.so.5"];
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
                            return Ok(Hip { _lib: lib, $($name,)* });
                        }
                        Err(e) => errors.push(format!("{name}: {e}")),
                    }
                }
                Err(format!("HIP runtime not found ({})", errors.first().map_or("no candidate", |e| e.as_str())))
            }
        }
    };
}

hip_api! {
    fn hipInit(flags: c_uint) -> hipError_t;
    fn hipGetDeviceCount(count: *mut c_int) -> hipError_t;
    fn hipSetDevice(device: c_int) -> hipError_t;
    fn hipDeviceGetName(name: *mut c_char, len: c_int, device: hipDevice_t) -> hipError_t;
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
}
