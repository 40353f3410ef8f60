//! `UNICORN_GPU_PROFILE=1`: where the GPU's time goes, per kernel.
//!
//! Two runtime events are recorded around every launch (launch graphs are off while profiling,
//! so each node is its own launch); once the stream is synchronised, the time between them is
//! added to its kernel's total. The table is logged when a backend of the device is freed
//! (llama.cpp frees its context's backends at exit), then the totals start again. The times
//! are the GPU's own, without the host's launch cost: the sum is a floor for a graph's time.
use std::collections::HashMap;
use std::ffi::CStr;
use std::fmt::Write;
use std::sync::Mutex;

use crate::gpu::{Gpu, Handle, Result};

#[derive(Default)]
struct State {
    /// Launches enqueued since the last `collect`: kernel, start and end events.
    pending: Vec<(&'static CStr, Handle, Handle)>,
    /// Events to reuse.
    free: Vec<Handle>,
    /// Per kernel: launches, milliseconds.
    totals: HashMap<&'static CStr, (u64, f64)>,
}

pub struct Profiler {
    state: Mutex<State>,
}

impl Profiler {
    /// A profiler when the switch `UNICORN_GPU_PROFILE` is on.
    pub fn from_env() -> Option<Profiler> {
        crate::env::switch("UNICORN_GPU_PROFILE", false).then(|| Profiler { state: Mutex::new(State::default()) })
    }

    fn event(gpu: &Gpu, s: &mut State) -> Result<Handle> {
        match s.free.pop() {
            Some(e) => Ok(e),
            None => gpu.driver.event_create(),
        }
    }

    /// Runs `launch` between two events recorded on `stream`.
    pub fn around(&self, gpu: &Gpu, stream: Handle, kernel: &'static CStr, launch: impl FnOnce() -> Result<()>) -> Result<()> {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let (start, end) = (Self::event(gpu, &mut s)?, Self::event(gpu, &mut s)?);
        // SAFETY: events of this driver, recorded on the engine's stream.
        unsafe { gpu.driver.event_record(start, stream)? };
        let r = launch();
        // SAFETY: as above.
        unsafe { gpu.driver.event_record(end, stream)? };
        s.pending.push((kernel, start, end));
        r
    }

    /// Adds the finished launches' times to the totals. Call after the stream is synchronised.
    pub fn collect(&self, gpu: &Gpu) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let pending = std::mem::take(&mut s.pending);
        for (kernel, start, end) in pending {
            // SAFETY: both recorded on a stream that has since been synchronised.
            if let Ok(ms) = unsafe { gpu.driver.event_elapsed_ms(start, end) } {
                let t = s.totals.entry(kernel).or_default();
                t.0 += 1;
                t.1 += f64::from(ms);
            }
            s.free.extend([start, end]);
        }
    }

    /// The table of the totals so far (None when nothing ran), and a fresh start.
    pub fn report(&self) -> Option<String> {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let totals = std::mem::take(&mut s.totals);
        table(totals)
    }

    /// Frees the events (the stream must be idle).
    pub fn free(&self, gpu: &Gpu) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let pending: Vec<Handle> = s.pending.drain(..).flat_map(|(_, a, b)| [a, b]).collect();
        for e in s.free.drain(..).chain(pending) {
            // SAFETY: made by this driver, not recorded on a busy stream.
            let _ = unsafe { gpu.driver.event_destroy(e) };
        }
    }
}

fn table(totals: HashMap<&'static CStr, (u64, f64)>) -> Option<String> {
    if totals.is_empty() {
        return None;
    }
    let mut rows: Vec<_> = totals.into_iter().collect();
    rows.sort_by(|a, b| b.1 .1.total_cmp(&a.1 .1));
    let all_ms: f64 = rows.iter().map(|r| r.1 .1).sum();
    let all_n: u64 = rows.iter().map(|r| r.1 .0).sum();
    let mut out = format!(
        "GPU profile (UNICORN_GPU_PROFILE; GPU time between events around each launch, launch graphs off): {all_n} launches, {all_ms:.3} ms\n  {:<40} {:>9} {:>11} {:>6} {:>9}",
        "kernel", "launches", "total ms", "share", "mean us"
    );
    for (k, (n, ms)) in rows {
        let _ = write!(
            out,
            "\n  {:<40} {n:>9} {ms:>11.3} {:>5.1}% {:>9.2}",
            k.to_string_lossy(),
            100.0 * ms / all_ms.max(f64::MIN_POSITIVE),
            1000.0 * ms / n as f64
        );
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_sorts_by_time_and_sums() {
        let mut t = HashMap::new();
        t.insert(c"small", (4u64, 1.0f64));
        t.insert(c"big", (1, 3.0));
        let s = table(t).unwrap();
        assert!(s.contains("5 launches, 4.000 ms"), "{s}");
        let big = s.find("big").unwrap();
        let small = s.find("small").unwrap();
        assert!(big < small, "{s}");
        assert!(s.contains(" 75.0%") && s.contains("3000.00") && s.contains("250.00"), "{s}");
        assert!(table(HashMap::new()).is_none());
    }
}
