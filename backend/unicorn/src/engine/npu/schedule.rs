//! The tile schedule of `kernels/npu/flash_attn_ext` on npu1 (4 columns x 4 compute rows), as
//! the IRON design (`kernels/npu/flash_attn_ext/design.py`) lays it out. Both the emulator and
//! the XRT engine plan a call with it; the emulator then runs exactly this plan.
//!
//! - **Groups.** Query heads are packed under their KV head: for batch `b` and KV head `g`, the
//!   packed row `P = i * G + j` is query `i` of head `g * G + j` (`G` query heads per KV head),
//!   `rows = n_q * G` of them. A Q tile is `bq` packed rows; a group is 4 consecutive Q tiles
//!   of one `(b, g)`: the 4 compute rows of the array hold one tile each and share every K/V
//!   byte streamed for that KV head. Groups run one after the other, Q-tile-major.
//! - **KV blocks.** The call's KV slice (keys `[kv_lo, kv_lo + kv_len)`, trimmed to the keys
//!   some mask row leaves finite) is cut into blocks of `bk` keys; block `j` goes to column
//!   `j % 4`. Each column merges its partial softmax into its east neighbour's by cascade;
//!   column 3 normalises and writes the output. The order of every sum is therefore fixed:
//!   blocks in increasing order within a column, then `((c0 + c1) + c2) + c3`.
//! - **Memory.** Every core holds the buffers of [`MemoryMap`] (object-FIFO buffers at depth 2
//!   for K+masks and V, the Q tile, the f32 accumulator, state, scratch, runtime parameters,
//!   stack); [`check_budget`] proves each variant fits the core's 64 KB.
//! - **One command per call.** Everything a call changes (group count, blocks per column,
//!   slice, flags, scale, per-head slopes and sinks) is runtime parameters and DMA sizes the
//!   host patches into the instruction sequence; the xclbin is compiled once per head
//!   dimension for `max_kv` keys.
use npu_kernels::ucn_fa_layout;

use crate::ops::flash_attn_ext::Args;
use ggml_sys::ggml_type as ty;

/// Compile-time layout of one head-dimension variant, read from the kernel build itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tiling {
    pub d: usize,
    pub bq: usize,
    pub bk: usize,
    pub cols: usize,
    pub rows: usize,
    pub k_bytes: usize,
    pub km_bytes: usize,
    pub v_bytes: usize,
    pub q_bytes: usize,
    pub o_bytes: usize,
    pub state_bytes: usize,
    pub s_bytes: usize,
    pub p_bytes: usize,
    pub scratch_bytes: usize,
    pub rtp_words: usize,
    pub rtp_bytes: usize,
    pub q_objs: usize,
    pub stack_bytes: usize,
    pub core_bytes: usize,
    pub max_kv: usize,
    pub max_heads: usize,
}

/// Runtime-parameter word indices (`fa_layout.h`, `FA_RTP_*`).
pub mod rtp {
    pub const N_GROUPS: usize = 0;
    pub const N_BLOCKS: usize = 1;
    pub const KV_LEN: usize = 2;
    pub const ROWS: usize = 3;
    pub const GROUPS_PER_BG: usize = 4;
    pub const G: usize = 5;
    pub const N_KV_HEADS: usize = 6;
    pub const FLAGS: usize = 7;
    pub const SCALE: usize = 8;
    pub const SOFTCAP: usize = 9;
    pub const COL: usize = 10;
    pub const ROW: usize = 11;
    pub const SLOPES: usize = 16;
    pub const FLAG_KV_F16: i32 = 1;
    pub const FLAG_MASK: i32 = 2;
    pub const FLAG_SOFTCAP: i32 = 4;
    pub const FLAG_SINKS: i32 = 8;
}

pub const HEAD_DIMS: [usize; 3] = [64, 128, 256];

impl Tiling {
    pub fn of(d: usize) -> Option<Tiling> {
        let k = npu_kernels::flash_attn_ext(d)?;
        let mut l = ucn_fa_layout::default();
        // SAFETY: the function writes one ucn_fa_layout through the pointer, a live local.
        unsafe { (k.layout)(&mut l) };
        let u = |x: i32| x as usize;
        Some(Tiling {
            d: u(l.d),
            bq: u(l.bq),
            bk: u(l.bk),
            cols: u(l.cols),
            rows: u(l.rows),
            k_bytes: u(l.k_bytes),
            km_bytes: u(l.km_bytes),
            v_bytes: u(l.v_bytes),
            q_bytes: u(l.q_bytes),
            o_bytes: u(l.o_bytes),
            state_bytes: u(l.state_bytes),
            s_bytes: u(l.s_bytes),
            p_bytes: u(l.p_bytes),
            scratch_bytes: u(l.scratch_bytes),
            rtp_words: u(l.rtp_words),
            rtp_bytes: u(l.rtp_bytes),
            q_objs: u(l.q_objs),
            stack_bytes: u(l.stack_bytes),
            core_bytes: u(l.core_bytes),
            max_kv: u(l.max_kv),
            max_heads: u(l.max_heads),
        })
    }

    /// Cascade words (16 f32 each) one core sends east per group: m, l, then O.
    pub fn cascade_words(&self) -> usize {
        2 * self.bq / 16 + self.bq * self.d / 16
    }

    /// The core's data memory, in the order the IRON design allocates it.
    pub fn memory_map(&self) -> MemoryMap {
        let list = [
            ("km0", self.km_bytes),
            ("km1", self.km_bytes),
            ("v0", self.v_bytes),
            ("v1", self.v_bytes),
            ("q", self.q_bytes),
            ("o", self.o_bytes),
            ("state", self.state_bytes),
            ("scratch", self.scratch_bytes),
            ("rtp", self.rtp_bytes),
            ("stack", self.stack_bytes),
        ];
        let mut buffers = vec![];
        let mut at = 0usize;
        for (name, bytes) in list {
            at = at.next_multiple_of(64);
            buffers.push(Buffer { name, offset: at, bytes });
            at += bytes;
        }
        MemoryMap { buffers, total: at, budget: self.core_bytes }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Buffer {
    pub name: &'static str,
    pub offset: usize,
    pub bytes: usize,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemoryMap {
    pub buffers: Vec<Buffer>,
    pub total: usize,
    pub budget: usize,
}

impl MemoryMap {
    pub fn get(&self, name: &str) -> Buffer {
        *self.buffers.iter().find(|b| b.name == name).expect("buffer of the memory map")
    }
}

/// Every head-dimension variant fits a core's data memory.
pub fn check_budget() -> Result<(), String> {
    for d in HEAD_DIMS {
        let t = Tiling::of(d).ok_or_else(|| format!("no kernel variant for D={d}"))?;
        let m = t.memory_map();
        if m.total > m.budget {
            return Err(format!("flash_attn_ext D={d}: {} bytes per core, over the {} of an AIE-ML tile", m.total, m.budget));
        }
    }
    Ok(())
}

/// Why the NPU kernel does not take a node (it then runs elsewhere).
pub fn supports(a: &Args) -> Result<Tiling, String> {
    if a.kv_type != ty::GGML_TYPE_BF16 && a.kv_type != ty::GGML_TYPE_F16 {
        return Err("K/V must be bf16 (or f16, converted in the core)".into());
    }
    let (d, dv) = (a.q.ne[0], a.v.ne[0]);
    if d != dv {
        return Err(format!("head sizes differ (K {d}, V {dv})"));
    }
    let t = Tiling::of(d).ok_or_else(|| format!("head size {d} (kernels: 64, 128, 256)"))?;
    if a.k.ne[2] != a.v.ne[2] || a.k.ne[3] != a.v.ne[3] {
        return Err("K and V have different head or batch counts".into());
    }
    let n_head = a.q.ne[2];
    let g = n_head / a.k.ne[2];
    if (t.rows * t.bq) % g != 0 {
        return Err(format!("{g} query heads per KV head does not divide a group of {} rows", t.rows * t.bq));
    }
    if a.has_mask && a.mask.ne[2] != 1 {
        return Err("a mask per head (the NPU streams one mask row per query, shared by the heads)".into());
    }
    if (a.has_sinks || a.max_bias > 0.0) && n_head > t.max_heads {
        return Err(format!("{n_head} heads with per-head slopes or sinks (at most {})", t.max_heads));
    }
    if a.k.ne[1] > t.max_kv {
        return Err(format!("{} keys (the instruction sequence is compiled for {})", a.k.ne[1], t.max_kv));
    }
    Ok(t)
}

/// One call, planned: what the runtime sequence and the runtime parameters carry.
#[derive(Clone, Debug)]
pub struct Plan {
    pub t: Tiling,
    /// First key of the slice, and its length.
    pub kv_lo: usize,
    pub kv_len: usize,
    /// Query heads per KV head, KV heads, batches (Q's dim 3).
    pub g: usize,
    pub n_kv_heads: usize,
    pub n_batch: usize,
    /// Packed rows per (batch, KV head) and groups per (batch, KV head).
    pub rows: usize,
    pub groups_per_bg: usize,
    pub n_groups: usize,
    pub n_blocks: usize,
    pub flags: i32,
    pub scale: f32,
    pub softcap: f32,
    pub slopes: Vec<f32>,
    pub sinks: Vec<f32>,
}

impl Plan {
    /// KV blocks column `c` processes per group: at least one, so that no column's DMA task
    /// has a repeat count of -1 (a slice shorter than 4 blocks, KV < 64 keys at D = 256). A
    /// block past the slice is streamed (in bounds: the host pads K/V reads by `cols` blocks)
    /// and skipped by the kernel (`fa_block`: no valid key).
    pub fn blocks_of_column(&self, c: usize) -> usize {
        ((self.n_blocks + self.t.cols - 1 - c) / self.t.cols).max(1)
    }

    /// (batch, KV head, first Q tile) of group `w`. Groups go Q-tile-major
    /// (`w = t4 * n_bg + bg`), so the groups of a call with fewer query rows are a prefix of
    /// those of a longer one: the instruction sequence for the longest serves both, cut short.
    pub fn group(&self, w: usize) -> (usize, usize, usize) {
        let n_bg = self.n_batch * self.n_kv_heads;
        let (t4, bg) = (w / n_bg, w % n_bg);
        (bg / self.n_kv_heads, bg % self.n_kv_heads, t4 * self.t.rows)
    }

    /// The runtime-parameter words of core (column `c`, row `r`).
    pub fn rtp(&self, c: usize, r: usize) -> Vec<i32> {
        let mut w = vec![0i32; self.t.rtp_words];
        w[rtp::N_GROUPS] = self.n_groups as i32;
        w[rtp::N_BLOCKS] = self.blocks_of_column(c) as i32;
        w[rtp::KV_LEN] = self.kv_len as i32;
        w[rtp::ROWS] = self.rows as i32;
        w[rtp::GROUPS_PER_BG] = self.groups_per_bg as i32;
        w[rtp::G] = self.g as i32;
        w[rtp::N_KV_HEADS] = self.n_kv_heads as i32;
        w[rtp::FLAGS] = self.flags;
        w[rtp::SCALE] = self.scale.to_bits() as i32;
        w[rtp::SOFTCAP] = self.softcap.to_bits() as i32;
        w[rtp::COL] = c as i32;
        w[rtp::ROW] = r as i32;
        let mh = self.t.max_heads;
        for (h, s) in self.slopes.iter().take(mh).enumerate() {
            w[rtp::SLOPES + h] = s.to_bits() as i32;
        }
        for (h, s) in self.sinks.iter().take(mh).enumerate() {
            w[rtp::SLOPES + mh + h] = s.to_bits() as i32;
        }
        w
    }
}

/// Where the partial Q tiles of a call's last groups land: the design writes tile `r` of the
/// `bg`-th (batch, KV head) of the last Q-tile row to the tail buffer at this f32 offset, one
/// slice per (batch, KV head) so that groups never overwrite each other (design.py, TAIL).
pub fn tail_offset(t: &Tiling, bg: usize, r: usize) -> usize {
    (bg * t.rows + r) * t.bq * t.d
}

/// f32 elements of the tail buffer for `n_bg` (batch, KV head) pairs.
pub fn tail_len(t: &Tiling, n_bg: usize) -> usize {
    n_bg * t.rows * t.bq * t.d
}

impl Plan {
    /// The copies from the tail buffer into the output for this call: (tail f32 offset, output
    /// row byte offset) per valid packed row of a partial tile, each `d` floats long.
    pub fn tail_copies(&self, a: &Args) -> Vec<(usize, usize)> {
        let t = &self.t;
        let n_bg = self.n_batch * self.n_kv_heads;
        let mut out = vec![];
        for w in self.n_groups.saturating_sub(n_bg)..self.n_groups {
            let (b, kvh, tile0) = self.group(w);
            let bg = w % n_bg;
            for r in 0..t.rows {
                let p0 = (tile0 + r) * t.bq;
                if p0 + t.bq <= self.rows {
                    continue; // a full tile: written in place
                }
                for p in p0..self.rows.max(p0) {
                    let (i, h) = (p / self.g, kvh * self.g + p % self.g);
                    out.push((tail_offset(t, bg, r) + (p - p0) * t.d, a.dst.row_offset(h, i, b)));
                }
            }
        }
        out
    }
}

const F16_NEG_INF: u16 = 0xfc00;

/// The keys some mask row leaves finite: `[lo, hi)` over every row this call reads (all of
/// `[0, n_kv)` without a mask). The host patches this slice into the K/V/mask DMAs, so keys
/// no row can see are never streamed (sliding windows, unused cache cells).
pub fn kv_slice(a: &Args, mask: &[u8]) -> (usize, usize) {
    let n_kv = a.k.ne[1];
    if !a.has_mask {
        return (0, n_kv);
    }
    let m = &a.mask;
    let (n_q, n_head, ne3) = (a.q.ne[1], a.q.ne[2], a.q.ne[3]);
    let (mut lo, mut hi) = (n_kv, 0);
    let heads = m.ne[2].min(n_head);
    for b in 0..m.ne[3].min(ne3) {
        for h in 0..heads {
            for i in 0..n_q {
                let off = m.row_offset(i, h, b);
                let row: &[u16] = bytemuck::cast_slice(&mask[off..off + n_kv * 2]);
                if let Some(first) = row.iter().position(|&x| x != F16_NEG_INF) {
                    let last = row.iter().rposition(|&x| x != F16_NEG_INF).unwrap_or(first);
                    lo = lo.min(first);
                    hi = hi.max(last + 1);
                }
            }
        }
    }
    if hi <= lo {
        (0, 0)
    } else {
        (lo, hi - lo)
    }
}

/// Plans a call the kernel supports (`supports` said yes): `mask` is the mask's bytes (empty
/// without one), `sinks` the sink values.
pub fn plan(a: &Args, t: Tiling, mask: &[u8], sinks: &[f32]) -> Plan {
    let (n_q, n_head, n_batch) = (a.q.ne[1], a.q.ne[2], a.q.ne[3]);
    let n_kv_heads = a.k.ne[2];
    let g = n_head / n_kv_heads;
    let rows = n_q * g;
    let groups_per_bg = rows.div_ceil(t.rows * t.bq);
    let (lo, len) = kv_slice(a, mask);
    // Block-aligned start: the mask's rows are read from key kv_lo on, and the shim DMA moves
    // 4-byte words (an odd kv_lo would put the f16 mask on a 2-byte boundary). Keys between the
    // aligned start and lo are masked for every row (kv_slice's minimum), so nothing changes.
    let kv_lo = lo / t.bk * t.bk;
    let kv_len = if len == 0 { 0 } else { lo + len - kv_lo };
    let mut flags = 0;
    if a.kv_type == ty::GGML_TYPE_F16 {
        flags |= rtp::FLAG_KV_F16;
    }
    if a.has_mask {
        flags |= rtp::FLAG_MASK;
    }
    if a.logit_softcap != 0.0 {
        flags |= rtp::FLAG_SOFTCAP;
    }
    if a.has_sinks {
        flags |= rtp::FLAG_SINKS;
    }
    // ggml divides the scale by the soft-cap and multiplies tanh by it.
    let scale = if a.logit_softcap != 0.0 { a.scale / a.logit_softcap } else { a.scale };
    let slopes = (0..n_head).map(|h| crate::ops::flash_attn_ext::alibi_slope(a.max_bias, n_head, h)).collect();
    Plan {
        t,
        kv_lo,
        kv_len,
        g,
        n_kv_heads,
        n_batch,
        rows,
        groups_per_bg,
        n_groups: n_batch * n_kv_heads * groups_per_bg,
        n_blocks: kv_len.div_ceil(t.bk),
        flags,
        scale,
        softcap: a.logit_softcap,
        slopes,
        sinks: if a.has_sinks { sinks[..n_head].to_vec() } else { vec![] },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variant_fits_a_core() {
        check_budget().unwrap();
        for d in HEAD_DIMS {
            let m = Tiling::of(d).unwrap().memory_map();
            // no buffer overlaps the next one
            for w in m.buffers.windows(2) {
                assert!(w[0].offset + w[0].bytes <= w[1].offset, "{d}: {w:?}");
            }
            assert!(m.total <= 65536, "D={d}: {} bytes", m.total);
        }
    }

    #[test]
    fn layout_matches_the_header() {
        // fa_layout.h, as numbers: the schedule reads them from the kernel build, and this
        // pins the build to the design's documented sizes.
        let t = Tiling::of(256).unwrap();
        assert_eq!((t.bq, t.bk, t.cols, t.rows), (16, 16, 4, 4));
        assert_eq!(t.km_bytes, 16 * 256 * 2 + 4 * 16 * 16 * 2);
        assert_eq!(t.memory_map().total, 64704);
        assert_eq!(Tiling::of(128).unwrap().memory_map().total, 54208);
        assert_eq!(Tiling::of(64).unwrap().memory_map().total, 53184);
        assert!(Tiling::of(96).is_none());
    }

    /// The IRON design's memory map (tiling.py, which parses fa_layout.h) equals this one.
    #[test]
    fn memory_map_matches_the_iron_design() {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../kernels/npu/flash_attn_ext/tiling.py");
        // python3 is a prerequisite of the test suite (scripts/test.sh installs it): missing, this fails.
        let out = std::process::Command::new("python3").arg(script).arg("--memory-map").output().expect("running python3");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let text = String::from_utf8(out.stdout).unwrap();
        for d in HEAD_DIMS {
            let m = Tiling::of(d).unwrap().memory_map();
            let mine: Vec<String> = m.buffers.iter().map(|b| format!("{d} {} {} {}", b.name, b.offset, b.bytes)).collect();
            let theirs: Vec<&str> = text.lines().filter(|l| l.starts_with(&format!("{d} "))).collect();
            assert_eq!(mine, theirs, "D={d}");
        }
    }

    /// Decode with two KV heads (Gemma3n: 8 query heads over 2): both groups' partial tiles go
    /// to the tail buffer; each must get its own slice, and every output row exactly one copy
    /// from its own group's slice (before: both groups wrote slice 0 and heads 4-7 got heads
    /// 0-3's rows).
    #[test]
    fn two_kv_groups_in_decode_get_their_own_tail_slices() {
        let t = Tiling::of(256).unwrap();
        let mut a = Args::default();
        a.dst.ne = [256, 8, 1, 1];
        a.dst.nb = [4, 256 * 4, 8 * 256 * 4, 8 * 256 * 4];
        let p = Plan {
            t,
            kv_lo: 0,
            kv_len: 100,
            g: 4,
            n_kv_heads: 2,
            n_batch: 1,
            rows: 4,
            groups_per_bg: 1,
            n_groups: 2,
            n_blocks: 7,
            flags: 0,
            scale: 1.0,
            softcap: 0.0,
            slopes: vec![],
            sinks: vec![],
        };
        let copies = p.tail_copies(&a);
        assert_eq!(copies.len(), 8, "8 heads x 1 query");
        let mut dsts: Vec<usize> = copies.iter().map(|c| c.1).collect();
        dsts.sort();
        dsts.dedup();
        assert_eq!(dsts.len(), 8, "every head's row written once: {copies:?}");
        let mut srcs: Vec<usize> = copies.iter().map(|c| c.0).collect();
        srcs.sort();
        srcs.dedup();
        assert_eq!(srcs.len(), 8, "every row read from its own place in the tail: {copies:?}");
        // heads 4..8 (KV head 1) come from the second slice
        for (src, dst) in copies {
            let head = dst / (256 * 4);
            assert_eq!(src / tail_offset(&t, 1, 0), usize::from(head >= 4), "head {head} from tail offset {src}");
        }
        assert!(tail_len(&t, 2) >= tail_offset(&t, 1, t.rows - 1) + t.bq * t.d);
    }

    /// Short slices (fewer keys than 4 blocks) still give every column one block (before: 0
    /// blocks, and a DMA repeat count of -1 on the NPU).
    #[test]
    fn short_kv_gives_every_column_a_block() {
        let t = Tiling::of(256).unwrap();
        for kv in [1usize, 15, 16, 17, 63, 64, 65, 100] {
            let p = Plan {
                t,
                kv_lo: 0,
                kv_len: kv,
                g: 4,
                n_kv_heads: 2,
                n_batch: 1,
                rows: 4,
                groups_per_bg: 1,
                n_groups: 2,
                n_blocks: kv.div_ceil(t.bk),
                flags: 0,
                scale: 1.0,
                softcap: 0.0,
                slopes: vec![],
                sinks: vec![],
            };
            let nb: Vec<usize> = (0..4).map(|c| p.blocks_of_column(c)).collect();
            assert!(nb.iter().all(|&n| n >= 1), "kv {kv}: {nb:?}");
            assert_eq!(nb.iter().sum::<usize>(), p.n_blocks.max(4), "kv {kv}: {nb:?}");
        }
    }

    #[test]
    fn blocks_go_round_robin_to_the_columns() {
        let t = Tiling::of(256).unwrap();
        let p = Plan {
            t,
            kv_lo: 0,
            kv_len: 113,
            g: 4,
            n_kv_heads: 2,
            n_batch: 1,
            rows: 4,
            groups_per_bg: 1,
            n_groups: 2,
            n_blocks: 113usize.div_ceil(16),
            flags: 0,
            scale: 1.0,
            softcap: 0.0,
            slopes: vec![],
            sinks: vec![],
        };
        // 8 blocks: columns 0..3 get 2 each; 113 keys: the last block has 1 key
        assert_eq!((0..4).map(|c| p.blocks_of_column(c)).collect::<Vec<_>>(), vec![2, 2, 2, 2]);
        let p9 = Plan { n_blocks: 9, ..p.clone() };
        assert_eq!((0..4).map(|c| p9.blocks_of_column(c)).collect::<Vec<_>>(), vec![3, 2, 2, 2]);
        assert_eq!(p.group(1), (0, 1, 0));
        let p2 = Plan { groups_per_bg: 3, n_groups: 6, ..p.clone() };
        assert_eq!(p2.group(3), (0, 1, 4)); // t4 = 1, second KV head
        assert_eq!(p.rtp(2, 3)[rtp::COL], 2);
        assert_eq!(p.rtp(2, 3)[rtp::ROW], 3);
    }
}
