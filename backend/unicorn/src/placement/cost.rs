//! The cost model of `docs/npu-cost-model.md`, reduced to the terms that decide placement.
use super::{Shape, Timings, PREFILL_ROWS};

/// The cost model of `docs/npu-cost-model.md` (`scripts/npu-cost-model.py`, "as written"
/// kernel), reduced to the terms that decide placement. The NPU figures are the ones the
/// validation script measures and writes to the placement file's `npu-calibration` line.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CostModel {
    /// One XRT command, submit to completion (public Phoenix figures: 42..160 us; the middle).
    pub command_us: f64,
    /// One column's K+mask input stream, GB/s (one shim channel, 4 B/cycle at 1.6 GHz).
    pub dma_gbs: f64,
    /// Cycles of one core for one 16-row tile against one 16-key block at D = 256.
    pub cycles_per_tile: f64,
    pub clock_ghz: f64,
    /// The iGPU: K/V read rate, attention math rate and launch cost (assumptions of the doc).
    pub igpu_gbs: f64,
    pub igpu_tflops: f64,
    pub igpu_launch_us: f64,
}

impl Default for CostModel {
    fn default() -> Self {
        CostModel {
            command_us: 100.0,
            dma_gbs: 6.4,
            cycles_per_tile: 5120.0,
            clock_ghz: 1.6,
            igpu_gbs: 0.74 * 89.6,
            igpu_tflops: 0.25 * 16.6,
            igpu_launch_us: 10.0,
        }
    }
}

impl CostModel {
    pub const COLS: usize = 4;
    pub const GROUP_ROWS: usize = 64; // 4 cores x 16 packed query rows per column
    pub const BLOCK: usize = 16; // keys per block

    /// Modelled microseconds of one attention node of `n_q` query rows on the NPU.
    pub fn npu_us(&self, s: &Shape, n_q: usize) -> f64 {
        let g = (s.heads / s.kv_heads.max(1)).max(1);
        let rows = n_q * g;
        let groups = s.kv_heads * rows.div_ceil(Self::GROUP_ROWS);
        let per_col = s.n_kv.div_ceil(Self::BLOCK).div_ceil(Self::COLS);
        let tile_rows = rows.min(16).div_ceil(4) as f64 / 4.0;
        let tile = self.cycles_per_tile * (s.d as f64 / 256.0) * tile_rows;
        let dma_bytes = (Self::BLOCK * s.d * 2 + Self::GROUP_ROWS * Self::BLOCK * 2) as f64;
        let dma = dma_bytes / (self.dma_gbs / self.clock_ghz);
        self.command_us + (groups * per_col) as f64 * tile.max(dma) / (self.clock_ghz * 1e3)
    }

    /// Modelled microseconds of the same node on the iGPU.
    pub fn igpu_us(&self, s: &Shape, n_q: usize) -> f64 {
        let bytes = (2 * s.n_kv * s.d * s.kv_heads * 2) as f64;
        let flops = (4 * n_q * s.n_kv * s.d * s.heads) as f64;
        self.igpu_launch_us + (bytes / (self.igpu_gbs * 1e3)).max(flops / (self.igpu_tflops * 1e6))
    }

    pub fn timings(&self, s: &Shape) -> Timings {
        let t = |n_q| [Some(self.npu_us(s, n_q)), Some(self.igpu_us(s, n_q))];
        Timings { decode: t(1), prefill: t(PREFILL_ROWS) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use super::super::store::calibrated;
    use super::super::Verdict;
    use crate::engine::Role;

    /// Gemma3n E2B's attention (8 query heads over 2 KV heads of 256, bf16 cache), context 4096.
    fn e2b() -> Shape {
        Shape { d: 256, heads: 8, kv_heads: 2, kv_type: "bf16", n_kv: 4096 }
    }

    #[test]
    fn cost_model_matches_the_docs_tables() {
        // docs/npu-cost-model.md, per layer at context 4096 (global layer): decode NPU
        // 254-372 us against the iGPU's 137 us; prefill 512 NPU 12.5-12.7 ms against 3.9 ms.
        let m = CostModel::default();
        let s = e2b();
        let (nd, gd) = (m.npu_us(&s, 1), m.igpu_us(&s, 1));
        let (np, gp) = (m.npu_us(&s, 512), m.igpu_us(&s, 512));
        assert!((250.0..=375.0).contains(&nd), "decode NPU {nd} us");
        assert!((125.0..=150.0).contains(&gd), "decode iGPU {gd} us");
        assert!((12_000.0..=13_500.0).contains(&np), "prefill NPU {np} us");
        assert!((3_700.0..=4_300.0).contains(&gp), "prefill iGPU {gp} us");
        let v = Verdict::from_timings(&m.timings(&s), "cost model");
        assert_eq!((v.decode, v.prefill), (Role::Igpu, Role::Igpu));
    }

    #[test]
    fn a_calibrated_fast_npu_takes_prefill_only() {
        // An NPU whose tile runs at the tuned kernel's DMA bound (2,560 cycles), with a fast
        // command: prefill moves to the NPU, decode (a K/V stream plus a command) stays.
        let (m, any) = calibrated("npu-calibration command_us=40 dma_gbs=12.8 cycles_per_tile=1446 source=test\n");
        assert!(any);
        assert_eq!(m.cycles_per_tile, 1446.0);
        let v = Verdict::from_timings(&m.timings(&e2b()), "calibrated");
        assert_eq!((v.decode, v.prefill), (Role::Igpu, Role::Npu), "{:?}", m.timings(&e2b()));
        // Rubbish in the calibration line is ignored, not taken for a figure.
        let (m, any) = calibrated("npu-calibration command_us=-3 dma_gbs=fast\n");
        assert!(!any);
        assert_eq!(m, CostModel::default());
    }
}
