//! `ggml_backend_device` for each Unicorn device.
use std::ffi::c_char;

use super::guard;
use crate::device::Device;
use crate::engine::Role;
use crate::tensor::Tensor;
use ggml_sys as sys;

pub(super) fn new(reg: sys::ggml_backend_reg_t, dev: &'static Device) -> sys::ggml_backend_dev_t {
    Box::into_raw(Box::new(sys::ggml_backend_device {
        iface: sys::ggml_backend_device_i {
            get_name: Some(get_name),
            get_description: Some(get_description),
            get_memory: Some(get_memory),
            get_type: Some(get_type),
            get_props: Some(get_props),
            init_backend: Some(init_backend),
            get_buffer_type: Some(get_buffer_type),
            get_host_buffer_type: None,
            buffer_from_host_ptr: Some(buffer_from_host_ptr),
            supports_op: Some(supports_op),
            supports_buft: Some(supports_buft),
            offload_op: None,
            event_new: None,
            event_free: None,
            event_synchronize: None,
        },
        reg,
        context: dev as *const Device as *mut _,
    }))
}

/// The Unicorn device behind a ggml device handle created by `new`.
pub(super) fn get(dev: sys::ggml_backend_dev_t) -> Option<&'static Device> {
    if !super::objects_ready_contains(dev) {
        return None;
    }
    // SAFETY: `dev` is one of our leaked devices (checked above), whose context is a leaked
    // `Device`.
    unsafe { ((*dev).context as *const Device).as_ref() }
}

fn dev_or_panic(dev: sys::ggml_backend_dev_t) -> &'static Device {
    get(dev).expect("not a Unicorn device")
}

extern "C" fn get_name(dev: sys::ggml_backend_dev_t) -> *const c_char {
    guard("dev get_name", c"?".as_ptr(), || dev_or_panic(dev).name.as_ptr())
}

extern "C" fn get_description(dev: sys::ggml_backend_dev_t) -> *const c_char {
    guard("dev get_description", c"?".as_ptr(), || dev_or_panic(dev).description.as_ptr())
}

extern "C" fn get_memory(dev: sys::ggml_backend_dev_t, free: *mut usize, total: *mut usize) {
    guard("dev get_memory", (), || {
        let (f, t) = dev_or_panic(dev).memory();
        // SAFETY: ggml passes valid out-pointers (null-checked anyway).
        unsafe {
            if let Some(free) = free.as_mut() {
                *free = f;
            }
            if let Some(total) = total.as_mut() {
                *total = t;
            }
        }
    })
}

extern "C" fn get_type(dev: sys::ggml_backend_dev_t) -> sys::ggml_backend_dev_type::Type {
    guard("dev get_type", sys::ggml_backend_dev_type::GGML_BACKEND_DEVICE_TYPE_ACCEL, || dev_or_panic(dev).ggml_type())
}

extern "C" fn get_props(dev: sys::ggml_backend_dev_t, props: *mut sys::ggml_backend_dev_props) {
    guard("dev get_props", (), || {
        let d = dev_or_panic(dev);
        let (free, total) = d.memory();
        // SAFETY: ggml passes a valid, writable props struct (null-checked).
        if let Some(p) = unsafe { props.as_mut() } {
            p.name = d.name.as_ptr();
            p.description = d.description.as_ptr();
            p.memory_free = free;
            p.memory_total = total;
            p.type_ = d.ggml_type();
            p.device_id = std::ptr::null();
            p.caps = sys::ggml_backend_dev_caps {
                async_: false,
                host_buffer: false,
                buffer_from_host_ptr: d.role == Role::Igpu && d.uses_mapped_weights(),
                events: false,
                mmap_support: true,
            };
        }
    })
}

extern "C" fn init_backend(dev: sys::ggml_backend_dev_t, _params: *const c_char) -> sys::ggml_backend_t {
    guard("dev init_backend", std::ptr::null_mut(), || super::backend::new(dev, dev_or_panic(dev)))
}

/// The model file's mapped bytes as a buffer of the shared type, used in place (no copy).
/// Offered (caps.buffer_from_host_ptr) only where the device reads them there.
extern "C" fn buffer_from_host_ptr(dev: sys::ggml_backend_dev_t, ptr: *mut std::ffi::c_void, size: usize, _max_tensor_size: usize) -> sys::ggml_backend_buffer_t {
    guard("dev buffer_from_host_ptr", std::ptr::null_mut(), || {
        let d = dev_or_panic(dev);
        if !d.uses_mapped_weights() || ptr.is_null() {
            return std::ptr::null_mut();
        }
        let gpu = d.engine.gpu();
        // SAFETY: llama.cpp passes a range of its model mapping, which it keeps mapped until
        // the model's buffers are freed.
        match unsafe { crate::buffer::Memory::borrowed(ptr as *mut u8, size, gpu) } {
            Ok(mem) => {
                crate::log::log_info!("{}: {:.2} MiB of weights used in place from the mapped model file (no copy)", d.name.to_string_lossy(), size as f64 / (1 << 20) as f64);
                super::buffer::wrap(default_buft(d), mem)
            }
            Err(e) => {
                crate::log::log_error!("{}: {e}", d.name.to_string_lossy());
                std::ptr::null_mut()
            }
        }
    })
}

/// The iGPU's own memory when its engine runs on a discrete GPU; otherwise the shared host
/// buffer type.
fn default_buft(d: &Device) -> sys::ggml_backend_buffer_type_t {
    let o = super::objects();
    match (d.role, o.vram) {
        (Role::Igpu, Some(vram)) => vram,
        _ => o.buft,
    }
}

extern "C" fn get_buffer_type(dev: sys::ggml_backend_dev_t) -> sys::ggml_backend_buffer_type_t {
    guard("dev get_buffer_type", std::ptr::null_mut(), || default_buft(dev_or_panic(dev)))
}

extern "C" fn supports_op(dev: sys::ggml_backend_dev_t, op: *const sys::ggml_tensor) -> bool {
    guard("dev supports_op", false, || {
        // SAFETY: ggml passes a valid tensor; only its shape, type and op are read here.
        let Some(t) = (unsafe { Tensor::from_raw(op) }) else { return false };
        dev_or_panic(dev).supports_op(&t)
    })
}

/// Each device computes on its own buffer type: the shared `UNICORN_HOST` (or, for the iGPU
/// on a discrete GPU, its device memory). The NPU also reads other host buffers (the
/// attention mask comes from the CPU); the iGPU does not, so weights that llama.cpp keeps in
/// CPU memory (layers not offloaded) stay with the CPU backend.
extern "C" fn supports_buft(dev: sys::ggml_backend_dev_t, buft: sys::ggml_backend_buffer_type_t) -> bool {
    guard("dev supports_buft", false, || {
        let d = dev_or_panic(dev);
        if buft == default_buft(d) {
            return true;
        }
        // SAFETY: ggml passes a valid buffer type.
        d.role == Role::Npu && unsafe { sys::ggml_backend_buft_is_host(buft) }
    })
}

