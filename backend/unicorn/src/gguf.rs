//! Reading a GGUF file's metadata and tensor sizes (no tensor data) through ggml's reader.
use std::ffi::{CStr, CString};
use std::ptr::NonNull;

use ggml_sys as sys;

pub struct GgufFile {
    ctx: NonNull<sys::gguf_context>,
}

impl GgufFile {
    pub fn open(path: &str) -> Result<Self, String> {
        let c = CString::new(path).map_err(|_| format!("bad path {path:?}"))?;
        let params = sys::gguf_init_params { no_alloc: true, ctx: std::ptr::null_mut() };
        // SAFETY: `c` is a valid C string; with no_alloc and no ctx, only metadata is read.
        let ctx = unsafe { sys::gguf_init_from_file(c.as_ptr(), params) };
        NonNull::new(ctx).map(|ctx| GgufFile { ctx }).ok_or_else(|| format!("{path}: not a readable GGUF file"))
    }

    /// (name, bytes) of every tensor.
    pub fn tensors(&self) -> Vec<(String, usize)> {
        let ctx = self.ctx.as_ptr();
        // SAFETY: ctx is a live gguf context; ids are below gguf_get_n_tensors.
        let n = unsafe { sys::gguf_get_n_tensors(ctx) };
        (0..n)
            // SAFETY: as above; names are NUL-terminated strings owned by the context.
            .map(|i| unsafe {
                let name = CStr::from_ptr(sys::gguf_get_tensor_name(ctx, i)).to_string_lossy().into_owned();
                (name, sys::gguf_get_tensor_size(ctx, i))
            })
            .collect()
    }

    /// A string value, e.g. `general.architecture`.
    pub fn str(&self, key: &str) -> Option<String> {
        let id = self.key(key, sys::gguf_type::GGUF_TYPE_STRING)?;
        // SAFETY: the key exists and holds a string (checked by `key`).
        Some(unsafe { CStr::from_ptr(sys::gguf_get_val_str(self.ctx.as_ptr(), id)) }.to_string_lossy().into_owned())
    }

    /// A u32 value, e.g. `<arch>.block_count`.
    pub fn u32(&self, key: &str) -> Option<u32> {
        let id = self.key(key, sys::gguf_type::GGUF_TYPE_UINT32)?;
        // SAFETY: the key exists and holds a u32 (checked by `key`).
        Some(unsafe { sys::gguf_get_val_u32(self.ctx.as_ptr(), id) })
    }

    fn key(&self, key: &str, ty: sys::gguf_type) -> Option<i64> {
        let c = CString::new(key).ok()?;
        // SAFETY: live context, valid C string.
        let id = unsafe { sys::gguf_find_key(self.ctx.as_ptr(), c.as_ptr()) };
        // SAFETY: id is a valid key id when >= 0.
        (id >= 0 && unsafe { sys::gguf_get_kv_type(self.ctx.as_ptr(), id) } == ty).then_some(id)
    }
}

impl Drop for GgufFile {
    fn drop(&mut self) {
        // SAFETY: the context was created by gguf_init_from_file and is freed once.
        unsafe { sys::gguf_free(self.ctx.as_ptr()) }
    }
}
