"""scripts/run.sh, run the way the README tells a user to run it.

The README's commands, as written: `scripts/run.sh -m <model> -p "prompt" -n N` with a path
relative to the caller's folder (here one with a space in it), and `scripts/run.sh -g tiny`.
Each must print the generated text, the scheduler's placement table (attention on
UNICORN_NPU0, mat-muls on UNICORN_IGPU0) and the speed table. A run that fails must print its
cause (the tool's own error lines), not just a non-zero exit.

run.sh builds what is missing (cached: seconds when the suite's build is there), runs
llama-completion and llama-bench (-r 3, pp64/tg32) on both backends: about a minute per run on
2 cores, emulated.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import time
from pathlib import Path

import pytest

from conftest import DROPPED_PREFIXES, IGPU, KEPT_ENV, NPU, REPO, Result, key_lines

RUN_SH = REPO / "scripts" / "run.sh"


def run_script(args: list[str], cwd: Path, timeout: float = 900) -> Result:
    """bash scripts/run.sh ARGS from `cwd`, with the caller's UNICORN_*/GGML_* settings dropped
    (run.sh chooses emulation itself)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(DROPPED_PREFIXES) or k in KEPT_ENV}
    cmd = ["bash", str(RUN_SH)] + args
    print(f"$ (cd {shlex.quote(str(cwd))} && {shlex.join(['scripts/run.sh'] + args)})", flush=True)
    t0 = time.monotonic()
    try:
        p = subprocess.run(cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=timeout)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"run.sh timed out after {timeout:.0f} s:\n{(e.stderr or b'')[-3000:]!r}", pytrace=False)
    res = Result(cmd, p.returncode, p.stdout, p.stderr, time.monotonic() - t0)
    print(f"  -> exit {res.rc} in {res.seconds:.1f} s", flush=True)
    return res


def check_demo_output(res: Result, prompt: str) -> None:
    """Exit 0, the prompt followed by generated text, a placement table with attention on the
    NPU and mat-muls on the iGPU, and a speed table with pp64 and tg32 rows."""
    out = res.stdout
    assert res.rc == 0, f"run.sh exit {res.rc}:\n{res.tail()}"
    assert "== Unicorn (EMULATED on the CPU" in out, out[:2000]
    i = out.find(prompt)
    assert i >= 0, f"the prompt {prompt!r} is not in run.sh's output:\n{out[:2000]}"
    text = out[i + len(prompt):].split("\n== Placement", 1)[0]
    assert text.strip(), f"no generated text after the prompt:\n{out[:2000]}"
    print(f"generated: {text.strip()[:120]!r}")
    placement = out.split("== Placement", 1)[-1].split("== Speed", 1)[0]
    rows = {m.group(1): m.group(2) for m in re.finditer(r"^  (\S+)\s+(.*)$", placement, re.M)}
    print(f"placement table: {rows}")
    assert "largest graph:" in placement, placement
    assert re.search(r"\bFLASH_ATTN_EXT x\d+", rows.get(NPU, "")), f"no attention on {NPU}: {placement}"
    assert re.search(r"\bMUL_MAT x\d+", rows.get(IGPU, "")), f"no mat-mul on {IGPU}: {placement}"
    assert not re.search(r"FLASH_ATTN_EXT", "".join(v for k, v in rows.items() if k != NPU)), placement
    speed = out.split("== Speed", 1)[-1]
    for test in ("pp64", "tg32"):
        assert re.search(rf"^\|\s*{test}\s*\|\s*[\d.]+ ± [\d.]+\s*\|\s*[\d.]+ ± [\d.]+\s*\|\s*[\d.]+\s*\|", speed, re.M), (
            f"no {test} row in the speed table:\n{speed}")


def test_run_sh_relative_model_path_with_space_emulated(model_path, tmp_path):
    """`scripts/run.sh -m "my models/gemma.gguf" -p ... -n 16` from the folder that holds
    "my models/": the relative path (with a space) is the model run.sh loads."""
    folder = tmp_path / "my models"
    folder.mkdir()
    (folder / "gemma.gguf").symlink_to(model_path)
    prompt = "The three primary colors are"
    res = run_script(["-m", "my models/gemma.gguf", "-p", prompt, "-n", "16"], cwd=tmp_path)
    check_demo_output(res, prompt)
    assert "model: gemma3 " in res.stdout, f"the speed table names another model:\n{res.stdout[-1500:]}"


def test_run_sh_generated_gemma3n_tiny_emulated(model_path, tmp_path):
    """`scripts/run.sh -g tiny` as the README writes it (from the repository root): the
    generated Gemma3n runs, and run.sh says its weights are synthetic."""
    res = run_script(["-g", "tiny", "-n", "16"], cwd=REPO)
    prompt = "Explain in two sentences why the sky is blue."  # run.sh's default prompt
    check_demo_output(res, prompt)
    assert "has SYNTHETIC random weights" in res.stdout, res.stdout[:2000]
    assert "model: gemma3n " in res.stdout, f"the speed table names another model:\n{res.stdout[-1500:]}"


@pytest.mark.parametrize("case", ["missing", "truncated"])
def test_run_sh_failure_says_why_emulated(model_path, tmp_path, case):
    """A model that is not there, or one llama.cpp cannot load (the first MiB of the real one):
    run.sh exits non-zero and its output says why (the missing path; llama.cpp's own load
    error), rather than failing silently with the cause in a deleted log."""
    if case == "missing":
        res = run_script(["-m", "no such model.gguf", "-n", "4"], cwd=tmp_path)
        want = re.compile(r"model not found: no such model\.gguf")
    else:
        bad = tmp_path / "cut model.gguf"
        with open(model_path, "rb") as f:
            bad.write_bytes(f.read(1 << 20))
        res = run_script(["-m", bad.name, "-n", "4"], cwd=tmp_path)
        want = re.compile(r"failed to load model|error loading model", re.I)
    print(key_lines(res.output) or res.output[-1500:])
    assert res.rc != 0, f"run.sh exit 0 on a {case} model:\n{res.tail()}"
    assert want.search(res.output), f"run.sh's output does not say why ({want.pattern}):\n{res.tail()}"
