//! `UNICORN_TRACE=path.json`: a Chrome trace-event file (opens in Perfetto and
//! chrome://tracing) of what Unicorn computed.
//!
//! - One track (`tid`) per Unicorn device, plus one named `CPU (between Unicorn splits)` for the
//!   host time from the end of one Unicorn split to the start of the next (llama.cpp's CPU
//!   backend, the scheduler, sampling).
//! - A complete event (`"ph": "X"`) per split (`cat: "split"`) and per kernel (`cat: "kernel"`,
//!   nested inside its split); kernel args: op, tensor, shape, type, engine.
//! - Clocks: host `Instant`s taken around each call. Under emulation (`UNICORN_EMULATE=1`) the
//!   kernel runs synchronously inside that call, so the span is the kernel's time on the CPU;
//!   for an asynchronous engine (the GPU) a kernel span is its launch only and the split span
//!   ends after the split's synchronize. `otherData.clock` says this in the file itself.
//! - Bounded: a ring of the last `UNICORN_TRACE_MAX` events (default 200,000, about 40 MB of
//!   JSON), so a server left up for days does not grow without end; `otherData.dropped` counts
//!   the events the ring let go.
//! - Written at process exit (and whenever a Unicorn backend is freed), whole, to a temporary
//!   file renamed into place, so a reader never sees half a file.
//!
//! The API is two calls, so the hooks in `backend.rs` stay one line each:
//! `trace::span(track, name, fields, t0, t1)` and `trace::enabled()`.
use std::collections::VecDeque;
use std::fmt::Write as _;
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

use crate::log::{log_error, log_info, log_warn};

/// The track of host time between Unicorn splits.
pub const CPU_TRACK: &str = "CPU (between Unicorn splits)";

struct Event {
    track: u32,
    name: String,
    cat: &'static str,
    t0: Instant,
    dur_us: f64,
    args: Vec<(&'static str, String)>,
}

struct Trace {
    path: String,
    cap: usize,
    tracks: Vec<String>,
    events: VecDeque<Event>,
    dropped: u64,
    /// End of the last Unicorn split (for the CPU track).
    last_split_end: Option<Instant>,
}

fn state() -> Option<&'static Mutex<Trace>> {
    static STATE: OnceLock<Option<Mutex<Trace>>> = OnceLock::new();
    STATE
        .get_or_init(|| {
            let path = std::env::var("UNICORN_TRACE").ok().filter(|p| !p.trim().is_empty())?;
            let cap = match std::env::var("UNICORN_TRACE_MAX") {
                Ok(v) => v.trim().parse::<usize>().ok().filter(|&n| n > 0).unwrap_or_else(|| {
                    log_warn!("UNICORN_TRACE_MAX={v:?} is not a positive number; using 200000");
                    200_000
                }),
                Err(_) => 200_000,
            };
            // SAFETY: `write_at_exit` is an `extern "C" fn()` that lives as long as the library;
            // glibc runs handlers registered from a shared object before it is unloaded.
            if unsafe { libc::atexit(write_at_exit) } != 0 {
                log_warn!("UNICORN_TRACE: could not register the exit handler; the trace is written when a backend is freed");
            }
            log_info!("UNICORN_TRACE: writing a Chrome trace to {path} at exit (last {cap} events kept)");
            Some(Mutex::new(Trace {
                path,
                cap,
                tracks: vec![],
                events: VecDeque::new(),
                dropped: 0,
                last_split_end: None,
            }))
        })
        .as_ref()
}

/// True when `UNICORN_TRACE` is set: the hooks skip building fields otherwise.
pub fn enabled() -> bool {
    state().is_some()
}

/// Records one span on `track` (a device name or `CPU_TRACK`). `name` is what the timeline
/// shows (the op, or `split`); a `split` span also records the CPU track's gap before it.
pub fn span(track: &str, name: &str, fields: &[(&'static str, String)], t0: Instant, t1: Instant) {
    let Some(m) = state() else { return };
    let Ok(mut t) = m.lock() else { return };
    let cat = if name == "split" { "split" } else { "kernel" };
    if cat == "split" {
        if let Some(prev) = t.last_split_end.filter(|&p| p < t0) {
            push(&mut t, CPU_TRACK, "outside Unicorn", "cpu", vec![], prev, t0);
        }
        t.last_split_end = Some(t1);
    }
    push(&mut t, track, name, cat, fields.to_vec(), t0, t1);
}

fn push(t: &mut Trace, track: &str, name: &str, cat: &'static str, args: Vec<(&'static str, String)>, t0: Instant, t1: Instant) {
    let id = match t.tracks.iter().position(|n| n == track) {
        Some(i) => i,
        None => {
            t.tracks.push(track.to_string());
            t.tracks.len() - 1
        }
    } as u32;
    let dur_us = t1.saturating_duration_since(t0).as_secs_f64() * 1e6;
    if t.events.len() >= t.cap {
        t.events.pop_front();
        t.dropped += 1;
    }
    t.events.push_back(Event { track: id + 1, name: name.to_string(), cat, t0, dur_us, args });
}

/// The fields of a kernel span: shape and type of the node, the engine that ran it.
pub fn node_fields(node: &crate::tensor::Tensor, engine: &str) -> Vec<(&'static str, String)> {
    let ne = node.ne();
    vec![
        ("op", crate::tensor::op_name(node).to_string()),
        ("tensor", node.name().to_string()),
        ("shape", format!("[{}, {}, {}, {}]", ne[0], ne[1], ne[2], ne[3])),
        ("type", crate::tensor::type_name(node.dtype()).to_string()),
        ("engine", engine.to_string()),
    ]
}

fn json_str(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 2);
    o.push('"');
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(o, "\\u{:04x}", c as u32);
            }
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

/// Devices emulated on the CPU (`UNICORN_EMULATE=1`, the switch every engine obeys).
pub fn emulated() -> bool {
    crate::env::switch("UNICORN_EMULATE", false)
}

/// The whole trace as Chrome trace-event JSON (object form).
fn render(t: &Trace) -> String {
    let emulated = emulated();
    let mut o = String::from("{\"traceEvents\":[\n");
    let _ = write!(o, "{{\"ph\":\"M\",\"pid\":1,\"tid\":0,\"name\":\"process_name\",\"args\":{{\"name\":{}}}}}", json_str(if emulated { "Unicorn (EMULATED on the CPU)" } else { "Unicorn" }));
    for (i, name) in t.tracks.iter().enumerate() {
        let _ = write!(o, ",\n{{\"ph\":\"M\",\"pid\":1,\"tid\":{},\"name\":\"thread_name\",\"args\":{{\"name\":{}}}}}", i + 1, json_str(name));
    }
    // Time zero: the earliest span kept (spans are recorded when they end, so not in start order).
    let zero = t.events.iter().map(|e| e.t0).min();
    for e in &t.events {
        let ts_us = zero.map_or(0.0, |z| e.t0.saturating_duration_since(z).as_secs_f64() * 1e6);
        let _ = write!(
            o,
            ",\n{{\"ph\":\"X\",\"pid\":1,\"tid\":{},\"name\":{},\"cat\":\"{}\",\"ts\":{:.3},\"dur\":{:.3},\"args\":{{",
            e.track,
            json_str(&e.name),
            e.cat,
            ts_us,
            e.dur_us
        );
        for (i, (k, v)) in e.args.iter().enumerate() {
            let _ = write!(o, "{}{}:{}", if i > 0 { "," } else { "" }, json_str(k), json_str(v));
        }
        o.push_str("}}");
    }
    let clock = if emulated {
        "host clock (Instant) around each call; devices EMULATED on the CPU (UNICORN_EMULATE=1), kernels run synchronously inside the span"
    } else {
        "host clock (Instant) around each call; for an asynchronous engine a kernel span is its launch, a split span ends after the split's synchronize"
    };
    let _ = write!(
        o,
        "\n],\"displayTimeUnit\":\"ms\",\"otherData\":{{\"producer\":\"libggml-unicorn\",\"clock\":{},\"emulated\":{},\"events\":{},\"dropped\":{},\"cap\":{}}}}}\n",
        json_str(clock),
        emulated,
        t.events.len(),
        t.dropped,
        t.cap
    );
    o
}

/// Writes the trace file (whole, renamed into place). Called at exit and when a backend is freed.
pub fn write() {
    let Some(m) = state() else { return };
    let Ok(t) = m.lock() else { return };
    let tmp = format!("{}.tmp{}", t.path, std::process::id());
    let result = std::fs::write(&tmp, render(&t)).and_then(|_| std::fs::rename(&tmp, &t.path));
    if let Err(e) = result {
        log_error!("UNICORN_TRACE: could not write {}: {e}", t.path);
    }
}

extern "C" fn write_at_exit() {
    // No unwinding out of an exit handler.
    let _ = std::panic::catch_unwind(write);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn ring_is_bounded_and_json_escapes() {
        let start = Instant::now();
        let mut t = Trace { path: String::new(), cap: 3, tracks: vec![], events: VecDeque::new(), dropped: 0, last_split_end: None };
        for i in 0..5u64 {
            let t0 = start + Duration::from_micros(10 * i);
            push(&mut t, "DEV\"0", "op\\x", "kernel", vec![("tensor", "a\nb".into())], t0, t0 + Duration::from_micros(5));
        }
        assert_eq!(t.events.len(), 3);
        assert_eq!(t.dropped, 2);
        let json = render(&t);
        assert!(json.contains("\"DEV\\\"0\""));
        assert!(json.contains("\"op\\\\x\""));
        assert!(json.contains("\"a\\u000ab\""));
        assert!(json.contains("\"dropped\":2"));
        // The oldest kept event (the third pushed) is time zero; the last is 20 us later.
        assert!(json.contains("\"ts\":0.000"));
        assert!(json.contains("\"ts\":20.000"));
        assert!(!json.contains("\"ts\":30.000"));
    }
}
