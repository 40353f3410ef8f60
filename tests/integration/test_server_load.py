"""llama-server --backend unicorn (emulated) under real OpenAI clients (the `openai` package):
concurrent, streamed and not, some cancelled mid-stream. The long version (a soak) is
`python3 tests/integration/server_load.py --soak 600` (see server_load.py)."""

from __future__ import annotations

import pytest

from conftest import CPU_ARGS, UNICORN_ARGS
from server_load import PROMPTS, client, replace_np, rss_kib, run_load
from test_unicorn import CHAT_ARGS, SERVER_ARGS

CLIENTS, SLOTS, MAX_TOKENS = 16, 4, 8
# requests per side: the CPU baseline (reference kernels) is about 4x slower under this load,
# so CI sends it fewer; server_load.py sends 200 to each side.
REQUESTS = {"unicorn": 200, "cpu": 64}
RSS_GROWTH_MAX = 0.05  # resident memory at the end vs after the first 20 requests


def test_server_under_openai_clients_emulated(model_path, llama_server):
    """200 greedy chat completions (max_tokens 8, ignore_eos) from 16 concurrent OpenAI clients
    against `llama-server --backend unicorn -np 4`, about half plain, a third streamed and the
    rest streams the client closes after 3 chunks; then 64 of the same against the CPU server. On each side: no failed
    request (every complete answer has its 8 tokens), the server still answers afterwards with
    the answer it gave before the load, its resident memory at the end is within 5 % of its
    memory after the first 20 requests, and batching changed no answer: every complete answer
    under load equals the same prompt's answer alone (continuous batching changes batch shapes;
    the reference kernels' sums do not depend on them). Across sides: each prompt's answer
    alone is the same on Unicorn and on the CPU."""
    reports = {}
    for side, args, unicorn in (("unicorn", UNICORN_ARGS, True), ("cpu", CPU_ARGS, False)):
        srv = llama_server(model_path, replace_np(SERVER_ARGS + CHAT_ARGS + args, SLOTS, 1024 * SLOTS),
                           unicorn=unicorn, name=f"load-{side}")
        rep = run_load(srv.url, srv.proc.pid, REQUESTS[side], CLIENTS, MAX_TOKENS)
        print(rep.summary(side))
        health = srv.get("/health")
        after = client(srv.url).chat.completions.create(
            model="m", messages=[{"role": "user", "content": PROMPTS[0]}], temperature=0, max_tokens=MAX_TOKENS,
            extra_body={"ignore_eos": True}).choices[0].message.content
        rss_end = rss_kib(srv.proc.pid)
        assert not rep.failed(), f"{side}: {len(rep.failed())} failed requests, e.g. {rep.failed()[:3]}"
        assert len(rep.outcomes) == REQUESTS[side]
        assert health.status_code == 200 and after == rep.isolated[0], (
            f"{side}: after the load /health {health.status_code}, answer {after!r} vs {rep.isolated[0]!r}")
        differing = {p: d for p, d in rep.differing().items() if d[0]}
        assert sum(a for _, a in rep.differing().values()) > 0, f"{side}: no complete answer to compare"
        assert not differing, (f"{side}: answers under load differ from the prompt's answer alone "
                               f"(prompt: (differing, complete)): {differing}")
        growth = rss_end / rep.rss_after_20_kib - 1
        assert growth <= RSS_GROWTH_MAX, f"{side}: resident memory grew {100 * growth:.1f} % under load"
        reports[side] = rep
        srv.stop()
    differ = [p for p in range(len(PROMPTS)) if reports["unicorn"].isolated[p] != reports["cpu"].isolated[p]]
    assert not differ, "isolated answers differ between Unicorn and CPU for prompts " + ", ".join(
        f"{p}: {reports['unicorn'].isolated[p]!r} vs {reports['cpu'].isolated[p]!r}" for p in differ)


if __name__ == "__main__":
    raise SystemExit(pytest.main([__file__, "-v"]))
