"""Gemma3n end to end through Unicorn (emulated), judged against the CPU backend.

The model is the `tiny` preset of scripts/gen-gemma3n.py: real Gemma3n structure and tokenizer,
seeded random weights. Both sides run with the same settings (see conftest: flash attention,
BF16 KV cache, ggml-cpu in its reference configuration), so every comparison is for equality.
"""

from __future__ import annotations

import re
import subprocess

import pytest

from conftest import (COMMON, CPU_ARGS, DATA, IGPU, NPU, REPO, UNICORN_ARGS, check_ok, completion,
                      generate_gemma3n)
from sched_debug import SCHED_DEBUG_ARGS, SCHED_DEBUG_ENV, parse_sched_debug
from test_unicorn import (CHAT_ARGS, PLAN_LINE, PROMPTS, SERVER_ARGS, UNICORN_PLAN_LINE, first_difference,
                          planned_layers)

LONG_PROMPT = ("The river ran past the mill, under the old stone bridge and on towards the sea, where the "
               "fishing boats waited for the tide. Every morning the miller walked to the bridge, counted "
               "the boats, and wrote the number in a book that nobody else ever read.")


def test_gemma3n_tokens_and_probs_emulated(gemma3n_tiny, llama_server):
    """Greedy tokens (32 per prompt, 3 prompts) through --backend unicorn equal the CPU's, and the
    top-10 log-probabilities (log-softmax of the logits) at every generated position agree:
    prints max |d logprob| and NMSE, and requires max |d| <= 1e-5 (the reference mirrors ggml-cpu
    bit for bit, so it is 0 here)."""
    uni = llama_server(gemma3n_tiny, SERVER_ARGS + UNICORN_ARGS, unicorn=True, name="g3n-unicorn")
    cpu = llama_server(gemma3n_tiny, SERVER_ARGS + CPU_ARGS, unicorn=False, name="g3n-cpu")
    max_dp, se, ss = 0.0, 0.0, 0.0
    for p in PROMPTS:
        body = {"prompt": p, "n_predict": 32, "temperature": 0, "return_tokens": True, "cache_prompt": False,
                "ignore_eos": True, "n_probs": 10}
        a, b = uni.post("/completion", body), cpu.post("/completion", body)
        assert a["tokens"] == b["tokens"], f"{p!r}: first difference at {first_difference(a['tokens'], b['tokens'])}"
        for pa, pb in zip(a["completion_probabilities"], b["completion_probabilities"]):
            qa = {t["id"]: t["logprob"] for t in pa["top_logprobs"]}
            qb = {t["id"]: t["logprob"] for t in pb["top_logprobs"]}
            assert qa.keys() == qb.keys(), "different top-10 candidates"
            for t in qa:
                d = qa[t] - qb[t]
                max_dp, se, ss = max(max_dp, abs(d)), se + d * d, ss + qb[t] * qb[t]
    print(f"gemma3n tiny: tokens equal on {len(PROMPTS)} prompts; top-10 probs max |dp| = {max_dp:.3g}, "
          f"NMSE = {se / ss if ss else 0:.3g}")
    assert max_dp <= 1e-5


def test_gemma3n_prompt_longer_than_ubatch_emulated(gemma3n_tiny, run):
    """A prompt several times longer than the micro-batch (-ub 16 -b 16, ~60-token prompt), the
    case that breaks llama.cpp's HIP backend on Gemma3n: tokens equal the CPU's."""
    extra = ["-ub", 16, "-b", 16]
    a = completion(run, gemma3n_tiny, LONG_PROMPT, 24, True, extra)
    b = completion(run, gemma3n_tiny, LONG_PROMPT, 24, False, extra)
    assert a.stdout == b.stdout


def test_gemma3n_context_past_sliding_window_emulated(gemma3n_tiny, run):
    """A context longer than the sliding window (64 in `tiny`): ~60 prompt tokens + 96 generated;
    tokens equal the CPU's."""
    a = completion(run, gemma3n_tiny, LONG_PROMPT, 96, True)
    b = completion(run, gemma3n_tiny, LONG_PROMPT, 96, False)
    assert a.stdout == b.stdout


def test_gemma3n_placement_emulated(gemma3n_tiny, run):
    """Placement of the Gemma3n graph (scheduler's own output): FLASH_ATTN_EXT on UNICORN_NPU0,
    every other layer op on UNICORN_IGPU0, only the input embeddings (GET_ROWS of token_embd and
    per_layer_token_embd) on the CPU; at most two device switches per attention layer, and no
    copies between the two Unicorn devices (splits that follow the other Unicorn device have no
    inputs)."""
    res = completion(run, gemma3n_tiny, PROMPTS[0], 2, True, SCHED_DEBUG_ARGS, env=SCHED_DEBUG_ENV)
    graphs = parse_sched_debug(res.stderr + res.stdout)
    assert graphs, res.tail()
    g = max(graphs, key=lambda g: len(g.nodes))
    print(f"gemma3n tiny, largest graph: {g.one_line()}")
    n_fa = sum(n.op == "FLASH_ATTN_EXT" for n in g.nodes)
    off = [f"{n.name} ({n.op}) on {n.backend}" for n in g.nodes
           if (n.op == "FLASH_ATTN_EXT") != (n.backend == NPU) or (n.backend == "CPU" and n.op != "GET_ROWS")]
    assert not off, f"ops off their device: {off[:10]}"
    cpu_rows = [n for n in g.nodes if n.backend == "CPU"]
    assert len(cpu_rows) <= 2, f"CPU runs more than the input embeddings: {[n.name for n in cpu_rows]}"
    # A copy between the Unicorn devices would be a split input produced by a node that the
    # other Unicorn device ran; graph inputs (positions, KV indices, masks) come from the CPU.
    producer = {n.name: n.backend for n in g.nodes}
    cross = [(s.backend, name) for s in g.splits for name, _ in s.inputs
             if s.backend in (NPU, IGPU) and producer.get(name) in ({NPU, IGPU} - {s.backend})]
    assert not cross, f"copies between Unicorn devices: {cross}"
    print(f"{len(g.splits)} splits for {n_fa} attention layers; copies, all from the CPU: "
          f"{[(s.backend, [i for i, _ in s.inputs]) for s in g.splits if s.n_inputs]}")
    assert len(g.splits) <= 2 * n_fa + 3


def test_gemma3n_graph_ops_replayed_emulated(gemma3n_tiny, run, tmp_path):
    """Every op of the tiny Gemma3n graph, exported by llama.cpp's test-export-graph-ops and
    replayed with test-backend-ops --test-file on each Unicorn device: no failure, and each
    device passes the ops it claims (the NPU: attention). Cases where the device and the CPU
    both return NaN (SQRT of the replay's random negative inputs) agree and are counted apart."""
    ops = tmp_path / "gemma3n-ops.txt"
    # -ot with a pattern matching nothing makes the exporter load the backends (llama.cpp quirk).
    check_ok(run("test-export-graph-ops", ["-m", gemma3n_tiny, "-o", ops, "-ot", "no_such_tensor=CPU"],
                 unicorn=False, timeout=300))
    for dev in (NPU, IGPU):
        res = run("test-backend-ops", ["test", "-b", dev, "--test-file", ops], unicorn=True, timeout=900)
        passed = len(re.findall(r"\): .*OK", res.output))
        fails = [ln for ln in res.output.splitlines() if re.search(r"\): .*FAIL", ln)]
        # The replay fills inputs with random values, so SQRT sees negatives (the graph only
        # takes square roots of variances). test-backend-ops reports any NaN as a failure, even
        # when the device and the CPU both give NaN: those cases agree and are counted apart.
        both_nan = [ln for ln in fails if re.search(r"NaN at index \d+ \(\S+=-?nan CPU=-?nan\)", ln)]
        real = [ln for ln in fails if ln not in both_nan]
        print(f"{dev}: {passed} graph ops passed, {len(both_nan)} NaN on both sides (random inputs "
              f"outside the op's domain), {len(real)} failed")
        assert not real and passed > 0, "\n".join(real[:10]) or res.tail()


def test_gemma3n_perplexity_emulated(gemma3n_tiny, run):
    """llama-perplexity --backend unicorn on the fixed text prints the CPU's figure exactly."""
    ppl = ["-m", gemma3n_tiny, "-f", DATA / "fixed-text.txt", "-c", 128, "--chunks", 3] + COMMON
    a = check_ok(run("llama-perplexity", ppl + UNICORN_ARGS, unicorn=True, timeout=600))
    b = check_ok(run("llama-perplexity", ppl + CPU_ARGS, unicorn=False, timeout=600))
    fa, fb = (re.search(r"Final estimate: PPL = ([0-9.]+ \+/- [0-9.]+)", r.output) for r in (a, b))
    assert fa and fb, a.tail()
    print(f"gemma3n tiny PPL: Unicorn {fa.group(1)}, CPU {fb.group(1)}")
    assert fa.group(1) == fb.group(1)


def test_gemma3n_server_chat_emulated(gemma3n_tiny, llama_server):
    """llama-server --backend unicorn: a chat completion equals the CPU server's."""
    body = {"messages": [{"role": "user", "content": "Name three rivers."}], "temperature": 0, "max_tokens": 24}
    answers = []
    for unicorn, args in ((True, UNICORN_ARGS), (False, CPU_ARGS)):
        srv = llama_server(gemma3n_tiny, SERVER_ARGS + CHAT_ARGS + args, unicorn=unicorn,
                           name="g3n-chat-" + ("unicorn" if unicorn else "cpu"))
        answers.append(srv.post("/v1/chat/completions", body)["choices"][0]["message"]["content"])
    assert answers[0] == answers[1]


def test_gemma3n_spill_plan_emulated(gemma3n_tiny, run):
    """With a budget too small for the model (UNICORN_IGPU_MEM=100M: the 262144-row output head
    takes 71 MB of it) the plan keeps the output and the last layers that fit on UNICORN_IGPU0 and
    the CPU runs the rest: plan logged = plan applied, and the tokens equal the CPU's."""
    env = {"UNICORN_IGPU_MEM": "100M"}
    a = completion(run, gemma3n_tiny, PROMPTS[0], 16, True, SCHED_DEBUG_ARGS, env=env)
    applied, planned = PLAN_LINE.search(a.output), UNICORN_PLAN_LINE.search(a.output)
    assert applied and planned, a.tail()
    print(f"plan: {planned.group(1)}")
    assert applied.group(1) == planned.group(1)
    assert all(planned_layers(applied.group(1))), "the budget should split the model"
    b = completion(run, gemma3n_tiny, PROMPTS[0], 16, False)
    assert a.stdout == b.stdout


def test_gemma3n_malformed_model_emulated(model_path, run):
    """A Gemma3n GGUF with a tensor missing, or with a wrong shape: llama.cpp's loader message
    and a clean non-zero exit through --backend unicorn (no signal, no hang)."""
    for name, extra, msg in (("missing", ["--omit-tensor", "blk.3.ffn_up.weight"], "not found"),
                             ("badshape", ["--wrong-shape", "blk.3.ffn_up.weight"], "wrong shape")):
        bad = generate_gemma3n(model_path, name, ["--preset", "tiny"] + extra)
        res = run("llama-completion", ["-m", bad, "-p", "hi", "-n", 1, "-no-cnv"] + COMMON + UNICORN_ARGS,
                  unicorn=True, timeout=300)
        assert res.rc > 0, f"{name}: exit {res.rc} (a negative exit is death by a signal)"
        assert msg in res.output and "blk.3.ffn_up.weight" in res.output, res.tail()


# ---------------------------------------------------------------------------------------------
# the generator's own command line

# Dimensions no preset has: 21 layers (the fewest with KV-sharing layers), hidden 128, 2 query
# heads and 1 KV head of size 96, FFN 384, a 32-token sliding window.
CUSTOM_DIMS = {"layers": 21, "hidden": 128, "heads": 2, "kv-heads": 1, "head-dim": 96, "ffn": 384,
               "sliding-window": 32}
# what llama.cpp's loader prints for each (print_info: NAME = VALUE)
CUSTOM_LOADED = {"n_layer": 21, "n_embd": 128, "n_head": 2, "n_head_kv": 1, "n_embd_head_k": 96,
                 "n_ff": 384, "n_swa": 32}


def test_gemma3n_custom_dimensions_emulated(model_path, run):
    """A Gemma3n made from dimensions given on the generator's command line loads with exactly
    those hyper-parameters (llama.cpp's print_info) and, with a prompt longer than its window,
    gives the CPU backend's greedy tokens through --backend unicorn."""
    dims = [x for k, v in CUSTOM_DIMS.items() for x in (f"--{k}", str(v))]
    model = generate_gemma3n(model_path, "custom", dims + ["--seed", "3"])
    a = completion(run, model, LONG_PROMPT, 16, True, ["-lv", "4"])  # -lv 4: print_info lines
    loaded = {k: int(v) for k, v in re.findall(r"print_info: (\w+)\s*= (\d+)\n", a.output)}
    assert {k: loaded.get(k) for k in CUSTOM_LOADED} == CUSTOM_LOADED, a.tail()
    b = completion(run, model, LONG_PROMPT, 16, False)
    assert a.stdout == b.stdout, f"custom Gemma3n differs from the CPU:\n{a.stdout!r}\n{b.stdout!r}"


@pytest.mark.parametrize("args, message", [
    (["--preset", "e3b"], "unknown preset 'e3b'"),
    (["--hidden", "250", "--heads", "4"], "--heads 4 does not divide --hidden 250"),
    (["--kv-heads", "3"], "--kv-heads 3 does not divide --heads 4"),
    (["--layers", "12"], "at least 21 layers"),
    (["--head-dim", "63"], "--head-dim 63 must be even"),
    (["--ffn", "0"], "--ffn must be positive"),
    (["--global-layers", "4,99"], "--global-layers: [99] outside 0..21"),
    (["--per-layer-input", "128"], "hard-codes the per-layer input width"),
], ids=["preset", "hidden", "kv-heads", "layers", "head-dim", "ffn", "global-layers", "per-layer-input"])
def test_generator_rejects_malformed_request(model_path, tmp_path, args, message):
    """gen-gemma3n.py: an impossible request is exit 2 with one error line naming the problem,
    and no file is written."""
    out = tmp_path / "bad.gguf"
    r = subprocess.run(["python3", str(REPO / "scripts" / "gen-gemma3n.py"), "--tokenizer-from", str(model_path),
                        "-o", str(out)] + args, capture_output=True, text=True, timeout=120)
    assert r.returncode == 2, f"exit {r.returncode}:\n{r.stderr[-2000:]}"
    assert "gen-gemma3n: error: " in r.stderr and message in r.stderr, r.stderr[-2000:]
    assert list(tmp_path.iterdir()) == [], f"files left behind: {list(tmp_path.iterdir())}"
