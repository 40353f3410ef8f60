"""UNICORN_* settings the plugin does not understand: each is said in a log line naming the
variable and its value, and the default is kept (README, "Environment variables";
backend/unicorn/src/env.rs). One variable is the exception the README names:
UNICORN_NPU_EMULATION with an unknown path registers no NPU device (the log says why).
"""

from __future__ import annotations

import re

from conftest import IGPU, NPU, assert_same_generation, completion
from sched_debug import SCHED_DEBUG_ARGS, SCHED_DEBUG_ENV, parse_sched_debug
from test_unicorn import PROMPTS

# variable -> a value it does not take, and what its warning must say
BAD = {
    "UNICORN_ATTN": ("sideways", r"UNICORN_ATTN=\"sideways\" is not one of npu, igpu, auto; ignored"),
    "UNICORN_IGPU_MEM": ("lots", r"UNICORN_IGPU_MEM=\"lots\" is not a size .*ignored"),
    "UNICORN_NPU_MEM": ("2X", r"UNICORN_NPU_MEM=\"2X\" is not a size .*ignored"),
    "UNICORN_DISABLE_OPS": ("NOT_AN_OP", r"UNICORN_DISABLE_OPS: NOT_AN_OP is no ggml op name.*ignored"),
    "UNICORN_FAULT": ("MUL_MAT:soon", r"UNICORN_FAULT=\"MUL_MAT:soon\" is not OP or OP:N .*ignored"),
}


def test_unknown_values_warn_and_keep_defaults_emulated(model_path, run):
    """Every variable of BAD set to a value it does not take, at once: one warning each, and
    the run is the default run: attention on UNICORN_NPU0, layer mat-muls on UNICORN_IGPU0, no
    injected fault, no budget (all layers offloaded), tokens equal to the CPU's."""
    env = {k: v for k, (v, _) in BAD.items()} | SCHED_DEBUG_ENV
    a = completion(run, model_path, PROMPTS[0], 8, True, SCHED_DEBUG_ARGS, env=env, ctx=256)
    missing = [k for k, (_, rx) in BAD.items() if not re.search(r"unicorn: " + rx, a.output)]
    assert not missing, f"no warning for {missing}:\n{a.tail()}"
    graphs = parse_sched_debug(a.stderr + a.stdout)
    fa = {n.backend for g in graphs for n in g.nodes if n.op == "FLASH_ATTN_EXT"}
    mm = {n.backend for g in graphs for n in g.nodes if n.is_ffn_matmul}
    print(f"with {len(BAD)} unknown values: FLASH_ATTN_EXT on {fa}, FFN mat-muls on {mm}")
    assert fa == {NPU} and mm == {IGPU}, f"defaults not kept: attention on {fa}, FFN on {mm}"
    assert "on CPU" not in (re.search(r"backend Unicorn: offload plan: (.*)", a.output) or [""])[0], a.tail()
    b = completion(run, model_path, PROMPTS[0], 8, False, ctx=256)
    assert_same_generation(a, b, "unknown UNICORN_* values")


def test_unknown_emulate_value_warns_emulated(model_path, run):
    """UNICORN_EMULATE=maybe: a warning, emulation stays off (its default), so without hardware
    no device registers and `--backend unicorn` fails saying why, instead of taking "maybe" for
    on or off silently."""
    res = run("llama-completion", ["-m", model_path, "-p", "hi", "-n", 1, "-no-cnv", "--backend", "unicorn"],
              unicorn=True, env={"UNICORN_EMULATE": "maybe"}, timeout=120)
    assert re.search(r"unicorn: UNICORN_EMULATE=\"maybe\" is not 1/on/true/yes or 0/off/false/no; ignored "
                     r"\(default: off\)", res.output), res.tail()
    assert res.rc != 0 and "has no devices" in res.output, res.tail()


def test_unknown_npu_emulation_path_is_said_emulated(run):
    """UNICORN_NPU_EMULATION=refrence (a typo): the NPU device is not registered, the log line
    names the variable, the value and the paths it takes, and the iGPU still is (README)."""
    res = run("llama-completion", ["--list-devices"], unicorn=True, env={"UNICORN_NPU_EMULATION": "refrence"},
              timeout=120)
    assert re.search(r"unicorn: UNICORN_NPU0: the emulated NPU did not start \(.*UNICORN_NPU_EMULATION=\"refrence\": "
                     r"expected reference or aie-host\); no NPU device, attention runs on the iGPU", res.output), res.tail()
    listed = re.findall(r"^\s*(UNICORN_\w+):", res.stdout, re.M)
    print(f"devices listed with UNICORN_NPU_EMULATION=refrence: {listed}")
    assert listed == [IGPU], res.output[-2000:]
