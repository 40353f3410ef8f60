//! The NPU itself: `kernels/npu/flash_attn_ext` as an xclbin per head dimension and
//! instruction-sequence templates, run through XRT (`xrt-sys`, our C shim over XRT's C++ API).
//!
//! **Not run in this repository's CI** (no NPU there): this path is compiled and unit-tested
//! (patching, template choice) here; `scripts/phoenix-validate.sh` exercises it on a
//! Phoenix box.
//!
//! Per call (one FLASH_ATTN_EXT node, every head of the layer):
//! 1. `schedule::plan` (the same plan the emulator runs);
//! 2. the template for (head dim, KV heads, query heads per KV head, batch, query rows) is
//!    copied and patched (`apply_patch`): runtime parameters (block counts, KV length,
//!    flags, scale, slopes/sinks), the KV slice offset and the DMA lengths; the patched words go
//!    into the one instruction BO (a few KB; synced to the device);
//! 3. the tensors' memory becomes buffer objects in place (zero copy): a buffer registered
//!    with [`BoRegistry`] (allocated as an XRT host-only BO) is used as is; otherwise the
//!    page span of the tensor is imported as a user-pointer BO for the call. Where the DMAs
//!    would read past the tensor's buffer (a partial last group of Q rows: decode), the tensor
//!    is staged in a padded copy instead (a few KB). Only what the CPU may have written (Q,
//!    the mask) is flushed to the device; the output is invalidated after, and the rows of a
//!    partial last group are copied from the tail buffer;
//! 4. one command (`ucn_xrt_run`), waited with a timeout (`UNICORN_NPU_TIMEOUT_MS`, default
//!    2000). A failure or timeout returns an error (the node fails with a ggml status, the
//!    process goes on) and marks the engine faulted: from then on it claims nothing, so the
//!    next graph runs attention on another device.
use std::collections::HashMap;
use std::ffi::{c_char, c_int, CStr, CString};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use super::ready::Ready;
use super::schedule::{self, Plan, Tiling};
use crate::engine::EngineError;
use crate::log::{log_error, log_info};
use crate::ops::flash_attn_ext::Args;
use crate::tensor::Tensor;
use xrt_sys as sys;

fn err_string(buf: &[c_char]) -> String {
    // SAFETY: the shim NUL-terminates what it writes; the buffer starts zeroed.
    unsafe { CStr::from_ptr(buf.as_ptr()) }.to_string_lossy().into_owned()
}

/// Calls a shim function that takes (err, err_len) last; -1 becomes its message.
fn call(f: impl FnOnce(*mut c_char, usize) -> c_int) -> Result<(), String> {
    let mut err = [0 as c_char; 512];
    if f(err.as_mut_ptr(), err.len()) == 0 {
        Ok(())
    } else {
        Err(err_string(&err))
    }
}

/// One term of a field of an instruction-sequence template that changes per call. Terms with
/// the same (word, mask, shift) add up: the field becomes `sum(value(param) * scale + offset)`
/// (`value` is the call's parameter `param`, see [`params`]), written as
/// `word = (word & !mask) | ((field << shift) & mask)`.
#[derive(Clone, Debug, PartialEq)]
pub struct PatchField {
    pub word: usize,
    pub mask: u32,
    pub shift: u32,
    pub param: String,
    pub scale: i64,
    pub offset: i64,
}

/// A template's `.patch` file, written by `kernels/npu/flash_attn_ext/patchmap.py`:
/// ```text
/// field <word> <mask hex> <shift> <param> <scale> <offset>
/// expect <param> <value>     # the template serves only calls where param == value
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PatchTable {
    pub fields: Vec<PatchField>,
    pub expects: Vec<(String, i64)>,
}

pub fn parse_patch(text: &str) -> Result<PatchTable, String> {
    let mut t = PatchTable::default();
    for (n, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split_whitespace().collect();
        let bad = || format!("line {}: not a field or expect line: {line:?}", n + 1);
        match f.as_slice() {
            ["field", word, mask, shift, param, scale, offset] => t.fields.push(PatchField {
                word: word.parse().map_err(|_| bad())?,
                mask: u32::from_str_radix(mask.trim_start_matches("0x"), 16).map_err(|_| bad())?,
                shift: shift.parse().map_err(|_| bad())?,
                param: param.to_string(),
                scale: scale.parse().map_err(|_| bad())?,
                offset: offset.parse().map_err(|_| bad())?,
            }),
            ["expect", param, value] => t.expects.push((param.to_string(), value.parse().map_err(|_| bad())?)),
            _ => return Err(bad()),
        }
    }
    Ok(t)
}

/// The call's instruction sequence: the template with its fields patched.
pub fn apply_patch(template: &[u32], table: &PatchTable, value: impl Fn(&str) -> Option<i64>) -> Result<Vec<u32>, String> {
    let mut w = template.to_vec();
    let mut sums: Vec<((usize, u32, u32), i64)> = vec![];
    for f in &table.fields {
        let v = value(&f.param).ok_or_else(|| format!("the patch table names `{}`, which this plugin does not know", f.param))?;
        let key = (f.word, f.mask, f.shift);
        let term = v * f.scale + f.offset;
        match sums.iter_mut().find(|(k, _)| *k == key) {
            Some((_, s)) => *s += term,
            None => sums.push((key, term)),
        }
    }
    for ((word, mask, shift), x) in sums {
        // Per bit-field: the value must be non-negative and lie inside the field's bits once
        // shifted (not above them: it would spill into the next field of the register; not
        // below: a misaligned address, e.g. a mask row at an odd key for a 4-byte DMA).
        let placed = (x as i128) << shift;
        if x < 0 || placed > u32::MAX as i128 || (placed as u32) & !mask != 0 {
            return Err(format!("patch word {word}: value {x} does not fit its field (mask {mask:#x}, shift {shift})"));
        }
        let slot = w.get_mut(word).ok_or_else(|| format!("patch word {word} past the sequence"))?;
        *slot = (*slot & !mask) | (((x as u32) << shift) & mask);
    }
    Ok(w)
}

/// The per-call parameters a patch table may name.
/// `rtp.<col>.<row>.<word>`: runtime-parameter words; `kv.lo`, `kv.len`, `kv.blocks.<col>`:
/// the KV slice; `groups`, `rows`; `off.<q|k|v|mask|out>`: byte offsets of the tensors in
/// their buffer objects; `nb.<q|k|v|mask|out>.<1|2|3>`: the tensors' byte strides.
pub fn params<'p>(plan: &'p Plan, a: &'p Args, offsets: &HashMap<&'static str, usize>) -> impl Fn(&str) -> Option<i64> + 'p {
    let offsets = offsets.clone();
    move |name: &str| {
        let parts: Vec<&str> = name.split('.').collect();
        let v = match parts.as_slice() {
            ["rtp", c, r, i] => {
                let (c, r, i) = (c.parse().ok()?, r.parse().ok()?, i.parse::<usize>().ok()?);
                if c >= plan.t.cols || r >= plan.t.rows {
                    return None;
                }
                *plan.rtp(c, r).get(i)? as u32 as i64
            }
            ["kv", "lo"] => plan.kv_lo as i64,
            ["kv", "len"] => plan.kv_len as i64,
            ["kv", "blocks", c] => plan.blocks_of_column(c.parse().ok()?) as i64,
            ["groups"] => plan.n_groups as i64,
            ["rows"] => plan.rows as i64,
            ["off", t] => *offsets.get(t)? as i64,
            ["nb", ..] => stride_param(a, name)?,
            _ => return None,
        };
        Some(v)
    }
}

/// `nb.<tensor>.<i>` of a node (what `expect` lines pin), without planning the call.
fn stride_param(a: &Args, p: &str) -> Option<i64> {
    let parts: Vec<&str> = p.split('.').collect();
    let ["nb", t, i] = parts.as_slice() else { return None };
    let l = match *t {
        "q" => &a.q,
        "k" => &a.k,
        "v" => &a.v,
        "mask" if a.has_mask => &a.mask,
        "mask" => return Some(4),
        "out" => &a.dst,
        _ => return None,
    };
    l.nb.get(i.parse::<usize>().ok()?).map(|&x| x as i64)
}

/// (base, size) of the ggml buffer holding `t`, or the tensor's own bytes when it has none.
fn buffer_span(t: &Tensor) -> (usize, usize) {
    let buf = t.buffer();
    if buf.is_null() {
        return (t.data_ptr() as usize, t.nbytes());
    }
    // SAFETY: a live buffer of a tensor in the graph being computed.
    unsafe { (ggml_sys::ggml_backend_buffer_get_base(buf) as usize, ggml_sys::ggml_backend_buffer_get_size(buf)) }
}

/// Blocks one column's K/V DMA task may stream: the shim buffer descriptor's iteration wrap is a
/// 6-bit field (npu1), and the design walks the blocks with it (patchmap.py `param_max`).
pub const DMA_MAX_BLOCKS_PER_COLUMN: usize = 64;

/// A template's shape key: `h<kv heads>_g<q heads per kv head>_b<batch>_q<query rows>`.
/// A template serves exactly its number of query rows (which tiles are partial, and so go
/// through the tail buffer, is compiled in): typically 1 (decode) and the micro-batch size
/// (prefill); other calls run on another device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shape {
    pub kv_heads: usize,
    pub g: usize,
    pub batch: usize,
    pub q: usize,
}

impl Shape {
    pub fn parse(stem: &str) -> Option<Shape> {
        let mut s = Shape { kv_heads: 0, g: 0, batch: 0, q: 0 };
        for part in stem.split('_') {
            let (k, v) = part.split_at(1);
            let v: usize = v.parse().ok()?;
            match k {
                "h" => s.kv_heads = v,
                "g" => s.g = v,
                "b" => s.batch = v,
                "q" => s.q = v,
                _ => return None,
            }
        }
        (s.kv_heads > 0 && s.g > 0 && s.batch > 0 && s.q > 0).then_some(s)
    }
    pub fn serves(&self, a: &Args) -> bool {
        let n_head = a.q.ne[2];
        a.k.ne[2] == self.kv_heads && n_head == self.kv_heads * self.g && a.q.ne[3] == self.batch && a.q.ne[1] == self.q
    }
}

struct Template {
    shape: Shape,
    words: Vec<u32>,
    patch: PatchTable,
}

/// RAII over the shim's handles; `Drop` never panics.
struct Bo<'x> {
    x: &'x sys::Xrt,
    raw: *mut sys::ucn_xrt_bo,
}
impl Drop for Bo<'_> {
    fn drop(&mut self) {
        // SAFETY: raw came from bo_alloc/bo_import of this shim and is freed once.
        unsafe { (self.x.ucn_xrt_bo_free)(self.raw) };
    }
}

struct Variant {
    t: Tiling,
    kernel: *mut sys::ucn_xrt_kernel,
    /// Rows of a partial last group (4 tiles, row-major); the host copies the valid ones.
    tail: *mut sys::ucn_xrt_bo,
    /// f32 elements of `tail`.
    tail_len: usize,
    /// Stands for the mask when a node has none (the DMA still runs; values unused).
    nomask: *mut sys::ucn_xrt_bo,
    instr: *mut sys::ucn_xrt_bo,
    instr_cap: usize,
    templates: Vec<Template>,
}

/// Buffers allocated as XRT host-only BOs ([`XrtEngine::alloc_shared`], for a buffer type
/// whose memory the NPU should read in place), looked up by address instead of being imported
/// per call.
#[derive(Default)]
pub struct BoRegistry {
    by_base: Mutex<HashMap<usize, (usize, usize)>>, // base -> (size, raw bo)
}

impl BoRegistry {
    /// The BO holding [ptr, ptr + len), and ptr's offset in it.
    fn find(&self, ptr: usize, len: usize) -> Option<(*mut sys::ucn_xrt_bo, usize)> {
        let map = self.by_base.lock().ok()?;
        map.iter()
            .find(|(&base, &(size, _))| ptr >= base && ptr + len <= base + size)
            .map(|(&base, &(_, raw))| (raw as *mut sys::ucn_xrt_bo, ptr - base))
    }
}

pub struct XrtEngine {
    x: sys::Xrt,
    dev: *mut sys::ucn_xrt_device,
    variants: Vec<Variant>,
    name: String,
    timeout_ms: u32,
    faulted: AtomicBool,
    calls: Mutex<()>,
    pub registry: BoRegistry,
}

// SAFETY: the raw handles are owned by the engine and used under `calls` (one command at a
// time); XRT's objects may be used from any thread.
unsafe impl Send for XrtEngine {}
unsafe impl Sync for XrtEngine {}

fn cstr(p: &Path) -> Result<CString, EngineError> {
    CString::new(p.to_string_lossy().as_bytes()).map_err(|_| EngineError::Failed(format!("{}: NUL in path", p.display())))
}

impl XrtEngine {
    pub fn open(ready: Ready) -> Result<XrtEngine, EngineError> {
        let failed = |s: String| EngineError::Failed(s);
        let shim = ready.shim.to_string_lossy().into_owned();
        // SAFETY: the file is the shim that ready::check found (our libunicorn-xrt.so).
        let x = unsafe { sys::Xrt::load(&shim) }.map_err(failed)?;
        let mut dev = std::ptr::null_mut();
        // SAFETY: out-pointer and error buffer are live.
        call(|e, n| unsafe { (x.ucn_xrt_device_open)(0, &mut dev, e, n) }).map_err(failed)?;
        let mut name_buf = [0 as c_char; 128];
        // SAFETY: dev was opened above; the name buffer and its length are live and match.
        let dev_name = match call(|e, n| unsafe { (x.ucn_xrt_device_name)(dev, name_buf.as_mut_ptr(), name_buf.len(), e, n) }) {
            Ok(()) => err_string(&name_buf),
            Err(_) => "NPU".into(),
        };
        if let Ok(mode) = std::env::var("UNICORN_NPU_PMODE") {
            let m = match mode.as_str() {
                "default" => 0,
                "powersaver" | "low" => 1,
                "balanced" | "medium" => 2,
                "performance" | "high" => 3,
                "turbo" => 4,
                other => return Err(failed(format!("UNICORN_NPU_PMODE={other:?}: default, powersaver, balanced, performance or turbo"))),
            };
            let node = CString::new(ready.accel.clone()).unwrap_or_default();
            // SAFETY: node is a NUL-terminated string alive for the call; e/n are call()'s error buffer.
            match call(|e, n| unsafe { (x.ucn_xrt_set_power_mode)(node.as_ptr(), m, e, n) }) {
                Ok(()) => log_info!("NPU power mode set to {mode}"),
                Err(e) => log_error!("NPU power mode {mode} not set: {e}"),
            }
        }
        let mut engine = XrtEngine {
            x,
            dev,
            variants: vec![],
            name: String::new(),
            timeout_ms: crate::env::number("UNICORN_NPU_TIMEOUT_MS", 2000),
            faulted: AtomicBool::new(false),
            calls: Mutex::new(()),
            registry: BoRegistry::default(),
        };
        for (d, xclbin, templates) in &ready.variants {
            let t = Tiling::of(*d).ok_or_else(|| failed(format!("no kernel layout for D={d}")))?;
            let path = cstr(xclbin)?;
            let mut k = std::ptr::null_mut();
            // SAFETY: dev is open; path and the kernel name are NUL-terminated; k is an out-pointer.
            call(|e, n| unsafe { (engine.x.ucn_xrt_kernel_open)(engine.dev, path.as_ptr(), c"MLIR_AIE".as_ptr(), &mut k, e, n) })
                .map_err(failed)?;
            let mut list = vec![];
            for (insts, patch) in templates {
                let stem = insts.file_name().and_then(|f| f.to_str()).unwrap_or("");
                let stem = stem.trim_start_matches(&format!("flash_attn_ext_d{d}_")).trim_end_matches(".insts.bin");
                let shape = Shape::parse(stem).ok_or_else(|| failed(format!("{}: not a template name", insts.display())))?;
                let bytes = std::fs::read(insts).map_err(|e| failed(format!("{}: {e}", insts.display())))?;
                let words = bytes.chunks_exact(4).map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
                let text = std::fs::read_to_string(patch).map_err(|e| failed(format!("{}: {e}", patch.display())))?;
                let patch = parse_patch(&text).map_err(|e| failed(format!("{}: {e}", patch.display())))?;
                list.push(Template { shape, words, patch });
            }
            list.sort_by_key(|t| t.shape.q);
            let instr_cap = list.iter().map(|t| t.words.len() * 4).max().unwrap_or(4096);
            let (mut instr, mut tail, mut nomask) = (std::ptr::null_mut(), std::ptr::null_mut(), std::ptr::null_mut());
            // SAFETY: k is the kernel just opened; out-pointers and error buffer are live.
            call(|e, n| unsafe { (engine.x.ucn_xrt_bo_alloc)(k, instr_cap, sys::BO_CACHEABLE, 1, &mut instr, e, n) }).map_err(failed)?;
            // One tail slice per (batch, KV head) of the largest template (schedule::tail_offset).
            let tail_len = schedule::tail_len(&t, list.iter().map(|tp| tp.shape.batch * tp.shape.kv_heads).max().unwrap_or(1));
            let tail_bytes = tail_len * 4;
            // SAFETY: as above.
            call(|e, n| unsafe { (engine.x.ucn_xrt_bo_alloc)(k, tail_bytes, sys::BO_HOST_ONLY, 8, &mut tail, e, n) }).map_err(failed)?;
            // The mask DMA reads 4 * bq rows of nb.mask.1 = 4 bytes from each block's key: this
            // covers the longest slice.
            let nomask_bytes = (t.max_kv * 2 + 4 * t.rows * t.bq * 4).next_multiple_of(4096);
            // SAFETY: as above.
            call(|e, n| unsafe { (engine.x.ucn_xrt_bo_alloc)(k, nomask_bytes, sys::BO_HOST_ONLY, 6, &mut nomask, e, n) }).map_err(failed)?;
            engine.variants.push(Variant { t, kernel: k, tail, tail_len, nomask, instr, instr_cap, templates: list });
        }
        // SAFETY: static string from the shim.
        let version = unsafe { CStr::from_ptr((engine.x.ucn_xrt_build_version)()) }.to_string_lossy().into_owned();
        let dims: Vec<String> = engine.variants.iter().map(|v| format!("D={} ({} shapes)", v.t.d, v.templates.len())).collect();
        engine.name = format!("XRT {version} on {dev_name}, flash_attn_ext {}", dims.join(", "));
        Ok(engine)
    }

    pub fn describe(&self) -> String {
        self.name.clone()
    }

    /// The variant and template for this node, if the NPU has one and has not faulted.
    fn choose(&self, a: &Args) -> Option<(&Variant, &Template)> {
        if self.faulted.load(Ordering::Relaxed) {
            return None;
        }
        let t = schedule::supports(a).ok()?;
        // One DMA task streams a column's blocks, stepping by its iteration dimension, whose
        // wrap field is 6 bits: at most 64 blocks per column until the design splits the task
        // (patchmap.py refuses templates claiming more). Longer caches run elsewhere.
        if a.k.ne[1] > DMA_MAX_BLOCKS_PER_COLUMN * t.cols * t.bk {
            return None;
        }
        let v = self.variants.iter().find(|v| v.t.d == t.d)?;
        let tpl = v.templates.iter().find(|tpl| {
            tpl.shape.serves(a) && tpl.patch.expects.iter().all(|(p, want)| stride_param(a, p) == Some(*want))
        })?;
        Some((v, tpl))
    }

    pub fn takes(&self, a: &Args) -> bool {
        self.choose(a).is_some()
    }

    pub fn compute(&self, a: &Args, node: &Tensor) -> Result<(), EngineError> {
        let (v, tpl) = self.choose(a).ok_or_else(|| EngineError::Unsupported("no NPU template for this shape".into()))?;
        let _one = self.calls.lock().map_err(|_| EngineError::Failed("NPU call lock poisoned".into()))?;
        let mask = node.src_data(3);
        let sinks = node.src_data(4);
        let plan = schedule::plan(a, v.t, &mask, crate::tensor::f32s(&sinks));
        let result = self.run(v, tpl, &plan, a, node);
        if let Err(e) = &result {
            self.faulted.store(true, Ordering::Relaxed);
            log_error!("NPU attention failed ({e}); the NPU claims no more nodes in this process, attention runs elsewhere");
        }
        result.map_err(EngineError::Failed)
    }

    fn run(&self, v: &Variant, tpl: &Template, plan: &Plan, a: &Args, node: &Tensor) -> Result<(), String> {
        let x = &self.x;
        let t = &v.t;
        let partial = !plan.rows.is_multiple_of(t.rows * t.bq);
        // What the DMAs may read past each tensor: the last group's Q and mask rows, and up to
        // `cols` blocks of keys past the slice.
        let q_per_group = t.rows * t.bq / plan.g;
        let pad_q = q_per_group * a.q.nb[1];
        // K/V: every column reads at least one block (schedule::Plan::blocks_of_column), so up
        // to `cols` blocks past a short slice.
        let pad_kv = t.cols * t.bk * a.k.nb[1];
        let pad_mask = if a.has_mask { q_per_group * a.mask.nb[1] } else { 0 };
        // Data BOs in the runtime sequence's argument order: q, k, v, mask, out, tail.
        let srcs: [(&'static str, Option<Tensor>, usize, bool); 5] = [
            ("q", node.src(0), pad_q, true),
            ("k", node.src(1), pad_kv, false),
            ("v", node.src(2), pad_kv, false),
            ("mask", node.src(3).filter(|_| a.has_mask), pad_mask, true),
            ("out", Some(*node), 0, false),
        ];
        let mut owned: Vec<Bo> = vec![]; // per-call imports and staging, freed when the call ends
        let mut raws: Vec<*mut sys::ucn_xrt_bo> = vec![];
        let mut offsets = HashMap::new();
        for (i, (name, tensor, pad, cpu_written)) in srcs.iter().enumerate() {
            let arg = 3 + i as c_int;
            let Some(tensor) = tensor else {
                // No mask: the placeholder (the flags say its values are not used).
                offsets.insert(*name, 0);
                raws.push(v.nomask);
                continue;
            };
            let (start, len) = (tensor.data_ptr() as usize, tensor.nbytes());
            let (base, size) = buffer_span(tensor);
            let fits = start >= base && start + len + pad <= base + size;
            let (raw, off) = if let (Some(found), true) = (self.registry.find(start, len + pad), *pad == 0 || fits) {
                found
            } else if fits && !(partial && *cpu_written) {
                let page = 4096;
                let (lo, hi) = (start / page * page, (start + len + pad).next_multiple_of(page).min(base + size));
                owned.push(self.import(v, lo, hi - lo, arg)?);
                (owned.last().expect("just pushed").raw, start - lo)
            } else {
                // Reads would leave the tensor's buffer: stage a padded copy (decode's Q and mask,
                // a few KB; K/V only at the very end of a cache buffer).
                owned.push(self.import(v, 0, len + pad, arg)?);
                let bo = owned.last().expect("just pushed").raw;
                // SAFETY: a mapped host-only BO of len + pad bytes; the tensor has len bytes.
                let dst = unsafe { (x.ucn_xrt_bo_map)(bo) } as *mut u8;
                if dst.is_null() {
                    return Err("cannot map a staging buffer".into());
                }
                // SAFETY: dst maps len + pad bytes (checked non-null); start..start+len is the tensor's data.
                unsafe { std::ptr::copy_nonoverlapping(start as *const u8, dst, len) };
                // SAFETY: bo is the staging BO just made, of len + pad bytes.
                call(|e, n| unsafe { (x.ucn_xrt_bo_sync)(bo, 1, len + pad, 0, e, n) })?;
                (bo, 0)
            };
            offsets.insert(*name, off);
            // K and V too: the cache rows of this step were just written (by the CPU or a
            // copy through it) and may still sit in the CPU's caches; the NPU's DMA reads DRAM.
            if *cpu_written || *name == "k" || *name == "v" {
                // The CPU may hold these bytes in its caches (llama.cpp writes the mask on the CPU).
                // SAFETY: raw is a live BO covering off..off+len (imported or staged above).
                call(|e, n| unsafe { (x.ucn_xrt_bo_sync)(raw, 1, len, off, e, n) })?;
            }
            raws.push(raw);
        }
        raws.push(v.tail);
        let words = apply_patch(&tpl.words, &tpl.patch, params(plan, a, &offsets))?;
        if words.len() * 4 > v.instr_cap {
            return Err("patched instruction sequence larger than its buffer".into());
        }
        // SAFETY: the instruction BO is mapped host memory of instr_cap bytes.
        let map = unsafe { (x.ucn_xrt_bo_map)(v.instr) } as *mut u32;
        if map.is_null() {
            return Err("cannot map the instruction buffer".into());
        }
        // SAFETY: map holds instr_cap bytes, checked >= words.len() * 4 above.
        unsafe { std::ptr::copy_nonoverlapping(words.as_ptr(), map, words.len()) };
        // SAFETY: v.instr is this variant's live instruction BO.
        call(|e, n| unsafe { (x.ucn_xrt_bo_sync)(v.instr, 1, words.len() * 4, 0, e, n) })?;
        let cmd = sys::ucn_xrt_cmd { opcode: 3, instr: v.instr, instr_words: words.len() as u32, bos: raws.as_ptr(), n_bos: raws.len() as u32 };
        let mut state = 0;
        // SAFETY: cmd points to live BOs (raws, v.instr) that outlive the call; state is an out-pointer.
        call(|e, n| unsafe { (x.ucn_xrt_run)(v.kernel, &cmd, 1, self.timeout_ms, &mut state, e, n) })
            .map_err(|m| format!("{m} (command state {state})"))?;
        // The output: drop stale CPU cache lines before anyone on the CPU reads it.
        let out = raws[4];
        // SAFETY: out is the output tensor's live BO; offset and size lie inside it.
        call(|e, n| unsafe { (x.ucn_xrt_bo_sync)(out, 0, node.nbytes(), offsets["out"], e, n) })?;
        if partial {
            self.copy_tail(v, plan, a, node)?;
        }
        Ok(())
    }

    /// The last groups' partial tiles went to the tail buffer (one slice per (batch, KV head),
    /// `schedule::tail_offset`): their valid rows into the output.
    fn copy_tail(&self, v: &Variant, plan: &Plan, a: &Args, node: &Tensor) -> Result<(), String> {
        let t = &v.t;
        let len = schedule::tail_len(t, plan.n_batch * plan.n_kv_heads);
        if len > v.tail_len {
            return Err(format!("tail buffer of {} floats, {len} needed", v.tail_len));
        }
        // SAFETY: v.tail is this variant's live tail BO of v.tail_len floats (checked above).
        call(|e, n| unsafe { (self.x.ucn_xrt_bo_sync)(v.tail, 0, len * 4, 0, e, n) })?;
        // SAFETY: the tail BO is mapped host memory of v.tail_len floats.
        let tail = unsafe { (self.x.ucn_xrt_bo_map)(v.tail) } as *const f32;
        if tail.is_null() {
            return Err("cannot map the tail buffer".into());
        }
        // SAFETY: tail is non-null and maps at least len floats, synced above.
        let tail = unsafe { std::slice::from_raw_parts(tail, len) };
        let dst = crate::tensor::f32s_mut(node.data_mut());
        for (src, off) in plan.tail_copies(a) {
            dst[off / 4..off / 4 + t.d].copy_from_slice(&tail[src..src + t.d]);
        }
        Ok(())
    }

    /// Host memory the NPU reads and writes in place: an XRT host-only BO, mapped, registered
    /// so calls on tensors inside it import nothing. For a buffer type to allocate from.
    pub fn alloc_shared(&self, size: usize) -> Result<*mut u8, String> {
        let v = self.variants.first().ok_or("no kernel variant")?;
        let mut raw = std::ptr::null_mut();
        // SAFETY: v.kernel is open; raw is an out-pointer.
        call(|e, n| unsafe { (self.x.ucn_xrt_bo_alloc)(v.kernel, size, sys::BO_HOST_ONLY, 3, &mut raw, e, n) })?;
        // SAFETY: raw is a live BO of this shim.
        let ptr = unsafe { (self.x.ucn_xrt_bo_map)(raw) } as *mut u8;
        if ptr.is_null() {
            // SAFETY: raw was allocated just above and is freed once, here.
            unsafe { (self.x.ucn_xrt_bo_free)(raw) };
            return Err("cannot map a host-only buffer object".into());
        }
        self.registry.by_base.lock().map_err(|_| "registry lock poisoned")?.insert(ptr as usize, (size, raw as usize));
        Ok(ptr)
    }

    /// Frees memory from [`alloc_shared`](Self::alloc_shared).
    pub fn free_shared(&self, ptr: *mut u8) {
        let entry = self.registry.by_base.lock().ok().and_then(|mut m| m.remove(&(ptr as usize)));
        if let Some((_, raw)) = entry {
            // SAFETY: the BO was allocated by alloc_shared and is freed once.
            unsafe { (self.x.ucn_xrt_bo_free)(raw as *mut sys::ucn_xrt_bo) };
        }
    }

    /// A user-pointer BO over [ptr, ptr + size) (a dummy BO when ptr is 0).
    fn import(&self, v: &Variant, ptr: usize, size: usize, arg: c_int) -> Result<Bo<'_>, String> {
        let mut raw = std::ptr::null_mut();
        if ptr == 0 {
            // SAFETY: v.kernel is open; raw is an out-pointer.
            call(|e, n| unsafe { (self.x.ucn_xrt_bo_alloc)(v.kernel, size, sys::BO_HOST_ONLY, arg, &mut raw, e, n) })?;
        } else {
            // SAFETY: ptr..ptr+size is host memory of a Unicorn buffer alive as long as the BO (Bo's Drop frees it first).
            call(|e, n| unsafe { (self.x.ucn_xrt_bo_import)(v.kernel, ptr as *mut _, size, arg, &mut raw, e, n) })?;
        }
        Ok(Bo { x: &self.x, raw })
    }
}

impl Drop for XrtEngine {
    fn drop(&mut self) {
        for v in &self.variants {
            // SAFETY: handles from this shim, freed once, buffers before their kernel.
            unsafe {
                (self.x.ucn_xrt_bo_free)(v.instr);
                (self.x.ucn_xrt_bo_free)(v.tail);
                (self.x.ucn_xrt_bo_free)(v.nomask);
                (self.x.ucn_xrt_kernel_close)(v.kernel);
            }
        }
        // SAFETY: as above.
        unsafe { (self.x.ucn_xrt_device_close)(self.dev) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patch_fields_are_rewritten_in_place() {
        let table = parse_patch(
            "# kind word mask shift param scale offset\n\
             field 2 0000ffff 0 kv.len 1 0\n\
             field 2 ffff0000 16 groups 2 1\n\
             field 0 ffffffff 0 off.k 1 64\n\
             field 0 ffffffff 0 kv.lo 512 0\n",
        )
        .unwrap();
        let tpl = vec![0xdead_beef, 7, 0x1234_5678];
        let value = |p: &str| match p {
            "kv.len" => Some(113),
            "groups" => Some(3),
            "off.k" => Some(4096),
            "kv.lo" => Some(2),
            _ => None,
        };
        // terms on one word add up: 4096 + 64 + 2 * 512
        assert_eq!(apply_patch(&tpl, &table, value).unwrap(), vec![4096 + 64 + 1024, 7, (7 << 16) | 113]);
        assert!(apply_patch(&tpl, &table, |_| None).unwrap_err().contains("kv.len"));
        let narrow = parse_patch("field 1 000000ff 0 kv.len 1 0").unwrap();
        assert!(apply_patch(&tpl, &narrow, |_| Some(300)).unwrap_err().contains("does not fit"));
        assert!(parse_patch("field 1 2 3").is_err());
        // a 6-bit wrap under a stride (bits 6..): 63 fits and keeps the stride, 64 would spill
        let wrap = parse_patch("field 0 0000003f 0 kv.blocks.0 1 -1").unwrap();
        let reg = vec![0x0004_0000 | 5];
        assert_eq!(apply_patch(&reg, &wrap, |_| Some(64)).unwrap(), vec![0x0004_0000 | 63]);
        assert!(apply_patch(&reg, &wrap, |_| Some(65)).unwrap_err().contains("does not fit"));
        // a field starting at bit 2 (4-byte addresses): an odd byte offset is refused
        let addr = parse_patch("field 0 fffffffc 0 off.mask 1 0").unwrap();
        assert!(apply_patch(&[0], &addr, |_| Some(4098)).unwrap_err().contains("does not fit"));
        assert_eq!(apply_patch(&[0], &addr, |_| Some(4096)).unwrap(), vec![4096]);
    }

    #[test]
    fn expect_lines_pin_a_template_to_its_strides() {
        let t = parse_patch("expect nb.k.1 1024\nfield 0 ffffffff 0 kv.lo 1024 0\n").unwrap();
        assert_eq!(t.expects, vec![("nb.k.1".to_string(), 1024)]);
        assert!(parse_patch("cut 1 2").is_err());
    }

    /// patchmap.py derives patch tables by compiling with moved values; its self-test runs that
    /// derivation against a fake compiler and reproduces 20 random calls with the table.
    #[test]
    fn patchmap_derivation_reproduces_compiles() {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../kernels/npu/flash_attn_ext/patchmap.py");
        // python3 is a prerequisite of the test suite (scripts/test.sh installs it): missing, this fails.
        let out = std::process::Command::new("python3").arg(script).arg("--self-test").output().expect("running python3");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }

    /// The kernel uses only the pinned AIE API release, and aie_host refuses what the release
    /// lacks (bit_and(vector, scalar), from_vector's result, members on v16accfloat, exp2 on
    /// AIE2): scripts/npu-check-aie-api.py.
    #[test]
    fn kernel_uses_only_the_pinned_aie_api() {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/npu-check-aie-api.py");
        let Ok(out) = std::process::Command::new("python3").arg(script).output() else {
            eprintln!("python3 not found: skipped");
            return;
        };
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
        assert!(text.contains("all on the list"), "{text}");
    }

    #[test]
    fn template_names() {
        let s = Shape::parse("h2_g4_b1_q512").unwrap();
        assert_eq!(s, Shape { kv_heads: 2, g: 4, batch: 1, q: 512 });
        assert!(Shape::parse("h2_g4_b1").is_none());
        assert!(Shape::parse("x2").is_none());
    }
}
