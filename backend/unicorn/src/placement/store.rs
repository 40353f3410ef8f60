//! The placement file (`$UNICORN_CACHE/placement.txt`) and the injected timings of the tests.
use std::path::{Path, PathBuf};

use super::cost::CostModel;
use super::{Shape, Timings, IGPU, NPU};
use crate::log::log_warn;

/// `$UNICORN_CACHE/placement.txt` (`UNICORN_PLACEMENT_FILE` names another): one `attention`
/// line per measured (devices, shape), and the `npu-calibration` line the validation script
/// writes. Lines of `key=value` words.
pub fn file_path() -> PathBuf {
    crate::env::text("UNICORN_PLACEMENT_FILE").map_or_else(|| crate::env::cache_dir().join("placement.txt"), PathBuf::from)
}

/// A device's engine name as one word (the file's key).
pub(super) fn word(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join("_").replace('=', ":")
}

fn fields(line: &str) -> Vec<(&str, &str)> {
    line.split_whitespace().filter_map(|w| w.split_once('=')).collect()
}

pub(super) fn us(v: Option<f64>) -> String {
    v.map_or("none".into(), |v| format!("{v:.1}"))
}

/// The `attention` line of a verdict from timings.
pub(super) fn entry_line(npu: &str, igpu: &str, s: &Shape, t: &Timings, source: &str) -> String {
    format!(
        "attention d={} heads={} kv_heads={} kv={} n_kv={} decode_npu_us={} decode_igpu_us={} prefill_npu_us={} prefill_igpu_us={} source={} npu={} igpu={}",
        s.d, s.heads, s.kv_heads, s.kv_type, s.n_kv,
        us(t.decode[NPU]), us(t.decode[IGPU]), us(t.prefill[NPU]), us(t.prefill[IGPU]),
        word(source), word(npu), word(igpu)
    )
}

/// The timings stored for these devices and this model's shape, with their source.
pub(super) fn find_entry(text: &str, npu: &str, igpu: &str, s: &Shape) -> Option<(Timings, String)> {
    let (npu, igpu) = (word(npu), word(igpu));
    text.lines().filter(|l| l.starts_with("attention ")).find_map(|l| {
        let f = fields(l);
        let get = |k: &str| f.iter().find(|(key, _)| *key == k).map(|(_, v)| *v);
        let num = |k: &str| get(k).and_then(|v| v.parse::<usize>().ok());
        let stored = Shape { d: num("d")?, heads: num("heads")?, kv_heads: num("kv_heads")?, kv_type: s.kv_type, n_kv: num("n_kv")? };
        let matches = get("kv") == Some(s.kv_type) && stored.same_model(s) && get("npu") == Some(npu.as_str()) && get("igpu") == Some(igpu.as_str());
        if !matches {
            return None;
        }
        let t = |k: &str| get(k).and_then(|v| v.parse::<f64>().ok());
        let timings = Timings { decode: [t("decode_npu_us"), t("decode_igpu_us")], prefill: [t("prefill_npu_us"), t("prefill_igpu_us")] };
        Some((timings, format!("{} (stored in {})", get("source").unwrap_or("measured"), file_path().display())))
    })
}

/// The cost model with the NPU figures of the file's `npu-calibration` line, if any.
pub(super) fn calibrated(text: &str) -> (CostModel, bool) {
    let mut m = CostModel::default();
    let Some(line) = text.lines().find(|l| l.starts_with("npu-calibration ")) else { return (m, false) };
    let mut any = false;
    for (k, v) in fields(line) {
        let Ok(v) = v.parse::<f64>() else { continue };
        if !(v.is_finite() && v > 0.0) {
            continue;
        }
        match k {
            "command_us" => m.command_us = v,
            "dma_gbs" => m.dma_gbs = v,
            "cycles_per_tile" => m.cycles_per_tile = v,
            _ => continue,
        }
        any = true;
    }
    (m, any)
}

pub(super) fn append_line(path: &Path, line: &str) -> Result<(), String> {
    use std::io::Write;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let mut f = std::fs::OpenOptions::new().create(true).append(true).open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    writeln!(f, "{line}").map_err(|e| format!("{}: {e}", path.display()))
}

/// `UNICORN_PLACEMENT_TIMINGS=decode=NPU_US/IGPU_US,prefill=NPU_US/IGPU_US` (tests).
pub(super) fn injected() -> Option<Timings> {
    let v = crate::env::text("UNICORN_PLACEMENT_TIMINGS")?;
    let parsed = parse_injected(&v);
    if parsed.is_none() {
        log_warn!("UNICORN_PLACEMENT_TIMINGS={v:?} is not decode=NPU_US/IGPU_US,prefill=NPU_US/IGPU_US; ignored");
    }
    parsed
}

fn parse_injected(v: &str) -> Option<Timings> {
    let mut t = Timings { decode: [None; 2], prefill: [None; 2] };
    let mut seen = (false, false);
    for part in v.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (phase, pair) = part.split_once('=')?;
        let (n, g) = pair.split_once('/')?;
        let pair = [Some(n.trim().parse::<f64>().ok()?), Some(g.trim().parse::<f64>().ok()?)];
        match phase.trim() {
            "decode" => (t.decode, seen.0) = (pair, true),
            "prefill" => (t.prefill, seen.1) = (pair, true),
            _ => return None,
        }
    }
    (seen.0 && seen.1).then_some(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Gemma3n E2B's attention (8 query heads over 2 KV heads of 256, bf16 cache), context 4096.
    fn e2b() -> Shape {
        Shape { d: 256, heads: 8, kv_heads: 2, kv_type: "bf16", n_kv: 4096 }
    }

    #[test]
    fn injected_timings_parse_or_are_refused() {
        let t = parse_injected("decode=50/100, prefill=3000/2000").unwrap();
        assert_eq!(t.decode, [Some(50.0), Some(100.0)]);
        assert_eq!(t.prefill, [Some(3000.0), Some(2000.0)]);
        for bad in ["decode=50/100", "decode=50,prefill=1/2", "decode=a/b,prefill=1/2", "train=1/2,decode=1/2,prefill=1/2"] {
            assert_eq!(parse_injected(bad), None, "{bad}");
        }
    }

    #[test]
    fn stored_entries_are_found_for_the_same_devices_and_model_only() {
        let s = e2b();
        let t = Timings { decode: [Some(80.0), Some(120.0)], prefill: [None, Some(4000.0)] };
        let line = entry_line("XRT on RyzenAI-npu1", "HIP gfx1103", &s, &t, "measured");
        let text = format!("# comment\n{line}\n");
        let (got, source) = find_entry(&text, "XRT on RyzenAI-npu1", "HIP gfx1103", &Shape { n_kv: 256, ..s.clone() }).unwrap();
        assert_eq!(got, t);
        assert!(source.starts_with("measured"), "{source}");
        assert!(find_entry(&text, "CPU reference (emulated)", "HIP gfx1103", &s).is_none(), "other devices");
        assert!(find_entry(&text, "XRT on RyzenAI-npu1", "HIP gfx1103", &Shape { d: 128, ..s.clone() }).is_none(), "other model");
        assert!(find_entry(&text, "XRT on RyzenAI-npu1", "HIP gfx1103", &Shape { kv_type: "f16", ..s }).is_none(), "other KV type");
    }
}
