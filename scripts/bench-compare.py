#!/usr/bin/env python3
"""One table from two llama-bench runs (-o jsonl) of the same model on the same machine:
tokens/s of each test for both, and their ratio (first / second).

usage: bench-compare.py FIRST.jsonl SECOND.jsonl
"""
import json
import sys


def rows(path: str) -> dict:
    out = {}
    with open(path) as f:
        for line in f:
            if line.strip():
                r = json.loads(line)
                test = f"pp{r['n_prompt']}" if r["n_gen"] == 0 else f"tg{r['n_gen']}"
                out[test] = r
    return out


def label(r: dict) -> str:
    devices = r.get("devices") or "-"
    return r["backends"] if devices in ("-", "none", "auto") else f"{r['backends']} ({devices})"


def main() -> int:
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    a, b = rows(sys.argv[1]), rows(sys.argv[2])
    if not a or not b:
        sys.exit("bench-compare: a llama-bench run produced no rows (see its log above)")
    first, second = label(next(iter(a.values()))), label(next(iter(b.values())))
    model = next(iter(a.values()))["model_type"]
    print(f"model: {model}, threads: {next(iter(a.values()))['n_threads']}")
    cells = [("test", f"{first} t/s", f"{second} t/s", "ratio")]
    for test in a:
        if test in b:
            ra, rb = a[test], b[test]
            cells.append((test, f"{ra['avg_ts']:.2f} ± {ra['stddev_ts']:.2f}", f"{rb['avg_ts']:.2f} ± {rb['stddev_ts']:.2f}",
                          f"{ra['avg_ts'] / rb['avg_ts']:.2f}"))
    w = [max(len(c[i]) for c in cells) for i in range(4)]
    print("| " + " | ".join(h.ljust(w[i]) if i == 0 else h.rjust(w[i]) for i, h in enumerate(cells[0])) + " |")
    print("| " + " | ".join("-" * w[0] if i == 0 else "-" * (w[i] - 1) + ":" for i in range(4)) + " |")
    for c in cells[1:]:
        print("| " + " | ".join(x.ljust(w[i]) if i == 0 else x.rjust(w[i]) for i, x in enumerate(c)) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
