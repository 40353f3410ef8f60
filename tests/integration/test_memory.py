"""Memory: the model's weights are used where llama.cpp mapped the file, not copied.

On the APU the CPU, the iGPU and the NPU share one pool of memory, so a second copy of the
weights would cost what the model costs. These tests run the same model through --backend
unicorn (emulated) and through the CPU backend with the same context and KV type, and compare
what is resident."""

from __future__ import annotations

import re

from conftest import CPU_ARGS, UNICORN_ARGS, assert_same_generation, completion
from test_unicorn import SERVER_ARGS, completion_tokens


def status_kib(pid: int) -> dict[str, int]:
    """VmRSS, RssAnon, RssFile, VmHWM of a live process, in KiB (/proc/PID/status)."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            m = re.match(r"(VmRSS|RssAnon|RssFile|VmHWM):\s+(\d+) kB", line)
            if m:
                out[m[1]] = int(m[2])
    return out


def steady_memory(llama_server, model, args, unicorn: bool, name: str) -> tuple[dict[str, int], list[int]]:
    """A server's memory after one greedy request of 16 tokens, and the request's token ids."""
    srv = llama_server(model, SERVER_ARGS + args, unicorn=unicorn, name=name)
    ids, text = completion_tokens(srv, "The three primary colors are", 16)
    assert len(ids) == 16 and text.strip(), f"{name}: expected 16 tokens, got {ids!r} {text!r}"
    mem = status_kib(srv.proc.pid)
    srv.stop()
    return mem, ids


def check_weights_not_copied(llama_server, model, label: str) -> None:
    file_kib = model.stat().st_size // 1024
    uni, uni_ids = steady_memory(llama_server, model, UNICORN_ARGS, True, f"mem-{label}-unicorn")
    cpu, cpu_ids = steady_memory(llama_server, model, CPU_ARGS, False, f"mem-{label}-cpu")
    print(f"{label} ({file_kib / 1024:.0f} MiB file), KiB: Unicorn {uni}, CPU {cpu}; "
          f"RssAnon ratio {uni['RssAnon'] / cpu['RssAnon']:.3f}, VmRSS ratio {uni['VmRSS'] / cpu['VmRSS']:.3f}")
    assert uni_ids == cpu_ids, f"{label}: tokens differ from the CPU backend's: {uni_ids} vs {cpu_ids}"
    extra = uni["RssAnon"] - cpu["RssAnon"]
    assert extra < file_kib / 10, (f"{label}: Unicorn holds {extra} KiB more anonymous memory than the CPU "
                                   f"backend; the model file is {file_kib} KiB (a copy of the weights?)")


def test_weights_used_in_place_gemma3_emulated(llama_server, model_path):
    check_weights_not_copied(llama_server, model_path, "gemma-3-270m")


def test_weights_used_in_place_gemma3n_emulated(llama_server, gemma3n_tiny):
    check_weights_not_copied(llama_server, gemma3n_tiny, "gemma3n-tiny")


def test_weights_in_place_logged_and_no_mmap_copies_emulated(run, model_path):
    """The log says the weights are used in place; with `-lm none` (no mapping; this llama.cpp's --no-mmap) they are copied into
    UNICORN_HOST (today's path) and the tokens are still the CPU's."""
    mapped = completion(run, model_path, "The three primary colors are", 12, unicorn=True, extra=["-lv", "4"])
    assert re.search(r"UNICORN_IGPU0: [0-9.]+ MiB of weights used in place from the mapped model file", mapped.output), \
        mapped.tail()
    copied = completion(run, model_path, "The three primary colors are", 12, unicorn=True, extra=["-lm", "none", "-lv", "4"])
    assert "used in place" not in copied.output, copied.tail()
    assert re.search(r"UNICORN_HOST model buffer size", copied.output), copied.tail()
    cpu = completion(run, model_path, "The three primary colors are", 12, unicorn=False)
    assert_same_generation(copied, cpu, "-lm none Unicorn vs CPU")
    assert_same_generation(mapped, cpu, "mapped Unicorn vs CPU")
