#!/usr/bin/env python3
"""Comparison report: llama-bench on every backend present, Markdown plus a PNG plot.

Runs llama-bench (-o jsonl) for each prompt length (pp) and for decode (tg) on:
  - Unicorn (--backend unicorn; EMULATED on the CPU with UNICORN_EMULATE=1 unless Phoenix
    hardware is present, and labelled so),
  - the CPU backend (always; -ngl 0 -fa 1 -ctk bf16 -ctv bf16, the same cache type as Unicorn),
  - every GPU backend whose module is in the bin folder: Vulkan, HIP (ROCm), CUDA (-ngl 99).
Each test is repeated (-r) and shown as mean ± standard deviation with min-max of the runs.

usage: scripts/bench-report.py -m MODEL.gguf [-p 64,256] [-n 32] [-r 3] [-t THREADS]
                               [--bin build/bin] [-o build/report] [--label TEXT] [--only NAMES]
Writes OUT/report.md, OUT/report.png and OUT/<backend>.jsonl (the raw llama-bench rows).
"""
import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# name, module file in the bin folder, llama-bench device name, extra arguments
GPU_BACKENDS = [
    ("Vulkan", "libggml-vulkan.so", "Vulkan0"),
    ("HIP", "libggml-hip.so", "ROCm0"),
    ("CUDA", "libggml-cuda.so", "CUDA0"),
]


def hardware_present() -> bool:
    """The plugin's probe, as scripts/common.sh's hardware_present does it."""
    r = subprocess.run(["bash", "-c", f"source {ROOT}/scripts/common.sh >/dev/null 2>&1; hardware_present"])
    return r.returncode == 0


def git_commit() -> str:
    r = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run(["git", "-C", str(ROOT), "diff", "--quiet", "HEAD"]).returncode != 0
    return (r.stdout.strip() or "unknown") + ("+dirty" if dirty else "")


def bench(bin_dir: Path, args: list, env: dict, out: Path, timeout: int) -> list:
    cmd = [str(bin_dir / "llama-bench")] + args + ["-o", "jsonl"]
    print("[bench-report] " + " ".join(cmd), file=sys.stderr, flush=True)
    r = subprocess.run(cmd, cwd=bin_dir, env=env, capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        sys.stderr.write(r.stderr[-3000:])
        raise SystemExit(f"[bench-report] llama-bench failed (exit {r.returncode}): {' '.join(cmd)}")
    out.write_text(r.stdout)
    return [json.loads(line) for line in r.stdout.splitlines() if line.strip()]


def test_name(row: dict) -> str:
    return f"pp{row['n_prompt']}" if row["n_gen"] == 0 else f"tg{row['n_gen']}"


def summarize(rows: list) -> dict:
    out = {}
    for row in rows:
        samples = row.get("samples_ts") or [row["avg_ts"]]
        out[test_name(row)] = {
            "mean": statistics.fmean(samples),
            "sd": statistics.stdev(samples) if len(samples) > 1 else 0.0,
            "min": min(samples),
            "max": max(samples),
            "n": len(samples),
        }
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-m", "--model", required=True)
    ap.add_argument("-p", "--prompts", default="64,256", help="prompt lengths (pp tests), comma-separated")
    ap.add_argument("-n", "--gen", type=int, default=32, help="tokens generated (tg test); 0: none")
    ap.add_argument("-r", "--reps", type=int, default=3)
    ap.add_argument("-t", "--threads", type=int, default=os.cpu_count())
    ap.add_argument("--bin", default=str(ROOT / "build/bin"))
    ap.add_argument("-o", "--out", default=str(ROOT / "build/report"))
    ap.add_argument("--label", default="", help="machine label for the caption (e.g. 'NVIDIA H100')")
    ap.add_argument("--only", default="", help="comma-separated backends to run (default: all present)")
    ap.add_argument("--timeout", type=int, default=1800, help="seconds per llama-bench run")
    a = ap.parse_args()

    bin_dir, out = Path(a.bin).resolve(), Path(a.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    common = ["-m", str(Path(a.model).resolve()), "-p", a.prompts, "-n", str(a.gen), "-r", str(a.reps),
              "-t", str(a.threads)]
    base_env = {k: v for k, v in os.environ.items() if k != "UNICORN_EMULATE"}

    emulated = not hardware_present()
    runs = []  # (label, args, env)
    if (bin_dir / "libggml-unicorn.so").exists():
        env = dict(base_env, **({"UNICORN_EMULATE": "1"} if emulated else {}))
        runs.append(("Unicorn (EMULATED on the CPU)" if emulated else "Unicorn", ["--backend", "unicorn"], env))
    runs.append(("CPU", ["-ngl", "0", "-fa", "1", "-ctk", "bf16", "-ctv", "bf16"], base_env))
    for name, lib, dev in GPU_BACKENDS:
        if (bin_dir / lib).exists():
            runs.append((name, ["-dev", dev, "-ngl", "99", "-fa", "1"], base_env))
    if a.only:
        keep = {x.strip().lower() for x in a.only.split(",")}
        runs = [r for r in runs if r[0].split()[0].lower() in keep]

    results = {}
    model_type = ""
    for label, args, env in runs:
        slug = label.split()[0].lower()
        rows = bench(bin_dir, common + args, env, out / f"{slug}.jsonl", a.timeout)
        if not rows:
            raise SystemExit(f"[bench-report] {label}: llama-bench printed no rows")
        model_type = rows[0].get("model_type", model_type)
        results[label] = summarize(rows)

    tests = [f"pp{p}" for p in a.prompts.split(",") if p.strip()] + ([f"tg{a.gen}"] if a.gen else [])
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    machine = a.label or f"{platform.node()} ({os.cpu_count()} CPU threads)"
    caption = (f"{model_type}, {machine}, {a.threads} threads, {a.reps} runs each, {date}, commit {git_commit()}"
               + ("; Unicorn EMULATED on the CPU (no Phoenix NPU/iGPU): its speed is the emulator's, not the hardware's"
                  if emulated and any(l.startswith("Unicorn") for l in results) else ""))

    cpu = results.get("CPU", {})
    md = ["# Tokens per second by backend", "", caption, "",
          "| backend | test | t/s (mean ± sd) | min - max | vs CPU |", "|---|---|---:|---:|---:|"]
    for label, res in results.items():
        for t in tests:
            if t in res:
                r = res[t]
                vs = f"{r['mean'] / cpu[t]['mean']:.2f}x" if t in cpu and cpu[t]["mean"] > 0 else "-"
                md.append(f"| {label} | {t} | {r['mean']:.2f} ± {r['sd']:.2f} | {r['min']:.2f} - {r['max']:.2f} | {vs} |")
    md += ["", f"Command: `{' '.join([sys.argv[0]] + sys.argv[1:])}`", "", "![tokens per second](report.png)", ""]
    (out / "report.md").write_text("\n".join(md))

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(max(6.0, 1.6 * len(tests) * max(1, len(results)) / 2), 4.2))
    width = 0.8 / max(1, len(results))
    for i, (label, res) in enumerate(results.items()):
        xs = [j + (i - (len(results) - 1) / 2) * width for j in range(len(tests))]
        means = [res[t]["mean"] if t in res else 0 for t in tests]
        sds = [res[t]["sd"] if t in res else 0 for t in tests]
        bars = ax.bar(xs, means, width, yerr=sds, capsize=3, label=label,
                      hatch="//" if "EMULATED" in label else None)
        ax.bar_label(bars, fmt="%.1f", fontsize=7)
    ax.set_xticks(range(len(tests)), tests)
    ax.set_ylabel("tokens / s (mean ± sd)")
    ax.set_title("llama-bench: " + (model_type or "model"), fontsize=10)
    ax.legend(fontsize=8)
    fig.text(0.01, 0.01, caption, fontsize=6, wrap=True)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    fig.savefig(out / "report.png", dpi=120)
    print("\n".join(md))
    print(f"[bench-report] wrote {out / 'report.md'} and {out / 'report.png'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
