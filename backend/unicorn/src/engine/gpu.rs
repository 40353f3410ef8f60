//! The GPU engine: the kernels of `kernels/hip`, compiled ahead of time for the GPU found
//! (gfx1103 through HIP on the APU; sm_90 + PTX through CUDA on NVIDIA machines), loaded from
//! one code object and launched on one stream.
//!
//! A graph split is enqueued node by node with no waiting, then synchronised once
//! (`synchronize`, called by the backend at the end of `graph_compute`): a kernel fault
//! surfaces there as an error for the whole split.
use std::collections::HashMap;
use std::ffi::{c_void, CStr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::{Engine, EngineError};
use crate::gpu::{Gpu, Handle, Launch, Module, Stream};
use crate::ops::{self, args::ucn_ptrs, Kernel};
use crate::tensor::Tensor;

pub struct GpuEngine {
    pub gpu: Arc<Gpu>,
    stream: Stream,
    /// Kernel handles by name, resolved on first use. Declared before `module` so the handles
    /// are dropped before the module that owns them is unloaded.
    functions: Mutex<HashMap<&'static CStr, Handle>>,
    module: Module,
    code_object: PathBuf,
    description: String,
}

impl GpuEngine {
    /// Loads the code object for `gpu` from `dir`.
    pub fn new(gpu: Arc<Gpu>, dir: &Path) -> Result<GpuEngine, String> {
        let code_object = dir.join(gpu.driver.code_object_name());
        let image = std::fs::read(&code_object)
            .map_err(|e| format!("kernel code object {}: {e} (build it with scripts/build-kernels.sh)", code_object.display()))?;
        let module = Module::load(&gpu, &image).map_err(|e| format!("loading {} on {}: {e}", code_object.display(), gpu.describe()))?;
        let stream = Stream::new(&gpu).map_err(|e| e.to_string())?;
        let description = format!("GPU engine on {}, kernels from {}", gpu.describe(), code_object.display());
        Ok(GpuEngine { gpu, stream, functions: Mutex::new(HashMap::new()), module, code_object, description })
    }

    pub fn code_object(&self) -> &Path {
        &self.code_object
    }

    fn function(&self, name: &'static CStr) -> Result<Handle, EngineError> {
        let mut map = self.functions.lock().map_err(|_| EngineError::Failed("kernel table lock poisoned".into()))?;
        if let Some(&f) = map.get(name) {
            return Ok(f);
        }
        let f = self.module.function(name).map_err(|e| EngineError::Failed(format!("{e} (stale code object {}?)", self.code_object.display())))?;
        map.insert(name, f);
        Ok(f)
    }

    /// Device addresses of `node`'s sources and output. Every buffer the GPU device accepts
    /// (`supports_buft`) is addressed by the GPU at the tensor's own address: device memory
    /// (discrete GPU) or GPU-mapped host memory (unified addressing, the APU).
    fn pointers(node: &Tensor) -> ucn_ptrs {
        let mut p = ucn_ptrs::default();
        for (i, slot) in p.src.iter_mut().enumerate() {
            *slot = node.src(i).map_or(std::ptr::null(), |s| s.data_ptr() as *const c_void);
        }
        p.dst = node.data_ptr() as *mut c_void;
        p
    }

    fn launch(&self, l: &Launch, args: *const c_void, node: &Tensor) -> Result<(), EngineError> {
        let f = self.function(l.kernel)?;
        let ptrs = Self::pointers(node);
        let mut params = [args as *mut c_void, &ptrs as *const ucn_ptrs as *mut c_void];
        // SAFETY: `f` is a kernel of the loaded module taking (Args by value, ucn_ptrs by
        // value), the convention of kernels/hip/args.h, and `args` points to the Args of the
        // op `l` was planned for (ops::gpu_launch pairs them). Both values are copied by the
        // launch call. The pointers address buffers of this GPU (see `pointers`), alive while
        // the graph is computed (synchronised before graph_compute returns).
        unsafe { self.gpu.driver.launch(f, l.grid, l.block, l.shared, self.stream.handle, &mut params) }
            .map_err(|e| EngineError::Failed(e.to_string()))
    }
}

impl Engine for GpuEngine {
    fn name(&self) -> &str {
        &self.description
    }
    fn emulated(&self) -> bool {
        false
    }
    fn select(&self, node: &Tensor) -> Option<Kernel> {
        ops::select(node).filter(|k| ops::gpu_launch(k).is_some())
    }
    fn compute(&self, kernel: &Kernel, node: &Tensor) -> Result<(), EngineError> {
        let (launch, args) = ops::gpu_launch(kernel).ok_or_else(|| EngineError::Unsupported("no GPU kernel".into()))?;
        self.launch(&launch, args, node)
    }
    fn synchronize(&self) -> Result<(), EngineError> {
        self.stream.synchronize().map_err(|e| EngineError::Failed(e.to_string()))
    }
    fn set_n_threads(&self, _n: usize) {}
    fn gpu(&self) -> Option<&Arc<Gpu>> {
        Some(&self.gpu)
    }
    fn stream(&self) -> Option<&Stream> {
        Some(&self.stream)
    }
}
