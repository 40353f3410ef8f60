"""The settings users choose, not only the ones --backend unicorn implies: other KV-cache types,
flash attention off, llama.cpp's own defaults, partial offload, several server sequences, long
contexts, another architecture and the other attention placements. Each run through Unicorn
(emulated) is judged against the CPU backend with the same settings: tokens equal. Where an
option moves work between devices, the scheduler's dump (GGML_SCHED_DEBUG=2) says where it went,
and the test asserts it.

Affordable on 2 cores: the tiny generated Gemma3n or the small generated llama model, short
generations; the long-context test is the one expensive case (a 4,100-token prompt).
"""

from __future__ import annotations

import re
import subprocess
import threading
from collections import Counter
from pathlib import Path

import pytest

from conftest import (CACHE, COMMON, CPU_ARGS, IGPU, NPU, REPO, THREADS, UNICORN_ARGS, assert_same_generation,
                      check_ok, completion, generated_tokens)
from sched_debug import PLAIN_LOG_ARGS, SCHED_DEBUG_ARGS, SCHED_DEBUG_ENV, parse_sched_debug
from test_gemma3n import LONG_PROMPT
from test_unicorn import PROMPTS, SERVER_ARGS, misplaced_layer_matmuls


def attention_devices(res) -> Counter:
    """FLASH_ATTN_EXT (or, with flash attention off, SOFT_MAX) nodes per backend over every graph
    the scheduler dumped; fails if there are none (attention must have run somewhere)."""
    graphs = parse_sched_debug(res.stderr + res.stdout)
    assert graphs, f"no scheduler dump in the output:\n{res.tail()}"
    where = Counter(n.backend for g in graphs for n in g.nodes if n.op in ("FLASH_ATTN_EXT", "SOFT_MAX"))
    assert where, "no attention node (FLASH_ATTN_EXT or SOFT_MAX) in any scheduled graph"
    return where


_KV_LINE = re.compile(r"llama_kv_cache: .*K \((\w+)\): .*V \((\w+)\)")


def kv_types(res) -> set[tuple[str, str]]:
    """The KV-cache types llama.cpp reports for its cache (K, V) (needs -lv 4)."""
    found = set(_KV_LINE.findall(res.output))
    assert found, f"no 'llama_kv_cache: ... K (type) ... V (type)' line:\n{res.tail()}"
    return found


# ---------------------------------------------------------------------------------------------
# KV-cache types


@pytest.mark.parametrize("kv", ["q8_0", "q4_0"])
def test_quantized_kv_cache_emulated(gemma3n_tiny, run, kv):
    """`--backend unicorn -ctk KV -ctv KV` on Gemma3n: the cache is KV (llama.cpp's own line),
    the tokens equal the CPU backend's with the same cache type, and attention runs on the CPU:
    no Unicorn device claims FLASH_ATTN_EXT on a quantized cache, and the plugin says so in a
    log line instead of moving it silently."""
    kv_args = ["-ctk", kv, "-ctv", kv]
    a = completion(run, gemma3n_tiny, LONG_PROMPT, 24, True, SCHED_DEBUG_ARGS, env=SCHED_DEBUG_ENV, after=kv_args)
    b = completion(run, gemma3n_tiny, LONG_PROMPT, 24, False, after=kv_args)
    assert kv_types(a) == kv_types(b) == {(kv, kv)}, (kv_types(a), kv_types(b))
    where = attention_devices(a)
    print(f"-ctk {kv} -ctv {kv}: attention nodes per device: {dict(where)}")
    assert set(where) == {"CPU"}, f"attention on a quantized KV cache ran on {dict(where)}, expected the CPU"
    assert re.search(rf"unicorn: .*FLASH_ATTN_EXT.*K type {kv}.*runs on the CPU", a.output), (
        "the plugin did not say that attention on this cache type leaves the Unicorn devices")
    assert_same_generation(a, b, f"KV cache {kv}")


def test_quantized_kv_cache_cpu_default_kernels_emulated(gemma3n_tiny, run):
    """The case as a user meets it (issue 18): `-ctk q8_0 -ctv q8_0` with ggml-cpu's default
    (fast) kernels on both sides, not its reference configuration. llama.cpp rotates Q, K and V
    by a Hadamard matrix for a quantized cache; ggml-cpu computes that MUL_MAT as a fast
    Walsh-Hadamard transform by default and as a plain mat-mul in its reference configuration.
    Unicorn leaves the rotation to the CPU, so the text equals the CPU backend's in both."""
    kv_args = ["-ctk", "q8_0", "-ctv", "q8_0"]
    fast = {"GGML_CPU_USE_REF": "0"}
    a = completion(run, gemma3n_tiny, LONG_PROMPT, 32, True, env=fast, after=kv_args)
    b = completion(run, gemma3n_tiny, LONG_PROMPT, 32, False, env=fast, after=kv_args)
    assert_same_generation(a, b, "KV cache q8_0, ggml-cpu default kernels")


# ---------------------------------------------------------------------------------------------
# llama.cpp's defaults, flash attention off, partial offload


def test_llama_cpp_defaults_emulated(model_path, run):
    """`llama-completion --backend unicorn -m MODEL` with nothing else of llama.cpp's settings
    changed (fit on, the KV type --backend asks for, flash attention as --backend sets it, the
    default context): exit 0, the context is fitted without error, and the tokens equal the CPU
    backend's run with the same effective settings (fit on, -fa on, the same KV type)."""
    base = ["-m", model_path, "-p", PROMPTS[0], "-n", 16, "--temp", 0, "-no-cnv", "--ignore-eos", "-lv", 4] \
        + THREADS + PLAIN_LOG_ARGS
    a = check_ok(run("llama-completion", base + ["--backend", "unicorn", "-nr"], unicorn=True, timeout=600))
    kv = kv_types(a)
    assert len(kv) == 1, kv
    ktype, vtype = next(iter(kv))
    b = check_ok(run("llama-completion", base + ["-ngl", 0, "-dev", "none", "-fa", "on", "-ctk", ktype, "-ctv", vtype,
                                                  "-nr"], unicorn=False, timeout=600))
    assert "-fit" not in a.cmd and "-c" not in a.cmd, "not llama.cpp's defaults"
    n_ctx = re.search(r"generate: n_ctx = (\d+)", a.output)
    print(f"defaults: n_ctx {n_ctx and n_ctx.group(1)} (the model's training context), KV {ktype}/{vtype}")
    assert generated_tokens(a) == generated_tokens(b) == 16
    ga, gb = a.stdout[len(PROMPTS[0]):], b.stdout[len(PROMPTS[0]):]
    assert ga.strip() and ga == gb, f"defaults: generated text differs:\n  {ga!r}\n  {gb!r}"
    print(f"defaults (KV {ktype}/{vtype}): same 16 tokens: {ga[:80]!r}")


def test_flash_attention_off_emulated(gemma3n_tiny, run):
    """`-fa off` on both sides: attention is the mat-mul / soft-max path (no FLASH_ATTN_EXT
    node), and the tokens equal the CPU's. Prints where the soft-max ran."""
    a = completion(run, gemma3n_tiny, LONG_PROMPT, 16, True, SCHED_DEBUG_ARGS, env=SCHED_DEBUG_ENV,
                   after=["-fa", "off"])
    b = completion(run, gemma3n_tiny, LONG_PROMPT, 16, False, after=["-fa", "off"])
    graphs = parse_sched_debug(a.stderr + a.stdout)
    ops = Counter((n.op, n.backend) for g in graphs for n in g.nodes if n.op in ("FLASH_ATTN_EXT", "SOFT_MAX"))
    print(f"-fa off: attention nodes (op, device): {dict(ops)}")
    assert not any(op == "FLASH_ATTN_EXT" for op, _ in ops), f"-fa off still ran FLASH_ATTN_EXT: {dict(ops)}"
    assert any(op == "SOFT_MAX" for op, _ in ops), "no SOFT_MAX node: where did attention run?"
    assert_same_generation(a, b, "-fa off")


def test_partial_offload_ngl_8_emulated(model_path, run):
    """`-ngl 8` of Gemma 3 270M (18 layers): the output layer and the last 7 layers on
    UNICORN_IGPU0, layers 0-10 on the CPU; every layer's mat-muls run where their weights are
    (scheduler dump), and the tokens equal the CPU's."""
    a = completion(run, model_path, PROMPTS[0], 16, True, SCHED_DEBUG_ARGS, env=SCHED_DEBUG_ENV, ctx=256,
                   after=["-ngl", 8])
    n_layer = int(re.search(r"print_info: n_layer\s*= (\d+)", a.output).group(1))
    first_dev = n_layer + 1 - 8  # the output layer counts as one of the 8
    print(f"-ngl 8 of {n_layer} layers: layers {first_dev}-{n_layer - 1} and the output on {IGPU}")
    wrong = misplaced_layer_matmuls(parse_sched_debug(a.stderr + a.stdout),
                                    lambda layer, w: IGPU if layer >= first_dev else "CPU")
    assert not wrong, f"-ngl 8: {len(wrong)} mat-muls not where their weights are: {wrong[:8]}"
    b = completion(run, model_path, PROMPTS[0], 16, False, ctx=256)
    assert_same_generation(a, b, "-ngl 8")


# ---------------------------------------------------------------------------------------------
# two server sequences, a long context


def test_server_two_sequences_different_lengths_emulated(gemma3n_tiny, llama_server):
    """llama-server -np 2: two requests at once, prompts and generations of different lengths
    (so the two sequences share batches for a while, then one goes on alone). Each answer equals
    the CPU server's (also -np 2, asked the same way)."""
    reqs = [(LONG_PROMPT, 24), (PROMPTS[1], 8)]
    answers = {}
    for side, args, unicorn in (("unicorn", UNICORN_ARGS, True), ("cpu", CPU_ARGS, False)):
        srv_args = [a for a in SERVER_ARGS]
        srv_args[srv_args.index("-np") + 1] = "2"
        srv_args[srv_args.index("-c") + 1] = "2048"
        srv = llama_server(gemma3n_tiny, srv_args + args, unicorn=unicorn, name=f"np2-{side}")
        out: dict[int, list] = {}

        def ask(i: int, prompt: str, n: int):
            body = {"prompt": prompt, "n_predict": n, "temperature": 0, "return_tokens": True,
                    "cache_prompt": False, "ignore_eos": True}
            out[i] = srv.post("/completion", body)["tokens"]

        threads = [threading.Thread(target=ask, args=(i, p, n)) for i, (p, n) in enumerate(reqs)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert [len(out.get(i, [])) for i in range(2)] == [n for _, n in reqs], f"{side}: {out}"
        answers[side] = out
        srv.stop()
    for i in range(2):
        assert answers["unicorn"][i] == answers["cpu"][i], (
            f"sequence {i}: unicorn {answers['unicorn'][i]} vs cpu {answers['cpu'][i]}")
    print(f"-np 2: both sequences equal the CPU's ({[n for _, n in reqs]} tokens)")


def long_prompt_file(tmp_path: Path, min_tokens: int = 4200) -> Path:
    """A prompt file of about min_tokens tokens (the fixed text repeated; ~4.3 characters per
    token for this tokenizer), numbered so that no two paragraphs are equal."""
    text = (REPO / "tests" / "data" / "fixed-text.txt").read_text()
    parts, n = [], 0
    while n < min_tokens * 5:
        parts.append(f"Part {len(parts) + 1}. {text}")
        n += len(parts[-1])
    f = tmp_path / "long-prompt.txt"
    f.write_text("\n".join(parts))
    return f


_PROMPT_TOKENS = re.compile(r"prompt eval time =\s+[\d.]+ ms /\s+(\d+) tokens")


def test_long_context_gemma3n_emulated(gemma3n_tiny, run, tmp_path):
    """A prompt of more than 4,096 tokens at -c 8192 on the tiny Gemma3n (sliding window 64,
    global layers every 5th): both kinds of attention layers see keys far past their window
    and across several ubatches. 4 greedy tokens equal the CPU's."""
    f = long_prompt_file(tmp_path)
    args = ["-m", gemma3n_tiny, "-f", f, "-n", 4, "--temp", 0, "-no-cnv", "-c", 8192, "--ignore-eos"] + COMMON
    a = check_ok(run("llama-completion", args + UNICORN_ARGS, unicorn=True, timeout=1200))
    b = check_ok(run("llama-completion", args + CPU_ARGS, unicorn=False, timeout=1200))
    n_prompt = [int(m.group(1)) for m in (_PROMPT_TOKENS.search(r.output) for r in (a, b)) if m]
    assert len(n_prompt) == 2 and n_prompt[0] == n_prompt[1] > 4096, f"prompt tokens: {n_prompt}\n{a.tail()}"
    assert generated_tokens(a) == generated_tokens(b) == 4
    assert a.stdout == b.stdout, f"long context: outputs differ:\n  {a.stdout[-200:]!r}\n  {b.stdout[-200:]!r}"
    print(f"{n_prompt[0]}-token prompt at -c 8192: same 4 tokens {a.stdout[-60:]!r}")


# ---------------------------------------------------------------------------------------------
# another architecture


@pytest.fixture(scope="session")
def llama_tiny(model_path: Path) -> Path:
    """tests/integration/gen_llama.py's small llama-architecture model (cached)."""
    gen = Path(__file__).with_name("gen_llama.py")
    import hashlib
    out = CACHE / "model" / f"llama-tiny-{hashlib.sha256(gen.read_bytes()).hexdigest()[:12]}.gguf"
    if not out.is_file():
        out.parent.mkdir(parents=True, exist_ok=True)
        r = subprocess.run(["python3", str(gen), "--tokenizer-from", str(model_path), "-o", str(out)],
                           capture_output=True, text=True, timeout=600)
        if r.returncode != 0:
            pytest.fail(f"gen_llama.py failed (exit {r.returncode}):\n{r.stderr[-3000:]}", pytrace=False)
    return out


def test_llama_architecture_emulated(llama_tiny, run):
    """A llama-architecture GGUF (GQA, SwiGLU, Q8_0 weights; nothing Gemma): through --backend
    unicorn, attention on UNICORN_NPU0 and the mat-muls on UNICORN_IGPU0 (scheduler dump), and
    the tokens equal the CPU's."""
    a = completion(run, llama_tiny, LONG_PROMPT, 24, True, SCHED_DEBUG_ARGS, env=SCHED_DEBUG_ENV)
    assert re.search(r"print_info: arch\s*= llama", a.output), a.tail()
    where = attention_devices(a)
    graphs = parse_sched_debug(a.stderr + a.stdout)
    mm = Counter(n.backend for g in graphs for n in g.nodes if n.op == "MUL_MAT")
    print(f"llama arch: attention per device {dict(where)}, MUL_MAT per device {dict(mm)}")
    assert set(where) == {NPU}, f"attention not (only) on {NPU}: {dict(where)}"
    wrong = misplaced_layer_matmuls(graphs, lambda layer, w: IGPU)
    assert not wrong, f"layer mat-muls off {IGPU}: {wrong[:8]}"
    b = completion(run, llama_tiny, LONG_PROMPT, 24, False)
    assert_same_generation(a, b, "llama architecture")


# ---------------------------------------------------------------------------------------------
# attention placement


@pytest.mark.parametrize("attn", ["igpu", "auto"])
def test_attention_placement_choice_emulated(gemma3n_tiny, run, attn):
    """UNICORN_ATTN=igpu and =auto on Gemma3n: the scheduler dump shows where attention ran
    (igpu: every FLASH_ATTN_EXT on UNICORN_IGPU0; auto: on the device the cost model picks per
    phase, each node on one Unicorn device), and the tokens equal the CPU's with the same KV
    type, BF16. (With UNICORN_ATTN=igpu, --backend alone asks for an F16 cache, where ggml-cpu
    accumulates V in F16 and the reference engine in F32: the text then differs from the CPU's
    (measured: from token 3 on the tiny Gemma3n); README, "Numerics".)"""
    env = {"UNICORN_ATTN": attn, **SCHED_DEBUG_ENV}
    kv_args = ["-ctk", "bf16", "-ctv", "bf16"]
    a = completion(run, gemma3n_tiny, LONG_PROMPT, 16, True, SCHED_DEBUG_ARGS, env=env, after=kv_args)
    kv = kv_types(a)
    assert kv == {("bf16", "bf16")}, kv
    ktype, vtype = next(iter(kv))
    where = attention_devices(a)
    print(f"UNICORN_ATTN={attn}: KV {ktype}/{vtype}; FLASH_ATTN_EXT per device {dict(where)}")
    if attn == "igpu":
        assert set(where) == {IGPU}, f"UNICORN_ATTN=igpu, attention on {dict(where)}"
    else:
        assert set(where) <= {IGPU, NPU}, f"UNICORN_ATTN=auto, attention on {dict(where)}"
    b = completion(run, gemma3n_tiny, LONG_PROMPT, 16, False, after=["-ctk", ktype, "-ctv", vtype])
    assert_same_generation(a, b, f"UNICORN_ATTN={attn}")
