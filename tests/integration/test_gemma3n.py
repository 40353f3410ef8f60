"""Gemma3n end to end through Unicorn (emulated), judged against the CPU backend.

The model is the `tiny` preset of scripts/gen-gemma3n.py: real Gemma3n structure and tokenizer,
seeded random weights. Both sides run with the same settings (see conftest: flash attention,
BF16 KV cache, ggml-cpu in its reference configuration), so every comparison is for equality.
"""

from __future__ import annotations

import re
import subprocess

import pytest

from conftest import (COMMON, CPU_ARGS, DATA, IGPU, NPU, REPO, UNICORN_ARGS, assert_same_generation, check_ok,
                      completion, generate_gemma3n)
from sched_debug import SCHED_DEBUG_ARGS, SCHED_DEBUG_ENV, parse_sched_debug
from test_unicorn import (CHAT_ARGS, PLAN_LINE, PROMPTS, SERVER_ARGS, UNICORN_PLAN_LINE, first_difference,
                          misplaced_layer_matmuls, planned_layers)

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
        assert len(a["tokens"]) == len(b["tokens"]) == 32, f"asked for 32 tokens: {len(a['tokens'])}, {len(b['tokens'])}"
        assert a["tokens"] == b["tokens"], f"{p!r}: first difference at {first_difference(a['tokens'], b['tokens'])}"
        pas, pbs = a["completion_probabilities"], b["completion_probabilities"]
        assert len(pas) == len(pbs) == 32, f"log-probabilities for {len(pas)} and {len(pbs)} of 32 positions"
        for pa, pb in zip(pas, pbs):
            qa = {t["id"]: t["logprob"] for t in pa["top_logprobs"]}
            qb = {t["id"]: t["logprob"] for t in pb["top_logprobs"]}
            assert len(qa) == len(qb) == 10, f"top-10 lists of {len(qa)} and {len(qb)} distinct tokens"
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
    assert_same_generation(a, b, "prompt longer than the ubatch")


def test_gemma3n_context_past_sliding_window_emulated(gemma3n_tiny, run):
    """A context longer than the sliding window (64 in `tiny`): ~60 prompt tokens + 96 generated;
    tokens equal the CPU's."""
    a = completion(run, gemma3n_tiny, LONG_PROMPT, 96, True)
    b = completion(run, gemma3n_tiny, LONG_PROMPT, 96, False)
    assert_same_generation(a, b, "context past the sliding window")


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
    assert n_fa >= 20, f"{n_fa} FLASH_ATTN_EXT nodes in the largest graph: attention did not run (22 layers)"
    off = [f"{n.name} ({n.op}) on {n.backend}" for n in g.nodes
           if (n.op == "FLASH_ATTN_EXT") != (n.backend == NPU) or (n.backend == "CPU" and n.op != "GET_ROWS")]
    assert not off, f"ops off their device: {off[:10]}"
    cpu_rows = [n for n in g.nodes if n.backend == "CPU"]
    assert len(cpu_rows) <= 2, f"CPU runs more than the input embeddings: {[n.name for n in cpu_rows]}"
    # Every tensor copied into a Unicorn split (a split input) must be accounted for: a node the
    # CPU ran, a view of one, or a graph input llama.cpp fills (positions, KV indices, output
    # ids). Anything else - a node of the other Unicorn device, or a name the dump does not
    # resolve - fails. Split inputs are printed with their full names, node names cut to 20
    # characters: an input is matched to the nodes whose printed name is its first 20 characters
    # (all of them must be CPU nodes). Sizes are rounded to K/M.
    unaccounted = []
    for s in g.splits:
        if s.backend not in (NPU, IGPU):
            continue
        for name, size in s.inputs:
            how = copy_source(g, s, name, size)
            print(f"  copy into {s.backend} split #{s.index}: {name!r} ({size}) <- {how}")
            if how is None:
                unaccounted.append((s.backend, s.index, name, size))
    assert not unaccounted, f"split inputs neither from a CPU node nor a graph input: {unaccounted}"
    print(f"{len(g.splits)} splits for {n_fa} attention layers; copies, all from the CPU: "
          f"{[(s.backend, [i for i, _ in s.inputs]) for s in g.splits if s.n_inputs]}")
    assert len(g.splits) <= 2 * n_fa + 3


# Graph inputs llama.cpp fills from the host (llm_graph_input_*: ggml_set_input tensors).
GRAPH_INPUT = re.compile(r"^(inp_\w+|attn_inp_\w+|out_ids)$")
VIEW_SUFFIX = re.compile(r"^(.*?)\s*\((reshaped|view|permuted|transposed|cont)\)$")  # ggml's view names
UNNAMED = re.compile(r"^node_\d+$")  # the dump's name for a node llama.cpp left unnamed
NAME_WIDTH = 20  # ggml_backend_sched_print_assignments prints node names as %20.20s


def copy_source(g, split, name: str, size: str) -> str | None:
    """Where an input of `split` comes from, in words, or None if it is not a CPU node, a view of
    one or a graph input (see test_gemma3n_placement_emulated). Producers are looked for in the
    splits before this one."""
    earlier = [n for s in g.splits if s.index < split.index for n in s.nodes]

    def producers(full: str) -> list:
        """Earlier nodes the full name may denote (the dump prints node names cut to 20)."""
        return [n for n in earlier if n.name == full[:NAME_WIDTH].strip()]

    if found := producers(name):
        return f"CPU node {name}" if all(n.backend == "CPU" for n in found) else None
    if GRAPH_INPUT.match(name):
        return "graph input"
    m = VIEW_SUFFIX.match(name)
    if m:
        base = m.group(1).strip()
        if base:
            found = producers(base)
            return f"view of CPU node {base}" if found and all(n.backend == "CPU" for n in found) else None
        # an unnamed base (the dump prints such nodes as node_N): accept it only if every unnamed
        # earlier node of the same size ran on the CPU
        same = [n for n in earlier if UNNAMED.match(n.name) and n.size == size]
        if same and all(n.backend == "CPU" for n in same):
            return f"view of unnamed CPU node {same[0].name} ({size})"
    return None


ANSI = re.compile(r"\x1b\[[0-9;]*m")
CASE = re.compile(r"([A-Z][A-Z_0-9]*\(.*\)): .*(OK|FAIL)\s*$")  # group 1: the case as the tool names it
NAN_BOTH = re.compile(r"^\[(\w+)\] NaN at index \d+ \(\S+=-?nan CPU=-?nan\)")
NAN_DOMAIN_OPS = {"SQRT"}  # ops whose domain explains NaN on random inputs in [-1, 1]


def test_gemma3n_graph_ops_replayed_emulated(gemma3n_tiny, run, tmp_path):
    """Every op of the tiny Gemma3n graph, exported by llama.cpp's test-export-graph-ops and
    replayed with test-backend-ops --test-file on each Unicorn device: no failure, and each
    device passes the ops it claims (the NPU: attention).

    One excuse, for SQRT only: the replay fills inputs with random values in [-1, 1], and the
    graph takes square roots of variances, so SQRT sees negatives and both sides give NaN;
    test-backend-ops reports any NaN as a failure and stops comparing that tensor there. Those
    cases are counted apart (SQRT itself is checked on positive inputs by the test-backend-ops
    stage of scripts/test.sh). The tool's own "N/M tests passed" must equal the OK lines and
    the excused cases, its "Failing tests" list must hold exactly the excused ones (a case that
    fails to allocate prints no FAIL line, but is listed there), and its exit status must be 0,
    or 1 when excused cases exist."""
    ops = tmp_path / "gemma3n-ops.txt"
    # -ot with a pattern matching nothing makes the exporter load the backends (llama.cpp quirk).
    check_ok(run("test-export-graph-ops", ["-m", gemma3n_tiny, "-o", ops, "-ot", "no_such_tensor=CPU"],
                 unicorn=False, timeout=300))
    for dev in (NPU, IGPU):
        res = run("test-backend-ops", ["test", "-b", dev, "--test-file", ops], unicorn=True, timeout=900)
        out = ANSI.sub("", res.stdout)
        passed = [ln for ln in out.splitlines() if CASE.search(ln) and ln.rstrip().endswith("OK")]
        fails = [ln for ln in out.splitlines() if CASE.search(ln) and ln.rstrip().endswith("FAIL")]
        excused = [ln for ln in fails if NAN_BOTH.search(ln) and NAN_BOTH.search(ln).group(1) in NAN_DOMAIN_OPS]
        real = [ln for ln in fails if ln not in excused]
        summary = re.findall(r"^\s+(\d+)/(\d+) tests passed", out, re.M)
        listed = re.search(r"^Failing tests:\n((?:  .*\n)*)", out, re.M)
        listed = [ln.strip() for ln in listed.group(1).splitlines() if re.match(r"\s+[A-Z][A-Z_0-9]*\(", ln)] if listed else []
        print(f"{dev}: {len(passed)} graph ops passed, {len(excused)} NaN on both sides in "
              f"{'/'.join(sorted(NAN_DOMAIN_OPS))} (random inputs outside the op's domain), {len(real)} failed; "
              f"tool: {summary}, exit {res.rc}")
        assert not real, "\n".join(real[:10])
        assert len(summary) == 1, f"expected one 'N/M tests passed' line:\n{res.tail()}"
        n_ok, n_all = map(int, summary[0])
        assert n_ok == len(passed) > 0 and n_all == n_ok + len(excused), (
            f"the tool counts {n_ok}/{n_all}; here {len(passed)} OK + {len(excused)} excused:\n{res.tail()}")
        assert sorted(listed) == sorted(CASE.search(ln).group(1) for ln in excused), (
            f"the tool's failing list {listed} is not the excused cases")
        assert res.rc == (1 if excused else 0), f"test-backend-ops exit {res.rc}:\n{res.tail()}"


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
    body = {"messages": [{"role": "user", "content": "Name three rivers."}], "temperature": 0, "max_tokens": 24,
            "ignore_eos": True}
    answers = []
    for unicorn, args in ((True, UNICORN_ARGS), (False, CPU_ARGS)):
        srv = llama_server(gemma3n_tiny, SERVER_ARGS + CHAT_ARGS + args, unicorn=unicorn,
                           name="g3n-chat-" + ("unicorn" if unicorn else "cpu"))
        res = srv.post("/v1/chat/completions", body)
        assert res["usage"]["completion_tokens"] == 24, f"asked for 24 tokens: {res['usage']}"
        answers.append(res["choices"][0]["message"]["content"])
        assert answers[-1], f"empty answer: {res}"
    assert answers[0] == answers[1], f"chat answers differ:\n  {answers[0]!r}\n  {answers[1]!r}"


def test_gemma3n_spill_plan_emulated(gemma3n_tiny, run):
    """With a budget too small for the model (UNICORN_IGPU_MEM=100M: the 262144-row output head
    takes 71 MB of it) the plan keeps the output and the last layers that fit on UNICORN_IGPU0 and
    the CPU runs the rest: plan logged = plan applied, the scheduler runs every layer's mat-muls
    where the plan put that layer (GGML_SCHED_DEBUG=2 dump), and the tokens equal the CPU's."""
    env = {"UNICORN_IGPU_MEM": "100M", **SCHED_DEBUG_ENV}
    a = completion(run, gemma3n_tiny, PROMPTS[0], 16, True, SCHED_DEBUG_ARGS, env=env)
    applied, planned = PLAN_LINE.search(a.output), UNICORN_PLAN_LINE.search(a.output)
    assert applied and planned, a.tail()
    print(f"plan: {planned.group(1)}")
    assert applied.group(1) == planned.group(1)
    on_cpu, on_dev = planned_layers(applied.group(1))
    assert on_cpu and on_dev, "the budget should split the model"
    wrong = misplaced_layer_matmuls(parse_sched_debug(a.stderr + a.stdout),
                                    lambda layer, weight: IGPU if layer in on_dev else "CPU")
    assert not wrong, f"{len(wrong)} mat-muls not where the plan put their weights: {wrong[:8]}"
    b = completion(run, gemma3n_tiny, PROMPTS[0], 16, False)
    assert_same_generation(a, b, "spilled Gemma3n vs CPU")


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
    assert_same_generation(a, b, "custom Gemma3n vs CPU")


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
