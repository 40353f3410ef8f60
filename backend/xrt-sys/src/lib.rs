//! Raw bindings to `libunicorn-xrt.so`, our C-ABI shim over XRT's C++ API
//! (`include/ucn_xrt.h`, `shim/ucn_xrt.cpp`): device, xclbin registration, `hw_context`, kernel,
//! buffer objects, runs and run lists, and the amdxdna power mode.
//!
//! The shim is opened at run time ([`Xrt::load`]), the way `hip-sys` opens the HIP runtime: a
//! program using this crate starts on a machine without XRT, and `load` says what is missing
//! (the shim, or XRT's `libxrt_coreutil.so` it links). `build.rs` compiles the shim when XRT
//! >= 2.17 headers are present; CI does so in a Debian sid root with XRT 2.25.
//!
//! Raw on purpose: every function is the C symbol with its C signature; status codes, error
//! buffers and RAII live one layer up (`unicorn::engine::npu::xrt`).
#![allow(non_camel_case_types)]
use std::ffi::{c_char, c_int, c_uint, c_void};

/// `UCN_XRT_ABI`: the shim's ABI version this crate declares.
pub const ABI: c_int = 1;
/// The file name the plugin looks for beside itself.
pub const SHIM_FILE: &str = "libunicorn-xrt.so";

pub const BO_NORMAL: u32 = 0;
pub const BO_CACHEABLE: u32 = 1;
pub const BO_HOST_ONLY: u32 = 2;
/// `ERT_CMD_STATE_COMPLETED`.
pub const CMD_COMPLETED: c_int = 4;

#[repr(C)]
pub struct ucn_xrt_device {
    _opaque: [u8; 0],
}
#[repr(C)]
pub struct ucn_xrt_kernel {
    _opaque: [u8; 0],
}
#[repr(C)]
pub struct ucn_xrt_bo {
    _opaque: [u8; 0],
}

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ucn_xrt_cmd {
    pub opcode: u32,
    pub instr: *mut ucn_xrt_bo,
    pub instr_words: u32,
    pub bos: *const *mut ucn_xrt_bo,
    pub n_bos: u32,
}

/// The shim this build compiled, if XRT headers were found (`build.rs`).
pub fn built_shim() -> Option<&'static str> {
    let p = env!("UCN_XRT_SHIM");
    (!p.is_empty()).then_some(p)
}

macro_rules! xrt_api {
    ($( fn $name:ident ( $( $arg:ident : $ty:ty ),* ) -> $ret:ty; )*) => {
        /// The shim's entry points, resolved from the loaded library.
        pub struct Xrt {
            _lib: libloading::Library,
            $( pub $name: unsafe extern "C" fn($($ty),*) -> $ret, )*
        }

        impl Xrt {
            /// Opens the shim at `path` and checks its ABI version.
            ///
            /// # Safety
            /// Loading a shared library runs its initialisers (XRT's among them): `path` must be
            /// a `libunicorn-xrt.so` built from this crate's `shim/`.
            pub unsafe fn load(path: &str) -> Result<Xrt, String> {
                // SAFETY: caller contract.
                let lib = unsafe { libloading::Library::new(path) }.map_err(|e| format!("{path}: {e}"))?;
                $(
                    // SAFETY: the symbol is the shim's function of that name with this signature
                    // (caller contract); the Library lives in the returned struct.
                    let $name = unsafe {
                        *lib.get::<unsafe extern "C" fn($($ty),*) -> $ret>(concat!(stringify!($name), "\0").as_bytes())
                            .map_err(|e| format!("{path}: missing symbol {}: {e}", stringify!($name)))?
                    };
                )*
                let x = Xrt { _lib: lib, $( $name, )* };
                // SAFETY: no arguments, returns a constant.
                let abi = unsafe { (x.ucn_xrt_abi)() };
                if abi != ABI {
                    return Err(format!("{path}: shim ABI {abi}, this plugin expects {ABI}: rebuild the shim"));
                }
                Ok(x)
            }
        }
    };
}

xrt_api! {
    fn ucn_xrt_abi() -> c_int;
    fn ucn_xrt_build_version() -> *const c_char;
    fn ucn_xrt_device_open(index: c_uint, out: *mut *mut ucn_xrt_device, err: *mut c_char, err_len: usize) -> c_int;
    fn ucn_xrt_device_close(dev: *mut ucn_xrt_device) -> ();
    fn ucn_xrt_device_name(dev: *mut ucn_xrt_device, buf: *mut c_char, len: usize, err: *mut c_char, err_len: usize) -> c_int;
    fn ucn_xrt_kernel_open(dev: *mut ucn_xrt_device, xclbin: *const c_char, name: *const c_char, out: *mut *mut ucn_xrt_kernel, err: *mut c_char, err_len: usize) -> c_int;
    fn ucn_xrt_kernel_close(k: *mut ucn_xrt_kernel) -> ();
    fn ucn_xrt_bo_alloc(k: *mut ucn_xrt_kernel, size: usize, flags: u32, arg: c_int, out: *mut *mut ucn_xrt_bo, err: *mut c_char, err_len: usize) -> c_int;
    fn ucn_xrt_bo_import(k: *mut ucn_xrt_kernel, ptr: *mut c_void, size: usize, arg: c_int, out: *mut *mut ucn_xrt_bo, err: *mut c_char, err_len: usize) -> c_int;
    fn ucn_xrt_bo_map(bo: *mut ucn_xrt_bo) -> *mut c_void;
    fn ucn_xrt_bo_size(bo: *mut ucn_xrt_bo) -> usize;
    fn ucn_xrt_bo_sync(bo: *mut ucn_xrt_bo, to_device: c_int, size: usize, offset: usize, err: *mut c_char, err_len: usize) -> c_int;
    fn ucn_xrt_bo_free(bo: *mut ucn_xrt_bo) -> ();
    fn ucn_xrt_run(k: *mut ucn_xrt_kernel, cmds: *const ucn_xrt_cmd, n: usize, timeout_ms: u32, state: *mut c_int, err: *mut c_char, err_len: usize) -> c_int;
    fn ucn_xrt_set_power_mode(accel_node: *const c_char, mode: c_int, err: *mut c_char, err_len: usize) -> c_int;
}
