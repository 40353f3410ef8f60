"""With the llama.cpp people already have (docs/unpatched-llama.md): libggml-unicorn.so loaded
through GGML_BACKEND_PATH into llama.cpp built from the pinned tree WITHOUT patches/
(`scripts/setup-llama.sh unpatched` -> build/unpatched/bin: libllama, ggml, ggml-cpu,
llama-completion).

- `-dev UNICORN_IGPU0 -fa on -ctk bf16 -ctv bf16` loads, plans (Unicorn holds the weights and
  computes) and generates; its greedy tokens equal the patched build's with the same arguments.
- a ggml version mismatch is refused at init with a message naming both versions
  (UNICORN_FAULT=GGML_VERSION pretends the plugin was built against another ggml).
"""

from __future__ import annotations

import re
import subprocess
import time

import pytest

from conftest import BIN, IGPU, PLAIN_LOG_ARGS, PLUGIN, REPO, generated_tokens, key_lines, require_plugin, tool_env

UNPATCHED = REPO / "build" / "unpatched" / "bin"
PROMPT = "The capital of France is"
N = 16
ARGS = ["-dev", IGPU, "-fa", "on", "-ctk", "bf16", "-ctv", "bf16", "-ngl", "99", "--temp", "0", "-no-cnv",
        "-c", "256", "--ignore-eos", "-t", "2", "-lv", "4"] + PLAIN_LOG_ARGS


def completion(bin_dir, model, n=N, env=None, timeout=600):
    cmd = [str(bin_dir / "llama-completion"), "-m", str(model), "-p", PROMPT, "-n", str(n)] + ARGS
    shown = " ".join(f"{k}={v}" for k, v in (env or {}).items())
    print(f"$ UNICORN_EMULATE=1 {shown} {' '.join(cmd)}", flush=True)
    t0 = time.monotonic()
    r = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, errors="replace",
                       env=tool_env(unicorn=True, extra=env), cwd=str(REPO), timeout=timeout)
    print(f"  -> exit {r.returncode} in {time.monotonic() - t0:.1f} s", flush=True)
    return r


@pytest.fixture(scope="module")
def unpatched_bin():
    exe = UNPATCHED / "llama-completion"
    if not exe.exists():
        pytest.fail(f"{exe} not found: run `scripts/setup-llama.sh unpatched` (the pinned tree without patches/)",
                    pytrace=False)
    require_plugin()
    # Truly unpatched: the loader has no "unicorn" in its list (patches/0001) and the tools no --backend (0002).
    loader = (UNPATCHED / "libggml.so").read_bytes()
    assert b"unicorn" not in loader, "build/unpatched/bin/libggml.so knows 'unicorn': it is a patched build"
    helptext = subprocess.run([str(exe), "--help"], capture_output=True, text=True, errors="replace", timeout=60).stdout
    assert not re.search(r"--backend NAME", helptext), "build/unpatched/bin/llama-completion has --backend: it is a patched build"
    return UNPATCHED


def test_unpatched_llama_generates_with_plugin(model_path, unpatched_bin):
    """GGML_BACKEND_PATH=libggml-unicorn.so into unpatched llama-completion: Unicorn's device is
    used (weights in UNICORN_HOST) and the tokens equal the patched build's."""
    r = completion(unpatched_bin, model_path, env={"GGML_BACKEND_PATH": str(PLUGIN)})
    out = r.stdout + r.stderr
    assert r.returncode == 0, f"unpatched llama.cpp + plugin: exit {r.returncode}\n{key_lines(out)}{out[-3000:]}"

    class _R:
        output = out
    assert generated_tokens(_R) == N, out[-2000:]
    assert re.search(r"UNICORN_HOST model buffer size", out), f"the weights are not in Unicorn's buffer:\n{out[-3000:]}"
    assert "UNICORN_HOST compute buffer size" in out, "the scheduler gave Unicorn no work"
    unpatched_text = r.stdout[len(PROMPT):]

    ref = completion(BIN, model_path)
    assert ref.returncode == 0, ref.stderr[-3000:]
    patched_text = ref.stdout[len(PROMPT):]
    assert unpatched_text == patched_text, (f"unpatched and patched llama.cpp generate differently with the plugin:\n"
                                            f"  unpatched: {unpatched_text!r}\n  patched:   {patched_text!r}")
    print(f"unpatched llama.cpp + plugin: same {N} tokens as the patched build: {unpatched_text[:80]!r}")


def test_ggml_version_mismatch_is_a_clear_message(model_path, unpatched_bin):
    r = completion(unpatched_bin, model_path, n=2, env={"GGML_BACKEND_PATH": str(PLUGIN), "UNICORN_FAULT": "GGML_VERSION"},
                   timeout=120)
    out = r.stdout + r.stderr
    line = next((x for x in out.splitlines() if "ggml version mismatch" in x), None)
    assert line, f"no 'ggml version mismatch' message:\n{out[-3000:]}"
    print(line)
    assert "0.0.0" in line and re.search(r"runs ggml \d+\.\d+\.\d+", line), line
    # Not loaded: the device the user asked for does not exist, and llama.cpp says so.
    assert r.returncode != 0, f"llama-completion went on without the refused plugin:\n{out[-2000:]}"
