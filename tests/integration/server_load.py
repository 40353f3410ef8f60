"""Real OpenAI clients against llama-server: concurrent chat completions, streamed and not,
some cancelled mid-stream by the client. Used by test_server_load.py (the CI version) and run
alone for the long version (a soak):

    python3 tests/integration/server_load.py --requests 200 --clients 16          # both sides
    python3 tests/integration/server_load.py --soak 600 --clients 16 --side unicorn

Each request is a greedy chat completion (temperature 0, ignore_eos, max_tokens fixed) of one
of PROMPTS. A request fails when the client raises (other than the cancellations this driver
makes itself) or the answer is not max_tokens long. Printed: counts per kind, failures, latency
percentiles (whole request; first token for streams), the server's resident memory after the
first 20 requests and at the end, and per prompt how many answers differ from the answer the
same server gave to that prompt alone (before the load): continuous batching may change sums.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import random
import statistics
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import openai

PROMPTS = [
    "What is the capital of France? Answer in one sentence.",
    "Name three rivers in Europe.",
    "Write a haiku about the sea.",
    "Explain what a prime number is.",
    "Give me a recipe for pancakes.",
    "What does a compiler do?",
    "Describe the colour blue to someone who cannot see.",
    "List four planets of the solar system.",
]
KINDS = ("plain", "stream", "cancel")  # cancel: a stream the client closes after CANCEL_AFTER chunks
CANCEL_AFTER = 3


@dataclass
class Outcome:
    kind: str
    prompt: int
    ok: bool
    seconds: float
    first_token: float | None = None
    text: str | None = None
    error: str | None = None


@dataclass
class Report:
    outcomes: list[Outcome] = field(default_factory=list)
    rss_after_20_kib: int | None = None
    rss_end_kib: int | None = None
    isolated: dict[int, str] = field(default_factory=dict)

    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.ok]

    def percentiles(self, kind: str | None = None, first_token: bool = False, part: slice = slice(None)) -> str:
        xs = [(o.first_token if first_token else o.seconds) for o in self.outcomes[part]
              if o.ok and (kind is None or o.kind == kind) and (o.first_token is not None or not first_token)]
        if len(xs) < 2:
            return "n/a"
        q = statistics.quantiles(xs, n=100, method="inclusive")
        return f"p50 {q[49]:.2f} s, p90 {q[89]:.2f} s, p99 {q[98]:.2f} s (n={len(xs)})"

    def differing(self) -> dict[int, tuple[int, int]]:
        """Per prompt: (answers that differ from the isolated answer, complete answers)."""
        out = {}
        for p, ref in self.isolated.items():
            texts = [o.text for o in self.outcomes if o.ok and o.prompt == p and o.kind != "cancel"]
            out[p] = (sum(t != ref for t in texts), len(texts))
        return out

    def summary(self, label: str) -> str:
        n = len(self.outcomes)
        kinds = {k: sum(o.kind == k for o in self.outcomes) for k in KINDS}
        diff = self.differing()
        n_diff, n_all = sum(d for d, _ in diff.values()), sum(a for _, a in diff.values())
        rss = ""
        if self.rss_after_20_kib and self.rss_end_kib:
            rss = (f"\n  server RSS: {self.rss_after_20_kib / 1024:.1f} MiB after 20 requests, "
                   f"{self.rss_end_kib / 1024:.1f} MiB at the end "
                   f"({100 * (self.rss_end_kib / self.rss_after_20_kib - 1):+.1f} %)")
        half = n // 2
        return (f"{label}: {n} requests ({', '.join(f'{v} {k}' for k, v in kinds.items())}), "
                f"{len(self.failed())} failed\n"
                f"  latency, whole request: {self.percentiles()}\n"
                f"  latency, first streamed token: {self.percentiles(first_token=True)}\n"
                f"  latency, first half: {self.percentiles(part=slice(None, half))}; "
                f"second half: {self.percentiles(part=slice(half, None))}"
                f"{rss}\n"
                f"  answers differing from the prompt's isolated answer: {n_diff} of {n_all} "
                f"({', '.join(f'prompt {p}: {d}/{a}' for p, (d, a) in diff.items())})")


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def client(url: str, timeout: float = 600) -> openai.OpenAI:
    return openai.OpenAI(base_url=url + "/v1", api_key="none", max_retries=0, timeout=timeout)


def one_request(cl: openai.OpenAI, kind: str, prompt: int, max_tokens: int) -> Outcome:
    msgs = [{"role": "user", "content": PROMPTS[prompt]}]
    extra = {"ignore_eos": True}
    t0 = time.monotonic()
    try:
        if kind == "plain":
            r = cl.chat.completions.create(model="m", messages=msgs, temperature=0, max_tokens=max_tokens,
                                           extra_body=extra)
            text, n = r.choices[0].message.content, r.usage.completion_tokens
            ok = n == max_tokens and bool(text)
            return Outcome(kind, prompt, ok, time.monotonic() - t0, text=text,
                           error=None if ok else f"{n} tokens, text {text!r}")
        stream = cl.chat.completions.create(model="m", messages=msgs, temperature=0, max_tokens=max_tokens,
                                            extra_body=extra, stream=True)
        parts, first, chunks = [], None, 0
        for ch in stream:
            delta = ch.choices[0].delta.content if ch.choices else None
            if delta:
                first = first if first is not None else time.monotonic() - t0
                parts.append(delta)
                chunks += 1
                if kind == "cancel" and chunks == CANCEL_AFTER:
                    stream.close()  # the client hangs up mid-stream
                    return Outcome(kind, prompt, True, time.monotonic() - t0, first_token=first)
        text = "".join(parts)
        ok = kind == "stream" and chunks == max_tokens and bool(text)
        return Outcome(kind, prompt, ok, time.monotonic() - t0, first_token=first, text=text,
                       error=None if ok else f"{chunks} content chunks (want {max_tokens})")
    except Exception as e:  # noqa: BLE001 - every client-side error is a failed request
        return Outcome(kind, prompt, False, time.monotonic() - t0, error=f"{type(e).__name__}: {e}")


def run_load(url: str, server_pid: int, requests: int | None, clients: int, max_tokens: int,
             seconds: float | None = None, seed: int = 1, log=print) -> Report:
    """`requests` requests (or as many as fit in `seconds`) from `clients` threads. The mix is
    seeded: half plain, a third streamed, the rest cancelled streams."""
    rep = Report()
    cl = client(url)
    for p in range(len(PROMPTS)):  # each prompt alone first: the reference answers
        o = one_request(cl, "plain", p, max_tokens)
        if not o.ok:
            raise RuntimeError(f"isolated request for prompt {p} failed: {o.error}")
        rep.isolated[p] = o.text
    rng = random.Random(seed)
    lock = threading.Lock()
    t_end = time.monotonic() + seconds if seconds else None
    issued = 0

    def next_job():
        nonlocal issued
        with lock:
            if (requests is not None and issued >= requests) or (t_end is not None and time.monotonic() >= t_end):
                return None
            issued += 1
            r = rng.random()
            return ("plain" if r < 0.5 else "stream" if r < 0.85 else "cancel"), rng.randrange(len(PROMPTS))

    def worker():
        cw = client(url)
        while (job := next_job()) is not None:
            o = one_request(cw, job[0], job[1], max_tokens)
            with lock:
                rep.outcomes.append(o)
                done = len(rep.outcomes)
                if done == 20:
                    rep.rss_after_20_kib = rss_kib(server_pid)
                if done % 50 == 0:
                    log(f"  {done} requests done, {len(rep.failed())} failed, RSS {rss_kib(server_pid) / 1024:.1f} MiB")
                if not o.ok:
                    log(f"  FAILED {o.kind} prompt {o.prompt}: {o.error}")

    with cf.ThreadPoolExecutor(clients) as pool:
        for f in [pool.submit(worker) for _ in range(clients)]:
            f.result()
    rep.rss_end_kib = rss_kib(server_pid)
    return rep


def main() -> int:
    import sys
    sys.path.insert(0, str(Path(__file__).parent))
    from conftest import CPU_ARGS, UNICORN_ARGS, LlamaServer
    from test_unicorn import CHAT_ARGS, SERVER_ARGS

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, help="GGUF (default: the test model from scripts/fetch-model.sh)")
    ap.add_argument("--side", choices=["unicorn", "cpu", "both"], default="both")
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--soak", type=float, help="run for this many seconds instead of --requests")
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--slots", type=int, default=4, help="llama-server -np")
    ap.add_argument("--max-tokens", type=int, default=16)
    ap.add_argument("--log-dir", type=Path, default=Path("/tmp"))
    args = ap.parse_args()
    model = args.model
    if model is None:
        import subprocess
        repo = Path(__file__).resolve().parents[2]
        model = Path(subprocess.run(["bash", str(repo / "scripts" / "fetch-model.sh")], capture_output=True,
                                    text=True, check=True).stdout.split()[-1])
    sides = ["unicorn", "cpu"] if args.side == "both" else [args.side]
    reports = {}
    for side in sides:
        srv_args = replace_np(SERVER_ARGS + CHAT_ARGS + (UNICORN_ARGS if side == "unicorn" else CPU_ARGS),
                              args.slots, 1024 * args.slots)
        srv = LlamaServer(model, srv_args, unicorn=side == "unicorn", log_path=args.log_dir / f"server-load-{side}.log")
        srv.start()
        try:
            print(f"{side}: server pid {srv.proc.pid}, -np {args.slots}, {args.clients} clients", flush=True)
            t0 = time.monotonic()
            rep = run_load(srv.url, srv.proc.pid, None if args.soak else args.requests, args.clients,
                           args.max_tokens, seconds=args.soak, log=lambda s: print(s, flush=True))
            alive = client(srv.url).chat.completions.create(
                model="m", messages=[{"role": "user", "content": PROMPTS[0]}], temperature=0,
                max_tokens=args.max_tokens, extra_body={"ignore_eos": True}).choices[0].message.content
            print(rep.summary(f"{side} ({time.monotonic() - t0:.0f} s)"), flush=True)
            print(f"  after the load the server answers prompt 0 {'as' if alive == rep.isolated[0] else 'NOT as'} "
                  "it did alone before the load", flush=True)
            reports[side] = rep
        finally:
            srv.stop()
    if len(reports) == 2:
        same = {p: reports["unicorn"].isolated[p] == reports["cpu"].isolated[p] for p in range(len(PROMPTS))}
        print(f"isolated answers, Unicorn = CPU: {sum(same.values())} of {len(same)} prompts")
    return 0 if all(not r.failed() for r in reports.values()) else 1


def replace_np(args: list[str], slots: int, ctx: int) -> list[str]:
    """SERVER_ARGS with -np SLOTS and -c CTX (each slot keeps the single-slot context)."""
    out, i = [], 0
    while i < len(args):
        if args[i] in ("-np", "-c"):
            out += [args[i], str(slots if args[i] == "-np" else ctx)]
            i += 2
        else:
            out.append(args[i])
            i += 1
    return out


if __name__ == "__main__":
    raise SystemExit(main())
