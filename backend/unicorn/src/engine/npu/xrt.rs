//! The NPU itself: `kernels/npu/flash_attn_ext` as an xclbin per head dimension and
//! instruction-sequence templates, run through XRT (`xrt-sys`, our C shim over XRT's C++ API).
//!
//! **Not run in this repository's CI** (no NPU there): this path is compiled and unit-tested
//! (patching, template choice) here; `scripts/npu-phoenix-validate.sh` exercises it on a
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
//!    page span of the tensor is imported as a user-pointer BO for the call. Only what the CPU
//!    may have written (Q, the mask) is flushed to the device; the output is invalidated after;
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
/// cut <groups> <word>     # a call with <groups> groups keeps words [0, word) ...
/// epilogue <word>         # ... then words [word, end)
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PatchTable {
    pub fields: Vec<PatchField>,
    pub cuts: Vec<(usize, usize)>,
    pub epilogue: Option<usize>,
}

pub fn parse_patch(text: &str) -> Result<PatchTable, String> {
    let mut t = PatchTable::default();
    for (n, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split_whitespace().collect();
        let bad = || format!("line {}: not a field, cut or epilogue line: {line:?}", n + 1);
        let num = |s: &str| s.parse::<usize>().map_err(|_| bad());
        match f.as_slice() {
            ["field", word, mask, shift, param, scale, offset] => t.fields.push(PatchField {
                word: num(word)?,
                mask: u32::from_str_radix(mask.trim_start_matches("0x"), 16).map_err(|_| bad())?,
                shift: shift.parse().map_err(|_| bad())?,
                param: param.to_string(),
                scale: scale.parse().map_err(|_| bad())?,
                offset: offset.parse().map_err(|_| bad())?,
            }),
            ["cut", groups, word] => t.cuts.push((num(groups)?, num(word)?)),
            ["epilogue", word] => t.epilogue = Some(num(word)?),
            _ => return Err(bad()),
        }
    }
    Ok(t)
}

/// The call's instruction sequence: the template with its fields patched, cut after the
/// call's `groups` groups when the table has cuts.
pub fn apply_patch(template: &[u32], table: &PatchTable, groups: usize, value: impl Fn(&str) -> Option<i64>) -> Result<Vec<u32>, String> {
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
        let limit = (mask >> shift) as i64;
        if x < 0 || x > limit {
            return Err(format!("patch word {word}: value {x} does not fit its field (mask {mask:#x})"));
        }
        let slot = w.get_mut(word).ok_or_else(|| format!("patch word {word} past the sequence"))?;
        *slot = (*slot & !mask) | (((x as u32) << shift) & mask);
    }
    if table.cuts.is_empty() {
        return Ok(w);
    }
    let cut = table.cuts.iter().find(|(g, _)| *g == groups).map(|(_, at)| *at);
    let cut = cut.ok_or_else(|| format!("the template has no cut for {groups} groups"))?;
    let epilogue = table.epilogue.unwrap_or(w.len());
    if cut > epilogue || epilogue > w.len() {
        return Err("cut or epilogue past the sequence".into());
    }
    let mut out = w[..cut].to_vec();
    out.extend_from_slice(&w[epilogue..]);
    Ok(out)
}

/// The per-call parameters a patch table may name.
/// `rtp.<col>.<row>.<word>`: runtime-parameter words; `kv.lo`, `kv.len`, `kv.blocks.<col>`:
/// the KV slice; `groups`, `rows`; `off.<q|k|v|mask|out>`: byte offsets of the tensors in
/// their buffer objects; `nb.mask.1`: the mask's row stride.
pub fn params<'p>(plan: &'p Plan, offsets: &HashMap<&'static str, usize>, mask_nb1: usize) -> impl Fn(&str) -> Option<i64> + 'p {
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
            ["nb", "mask", "1"] => mask_nb1 as i64,
            _ => return None,
        };
        Some(v)
    }
}

/// A template's shape key: `h<kv heads>_g<q heads per kv head>_b<batch>_q<max query rows>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shape {
    pub kv_heads: usize,
    pub g: usize,
    pub batch: usize,
    pub max_q: usize,
}

impl Shape {
    pub fn parse(stem: &str) -> Option<Shape> {
        let mut s = Shape { kv_heads: 0, g: 0, batch: 0, max_q: 0 };
        for part in stem.split('_') {
            let (k, v) = part.split_at(1);
            let v: usize = v.parse().ok()?;
            match k {
                "h" => s.kv_heads = v,
                "g" => s.g = v,
                "b" => s.batch = v,
                "q" => s.max_q = v,
                _ => return None,
            }
        }
        (s.kv_heads > 0 && s.g > 0 && s.batch > 0 && s.max_q > 0).then_some(s)
    }
    /// The template serves a call with this many query rows (fewer rows: the output DMA writes
    /// only the valid ones; the smallest fitting template is chosen).
    pub fn serves(&self, a: &Args) -> bool {
        let n_head = a.q.ne[2];
        a.k.ne[2] == self.kv_heads && n_head == self.kv_heads * self.g && a.q.ne[3] == self.batch && a.q.ne[1] <= self.max_q
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
            timeout_ms: std::env::var("UNICORN_NPU_TIMEOUT_MS").ok().and_then(|v| v.parse().ok()).unwrap_or(2000),
            faulted: AtomicBool::new(false),
            calls: Mutex::new(()),
            registry: BoRegistry::default(),
        };
        for (d, xclbin, templates) in &ready.variants {
            let t = Tiling::of(*d).ok_or_else(|| failed(format!("no kernel layout for D={d}")))?;
            let path = cstr(xclbin)?;
            let mut k = std::ptr::null_mut();
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
            list.sort_by_key(|t| t.shape.max_q);
            let instr_cap = list.iter().map(|t| t.words.len() * 4).max().unwrap_or(4096);
            let mut instr = std::ptr::null_mut();
            call(|e, n| unsafe { (engine.x.ucn_xrt_bo_alloc)(k, instr_cap, sys::BO_CACHEABLE, 1, &mut instr, e, n) }).map_err(failed)?;
            engine.variants.push(Variant { t, kernel: k, instr, instr_cap, templates: list });
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
        let v = self.variants.iter().find(|v| v.t.d == t.d)?;
        let tpl = v.templates.iter().find(|tpl| tpl.shape.serves(a))?;
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
        // Data BOs in the runtime sequence's argument order: q, k, v, mask, out.
        let srcs: [(&'static str, Option<Tensor>, bool); 5] = [
            ("q", node.src(0), true),
            ("k", node.src(1), false),
            ("v", node.src(2), false),
            ("mask", node.src(3), true),
            ("out", Some(*node), false),
        ];
        let mut owned: Vec<Bo> = vec![]; // per-call imports, freed when the call ends
        let mut raws: Vec<*mut sys::ucn_xrt_bo> = vec![];
        let mut offsets = HashMap::new();
        for (i, (name, t, cpu_written)) in srcs.iter().enumerate() {
            let arg = 3 + i as c_int;
            let Some(t) = t else {
                // An absent mask: a small placeholder BO, never read (the flags say so).
                offsets.insert(*name, 0);
                owned.push(self.import(v, 0, 4096, arg)?);
                raws.push(owned.last().expect("just pushed").raw);
                continue;
            };
            let (start, len) = (t.data_ptr() as usize, t.nbytes());
            let (raw, off, span) = match self.registry.find(start, len) {
                Some((raw, off)) => (raw, off, len),
                None => {
                    let page = 4096;
                    let (lo, hi) = (start / page * page, (start + len).next_multiple_of(page));
                    owned.push(self.import(v, lo, hi - lo, arg)?);
                    (owned.last().expect("just pushed").raw, start - lo, hi - lo)
                }
            };
            offsets.insert(*name, off);
            if *cpu_written {
                // The CPU may hold these bytes in its caches (llama.cpp writes the mask on the CPU).
                call(|e, n| unsafe { (x.ucn_xrt_bo_sync)(raw, 1, span.min(len + off), 0, e, n) })?;
            }
            raws.push(raw);
        }
        let words = apply_patch(&tpl.words, &tpl.patch, plan.n_groups, params(plan, &offsets, a.mask.nb[1]))?;
        if words.len() * 4 > v.instr_cap {
            return Err("patched instruction sequence larger than its buffer".into());
        }
        // SAFETY: the instruction BO is mapped host memory of instr_cap bytes.
        let map = unsafe { (x.ucn_xrt_bo_map)(v.instr) } as *mut u32;
        if map.is_null() {
            return Err("cannot map the instruction buffer".into());
        }
        unsafe { std::ptr::copy_nonoverlapping(words.as_ptr(), map, words.len()) };
        call(|e, n| unsafe { (x.ucn_xrt_bo_sync)(v.instr, 1, words.len() * 4, 0, e, n) })?;
        let cmd = sys::ucn_xrt_cmd { opcode: 3, instr: v.instr, instr_words: words.len() as u32, bos: raws.as_ptr(), n_bos: raws.len() as u32 };
        let mut state = 0;
        call(|e, n| unsafe { (x.ucn_xrt_run)(v.kernel, &cmd, 1, self.timeout_ms, &mut state, e, n) })
            .map_err(|m| format!("{m} (command state {state})"))?;
        // The output: drop stale CPU cache lines before anyone on the CPU reads it.
        let out = *raws.last().expect("output bo");
        let out_off = offsets["out"];
        call(|e, n| unsafe { (x.ucn_xrt_bo_sync)(out, 0, node.nbytes(), out_off, e, n) })
    }

    /// Host memory the NPU reads and writes in place: an XRT host-only BO, mapped, registered
    /// so calls on tensors inside it import nothing. For a buffer type to allocate from.
    pub fn alloc_shared(&self, size: usize) -> Result<*mut u8, String> {
        let v = self.variants.first().ok_or("no kernel variant")?;
        let mut raw = std::ptr::null_mut();
        call(|e, n| unsafe { (self.x.ucn_xrt_bo_alloc)(v.kernel, size, sys::BO_HOST_ONLY, 3, &mut raw, e, n) })?;
        // SAFETY: raw is a live BO of this shim.
        let ptr = unsafe { (self.x.ucn_xrt_bo_map)(raw) } as *mut u8;
        if ptr.is_null() {
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
            call(|e, n| unsafe { (self.x.ucn_xrt_bo_alloc)(v.kernel, size, sys::BO_HOST_ONLY, arg, &mut raw, e, n) })?;
        } else {
            call(|e, n| unsafe { (self.x.ucn_xrt_bo_import)(v.kernel, ptr as *mut _, size, arg, &mut raw, e, n) })?;
        }
        Ok(Bo { x: &self.x, raw })
    }
}

impl Drop for XrtEngine {
    fn drop(&mut self) {
        for v in &self.variants {
            // SAFETY: handles from this shim, freed once, instruction BO before its kernel.
            unsafe {
                (self.x.ucn_xrt_bo_free)(v.instr);
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
        assert_eq!(apply_patch(&tpl, &table, 3, value).unwrap(), vec![4096 + 64 + 1024, 7, (7 << 16) | 113]);
        assert!(apply_patch(&tpl, &table, 3, |_| None).unwrap_err().contains("kv.len"));
        let narrow = parse_patch("field 1 000000ff 0 kv.len 1 0").unwrap();
        assert!(apply_patch(&tpl, &narrow, 1, |_| Some(300)).unwrap_err().contains("does not fit"));
        assert!(parse_patch("field 1 2 3").is_err());
    }

    #[test]
    fn a_call_with_fewer_groups_is_a_prefix_plus_the_epilogue() {
        let table = parse_patch("cut 1 2\ncut 2 4\nepilogue 6\n").unwrap();
        let tpl: Vec<u32> = (0..8).collect();
        assert_eq!(apply_patch(&tpl, &table, 1, |_| None).unwrap(), vec![0, 1, 6, 7]);
        assert_eq!(apply_patch(&tpl, &table, 2, |_| None).unwrap(), vec![0, 1, 2, 3, 6, 7]);
        assert!(apply_patch(&tpl, &table, 3, |_| None).unwrap_err().contains("no cut"));
    }

    #[test]
    fn template_names() {
        let s = Shape::parse("h2_g4_b1_q512").unwrap();
        assert_eq!(s, Shape { kv_heads: 2, g: 4, batch: 1, max_q: 512 });
        assert!(Shape::parse("h2_g4_b1").is_none());
        assert!(Shape::parse("x2").is_none());
    }
}
