//! `UNICORN_STATS=1`: a table per device and op family at process exit: launches (kernels
//! computed), total time, share of the device's time, bytes moved (sources read plus result
//! written). Times are host clocks around each call, as in `trace` (under emulation:
//! the kernel's time on the CPU; for an asynchronous engine: the launch).
//!
//! The API is one call, so the hook in `backend.rs` stays one line:
//! `stats::record(device, op, dur, bytes)`.
use std::collections::BTreeMap;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use crate::log::log_warn;

#[derive(Default, Clone, Copy)]
struct Row {
    count: u64,
    total: Duration,
    bytes: u64,
}

type Table = BTreeMap<(String, String), Row>;

fn state() -> Option<&'static Mutex<Table>> {
    static STATE: OnceLock<Option<Mutex<Table>>> = OnceLock::new();
    STATE
        .get_or_init(|| {
            if !crate::env::switch("UNICORN_STATS", false) {
                return None;
            }
            // SAFETY: `print_at_exit` is an `extern "C" fn()` that lives as long as the library;
            // glibc runs handlers registered from a shared object before it is unloaded.
            if unsafe { libc::atexit(print_at_exit) } != 0 {
                log_warn!("UNICORN_STATS: could not register the exit handler; no table will be printed");
            }
            Some(Mutex::new(Table::new()))
        })
        .as_ref()
}

/// True when `UNICORN_STATS` is on: the hooks skip measuring otherwise.
pub fn enabled() -> bool {
    state().is_some()
}

/// Counts one kernel of op family `op` on `device` that took `dur` and moved `bytes`.
pub fn record(device: &str, op: &str, dur: Duration, bytes: u64) {
    let Some(m) = state() else { return };
    let Ok(mut t) = m.lock() else { return };
    let row = t.entry((device.to_string(), op.to_string())).or_default();
    row.count += 1;
    row.total += dur;
    row.bytes += bytes;
}

/// Bytes a kernel moves: every source read once plus the result written once. SET_ROWS reads
/// its rows (src0) and indices (src1) and writes only those rows into the destination it views
/// (src2, which ggml lists as a source too: not read, not written whole).
pub fn node_bytes(node: &crate::tensor::Tensor) -> u64 {
    let read = |n: usize| (0..n).filter_map(|i| node.src(i)).map(|s| s.nbytes()).sum::<usize>();
    let bytes = match crate::tensor::op_name(node) {
        "SET_ROWS" => read(2) + node.src(0).map_or(0, |rows| rows.nrows() * node.row_size()),
        _ => read(10) + node.nbytes(),
    };
    bytes as u64
}

fn render(t: &Table) -> String {
    use std::fmt::Write as _;
    let emulated = crate::trace::emulated();
    let mut o = String::new();
    let _ = writeln!(
        o,
        "unicorn: UNICORN_STATS: per device and op family (host clocks{})",
        if emulated { "; devices EMULATED on the CPU" } else { "" }
    );
    let _ = writeln!(o, "unicorn: {:<16} {:<16} {:>9} {:>12} {:>7} {:>12}", "device", "op", "launches", "total ms", "share", "MB moved");
    let mut devices: Vec<&String> = t.keys().map(|(d, _)| d).collect();
    devices.dedup();
    for dev in devices {
        let rows: Vec<(&String, &Row)> = t.iter().filter(|((d, _), _)| d == dev).map(|((_, op), r)| (op, r)).collect();
        let dev_total: f64 = rows.iter().map(|(_, r)| r.total.as_secs_f64()).sum();
        let mut sorted = rows.clone();
        sorted.sort_by(|a, b| b.1.total.cmp(&a.1.total));
        for (op, r) in &sorted {
            let share = if dev_total > 0.0 { 100.0 * r.total.as_secs_f64() / dev_total } else { 0.0 };
            let _ = writeln!(
                o,
                "unicorn: {:<16} {:<16} {:>9} {:>12.3} {:>6.1}% {:>12.3}",
                dev,
                op,
                r.count,
                r.total.as_secs_f64() * 1e3,
                share,
                r.bytes as f64 / 1e6
            );
        }
        let count: u64 = rows.iter().map(|(_, r)| r.count).sum();
        let bytes: u64 = rows.iter().map(|(_, r)| r.bytes).sum();
        let _ = writeln!(o, "unicorn: {:<16} {:<16} {:>9} {:>12.3} {:>6.1}% {:>12.3}", dev, "(all)", count, dev_total * 1e3, 100.0, bytes as f64 / 1e6);
    }
    o
}

/// Prints the table on stderr (at exit ggml's logger may already be gone).
pub fn print() {
    let Some(m) = state() else { return };
    let Ok(t) = m.lock() else { return };
    if !t.is_empty() {
        eprint!("{}", render(&t));
    }
}

extern "C" fn print_at_exit() {
    // No unwinding out of an exit handler.
    let _ = std::panic::catch_unwind(print);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_sums_per_device() {
        let mut t = Table::new();
        t.insert(("IGPU".into(), "MUL_MAT".into()), Row { count: 3, total: Duration::from_millis(30), bytes: 3_000_000 });
        t.insert(("IGPU".into(), "ADD".into()), Row { count: 1, total: Duration::from_millis(10), bytes: 1_000_000 });
        let s = render(&t);
        assert!(s.contains("75.0%"), "{s}");
        assert!(s.contains("25.0%"), "{s}");
        let all = s.lines().find(|l| l.contains("(all)")).unwrap();
        assert!(all.contains(" 4 ") && all.contains("40.000") && all.contains("4.000"), "{all}");
    }
}
