//! `ggml_backend_reg` and its proc addresses.
use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::sync::OnceLock;

use super::{device, guard, Objects};
use crate::log::{log_info, log_warn};
use crate::registry;
use ggml_sys as sys;

static NAME: &CStr = c"Unicorn";

pub(super) fn build() -> Objects {
    let discovery = registry::discover();
    match &discovery.reason {
        Some(why) => log_warn!("{why}"),
        None => {
            for d in &discovery.devices {
                log_info!("{}: {}", d.name.to_string_lossy(), d.description.to_string_lossy());
                // The switch scripts/test-backend-ops.sh reads (error bound 0 or upstream bounds).
                let numerics = if d.exact() { "exact (CPU reference engine: equal to ggml-cpu's reference kernels)" } else { "bounded" };
                log_info!("{}: numerics: {numerics}", d.name.to_string_lossy());
            }
        }
    }
    let reg = Box::into_raw(Box::new(sys::ggml_backend_reg {
        api_version: sys::GGML_BACKEND_API_VERSION as c_int,
        iface: sys::ggml_backend_reg_i {
            get_name: Some(get_name),
            get_device_count: Some(get_device_count),
            get_device: Some(get_device),
            get_proc_address: Some(get_proc_address),
        },
        context: std::ptr::null_mut(),
    }));
    let mut devices = vec![];
    // The shared buffer type belongs to the device that holds the weights (the iGPU).
    let mut owner: Option<(sys::ggml_backend_dev_t, &'static crate::device::Device)> = None;
    for d in discovery.devices {
        let d: &'static crate::device::Device = Box::leak(Box::new(d));
        let dev = device::new(reg, d);
        if d.role == crate::engine::Role::Igpu || owner.is_none() {
            owner = Some((dev, d));
        }
        devices.push(dev);
    }
    let (buft, vram) = match owner {
        Some((dev, d)) => {
            let host = super::buffer::new_type(dev, d, "UNICORN_HOST", true);
            let vram = d.discrete_gpu().then(|| super::buffer::new_type(dev, d, "UNICORN_IGPU0", false));
            (host, vram)
        }
        None => (std::ptr::null_mut(), None),
    };
    Objects { reg, devices, buft, vram }
}

extern "C" fn get_name(_reg: sys::ggml_backend_reg_t) -> *const c_char {
    NAME.as_ptr()
}

extern "C" fn get_device_count(_reg: sys::ggml_backend_reg_t) -> usize {
    guard("get_device_count", 0, || super::objects().devices.len())
}

extern "C" fn get_device(_reg: sys::ggml_backend_reg_t, index: usize) -> sys::ggml_backend_dev_t {
    guard("get_device", std::ptr::null_mut(), || {
        super::objects().devices.get(index).copied().unwrap_or(std::ptr::null_mut())
    })
}

/// The KV-cache type `--backend unicorn` asks for (patches/0002): the type the devices that
/// run attention read natively: BF16 wherever the NPU may run it (it has no f16), F16 when
/// only the iGPU does (RDNA3's matrix cores take f16).
extern "C" fn get_kv_cache_type() -> sys::ggml_type::Type {
    guard("get_kv_cache_type", sys::ggml_type::GGML_TYPE_BF16, || {
        let attention = super::objects().devices.iter().find_map(|&d| device::get(d)).map(|d| d.placement.attention);
        match attention {
            Some(crate::placement::Attention::Igpu) => sys::ggml_type::GGML_TYPE_F16,
            _ => sys::ggml_type::GGML_TYPE_BF16,
        }
    })
}

extern "C" fn set_n_threads(backend: sys::ggml_backend_t, n_threads: c_int) {
    guard("set_n_threads", (), || {
        if let Some(b) = super::backend::get(backend) {
            b.device.engine.set_n_threads(n_threads.max(1) as usize);
        }
    })
}

/// The offload plan for the model at `path` (see `plan`): the n_gpu_layers to use, or -1
/// when there is no plan (no iGPU device, unreadable file).
extern "C" fn plan_offload(path: *const c_char) -> c_int {
    guard("plan_offload", -1, || {
        if path.is_null() {
            return -1;
        }
        // SAFETY: the caller passes a NUL-terminated path.
        let path = unsafe { CStr::from_ptr(path) }.to_string_lossy().into_owned();
        let Some(igpu) = super::objects().devices.iter().find_map(|&d| device::get(d).filter(|d| d.role == crate::engine::Role::Igpu)) else {
            return -1;
        };
        let sizes = crate::gguf::GgufFile::open(&path).and_then(|f| crate::plan::model_sizes(&f));
        match sizes {
            Ok((layers, output)) => {
                let p = crate::plan::plan(&layers, output, igpu.memory().0 as u64);
                log_info!("offload plan for {path}: {}", p.describe(&igpu.name.to_string_lossy()));
                p.n_gpu_layers() as c_int
            }
            Err(e) => {
                log_warn!("no offload plan for {path}: {e}");
                -1
            }
        }
    })
}

struct Features(Vec<sys::ggml_backend_feature>, #[allow(dead_code)] Vec<CString>);
// SAFETY: the feature array points into the CStrings kept beside it; both are immutable.
unsafe impl Send for Features {}
unsafe impl Sync for Features {}

extern "C" fn get_features(_reg: sys::ggml_backend_reg_t) -> *const sys::ggml_backend_feature {
    static FEATURES: OnceLock<Features> = OnceLock::new();
    guard("get_features", std::ptr::null(), || {
        FEATURES
            .get_or_init(|| {
                let emulated = super::objects().devices.iter().any(|&d| device::get(d).is_some_and(|d| d.engine.emulated()));
                let strings: Vec<CString> = [("EMULATED", if emulated { "1" } else { "0" })]
                    .iter()
                    .flat_map(|(k, v)| [CString::new(*k).unwrap_or_default(), CString::new(*v).unwrap_or_default()])
                    .collect();
                let mut list: Vec<_> = strings
                    .chunks(2)
                    .map(|kv| sys::ggml_backend_feature { name: kv[0].as_ptr(), value: kv[1].as_ptr() })
                    .collect();
                list.push(sys::ggml_backend_feature { name: std::ptr::null(), value: std::ptr::null() });
                Features(list, strings)
            })
            .0
            .as_ptr()
    })
}

extern "C" fn get_proc_address(_reg: sys::ggml_backend_reg_t, name: *const c_char) -> *mut c_void {
    guard("get_proc_address", std::ptr::null_mut(), || {
        if name.is_null() {
            return std::ptr::null_mut();
        }
        // SAFETY: ggml passes a NUL-terminated name.
        let name = unsafe { CStr::from_ptr(name) };
        match name.to_bytes() {
            b"ggml_backend_get_kv_cache_type" => get_kv_cache_type as *mut c_void,
            b"ggml_backend_set_n_threads" => set_n_threads as *mut c_void,
            b"ggml_backend_get_features" => get_features as *mut c_void,
            b"ggml_backend_plan_offload" => plan_offload as *mut c_void,
            _ => std::ptr::null_mut(),
        }
    })
}
