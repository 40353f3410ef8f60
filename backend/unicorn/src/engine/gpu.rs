//! The GPU engine: the kernels of `kernels/hip`, compiled ahead of time for the GPU found
//! (gfx1103 through HIP on the APU; sm_90 + PTX through CUDA on NVIDIA machines), loaded from
//! one code object and launched on one stream.
//!
//! A split is planned once (`plan`): runs of element-wise nodes fuse into one kernel
//! (`fuse`; `UNICORN_GPU_FUSION=0` turns it off), every other node gets its op's kernel. A plan
//! is enqueued with no waiting, then synchronised once (`synchronize`, called by the backend
//! at the end of `graph_compute`): a kernel fault surfaces there as an error for the split.
//!
//! Where the runtime has launch graphs (CUDA; HIP from ROCm 6.1), a plan's launches are
//! recorded once into a graph and instantiated; every later run of the same plan (decode: each
//! token, while llama.cpp reuses its graph) is one graph launch, with no per-node host work.
//! `UNICORN_GPU_GRAPHS=0` launches step by step. `UNICORN_GPU_PROFILE=1` times every launch
//! (`gpu_profile`; step by step).
use std::collections::HashMap;
use std::ffi::{c_void, CStr};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use super::gpu_profile::Profiler;
use super::{fuse, Engine, EngineError, Plan, Split, Step, Work};
use crate::gpu::{DevPtr, DeviceMemory, Gpu, Handle, KernelCall, Launch, Module, Stream};
use crate::log::{log_info, log_warn};
use crate::ops::{self, args::{ucn_chain_args, ucn_ptrs}, Kernel};
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
    /// Launch graphs by plan id (None: launch step by step).
    graphs: Option<Mutex<HashMap<u64, Cached>>>,
    /// Set when a graph failed: step by step from then on.
    graphs_off: AtomicBool,
    /// Fused kernels (`UNICORN_GPU_FUSION`, on by default).
    fusion: bool,
    /// The buffer two-launch steps pass between their launches (x quantized once per product,
    /// attention's partial results per KV chunk). One per engine: its work runs in order on one
    /// stream, so the steps take turns. Grown on demand (launch graphs, which hold its address,
    /// are dropped then).
    scratch: Mutex<Option<DeviceMemory>>,
    /// Per-kernel GPU times (`UNICORN_GPU_PROFILE`).
    profiler: Option<Profiler>,
}

/// An instantiated launch graph of one plan.
struct Cached {
    graph: Handle,
    exec: Handle,
}

/// Graphs kept at most (each holds device resources); the cache is emptied when full.
const MAX_GRAPHS: usize = 16;

/// One launch of a plan: kernel, geometry, its args and the addresses it reads and writes.
struct StepLaunch {
    launch: Launch,
    args: *const c_void,
    ptrs: ucn_ptrs,
}

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
        let fusion = crate::env::switch("UNICORN_GPU_FUSION", true);
        let description = format!(
            "GPU engine on {}, kernels from {}{}{}{}",
            gpu.describe(),
            code_object.display(),
            if fusion { ", fused element-wise chains" } else { "" },
            if use_graphs { ", launch graphs" } else { "" },
            if profiler.is_some() { ", profiling every launch" } else { "" }
        );
        let graphs = use_graphs.then(|| Mutex::new(HashMap::new()));
        Ok(GpuEngine {
            gpu,
            stream,
            functions: Mutex::new(HashMap::new()),
            module,
            code_object,
            description,
            graphs,
            graphs_off: AtomicBool::new(false),
            fusion,
            scratch: Mutex::new(None),
            profiler,
        })
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

    /// The launches of one step of a plan of `split`: one, or two passing their intermediate
    /// result through the engine's scratch buffer at `scratch` (`scratch_need`).
    fn step_launches(step: &Step, split: &Split, scratch: DevPtr) -> Result<Vec<StepLaunch>, EngineError> {
        let no_kernel = || EngineError::Failed("no GPU kernel for a planned step".into());
        let node = &split.nodes[step.nodes.start];
        let buffer = scratch as usize as *mut c_void;
        match &step.work {
            Work::Op(Kernel::MulMat(a)) if let Some(p) = ops::mul_mat::gpu_prequantized(a) => {
                // x quantized once into the buffer, then the product reads it as source 2.
                let args = a as *const ops::mul_mat::Args as *const c_void;
                let (mut quantize, mut product) = (Self::pointers(node), Self::pointers(node));
                quantize.dst = buffer;
                product.src[2] = buffer;
                Ok(vec![StepLaunch { launch: p.quantize, args, ptrs: quantize }, StepLaunch { launch: p.product, args, ptrs: product }])
            }
            Work::Op(Kernel::FlashAttnExt(a)) if let Some(p) = ops::flash_attn_ext::gpu_split(a) => {
                // Each KV chunk's partial result into the buffer, then merged into the output.
                let args = a as *const ops::flash_attn_ext::Args as *const c_void;
                let (mut partial, mut combine) = (Self::pointers(node), Self::pointers(node));
                partial.dst = buffer;
                combine.src[0] = buffer;
                Ok(vec![StepLaunch { launch: p.partial, args, ptrs: partial }, StepLaunch { launch: p.combine, args, ptrs: combine }])
            }
            Work::Op(k) => {
                let (launch, args) = ops::gpu_launch(k).ok_or_else(no_kernel)?;
                Ok(vec![StepLaunch { launch, args, ptrs: Self::pointers(node) }])
            }
            Work::Chain(c) => {
                let launch = c.launch().ok_or_else(no_kernel)?;
                let mut ptrs = ucn_ptrs::default();
                for (slot, &(node, src)) in c.sources.iter().enumerate() {
                    ptrs.src[slot] = split.nodes[node].src(src).map_or(std::ptr::null(), |s| s.data_ptr() as *const c_void);
                }
                ptrs.dst = split.nodes[step.nodes.end - 1].data_ptr() as *mut c_void;
                Ok(vec![StepLaunch { launch, args: &c.args as *const ucn_chain_args as *const c_void, ptrs }])
            }
        }
    }

    /// Bytes of scratch buffer a step needs (0: one launch).
    fn scratch_need(step: &Step) -> usize {
        match &step.work {
            Work::Op(Kernel::MulMat(a)) => ops::mul_mat::gpu_prequantized(a).map_or(0, |p| p.scratch_bytes),
            Work::Op(Kernel::FlashAttnExt(a)) => ops::flash_attn_ext::gpu_split(a).map_or(0, |p| p.scratch_bytes),
            _ => 0,
        }
    }

    /// The scratch buffer's address, grown to `need` bytes first if smaller. Growing waits for
    /// the stream (work in flight may use the old buffer) and drops the launch graphs in
    /// `graphs` (they hold the old address).
    fn scratch(&self, need: usize, graphs: Option<&mut HashMap<u64, Cached>>) -> Result<DevPtr, EngineError> {
        let mut s = self.scratch.lock().map_err(|_| EngineError::Failed("scratch lock poisoned".into()))?;
        if let Some(m) = s.as_ref().filter(|m| m.size >= need) {
            return Ok(m.ptr);
        }
        self.stream.synchronize().map_err(|e| EngineError::Failed(e.to_string()))?;
        if let Some(g) = graphs {
            for (_, c) in g.drain() {
                // SAFETY: made by this driver; the stream is idle (synchronised above).
                let _ = unsafe { self.gpu.driver.graph_destroy(c.graph, c.exec) };
            }
        }
        *s = None; // the old buffer first: the new one may need its room
        let m = DeviceMemory::new(&self.gpu, need.max(1 << 20)).map_err(|e| EngineError::Failed(format!("scratch buffer of {need} bytes: {e}")))?;
        let ptr = m.ptr;
        *s = Some(m);
        Ok(ptr)
    }

    /// Records the plan's launches into a launch graph and instantiates it.
    fn build_graph(&self, plan: &Plan, split: &Split, scratch: DevPtr) -> Result<Cached, (usize, EngineError)> {
        let d = &self.gpu.driver;
        let fail = |e: crate::gpu::GpuError| EngineError::Failed(e.to_string());
        let graph = d.graph_create().map_err(|e| (0, fail(e)))?;
        let mut last = None;
        let built = (|| {
            for step in &plan.steps {
                let at = |e| (step.nodes.start, e);
                for l in Self::step_launches(step, split, scratch).map_err(at)? {
                    let call = KernelCall { function: self.function(l.launch.kernel).map_err(at)?, grid: l.launch.grid, block: l.launch.block, shared: l.launch.shared };
                    let mut params = [l.args as *mut c_void, &l.ptrs as *const ucn_ptrs as *mut c_void];
                    // SAFETY: the function takes (Args by value, ucn_ptrs by value) and
                    // `l.args` points to the Args its launch was planned with (ops and
                    // fuse::Chain pair them); the values are copied into the node. Nodes are
                    // chained in plan order (the stream's order).
                    last = Some(unsafe { d.graph_add_kernel(graph, last, &call, &mut params) }.map_err(|e| at(fail(e)))?);
                }
            }
            // SAFETY: a complete graph of this driver.
            unsafe { d.graph_instantiate(graph) }.map_err(|e| (0, fail(e)))
        })();
        match built {
            Ok(exec) => Ok(Cached { graph, exec }),
            Err(e) => {
                // SAFETY: made above, not instantiated.
                let _ = unsafe { d.graph_destroy(graph, 0) };
                Err(e)
            }
        }
    }

    /// Runs `plan` as one launch graph: the one recorded for it before, or a new one.
    fn run_graph(&self, graphs: &Mutex<HashMap<u64, Cached>>, plan: &Plan, split: &Split) -> Result<(), (usize, EngineError)> {
        let d = &self.gpu.driver;
        let fail = |e: crate::gpu::GpuError| (0, EngineError::Failed(e.to_string()));
        let mut g = graphs.lock().map_err(|_| (0, EngineError::Failed("graph lock poisoned".into())))?;
        if !g.contains_key(&plan.id) {
            if g.len() >= MAX_GRAPHS {
                // Graphs may still run (another backend of this device): wait for the stream.
                self.stream.synchronize().map_err(fail)?;
                for (_, c) in g.drain() {
                    // SAFETY: made by this driver; the stream is idle (synchronised above).
                    let _ = unsafe { d.graph_destroy(c.graph, c.exec) };
                }
            }
            let need = plan.steps.iter().map(Self::scratch_need).max().unwrap_or(0);
            let scratch = if need > 0 { self.scratch(need, Some(&mut *g)).map_err(|e| (0, e))? } else { 0 };
            let c = self.build_graph(plan, split, scratch)?;
            g.insert(plan.id, c);
        }
        let exec = g[&plan.id].exec;
        // SAFETY: an instance of this driver, launched on our stream.
        unsafe { d.graph_launch(exec, self.stream.handle) }.map_err(fail)
    }

    fn launch(&self, l: &StepLaunch) -> Result<(), EngineError> {
        let f = self.function(l.launch.kernel)?;
        let mut params = [l.args as *mut c_void, &l.ptrs as *const ucn_ptrs as *mut c_void];
        let (grid, block, shared) = (l.launch.grid, l.launch.block, l.launch.shared);
        // SAFETY: `f` is a kernel of the loaded module taking (Args by value, ucn_ptrs by
        // value), the convention of kernels/hip/args.h, and `l.args` points to the Args its
        // launch was planned with. Both values are copied by the launch call. The pointers
        // address buffers of this GPU (see `pointers`), alive while the graph is computed
        // (synchronised before graph_compute returns).
        let mut launch = || unsafe { self.gpu.driver.launch(f, grid, block, shared, self.stream.handle, &mut params) };
        match &self.profiler {
            Some(p) => p.around(&self.gpu, self.stream.handle, l.launch.kernel, launch),
            None => launch(),
        }
        .map_err(|e| EngineError::Failed(e.to_string()))
    }
}

impl GpuEngine {
    fn disable_graphs(&self) {
        self.graphs_off.store(true, Ordering::Relaxed);
    }
    fn graphs(&self) -> Option<&Mutex<HashMap<u64, Cached>>> {
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
            for (_, c) in g.drain() {
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
        self.launch(&StepLaunch { launch, args, ptrs: Self::pointers(node) })
    }
    fn plan(&self, split: &Split, kernels: Vec<Kernel>) -> Plan {
        Plan::new(if self.fusion { fuse::plan(split, kernels) } else { fuse::unfused(kernels) })
    }
    fn run(&self, plan: &Plan, split: &Split, mut observer: Option<&mut dyn FnMut(&Step)>) -> Result<(), (usize, EngineError)> {
        // Observed (trace, statistics): step by step, so each step can be seen.
        if let Some(graphs) = self.graphs().filter(|_| observer.is_none()) {
            match self.run_graph(graphs, plan, split) {
                Ok(()) => return Ok(()),
                Err((i, e)) => {
                    // Nothing of this plan ran: report the failure (this split fails), and
                    // launch step by step from now on.
                    log_warn!("launch graph failed ({e}); launching step by step from now on");
                    self.disable_graphs();
                    return Err((i, e));
                }
            }
        }
        for step in &plan.steps {
            let i = step.nodes.start;
            let need = Self::scratch_need(step);
            let scratch = if need > 0 { self.scratch(need, None).map_err(|e| (i, e))? } else { 0 };
            for l in Self::step_launches(step, split, scratch).map_err(|e| (i, e))? {
                self.launch(&l).map_err(|e| (i, e))?;
            }
            if let Some(o) = observer.as_mut() {
                o(step);
            }
        }
        Ok(())
    }
    fn synchronize(&self) -> Result<(), EngineError> {
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
