//! `ggml_backend`: one compute stream on a Unicorn device.
use std::ffi::c_char;

use super::guard;
use crate::backend::Backend;
use crate::device::{is_empty_op, Device};
use crate::engine::Split;
use crate::engine::Role;
use crate::log::log_error;
use crate::tensor::Tensor;
use ggml_sys as sys;

static GUID_NPU: sys::ggml_guid = *b"unicorn-npu-xdna";
static GUID_IGPU: sys::ggml_guid = *b"unicorn-igpu-780";

fn guid(role: Role) -> sys::ggml_guid_t {
    let g = match role {
        Role::Npu => &GUID_NPU,
        Role::Igpu => &GUID_IGPU,
    };
    // ggml only reads the guid (ggml_guid_matches); the cast to *mut is for the C type.
    g as *const sys::ggml_guid as sys::ggml_guid_t
}

pub(super) fn new(dev: sys::ggml_backend_dev_t, device: &'static Device) -> sys::ggml_backend_t {
    let ctx = Box::into_raw(Box::new(Backend::new(device)));
    Box::into_raw(Box::new(sys::ggml_backend {
        guid: guid(device.role),
        iface: sys::ggml_backend_i {
            get_name: Some(get_name),
            free: Some(free),
            set_tensor_async: Some(set_tensor_async),
            get_tensor_async: Some(get_tensor_async),
            set_tensor_2d_async: None,
            get_tensor_2d_async: None,
            cpy_tensor_async: None,
            synchronize: Some(synchronize),
            graph_plan_create: None,
            graph_plan_free: None,
            graph_plan_update: None,
            graph_plan_compute: None,
            graph_compute: Some(graph_compute),
            event_record: None,
            event_wait: None,
            graph_optimize: None,
        },
        device: dev,
        context: ctx.cast(),
    }))
}

/// Our backend state behind a ggml backend handle, if the handle is one of ours.
pub(super) fn get<'a>(backend: sys::ggml_backend_t) -> Option<&'a Backend> {
    if backend.is_null() {
        return None;
    }
    // SAFETY: a non-null ggml backend handle points to a valid ggml_backend.
    let b = unsafe { &*backend };
    // SAFETY: guid pointers of ggml backends point to 16 readable bytes.
    let ours = [Role::Npu, Role::Igpu].iter().any(|&r| unsafe { sys::ggml_guid_matches(b.guid, guid(r)) });
    // SAFETY: our backends' context is the boxed Backend made in `new`, alive until `free`.
    ours.then(|| unsafe { &*(b.context as *const Backend) })
}

extern "C" fn get_name(backend: sys::ggml_backend_t) -> *const c_char {
    guard("backend get_name", c"Unicorn".as_ptr(), || get(backend).map_or(c"Unicorn".as_ptr(), |b| b.device.name.as_ptr()))
}

extern "C" fn free(backend: sys::ggml_backend_t) {
    guard("backend free", (), || {
        if get(backend).is_some() {
            // SAFETY: both boxes were made in `new`; ggml frees a backend once.
            unsafe {
                drop(Box::from_raw((*backend).context as *mut Backend));
                drop(Box::from_raw(backend));
            }
        }
    })
}

extern "C" fn graph_compute(backend: sys::ggml_backend_t, cgraph: *mut sys::ggml_cgraph) -> sys::ggml_status::Type {
    guard("graph_compute", sys::ggml_status::GGML_STATUS_FAILED, || {
        let Some(b) = get(backend) else { return sys::ggml_status::GGML_STATUS_FAILED };
        // SAFETY: ggml passes a valid graph whose nodes stay allocated during the call.
        let split = unsafe { split_of(cgraph) };
        match b.graph_compute(&split) {
            Ok(()) => sys::ggml_status::GGML_STATUS_SUCCESS,
            Err(e) => {
                log_error!("{e}");
                sys::ggml_status::GGML_STATUS_FAILED
            }
        }
    })
}

/// The nodes of `cgraph` that compute something (ggml's rule: the COMPUTE flag set and an op
/// other than the no-op ones), with what fusion needs to know about each.
///
/// # Safety
/// `cgraph` is a valid graph whose nodes stay allocated, and keep their shapes, for `'a`.
pub(crate) unsafe fn split_of<'a>(cgraph: *mut sys::ggml_cgraph) -> Split<'a> {
    const COMPUTE: i32 = sys::ggml_tensor_flag::GGML_TENSOR_FLAG_COMPUTE as i32;
    const OUTPUT: i32 = sys::ggml_tensor_flag::GGML_TENSOR_FLAG_OUTPUT as i32;
    // SAFETY: a valid graph (the caller's contract).
    let (n, uid) = unsafe { (sys::ggml_graph_n_nodes(cgraph), sys::ucn_graph_uid(cgraph)) };
    let mut split = Split { nodes: Vec::with_capacity(n.max(0) as usize), private: Vec::with_capacity(n.max(0) as usize), uid };
    for i in 0..n {
        // SAFETY: i < n_nodes; nodes are valid, allocated tensors (Tensor::from_raw contract).
        let Some(node) = (unsafe { Tensor::from_raw(sys::ggml_graph_node(cgraph, i)) }) else { continue };
        if node.flags() & COMPUTE == 0 || is_empty_op(node.op()) {
            continue;
        }
        // SAFETY: i < n_nodes of this graph.
        let uses = unsafe { sys::ucn_graph_node_use_count(cgraph, i) };
        split.private.push(uses == 1 && !node.is_view() && node.flags() & OUTPUT == 0);
        split.nodes.push(node);
    }
    split
}

/// Copies into a tensor of this backend's buffers on its stream (the scheduler's input copies);
/// ordered before the next graph_compute, complete after `synchronize`.
extern "C" fn set_tensor_async(_backend: sys::ggml_backend_t, tensor: *mut sys::ggml_tensor, data: *const std::ffi::c_void, offset: usize, size: usize) {
    guard("set_tensor_async", (), || {
        // SAFETY: ggml passes an allocated tensor and checks offset + size against it; `data`
        // stays valid until the backend is synchronised (ggml's async contract).
        let r = unsafe { super::buffer::tensor_memory(tensor) }
            .ok_or_else(|| "set_tensor_async: not a Unicorn buffer".to_string())
            // SAFETY: m and at came from tensor_memory above; at + offset + size lies in the tensor (ggml checks).
            .and_then(|(m, at)| unsafe { m.write_async(at + offset, data as *const u8, size) });
        if let Err(e) = r {
            log_error!("{e}");
        }
    })
}

extern "C" fn get_tensor_async(_backend: sys::ggml_backend_t, tensor: *const sys::ggml_tensor, data: *mut std::ffi::c_void, offset: usize, size: usize) {
    guard("get_tensor_async", (), || {
        // SAFETY: as set_tensor_async; `data` has room for `size` bytes until synchronised.
        let r = unsafe { super::buffer::tensor_memory(tensor) }
            .ok_or_else(|| "get_tensor_async: not a Unicorn buffer".to_string())
            // SAFETY: as above.
            .and_then(|(m, at)| unsafe { m.read_async(at + offset, data as *mut u8, size) });
        if let Err(e) = r {
            log_error!("{e}");
        }
    })
}

extern "C" fn synchronize(backend: sys::ggml_backend_t) {
    guard("synchronize", (), || {
        if let Some(b) = get(backend) {
            if let Err(e) = b.device.engine.synchronize() {
                log_error!("{}: {e}", b.device.name.to_string_lossy());
            }
        }
    })
}
