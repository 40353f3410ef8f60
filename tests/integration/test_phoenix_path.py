"""The Phoenix-only paths of the two scripts, run here with the hardware probe overridden:

- `scripts/run.sh` with UNICORN_PROBE_OVERRIDE=phoenix takes the Phoenix path: it asks the
  plugin's probe, attempts the gfx11 code object build (a recording stand-in for hipcc) and the
  NPU kernel build (a recording stand-in for scripts/npu-build.sh), names what it could not
  build, runs the rest emulated with UNICORN_ATTN=auto, and the placement file is written (the
  emulated engines are timed: UNICORN_PLACEMENT_MEASURE=1).
- `scripts/phoenix-validate.sh --quick` runs end to end on this machine without the hardware:
  every section of docs/phoenix-validation-report.md is in the report, the missing hardware is
  marked, the checks that can run here pass.

Both scripts call build_all (cargo, setup-llama.sh: seconds when built). Their placement file is
the test's own (UNICORN_PLACEMENT_FILE), never the shared cache's.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from conftest import REPO

STAND_IN = """#!/bin/sh
echo "$0 $*" >> "{log}"
echo "stand-in for {what}: not built here" >&2
exit 1
"""


def private_placement(tmp_path: Path) -> Path:
    """Where the scripts keep the placement file in a test (UNICORN_PLACEMENT_FILE), so the shared
    cache's is never touched. (The cache folder itself stays the shared one: setup-llama.sh links
    build/bin and vendor/llama.cpp into it.)"""
    return tmp_path / "placement.txt"


def stand_in(tmp_path: Path, name: str, what: str, log: Path) -> Path:
    p = tmp_path / name
    p.write_text(STAND_IN.format(log=log, what=what))
    p.chmod(0o755)
    return p


def script_env(placement: Path, extra: dict) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("UNICORN_", "GGML_")) or k == "UNICORN_CACHE"}
    env.update({"UNICORN_PLACEMENT_FILE": str(placement)}, **extra)
    return env


def run_script(args: list[str], env: dict, timeout: int) -> subprocess.CompletedProcess:
    print("$ " + " ".join(f"{k}={v}" for k, v in env.items() if k.startswith("UNICORN_")) + " " + " ".join(args))
    res = subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout,
                         stdin=subprocess.DEVNULL)
    print(f"exit {res.returncode}; last output:\n" + "\n".join((res.stdout + res.stderr).splitlines()[-25:]))
    return res


def test_run_sh_takes_the_phoenix_path_probe_overridden(tmp_path):
    placement = private_placement(tmp_path)
    calls = tmp_path / "calls.log"
    hipcc = stand_in(tmp_path, "hipcc", "ROCm hipcc", calls)
    npu_build = stand_in(tmp_path, "npu-build.sh", "scripts/npu-build.sh", calls)
    env = script_env(placement, {"UNICORN_PROBE_OVERRIDE": "phoenix", "UNICORN_HIPCC": str(hipcc),
                             "UNICORN_NPU_BUILD": str(npu_build), "UNICORN_PLACEMENT_MEASURE": "1",
                             "XRT_ROOT": str(tmp_path / "no-xrt"),
                             # a folder of its own: a code object the suite built before (the
                             # kernels stage) would make the install skip the build it tests
                             "UNICORN_KERNELS": str(tmp_path / "kernels")})
    res = run_script(["bash", "scripts/run.sh", "-n", "4", "-p", "The capital of France is"], env, timeout=1800)
    out = res.stdout + res.stderr
    assert res.returncode == 0, "run.sh failed on the Phoenix path"
    assert "hardware probe OVERRIDDEN" in out, "phoenix-install.sh did not see the probe's override line"
    # The kernel builds were attempted, with the probe's gfx11 target, and named as not built.
    recorded = calls.read_text() if calls.exists() else ""
    print(f"stand-in calls:\n{recorded}")
    assert re.search(r"hipcc .*--offload-arch=gfx1103 .*kernels/hip/unicorn\.cu", recorded), recorded
    assert re.search(r"npu-build\.sh .*build/bin/npu", recorded), recorded
    for missing in ["NOT BUILT: iGPU code object for gfx1103", "NOT BUILT: XRT shim", "NOT BUILT: NPU kernel files"]:
        assert missing in out, f"{missing!r} not said"
    # The rest ran (emulated, and said so), with attention placed by a stored verdict.
    assert "the parts that could not be built EMULATED" in out
    assert "== Attention placement (UNICORN_ATTN=auto" in out
    assert placement.is_file(), "no placement file was written"
    text = placement.read_text()
    print(f"placement.txt:\n{text}")
    assert re.search(r"^attention d=\d+ .*source=measured-on-emulated-devices", text, re.M), text
    assert re.search(r"unicorn: placement \(UNICORN_ATTN=auto\) .*decode on UNICORN_\w+, prefill on UNICORN_\w+", out)


def template_sections() -> list[str]:
    text = (REPO / "docs" / "phoenix-validation-report.md").read_text()
    body = text.split("\n---\n", 1)[1]
    return re.findall(r"^## (.+)$", body, re.M)


def test_phoenix_validate_runs_here_marking_the_missing_hardware(tmp_path):
    placement = private_placement(tmp_path)
    report = tmp_path / "report.md"
    res = run_script(["bash", "scripts/phoenix-validate.sh", "--quick", "-o", str(report)], script_env(placement, {}),
                     timeout=3000)
    assert report.is_file(), "no report written"
    text = report.read_text()
    print(text)
    assert res.returncode == 0, "phoenix-validate.sh --quick failed (see the report's Verdict)"
    sections = re.findall(r"^## (.+)$", text, re.M)
    assert sections == template_sections(), f"report sections {sections} != template {template_sections()}"
    assert "NO PHOENIX HARDWARE" in text
    assert re.search(r"UNICORN_NPU0 \(UNICORN_ATTN=npu, -o FLASH_ATTN_EXT -p .*\): PASS: .*[1-9]", text)
    assert re.search(r"UNICORN_IGPU0 \(UNICORN_ATTN=igpu, -o RMS_NORM\): PASS: .*[1-9]", text)
    assert re.search(r"Mean +KLD", text), "no KL divergence figures"
    for be in ["unicorn", "cpu"]:
        for t in ["pp32", "tg8"]:
            assert re.search(rf"^\| \S+ \| {be} \| {t} \| [\d.]+ \|", text, re.M), f"no {be} {t} row"
    assert "skipped: --quick builds no peers" in text
    assert "skipped: the NPU is emulated" in text, "the calibration section does not say why it was skipped"
    assert re.search(r"energy: not measured: no power sensor|\| (rapl|hwmon|gpu_metrics)", text)
    assert "every check that ran passed (EMULATED: no Phoenix hardware)" in text
    assert not placement.exists(), "an emulated run must not store a calibration or verdict"
