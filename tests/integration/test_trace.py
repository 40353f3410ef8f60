"""UNICORN_TRACE (Chrome trace events) and UNICORN_STATS (per device and op family table) on a
real completion through --backend unicorn (emulated), docs/observability.md.

- the trace parses as JSON and has the documented shape: metadata naming one track per Unicorn
  device plus the CPU track, complete events with ts/dur, kernel args op/tensor/shape/type/engine/
  nodes (a fused chain is one kernel named `OP+OP+... (fused)` computing several nodes),
  `otherData` saying the clock is the host's and the devices EMULATED;
- spans of one kind on one track do not overlap, and every kernel lies inside a split of its track;
- the nodes the kernels computed per generated token equal what the scheduler dispatched to
  Unicorn for one decode graph (GGML_SCHED_DEBUG=2): (nodes of a 6-token run - of a 2-token run)
  / 4; and the iGPU ran fewer kernels than nodes (fusion);
- UNICORN_STATS's launch count per device equals the trace's kernel count for that device.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict

from conftest import IGPU, NPU, completion, run_tool
from sched_debug import SCHED_DEBUG_ARGS, SCHED_DEBUG_ENV, parse_sched_debug

CPU_TRACK = "CPU (between Unicorn splits)"
PROMPT = "The capital of France is"


def run(tool, args, unicorn, timeout=300, env=None):
    """Like conftest's `run` fixture, without its check that every tool is built (this test
    needs llama-completion only, which scripts/setup-llama.sh's main set builds)."""
    return run_tool(tool, [str(a) for a in args], unicorn, timeout, env)


def traced(model, n, tmp_path):
    path = tmp_path / f"trace-{n}.json"
    env = dict(SCHED_DEBUG_ENV, UNICORN_TRACE=str(path), UNICORN_STATS="1", LLAMA_GRAPH_REUSE_DISABLE="1")
    res = completion(run, str(model), PROMPT, n, unicorn=True, extra=SCHED_DEBUG_ARGS, env=env)
    assert path.is_file(), f"UNICORN_TRACE={path}: no file written"
    return json.loads(path.read_text()), res


def tracks(trace):
    return {e["tid"]: e["args"]["name"] for e in trace["traceEvents"] if e.get("ph") == "M" and e["name"] == "thread_name"}


def spans(trace):
    return [e for e in trace["traceEvents"] if e.get("ph") == "X"]


def check_shape(trace):
    assert set(trace) >= {"traceEvents", "otherData"}, list(trace)
    other = trace["otherData"]
    assert other["emulated"] is True and "EMULATED" in other["clock"], other
    assert other["dropped"] == 0, f"the ring dropped {other['dropped']} events (cap {other['cap']})"
    names = tracks(trace)
    assert {IGPU, NPU, CPU_TRACK} <= set(names.values()), f"tracks: {sorted(names.values())}"
    for e in spans(trace):
        assert e["tid"] in names, e
        assert e["cat"] in ("split", "kernel", "cpu"), e
        assert e["ts"] >= 0 and e["dur"] >= 0, e
        if e["cat"] == "kernel":
            assert set(e["args"]) == {"op", "tensor", "shape", "type", "engine", "nodes"}, e
            assert e["name"] == e["args"]["op"] and re.fullmatch(r"\[\d+, \d+, \d+, \d+\]", e["args"]["shape"]), e
            # one node's kernel, or a fused chain named after its nodes' ops
            n = int(e["args"]["nodes"])
            assert n >= 1 and (n == 1) == (not e["name"].endswith(" (fused)")), e
    kernels = Counter((names[e["tid"]], e["name"]) for e in spans(trace) if e["cat"] == "kernel")
    assert kernels[(NPU, "FLASH_ATTN_EXT")] > 0 and kernels[(IGPU, "MUL_MAT")] > 0, kernels
    return names


def check_no_overlap(trace, names):
    eps = 0.002  # ts and dur are each rounded to 1 ns
    by = defaultdict(list)
    for e in spans(trace):
        by[(e["tid"], e["cat"])].append(e)
    for (tid, cat), evs in by.items():
        evs.sort(key=lambda e: e["ts"])
        for a, b in zip(evs, evs[1:]):
            assert a["ts"] + a["dur"] <= b["ts"] + eps, f"{names[tid]}: {cat} spans overlap:\n  {a}\n  {b}"
    for tid in names:
        splits = by.get((tid, "split"), [])
        starts = [s["ts"] for s in splits]
        for k in by.get((tid, "kernel"), []):
            import bisect
            i = bisect.bisect_right(starts, k["ts"] + eps) - 1
            assert i >= 0, f"{names[tid]}: kernel before any split: {k}"
            s = splits[i]
            assert k["ts"] + k["dur"] <= s["ts"] + s["dur"] + eps, f"{names[tid]}: kernel outside its split:\n  {k}\n  {s}"


def kernel_counts(trace, names):
    return Counter(names[e["tid"]] for e in spans(trace) if e["cat"] == "kernel")


def node_counts(trace, names):
    """Graph nodes the kernels computed, per device (a fused kernel computes several)."""
    out = Counter()
    for e in spans(trace):
        if e["cat"] == "kernel":
            out[names[e["tid"]]] += int(e["args"]["nodes"])
    return out


def stats_launches(text):
    """Per device: the '(all)' line's launch count from the UNICORN_STATS table."""
    out = {}
    for m in re.finditer(r"^unicorn: (\S+)\s+\(all\)\s+(\d+)\s", text, re.M):
        out[m.group(1)] = int(m.group(2))
    return out


def test_trace_and_stats_of_a_completion(model_path, tmp_path):
    short, short_res = traced(model_path, 2, tmp_path)
    long, long_res = traced(model_path, 6, tmp_path)
    for trace, res in ((short, short_res), (long, long_res)):
        names = check_shape(trace)
        check_no_overlap(trace, names)
        counts = kernel_counts(trace, names)
        launches = stats_launches(res.output)
        print(f"trace kernels per device {dict(counts)}; UNICORN_STATS launches {launches}")
        assert launches == dict(counts), f"UNICORN_STATS launches {launches} != trace kernels {dict(counts)}"

    graphs = parse_sched_debug(long_res.output)
    assert graphs, "no GGML_SCHED_DEBUG dump in the log"
    decode = graphs[-1]  # the last graph scheduled: a one-token decode
    dispatched = Counter(n.backend for n in decode.nodes if n.backend.startswith("UNICORN_"))
    per_token = {d: (node_counts(long, tracks(long))[d] - node_counts(short, tracks(short))[d]) / 4
                 for d in (IGPU, NPU)}
    kernels = {d: (kernel_counts(long, tracks(long))[d] - kernel_counts(short, tracks(short))[d]) / 4
               for d in (IGPU, NPU)}
    print(f"scheduler, one decode graph: {dict(dispatched)}; trace nodes per extra token: {per_token}, "
          f"kernels (fused chains count once): {kernels}")
    assert per_token == {d: dispatched[d] for d in (IGPU, NPU)}, (
        f"trace nodes per token {per_token} != nodes the scheduler dispatched to Unicorn per decode {dict(dispatched)}")
    assert kernels[IGPU] < per_token[IGPU], f"no fused kernel on {IGPU}: {kernels} kernels for {per_token} nodes"
