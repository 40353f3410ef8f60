"""UNICORN_ATTN=auto, emulated: attention placed per phase by a verdict, stored in the cache
folder and read back (backend/unicorn/src/placement.rs, docs/placement.md).

The emulated devices are both the CPU, so their own timings would decide nothing; the tests
inject timings (UNICORN_PLACEMENT_TIMINGS, the test hook of the measurement) and check what the
plugin does with them: the scheduler runs decode attention on UNICORN_NPU0 and prompt (prefill)
attention on UNICORN_IGPU0 when the NPU is faster at decode and slower at prefill; the verdict is
written to $UNICORN_CACHE/placement.txt and used by the next run without timings; the tokens
stay those of the CPU backend. A last test has the plugin time the emulated engines itself
(UNICORN_PLACEMENT_MEASURE=1), which runs the real measurement code on the CPU engines.
"""

from __future__ import annotations

import pytest

from conftest import COMMON, IGPU, NPU, UNICORN_ARGS, assert_same_generation, check_ok, completion
from placement_expect import expected_attention, verdict
from sched_debug import SCHED_DEBUG_ARGS, SCHED_DEBUG_ENV, parse_sched_debug

PROMPT = "The capital of France is"
# NPU 50 us vs iGPU 100 us at decode, 5000 vs 2000 us at prefill.
TIMINGS = "decode=50/100,prefill=5000/2000"


def placed_run(run, model_path, env: dict):
    res = check_ok(run("llama-completion",
                       ["-m", model_path, "-p", PROMPT, "-n", 3, "-c", 256, "--temp", 0, "-no-cnv"]
                       + COMMON + UNICORN_ARGS + SCHED_DEBUG_ARGS,
                       unicorn=True, timeout=300, env={**SCHED_DEBUG_ENV, **env}))
    graphs = parse_sched_debug(res.stderr + res.stdout)
    assert graphs, f"no scheduler dump in the output:\n{res.tail()}"
    return res, graphs


def check_per_phase(res, graphs, decode: str, prefill: str) -> None:
    v = verdict(res.output)
    assert v, f"the plugin logged no placement verdict under UNICORN_ATTN=auto:\n{res.tail()}"
    print(f"verdict: decode on {v[0]}, prefill on {v[1]} ({v[2]})")
    assert (v[0], v[1]) == (decode, prefill), v
    nodes = expected_attention(graphs, res.output, default="none")
    phases = {phase for _, _, phase, _ in nodes}
    assert phases == {"decode", "prefill"}, f"expected attention nodes of both phases, found {phases}"
    bad = [f"graph {gi} #{n.index} {n.name} ({phase}, {n.size}) on {n.backend}, expected {want}"
           for gi, n, phase, want in nodes if n.backend != want]
    counts = {(phase, n.backend): 0 for _, n, phase, _ in nodes}
    for _, n, phase, _ in nodes:
        counts[(phase, n.backend)] += 1
    print("attention nodes (phase, device): " + ", ".join(f"{k}: {c}" for k, c in sorted(counts.items())))
    assert not bad, f"{len(bad)} attention nodes off their phase's device: {bad[:8]}"


def test_auto_places_each_phase_by_injected_timings_emulated(model_path, run, tmp_path):
    cache = tmp_path / "cache"
    res, graphs = placed_run(run, model_path, {"UNICORN_ATTN": "auto", "UNICORN_CACHE": str(cache),
                                               "UNICORN_PLACEMENT_TIMINGS": TIMINGS})
    check_per_phase(res, graphs, decode=NPU, prefill=IGPU)
    assert "injected" in verdict(res.output)[2]
    stored = (cache / "placement.txt").read_text()
    print(f"placement.txt:\n{stored}")
    lines = [line for line in stored.splitlines() if line.startswith("attention ")]
    assert len(lines) == 1, stored
    for word in ["d=256", "decode_npu_us=50.0", "decode_igpu_us=100.0", "prefill_npu_us=5000.0",
                 "prefill_igpu_us=2000.0", "source=injected", "npu=CPU_reference", "igpu=CPU_reference"]:
        assert word in lines[0].split(), f"{word} not in {lines[0]}"

    # The next run, without timings, reads the stored verdict and places the same way.
    res2, graphs2 = placed_run(run, model_path, {"UNICORN_ATTN": "auto", "UNICORN_CACHE": str(cache)})
    check_per_phase(res2, graphs2, decode=NPU, prefill=IGPU)
    assert "stored in" in verdict(res2.output)[2], verdict(res2.output)

    # UNICORN_ATTN still overrides: igpu puts every attention node on the iGPU, no verdict.
    res3, graphs3 = placed_run(run, model_path, {"UNICORN_ATTN": "igpu", "UNICORN_CACHE": str(cache)})
    assert verdict(res3.output) is None
    wrong = [n.name for _, n, _, _ in expected_attention(graphs3, res3.output, default=IGPU) if n.backend != IGPU]
    assert not wrong, f"UNICORN_ATTN=igpu left attention nodes elsewhere: {wrong[:5]}"


def test_auto_split_placement_keeps_cpu_tokens_emulated(model_path, run, tmp_path):
    env = {"UNICORN_ATTN": "auto", "UNICORN_CACHE": str(tmp_path), "UNICORN_PLACEMENT_TIMINGS": TIMINGS}
    uni = completion(run, model_path, PROMPT, 8, unicorn=True, env=env, ctx=256)
    assert verdict(uni.output) and verdict(uni.output)[:2] == (NPU, IGPU), uni.tail()
    cpu = completion(run, model_path, PROMPT, 8, unicorn=False, ctx=256)
    assert_same_generation(uni, cpu, "auto placement (decode NPU, prefill iGPU) vs CPU")


def test_auto_measures_the_emulated_engines_when_asked(model_path, run, tmp_path):
    """UNICORN_PLACEMENT_MEASURE=1: the plugin times attention on both (emulated) engines at the
    model's shape, logs the times and stores them; whichever wins, each phase's nodes follow."""
    res, graphs = placed_run(run, model_path, {"UNICORN_ATTN": "auto", "UNICORN_CACHE": str(tmp_path),
                                               "UNICORN_PLACEMENT_MEASURE": "1"})
    v = verdict(res.output)
    assert v and v[2].startswith("measured-on-emulated-devices"), f"verdict {v}:\n{res.tail()}"
    assert "placement: measured attention in" in res.output
    stored = (tmp_path / "placement.txt").read_text()
    assert "source=measured-on-emulated-devices" in stored, stored
    for _, n, phase, want in expected_attention(graphs, res.output, default="none"):
        assert n.backend == want, f"{n.name} ({phase}) on {n.backend}, verdict {v}"
