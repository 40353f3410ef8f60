"""Integration tests: the Unicorn ggml backend inside the pinned llama.cpp tools.

Run: python3 -m pytest tests/integration -v        (records printed by the tests: add -s or see
the "PASSES" section that pytest.ini asks for).

On a machine without Phoenix hardware the Unicorn devices exist only with UNICORN_EMULATE=1,
as CPU-backed emulations; the tests that run them say "emulated" in their names. The CPU
baseline of every comparison runs WITHOUT UNICORN_EMULATE (so the NPU cannot join it) with the
settings `--backend unicorn` implies: flash attention on and a BF16 KV cache
(-ngl 0 -fa on -ctk bf16 -ctv bf16 -dev none), and both sides run ggml-cpu in its fixed-order
reference configuration (-nr, GGML_CPU_USE_REF=1; see conftest.CPU_REFERENCE_ENV). Budget: the whole file runs in a few minutes on a
2-core machine with the emulated backend (small contexts, few prompts, -t 2).
"""

from __future__ import annotations

import json
import re
from collections import Counter

import pytest

from conftest import (COMMON, CPU_ARGS, DATA, IGPU, NPU, UNICORN_ARGS, assert_same_generation, check_ok,
                      check_unicorn_selected, completion, free_port)
from placement_expect import expected_attention
from sched_debug import (SCHED_DEBUG_ARGS, SCHED_DEBUG_ENV, Graph, format_summary, inconsistent_nodes,
                         parse_sched_debug)

SERVER_ARGS = COMMON + ["-c", "1024", "-np", "1", "--no-webui", "-cram", "0"]
# The GGUF carries no chat template; use llama.cpp's built-in Gemma one (legacy, non-jinja path).
CHAT_ARGS = ["--no-jinja", "--chat-template", "gemma"]

PROMPTS = [
    "The three primary colors are",
    "def fibonacci(n):\n",
    "Once upon a time, in a village by the sea,",
]


def completion_tokens(srv, prompt: str, n: int) -> tuple[list[int], str]:
    """Greedy completion of exactly n tokens through /completion; returns (token ids, text)."""
    body = {"prompt": prompt, "n_predict": n, "temperature": 0, "return_tokens": True,
            "cache_prompt": False, "ignore_eos": True}
    res = srv.post("/completion", body)
    assert "tokens" in res, f"/completion answered without 'tokens': {json.dumps(res)[:500]}"
    return res["tokens"], res["content"]


def first_difference(a: list, b: list) -> int:
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return i
    return min(len(a), len(b)) if len(a) != len(b) else -1


def distinct_summary(graphs: list[Graph], label: str) -> str:
    counts = Counter(g.one_line() for g in graphs)
    lines = [f"{label}: {len(graphs)} scheduled graphs, {len(counts)} distinct:"]
    lines += [f"  {n} x {line}" for line, n in counts.items()]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# 1. tokens


def test_tokens_emulated(model_path, llama_server):
    """Greedy generation through `--backend unicorn` (emulated NPU + IGPU) is token-exact.

    One llama-server with --backend unicorn (UNICORN_EMULATE=1) and one CPU server (no
    UNICORN_EMULATE; -ngl 0 -fa on -ctk bf16 -ctv bf16 -dev none). For each of 3 prompts,
    POST /completion {"n_predict": 64, "temperature": 0, "return_tokens": true,
    "cache_prompt": false, "ignore_eos": true}: the 64 token ids must be identical.
    Also checks the --backend selection log: model device UNICORN_IGPU0, accelerator
    UNICORN_NPU0, KV cache BF16 (what the baseline assumes)."""
    uni = llama_server(model_path, SERVER_ARGS + UNICORN_ARGS, unicorn=True, name="unicorn")
    check_unicorn_selected(uni.log())
    cpu = llama_server(model_path, SERVER_ARGS + CPU_ARGS, unicorn=False, name="cpu")
    failures = []
    for prompt in PROMPTS:
        toks_cpu, text_cpu = completion_tokens(cpu, prompt, 64)
        toks_uni, text_uni = completion_tokens(uni, prompt, 64)
        print(f"prompt {prompt!r}:\n  cpu     {toks_cpu[:12]} {text_cpu[:70]!r}\n  unicorn {toks_uni[:12]} {text_uni[:70]!r}")
        assert len(toks_cpu) == 64, f"CPU server returned {len(toks_cpu)} tokens"
        assert len(toks_uni) == 64, f"Unicorn server returned {len(toks_uni)} tokens"
        d = first_difference(toks_cpu, toks_uni)
        if d >= 0:
            failures.append(f"{prompt!r}: first difference at token {d}: cpu {toks_cpu[d:d + 8]} vs "
                            f"unicorn {toks_uni[d:d + 8]}\n    cpu:     {text_cpu!r}\n    unicorn: {text_uni!r}")
    assert not failures, "Unicorn tokens differ from the CPU backend's:\n" + "\n".join(failures)


# ---------------------------------------------------------------------------------------------
# 2. placement


def test_placement_emulated(model_path, run):
    """Scheduler placement with `--backend unicorn` (emulated): every FLASH_ATTN_EXT node runs on
    UNICORN_NPU0 (on hardware, where UNICORN_ATTN=auto's logged verdict puts its phase:
    placement_expect.py) and every FFN mat-mul (ffn_gate-N, ffn_up-N and the down projection, which
    llama.cpp names ffn_out-N for Gemma 3; any MUL_MAT on a blk.N.ffn_* weight) on UNICORN_IGPU0,
    in every graph the scheduler splits.

    llama-completion -n 2 with GGML_SCHED_DEBUG=2 and -lv 5 --no-log-prefix --no-log-timestamps
    (the dump is printed at debug log level); parsed by sched_debug.parse_sched_debug. Prints the
    nodes per backend, the number of splits and of split inputs (= copies between backends)."""
    res = check_ok(run("llama-completion",
                       ["-m", model_path, "-p", "The capital of France is", "-n", 2, "-c", 256, "--temp", 0,
                        "-no-cnv"] + COMMON + UNICORN_ARGS + SCHED_DEBUG_ARGS,
                       unicorn=True, timeout=300, env=SCHED_DEBUG_ENV))
    check_unicorn_selected(res.output)
    graphs = parse_sched_debug(res.stderr + res.stdout)
    assert graphs, f"no scheduler dump (## SPLIT / node lines) in the output:\n{res.tail()}"
    print(distinct_summary(graphs, "placement (Q4_K_M, --backend unicorn)"))
    print(format_summary(graphs[-1:], "last graph"))

    assert not inconsistent_nodes(graphs), f"node lines disagree with their split's backend: {inconsistent_nodes(graphs)[:5]}"
    # Attention where the placement the plugin chose puts it: all on the NPU (the emulation's
    # default), or per phase by the verdict it logged (UNICORN_ATTN=auto, a hardware NPU).
    bad_fa = [f"graph {gi} node #{n.index} {n.name} ({phase}) on {n.backend}, placement says {want}"
              for gi, n, phase, want in expected_attention(graphs, res.output, default=NPU) if n.backend != want]
    n_fa = len(expected_attention(graphs, res.output, default=NPU))
    bad_ffn, n_ffn = [], 0
    for gi, g in enumerate(graphs):
        for n in g.nodes:
            if n.is_ffn_matmul:
                n_ffn += 1
                if n.backend != IGPU:
                    bad_ffn.append(f"graph {gi} node #{n.index} {n.name} on {n.backend}")
    print(f"checked {n_fa} FLASH_ATTN_EXT nodes and {n_ffn} FFN mat-muls over {len(graphs)} graphs")
    assert n_fa > 0, "no FLASH_ATTN_EXT node in the scheduler dump (flash attention off?)"
    assert n_ffn > 0, "no FFN mat-mul found in the scheduler dump"
    assert not bad_fa, f"{len(bad_fa)} FLASH_ATTN_EXT nodes not where placement put them: {bad_fa[:10]}"
    assert not bad_ffn, f"{len(bad_ffn)} FFN mat-muls not on {IGPU}: {bad_ffn[:10]}"


# ---------------------------------------------------------------------------------------------
# 3. KL divergence

KLD_STATS = {
    "mean KLD": r"Mean\s+KLD:\s+(-?[\d.]+)",
    "max KLD": r"Maximum KLD:\s+(-?[\d.]+)",
    "99.9% KLD": r"99\.9%\s+KLD:\s+(-?[\d.]+)",
    "min KLD": r"Minimum KLD:\s+(-?[\d.]+)",
    "same top p %": r"Same top p:\s+([\d.]+)",
    "PPL(Q)": r"Mean PPL\(Q\)\s+:\s+([\d.]+)",
}


def kld_stats(res) -> dict[str, float]:
    found = {k: re.search(rx, res.output) for k, rx in KLD_STATS.items()}
    missing = [k for k, m in found.items() if not m]
    assert not missing, f"no {missing} in llama-perplexity's KL divergence output:\n{res.tail()}"
    return {k: float(m.group(1)) for k, m in found.items()}


def test_kl_divergence_emulated(model_path, run, tmp_path):
    """Token distributions through `--backend unicorn` (emulated) match the CPU backend's, within
    the spread the CPU backend shows against itself.

    llama-perplexity on tests/data/fixed-text.txt (original prose, ~1,700 tokens) with -c 128
    --chunks 8 (8 x 63 = 504 scored positions). The CPU run writes --kl-divergence-base; a second
    CPU run and the Unicorn run read it with --kl-divergence. The base file stores log-probabilities
    rounded to 16 bits, so the CPU against itself is not 0 (measured: mean KLD 0.000001, max
    0.000048, min -0.000045, same top 100 %). That second CPU run is the bound, measured in the same
    test: Unicorn's mean, max, 99.9th percentile and min KLD, same-top share and PPL(Q) must equal
    the CPU-vs-CPU figures as printed (the emulated engine reproduces ggml-cpu's reference kernels
    bit for bit; an engine that does not must argue a wider bound from its own measured spread)."""
    base = tmp_path / "kld-base.bin"
    ppl = ["-c", 128, "--chunks", 8] + COMMON
    cpu = check_ok(run("llama-perplexity", ["-m", model_path, "-f", DATA / "fixed-text.txt",
                                            "--kl-divergence-base", base] + ppl + CPU_ARGS,
                       unicorn=False, timeout=300))
    m = re.search(r"Final estimate: PPL = ([\d.]+)", cpu.output)
    assert m and base.is_file() and base.stat().st_size > 0, f"CPU base run wrote no logits:\n{cpu.tail()}"
    print(f"CPU PPL = {m.group(1)}")

    kld = ["-m", model_path, "--kl-divergence-base", base, "--kl-divergence"] + ppl
    self_ = kld_stats(check_ok(run("llama-perplexity", kld + CPU_ARGS, unicorn=False, timeout=300)))
    uni_res = check_ok(run("llama-perplexity", kld + UNICORN_ARGS, unicorn=True, timeout=600))
    check_unicorn_selected(uni_res.output)
    uni = kld_stats(uni_res)
    for k in KLD_STATS:
        print(f"  {k:14s} CPU vs CPU {self_[k]:12.6f}   Unicorn vs CPU {uni[k]:12.6f}")
    assert self_["same top p %"] == 100.0, f"the CPU disagrees with itself: {self_}"
    differ = {k: (self_[k], uni[k]) for k in KLD_STATS if uni[k] != self_[k]}
    assert not differ, f"Unicorn's statistics are outside the CPU's own spread (CPU vs CPU, Unicorn): {differ}"


# ---------------------------------------------------------------------------------------------
# 4. server chat


def test_server_chat_emulated(model_path, llama_server):
    """llama-server --backend unicorn (emulated) serves: GET /health is 200 and
    POST /v1/chat/completions (temperature 0, max_tokens 32 with ignore_eos, one short user
    question) answers with 32 tokens of exactly the content the CPU server gives. Both use the
    built-in Gemma chat template (--no-jinja --chat-template gemma; the GGUF has none)."""
    body = {"messages": [{"role": "user", "content": "What is the capital of France? Answer in one sentence."}],
            "temperature": 0, "max_tokens": 32, "ignore_eos": True}
    answers = {}
    for side, args, unicorn in (("unicorn", UNICORN_ARGS, True), ("cpu", CPU_ARGS, False)):
        srv = llama_server(model_path, SERVER_ARGS + CHAT_ARGS + args, unicorn=unicorn, name=f"chat-{side}")
        health = srv.get("/health")
        assert health.status_code == 200, f"{side} /health -> {health.status_code} {health.text}"
        res = srv.post("/v1/chat/completions", body)
        msg = res["choices"][0]["message"]
        answers[side] = msg.get("content")
        print(f"{side}: {answers[side]!r} (usage {res.get('usage')})")
        assert res["usage"]["completion_tokens"] == 32, f"{side}: {res['usage']} (asked for 32 tokens)"
        assert answers[side] and answers[side].strip(), f"{side}: empty answer {msg}"
        srv.stop()
    assert answers["unicorn"] == answers["cpu"]


# ---------------------------------------------------------------------------------------------
# 5. llama-bench


def parse_markdown_table(text: str) -> list[dict]:
    rows = [l.strip() for l in text.splitlines() if l.strip().startswith("|")]
    if len(rows) < 2:
        return []
    header = [c.strip() for c in rows[0].strip("|").split("|")]
    out = []
    for r in rows[1:]:
        cells = [c.strip() for c in r.strip("|").split("|")]
        if all(set(c) <= set("-: ") for c in cells):
            continue
        out.append(dict(zip(header, cells)))
    return out


def test_bench_emulated(model_path, run):
    """`llama-bench --backend unicorn -p 32 -n 8 -r 1` (emulated) exits 0, its two result rows
    (pp32, tg8) name the Unicorn backend and device (backend column "Unicorn", dev column
    UNICORN_IGPU0), and the work it timed ran there: with GGML_SCHED_DEBUG=2 and -v, the
    scheduler's dump of every graph the bench ran (warm-up, prompt and each generated token) has
    every FLASH_ATTN_EXT on UNICORN_NPU0, every other node on UNICORN_IGPU0 (FFN mat-muls
    counted) but the input embedding lookup (GET_ROWS of token_embd) on the CPU. The dump is printed inside the
    timed region, so the t/s of this run are not speed figures (scripts/run.sh measures those)."""
    res = check_ok(run("llama-bench", ["-m", model_path, "--backend", "unicorn", "-p", 32, "-n", 8, "-r", 1,
                                       "-t", 2, "-v"], unicorn=True, timeout=300, env=SCHED_DEBUG_ENV))
    print(res.stdout)
    rows = parse_markdown_table(res.stdout)
    assert [r.get("test") for r in rows] == ["pp32", "tg8"], f"unexpected llama-bench rows: {rows}"
    for r in rows:
        assert r.get("backend", "").lower() == "unicorn", f"backend column is not Unicorn: {r}"
        assert IGPU in r.get("dev", ""), f"no {IGPU} in the dev column: {r}"
        assert float(r["t/s"].split()[0]) > 0, r

    graphs = [g for g in parse_sched_debug(res.stderr) if g.nodes]
    # pp32 and tg8, each after a warm-up: at least 1 + 1 + 1 + 8 graphs
    assert len(graphs) >= 11, f"{len(graphs)} scheduled graphs in the bench's dump:\n{res.tail()}"
    print(distinct_summary(graphs, "llama-bench --backend unicorn"))
    n_fa = n_ffn = 0
    wrong = []
    for gi, g in enumerate(graphs):
        for n in g.nodes:
            if n.op == "FLASH_ATTN_EXT":
                n_fa += 1
                ok = n.backend == NPU
            elif n.is_ffn_matmul:
                n_ffn += 1
                ok = n.backend == IGPU
            else:
                ok = n.backend == IGPU or (n.backend == "CPU" and n.op == "GET_ROWS"
                                           and any(s.name == "token_embd.weight" for s in n.srcs))
            if not ok:
                wrong.append(f"graph {gi} #{n.index} {n.name} ({n.op}) on {n.backend}")
    print(f"checked {n_fa} FLASH_ATTN_EXT and {n_ffn} FFN mat-muls in {len(graphs)} graphs")
    assert n_fa >= 18 * len(graphs) and n_ffn >= 3 * 18 * len(graphs), "fewer attention/FFN nodes than 18 layers give"
    assert not wrong, f"{len(wrong)} nodes not where Unicorn should run them: {wrong[:10]}"


# ---------------------------------------------------------------------------------------------
# 6. bad input

LOAD_ERROR = re.compile(r"failed to load model|error loading model", re.I)


@pytest.mark.parametrize("tool", ["llama-server", "llama-completion"])
@pytest.mark.parametrize("size", ["1MiB", "60pct"])
def test_truncated_gguf_emulated(model_path, run, tmp_path, size, tool):
    """6a. A truncated GGUF through llama-server and llama-completion --backend unicorn
    (emulated): non-zero exit with a load error message ("failed to load model" / "error loading
    model"), no death by signal, no hang. 1MiB: cut inside the metadata; 60pct: complete header,
    tensor data cut ("data is not within the file bounds").

    llama-completion returns from main() on a load error; its error line, queued in llama.cpp's
    asynchronous logger, used to be lost in about a third of the runs. patches/0005 drains the
    logger at exit; test_reliability checks that under load."""
    n = 1 << 20 if size == "1MiB" else model_path.stat().st_size * 6 // 10
    bad = tmp_path / f"truncated-{size}.gguf"
    with open(model_path, "rb") as src, open(bad, "wb") as dst:
        dst.write(src.read(n))
    args = ["--host", "127.0.0.1", "--port", free_port()] if tool == "llama-server" else ["-p", "Hi", "-n", 2, "-no-cnv"]
    res = run(tool, ["-m", bad] + args + COMMON + UNICORN_ARGS, unicorn=True, timeout=120)
    print("\n".join(l for l in res.output.splitlines() if LOAD_ERROR.search(l) or "error" in l.lower()))
    assert res.rc != 0, "a truncated model loaded without error"
    assert LOAD_ERROR.search(res.output), f"no clear load error in the output:\n{res.tail()}"


DEVICE_LINE = re.compile(r"^\s*(UNICORN_\w+): (.*) \((\d+) MiB, (\d+) MiB free\)$", re.M)


def list_devices(run, env=None) -> tuple[dict, str]:
    res = check_ok(run("llama-server", ["--list-devices"], unicorn=True, timeout=60, env=env))
    return {m[0]: (m[1], int(m[2]), int(m[3])) for m in DEVICE_LINE.findall(res.stdout)}, res.output


def test_list_devices_emulated(run):
    """`--list-devices` (emulated) shows both Unicorn devices, described as emulated, with the
    memory figures of the system (the APU's devices share system memory: total = MemTotal,
    0 < free <= total). UNICORN_IGPU_MEM=1G sets the iGPU's figures
    only; a value that is not a size is reported and ignored."""
    mem_total_mib = next(int(l.split()[1]) for l in open("/proc/meminfo") if l.startswith("MemTotal:")) // 1024
    devs, _ = list_devices(run)
    print("\n".join(f"{k}: {v[0]} ({v[1]} MiB, {v[2]} MiB free)" for k, v in devs.items()))
    assert set(devs) == {NPU, IGPU}, f"devices listed: {sorted(devs)}"
    for name, (desc, total, free) in devs.items():
        assert "emulated" in desc, f"{name} does not say it is emulated: {desc!r}"
        assert abs(total - mem_total_mib) <= 1, f"{name}: total {total} MiB, MemTotal {mem_total_mib} MiB"
        assert 0 < free <= total, f"{name}: free {free} MiB of {total} MiB"

    devs, _ = list_devices(run, env={"UNICORN_IGPU_MEM": "1G"})
    assert devs[IGPU][1:] == (1024, 1024), f"UNICORN_IGPU_MEM=1G: {devs[IGPU]}"
    assert abs(devs[NPU][1] - mem_total_mib) <= 1, f"UNICORN_IGPU_MEM changed the NPU: {devs[NPU]}"

    devs, output = list_devices(run, env={"UNICORN_IGPU_MEM": "lots"})
    assert 'UNICORN_IGPU_MEM="lots" is not a size' in output, output[-2000:]
    assert abs(devs[IGPU][1] - mem_total_mib) <= 1, f"an invalid budget was not ignored: {devs[IGPU]}"


@pytest.mark.parametrize("tool", ["llama-completion", "llama-bench"])
def test_unknown_backend_lists_backends_emulated(model_path, run, tool):
    """6b. `--backend nosuch` (UNICORN_EMULATE=1): non-zero exit and an error naming 'nosuch' and
    listing the backends present, Unicorn and CPU among them."""
    args = ["-m", model_path, "--backend", "nosuch"]
    args += ["-p", "Hello", "-n", 4, "-no-cnv"] + COMMON if tool == "llama-completion" else ["-t", 2]
    res = run(tool, args, unicorn=True, timeout=120)
    m = re.search(r"unknown backend 'nosuch'; backends present: (.*)", res.output)
    print(m.group(0) if m else res.tail(10))
    assert res.rc != 0
    assert m, f"no 'unknown backend ... backends present' message:\n{res.tail()}"
    present = [b.strip().lower() for b in m.group(1).split(",")]
    assert "unicorn" in present and "cpu" in present, f"backends listed: {present}"


NO_DEVICE_LINE = re.compile(r"unicorn: .*set UNICORN_EMULATE=1")


@pytest.mark.parametrize("tool", ["llama-completion", "llama-server", "llama-bench"])
def test_no_hardware_without_emulation(model_path, run, tool):
    """6c. `--backend unicorn` WITHOUT UNICORN_EMULATE on a machine without Phoenix hardware: the
    plugin registers no device; the tool exits non-zero (no signal, no hang) and stderr carries
    the plugin's explanation (a line "unicorn: ... set UNICORN_EMULATE=1 ..."); where the tool's
    own error says "see its log line above", that line is above it."""
    args = ["-m", model_path, "--backend", "unicorn"]
    if tool == "llama-completion":
        args += ["-p", "Hello", "-n", 4, "-no-cnv"] + COMMON
    elif tool == "llama-server":
        args += ["--host", "127.0.0.1", "--port", free_port()] + COMMON
    else:
        args += ["-t", 2]
    res = run(tool, args, unicorn=False, timeout=120)
    print("\n".join(l for l in res.output.splitlines() if "UNICORN" in l.upper()))
    assert res.rc != 0, f"--backend unicorn without hardware or emulation exited 0:\n{res.tail()}"
    lines = res.stderr.splitlines()
    why = [i for i, l in enumerate(lines) if NO_DEVICE_LINE.search(l)]
    assert why, f"no plugin line 'unicorn: ... set UNICORN_EMULATE=1' in stderr:\n{res.tail()}"
    pointer = [i for i, l in enumerate(lines) if "see its log line above" in l]
    assert pointer, f"no 'has no devices (see its log line above ...)' error:\n{res.tail()}"
    assert all(why[0] < i for i in pointer), f"the plugin's line comes after the error that points to it:\n{res.tail()}"


# A context whose UNICORN_HOST compute buffer is about 2 GiB (-ub 2048: the output logits of
# 2048 tokens x 262,144 vocabulary), under an address space (RLIMIT_AS) of 1.5 GiB: the process,
# its threads, the mapped model and the weights fit (about 0.7-0.9 GiB as of this writing, with
# room to grow), the compute buffer cannot. Measured: fails at 1536 MiB, runs at 4096 MiB.
ALLOC_FAIL_ARGS = ["-c", 2048, "-b", 2048, "-ub", 2048]
ALLOC_FAIL_ADDRESS_SPACE_MIB = 1536


def test_allocation_failure_is_clean_emulated(model_path, run):
    """6e. An allocation that fails: with the address space capped (RLIMIT_AS) so that the
    UNICORN_HOST compute buffer of the context cannot be had, Unicorn logs which allocation
    failed and how large it was, llama.cpp reports the context it could not create, and the tool
    exits 1: no abort, no signal."""
    res = run("llama-completion", ["-m", model_path, "-p", "Hello", "-n", 2, "-no-cnv"] + ALLOC_FAIL_ARGS
              + COMMON + UNICORN_ARGS, unicorn=True, timeout=120, address_space_mib=ALLOC_FAIL_ADDRESS_SPACE_MIB)
    print("\n".join(l for l in res.output.splitlines() if "alloc" in l or "memory" in l or "context" in l))
    assert res.rc == 1, f"exit {res.rc}:\n{res.tail()}"
    assert re.search(r"UNICORN_HOST: out of host memory allocating \d+ bytes", res.output), res.tail()
    assert re.search(r"failed to allocate UNICORN_HOST buffer of size \d+", res.output), res.tail()
    assert "failed to create context" in res.output, res.tail()


def test_unsupported_weight_type_falls_back_emulated(iq4nl_model_path, llama_server):
    """6d. A weight type no Unicorn device supports (the model requantized with
    `llama-quantize --allow-requantize --pure ... IQ4_NL`, cached next to the model): through
    --backend unicorn (emulated) greedy 32 tokens via /completion equal the CPU backend's on the
    same file, the server exits 0 on SIGTERM, and its scheduler dump (GGML_SCHED_DEBUG=2 -lv 5)
    shows every weight mat-mul (FFN included) on CPU."""
    prompt = PROMPTS[0]
    uni = llama_server(iq4nl_model_path, SERVER_ARGS + UNICORN_ARGS + SCHED_DEBUG_ARGS, unicorn=True,
                       env=SCHED_DEBUG_ENV, name="iq4nl-unicorn")
    toks_uni, text_uni = completion_tokens(uni, prompt, 32)
    rc = uni.stop()
    cpu = llama_server(iq4nl_model_path, SERVER_ARGS + CPU_ARGS, unicorn=False, name="iq4nl-cpu")
    toks_cpu, text_cpu = completion_tokens(cpu, prompt, 32)
    cpu.stop()
    print(f"cpu     {toks_cpu[:12]} {text_cpu[:70]!r}\nunicorn {toks_uni[:12]} {text_uni[:70]!r}")
    assert len(toks_cpu) == len(toks_uni) == 32, f"asked for 32 tokens: cpu {len(toks_cpu)}, unicorn {len(toks_uni)}"
    assert rc == 0, f"Unicorn server {rc=} after SIGTERM\n{uni.log_tail()}"

    log = uni.log()
    check_unicorn_selected(log)
    graphs = parse_sched_debug(log)
    assert graphs, f"no scheduler dump in the server log:\n{uni.log_tail()}"
    print(distinct_summary(graphs, "placement (IQ4_NL, --backend unicorn)"))
    weight_mm = [(gi, n) for gi, g in enumerate(graphs) for n in g.nodes
                 if n.op == "MUL_MAT" and any(re.match(r"blk\.\d+\.|token_embd|output\.weight", s.name) for s in n.srcs)]
    ffn = [(gi, n) for gi, n in weight_mm if n.is_ffn_matmul]
    off_cpu = [f"graph {gi} #{n.index} {n.name} on {n.backend}" for gi, n in weight_mm if n.backend != "CPU"]
    print(f"{len(weight_mm)} weight mat-muls ({len(ffn)} FFN), {len(off_cpu)} not on CPU")
    assert ffn, "no FFN mat-mul found in the scheduler dump"
    assert not off_cpu, f"IQ4_NL mat-muls not on CPU: {off_cpu[:10]}"
    d = first_difference(toks_cpu, toks_uni)
    assert d < 0, f"tokens differ at {d}: cpu {toks_cpu[d:d + 8]} vs unicorn {toks_uni[d:d + 8]}"


# ---------------------------------------------------------------------------------------------
# 7. capacity-aware placement

SPILL_BUDGET = "200M"
PLAN_LINE = re.compile(r"backend Unicorn: offload plan: (.*?): budget")
UNICORN_PLAN_LINE = re.compile(r"unicorn: offload plan for .*?: (.*?): [0-9.]+ GiB of weights")
LAYER_OF_WEIGHT = re.compile(r"^blk\.(\d+)\.")


def planned_layers(plan: str) -> tuple[set[int], set[int]]:
    """Layer indices on CPU and on UNICORN_IGPU0 from 'layers 0-16 on CPU, layers 17-17 on ...'."""
    cpu, dev = set(), set()
    for a, b, where in re.findall(r"layers (\d+)-(\d+) on (\S+?)(?:,|$)", plan):
        (cpu if where == "CPU" else dev).update(range(int(a), int(b) + 1))
    return cpu, dev


def test_spill_plan_emulated(model_path, run):
    """Capacity-aware placement (emulated): with UNICORN_IGPU_MEM=200M, too small for the model,
    Unicorn's offload plan keeps the last layers and the output layer on UNICORN_IGPU0 and
    spills the rest to the CPU. Checked: the plan Unicorn logs equals the plan llama.cpp applied
    (its own log line), the scheduler runs every layer's mat-muls where the plan put that layer's
    weights, and the greedy tokens still equal the CPU backend's."""
    env = {"UNICORN_IGPU_MEM": SPILL_BUDGET, **SCHED_DEBUG_ENV}
    res = completion(run, model_path, PROMPTS[0], 32, True, SCHED_DEBUG_ARGS, env=env, ctx=256)
    applied, planned = PLAN_LINE.search(res.output), UNICORN_PLAN_LINE.search(res.output)
    assert applied and planned, f"no offload plan lines in the output:\n{res.tail()}"
    print(f"Unicorn plan:  {planned.group(1)}\napplied plan:  {applied.group(1)}")
    assert planned.group(1) == applied.group(1), "llama.cpp applied another plan than Unicorn's"
    on_cpu, on_dev = planned_layers(applied.group(1))
    assert on_cpu and on_dev, f"budget {SPILL_BUDGET} should split the model: {applied.group(1)}"

    wrong = misplaced_layer_matmuls(parse_sched_debug(res.stderr + res.stdout),
                                    lambda layer, weight: IGPU if layer in on_dev else "CPU")
    assert not wrong, f"{len(wrong)} mat-muls not where the plan put their weights: {wrong[:8]}"

    cpu = completion(run, model_path, PROMPTS[0], 32, False, ctx=256)
    assert_same_generation(res, cpu, "spilled run vs CPU")


def misplaced_layer_matmuls(graphs: list[Graph], want) -> list[str]:
    """MUL_MAT nodes on a layer weight (blk.N.*) whose backend is not want(N, weight name);
    raises if the dump has none, so a check on nothing cannot pass."""
    wrong, n_checked = [], 0
    for g in graphs:
        for n in g.nodes:
            weights = [(int(m.group(1)), s.name) for s in n.srcs if (m := LAYER_OF_WEIGHT.match(s.name))]
            if n.op != "MUL_MAT" or not weights:
                continue
            n_checked += 1
            layer, weight = weights[0]
            if n.backend != want(layer, weight):
                wrong.append(f"{n.name} ({weight}) on {n.backend}, expected {want(layer, weight)}")
    assert n_checked > 0, "no mat-mul on a layer weight in the scheduler dump"
    return wrong


OT_PATTERN = r"blk\.[01]\.ffn_(gate|up|down)\.weight=CPU"


def test_ngl_and_ot_override_plan_emulated(model_path, run):
    """llama.cpp's own placement options win over Unicorn's offload plan (emulated):
    - with the spill budget and -ngl 99, Unicorn makes no plan and every layer's mat-muls run
      on UNICORN_IGPU0 (the budget is advice; the user asked for all layers);
    - with -ot sending the FFN weights of layers 0 and 1 to the CPU, those mat-muls run on the
      CPU and every other layer mat-mul on UNICORN_IGPU0.
    Both runs give the CPU backend's greedy tokens."""
    cpu = completion(run, model_path, PROMPTS[0], 16, False, ctx=256)
    ngl = completion(run, model_path, PROMPTS[0], 16, True, ["-ngl", "99"] + SCHED_DEBUG_ARGS,
                     env={"UNICORN_IGPU_MEM": SPILL_BUDGET, **SCHED_DEBUG_ENV}, ctx=256)
    assert not UNICORN_PLAN_LINE.search(ngl.output), "Unicorn planned an offload although -ngl was given"
    applied = PLAN_LINE.search(ngl.output)
    assert applied and "CPU" not in applied.group(1), f"-ngl 99 did not offload every layer: {ngl.tail()}"
    print(f"-ngl 99 with budget {SPILL_BUDGET}: {applied.group(1)}")
    wrong = misplaced_layer_matmuls(parse_sched_debug(ngl.stderr + ngl.stdout), lambda layer, w: IGPU)
    assert not wrong, f"-ngl 99: {len(wrong)} mat-muls off {IGPU}: {wrong[:8]}"
    assert_same_generation(ngl, cpu, "-ngl 99 run vs CPU")

    ot = completion(run, model_path, PROMPTS[0], 16, True, ["-ot", OT_PATTERN] + SCHED_DEBUG_ARGS,
                    env=SCHED_DEBUG_ENV, ctx=256)
    on_cpu = re.compile(r"blk\.[01]\.ffn_(gate|up|down)\.")  # the dump cuts names to 20 characters
    wrong = misplaced_layer_matmuls(parse_sched_debug(ot.stderr + ot.stdout),
                                    lambda layer, w: "CPU" if on_cpu.match(w) else IGPU)
    assert not wrong, f"-ot {OT_PATTERN}: {len(wrong)} mat-muls misplaced: {wrong[:8]}"
    assert_same_generation(ot, cpu, "-ot run vs CPU")
