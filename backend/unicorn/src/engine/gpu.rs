//! The GPU engine: the kernels of `kernels/hip`, compiled ahead of time for the GPU found
//! (gfx1103 through HIP on the APU; sm_90 + PTX through CUDA on NVIDIA machines), loaded from
//! one code object and launched on one stream.
//!
//! A graph split is enqueued node by node with no waiting, then synchronised once
//! (`synchronize`, called by the backend at the end of `graph_compute`): a kernel fault
//! surfaces there as an error for the whole split.
//!
//! Where the runtime has launch graphs (CUDA), the split's launches are recorded instead and
//! replayed as one graph: a split seen before (same kernels and launch shapes, in order) reuses
//! its instantiated graph and updates only the nodes whose arguments or addresses changed
//! (decode changes a handful per token: attention's KV length, the KV write position), so a
//! token costs a few parameter updates and one launch instead of one launch per node.
//! `UNICORN_GPU_GRAPHS=0` launches node by node. `UNICORN_GPU_PROFILE=1` times every launch
//! (`gpu_profile`; node by node).
use std::collections::HashMap;
use std::ffi::{c_void, CStr};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use super::gpu_profile::Profiler;
use super::{Engine, EngineError};
use crate::gpu::{Gpu, Handle, KernelCall, Launch, Module, Stream};
use crate::log::{log_info, log_warn};
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
    /// Launch graphs (None: launch node by node).
    graphs: Option<Mutex<Graphs>>,
    /// Set when a graph failed: node by node from then on.
    graphs_off: AtomicBool,
    /// Per-kernel GPU times (`UNICORN_GPU_PROFILE`).
    profiler: Option<Profiler>,
}

/// One recorded launch of a split.
struct Recorded {
    call: KernelCall,
    kernel: Kernel,
    ptrs: ucn_ptrs,
}

/// An instantiated launch graph and the launches it was last given.
struct Cached {
    graph: Handle,
    exec: Handle,
    nodes: Vec<Handle>,
    launches: Vec<Recorded>,
}

// SAFETY: the addresses in `Recorded::ptrs` are device addresses the engine only passes to
// the runtime; nothing dereferences them on the host.
unsafe impl Send for Graphs {}

#[derive(Default)]
struct Graphs {
    /// The launches of the split being computed, per calling thread (several backends of one
    /// device may compute at once, e.g. test-backend-ops -j).
    pending: HashMap<std::thread::ThreadId, Vec<Recorded>>,
    /// Graphs by launch shape (kernels and launch dimensions in order): a few, since a token's
    /// graph has a few splits and prompt and decode differ.
    cache: HashMap<Vec<KernelCall>, Cached>,
}

/// Graphs kept at most (each holds device resources); the cache is emptied when full.
const MAX_GRAPHS: usize = 16;

impl GpuEngine {
    /// Loads the code object for `gpu` from `dir`.
    pub fn new(gpu: Arc<Gpu>, dir: &Path) -> Result<GpuEngine, String> {
        let code_object = dir.join(gpu.driver.code_object_name());
        let image = std::fs::read(&code_object)
            .map_err(|e| format!("kernel code object {}: {e} (build it with scripts/build-kernels.sh)", code_object.display()))?;
        let module = Module::load(&gpu, &image).map_err(|e| format!("loading {} on {}: {e}", code_object.display(), gpu.describe()))?;
        let stream = Stream::new(&gpu).map_err(|e| e.to_string())?;
        let profiler = Profiler::from_env();
        let use_graphs =
            profiler.is_none() && gpu.driver.supports_graphs() && crate::env::switch("UNICORN_GPU_GRAPHS", true);
        let description = format!(
            "GPU engine on {}, kernels from {}{}{}",
            gpu.describe(),
            code_object.display(),
            if use_graphs { ", launch graphs" } else { "" },
            if profiler.is_some() { ", profiling every launch" } else { "" }
        );
        let graphs = use_graphs.then(|| Mutex::new(Graphs::default()));
        Ok(GpuEngine { gpu, stream, functions: Mutex::new(HashMap::new()), module, code_object, description, graphs, graphs_off: AtomicBool::new(false), profiler })
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

    /// Replays `pending` as a launch graph: the cached one for its shape with the changed
    /// nodes updated, or a new one.
    fn flush_graph(&self, g: &mut Graphs) -> Result<(), EngineError> {
        let pending = g.pending.remove(&std::thread::current().id()).unwrap_or_default();
        if pending.is_empty() {
            return Ok(());
        }
        let d = &self.gpu.driver;
        let fail = |e: crate::gpu::GpuError| EngineError::Failed(e.to_string());
        let shape: Vec<KernelCall> = pending.iter().map(|r| r.call).collect();
        if let Some(c) = g.cache.get_mut(&shape) {
            for (i, (new, old)) in pending.iter().zip(&c.launches).enumerate() {
                if new.kernel != old.kernel || new.ptrs != old.ptrs {
                    let (_, args) = ops::gpu_launch(&new.kernel).ok_or_else(|| EngineError::Failed("no GPU kernel".into()))?;
                    let mut params = [args as *mut c_void, &new.ptrs as *const ucn_ptrs as *mut c_void];
                    // SAFETY: the node was made for this kernel (same shape key); the values
                    // (this op's Args and ucn_ptrs) are copied by the call.
                    unsafe { d.graph_set_kernel(c.exec, c.nodes[i], &new.call, &mut params) }.map_err(fail)?;
                }
            }
            c.launches = pending;
            // SAFETY: an instance of this driver, launched on our stream.
            return unsafe { d.graph_launch(c.exec, self.stream.handle) }.map_err(fail);
        }
        if g.cache.len() >= MAX_GRAPHS {
            for (_, c) in g.cache.drain() {
                // SAFETY: made by this driver; the stream is synchronised before any graph is
                // dropped (flush runs inside synchronize, after the previous wait).
                let _ = unsafe { d.graph_destroy(c.graph, c.exec) };
            }
        }
        let graph = d.graph_create().map_err(fail)?;
        let mut nodes = Vec::with_capacity(pending.len());
        let built = (|| {
            for r in &pending {
                let (_, args) = ops::gpu_launch(&r.kernel).ok_or_else(|| EngineError::Failed("no GPU kernel".into()))?;
                let mut params = [args as *mut c_void, &r.ptrs as *const ucn_ptrs as *mut c_void];
                // SAFETY: as above; nodes are chained in launch order (the stream's order).
                let n = unsafe { d.graph_add_kernel(graph, nodes.last().copied(), &r.call, &mut params) }.map_err(fail)?;
                nodes.push(n);
            }
            // SAFETY: a complete graph of this driver.
            unsafe { d.graph_instantiate(graph) }.map_err(fail)
        })();
        let exec = match built {
            Ok(e) => e,
            Err(e) => {
                // SAFETY: made above, not instantiated.
                let _ = unsafe { d.graph_destroy(graph, 0) };
                return Err(e);
            }
        };
        // SAFETY: instantiated above.
        unsafe { d.graph_launch(exec, self.stream.handle) }.map_err(fail)?;
        g.cache.insert(shape, Cached { graph, exec, nodes, launches: pending });
        Ok(())
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
        let mut launch = || unsafe { self.gpu.driver.launch(f, l.grid, l.block, l.shared, self.stream.handle, &mut params) };
        match &self.profiler {
            Some(p) => p.around(&self.gpu, self.stream.handle, l.kernel, launch),
            None => launch(),
        }
        .map_err(|e| EngineError::Failed(e.to_string()))
    }
}

impl GpuEngine {
    fn disable_graphs(&self) {
        self.graphs_off.store(true, Ordering::Relaxed);
    }
    fn graphs(&self) -> Option<&Mutex<Graphs>> {
        self.graphs.as_ref().filter(|_| !self.graphs_off.load(Ordering::Relaxed))
    }
}

impl Drop for GpuEngine {
    fn drop(&mut self) {
        // Nothing in flight may still use an event or a graph freed below.
        let _ = self.stream.synchronize();
        if let Some(p) = &self.profiler {
            p.free(&self.gpu);
        }
        if let Some(Ok(g)) = self.graphs.as_mut().map(|g| g.get_mut()) {
            for (_, c) in g.cache.drain() {
                // SAFETY: made by this driver; the stream is idle (synchronised above).
                if let Err(e) = unsafe { self.gpu.driver.graph_destroy(c.graph, c.exec) } {
                    log_warn!("freeing a launch graph: {e}");
                }
            }
        }
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
        if let Some(graphs) = self.graphs() {
            let call = KernelCall { function: self.function(launch.kernel)?, grid: launch.grid, block: launch.block, shared: launch.shared };
            let mut g = graphs.lock().map_err(|_| EngineError::Failed("graph lock poisoned".into()))?;
            g.pending.entry(std::thread::current().id()).or_default().push(Recorded { call, kernel: kernel.clone(), ptrs: Self::pointers(node) });
            return Ok(());
        }
        self.launch(&launch, args, node)
    }
    fn synchronize(&self) -> Result<(), EngineError> {
        if let Some(graphs) = self.graphs() {
            let mut g = graphs.lock().map_err(|_| EngineError::Failed("graph lock poisoned".into()))?;
            if let Err(e) = self.flush_graph(&mut g) {
                // The recorded launches are lost with the failed graph: report the failure
                // (this split fails), and launch node by node from now on.
                drop(g);
                log_warn!("launch graph failed ({e}); launching node by node from now on");
                self.disable_graphs();
                let _ = self.stream.synchronize();
                return Err(e);
            }
        }
        self.stream.synchronize().map_err(|e| EngineError::Failed(e.to_string()))?;
        if let Some(p) = &self.profiler {
            p.collect(&self.gpu);
        }
        Ok(())
    }
    fn report(&self) {
        if let Some(table) = self.profiler.as_ref().and_then(Profiler::report) {
            log_info!("{table}");
        }
    }
    fn set_n_threads(&self, _n: usize) {}
    fn gpu(&self) -> Option<&Arc<Gpu>> {
        Some(&self.gpu)
    }
    fn stream(&self) -> Option<&Stream> {
        Some(&self.stream)
    }
}
