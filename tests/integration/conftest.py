"""Fixtures and helpers for the Unicorn integration tests.

Layout assumed (see scripts/setup-llama.sh): the pinned, patched llama.cpp tools and
libggml-unicorn.so side by side in <repo>/build/bin; the test model comes from
scripts/fetch-model.sh.

Environment rule: a CPU-baseline run must NOT have UNICORN_EMULATE in its environment (without
Phoenix hardware the plugin then registers no device, so nothing of Unicorn joins the baseline's
scheduler); a Unicorn run sets UNICORN_EMULATE=1 (both Unicorn devices are CPU-backed
emulations). `run_tool(..., unicorn=...)` and the `llama_server` fixture do exactly that. Every
other UNICORN_*/GGML_*/LLAMA_ARG_* setting of the caller's shell is dropped (see tool_env), and
each run is checked afterwards for the side it claims to be (see check_sides).
"""

from __future__ import annotations

import hashlib
import os
import re
import shlex
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from sched_debug import PLAIN_LOG_ARGS

REPO = Path(__file__).resolve().parents[2]
BIN = REPO / "build" / "bin"
PLUGIN = BIN / "libggml-unicorn.so"
DATA = REPO / "tests" / "data"
CACHE = Path(os.environ.get("UNICORN_CACHE", Path.home() / ".cache" / "unicorn"))

TOOLS = ["llama-server", "llama-cli", "llama-completion", "llama-bench", "llama-perplexity", "llama-quantize"]

NPU = "UNICORN_NPU0"  # ACCEL device: FLASH_ATTN_EXT
IGPU = "UNICORN_IGPU0"  # IGPU device: model layers, MUL_MAT and the rest

THREADS = ["-t", "2"]
# Plain logs for the common tools (completion, cli, server, perplexity); -fit off keeps llama.cpp
# from adjusting unset parameters per device, so both sides of a comparison get the same ones.
# -lv 4 prints llama.cpp's buffer lines ("CPU KV buffer size", ...), which check_sides reads
# (llama.cpp's info lines are below the tools' default verbosity); it goes to stderr only.
COMMON = THREADS + ["-fit", "off", "-lv", "4"] + PLAIN_LOG_ARGS
# --backend unicorn = model on UNICORN_IGPU0, all layers offloaded, flash attention on, the
# backend's KV cache type (BF16). The CPU baseline must match everything but the devices.
#
# Both sides run ggml-cpu (whatever CPU work remains) in its one fixed-order configuration:
# reference kernels (GGML_CPU_USE_REF=1, patches/0003) and no weight repacking (-nr). The
# CPU backend's optimised paths (repacked and tiled mat-muls) sum in other orders; on Gemma 3
# 270M the default CPU backend differs from itself without repacking by a mean KLD of 0.006,
# so "equal to the CPU backend" is only well defined for a pinned configuration. Unicorn's
# reference engines mirror exactly this one.
CPU_REFERENCE_ENV = {"GGML_CPU_USE_REF": "1"}
UNICORN_ARGS = ["--backend", "unicorn", "-nr"]
CPU_ARGS = ["-ngl", "0", "-fa", "on", "-ctk", "bf16", "-ctv", "bf16", "-dev", "none", "-nr"]
EXPECTED_KV_TYPE = "bf16"

PLUGIN_MISSING = (
    f"libggml-unicorn.so not found in build/bin ({PLUGIN}); build the backend and copy it next to "
    "the llama.cpp tools"
)


# --------------------------------------------------------------------------------------------
# running tools


@dataclass
class Result:
    cmd: list[str]
    rc: int
    stdout: str
    stderr: str
    seconds: float
    generated: str = ""  # completion(): the text after the echoed prompt

    @property
    def output(self) -> str:
        """stdout then stderr (not interleaved)."""
        return self.stdout + self.stderr

    def tail(self, n: int = 40) -> str:
        return key_lines(self.output) + "\n".join(self.output.splitlines()[-n:])


_KEY = re.compile(r"error|panicked|failed|abort|assert|exception", re.I)


def key_lines(text: str, n: int = 12) -> str:
    """The first n distinct error-looking lines of a log, as a block for failure messages."""
    seen: list[str] = []
    for line in text.splitlines():
        line = line.strip()
        if _KEY.search(line) and line not in seen:
            seen.append(line)
            if len(seen) == n:
                break
    return ("--- error lines ---\n" + "\n".join(seen) + "\n--- last lines ---\n") if seen else ""


def _uses_unicorn_backend(args: list[str]) -> bool:
    return any(a == "--backend" and i + 1 < len(args) and args[i + 1].lower() == "unicorn" for i, a in enumerate(args))


def require_plugin() -> None:
    if not PLUGIN.is_file():
        pytest.fail(PLUGIN_MISSING, pytrace=False)


# Caller variables that only say where things are; every other UNICORN_*, GGML_* and
# LLAMA_ARG_* variable of the caller's shell is dropped: UNICORN_DISABLE_OPS=MUL_MAT or
# UNICORN_IGPU_MEM=1M in a shell would otherwise make equality tests pass with Unicorn computing
# little or nothing. Tests pass what they need explicitly (env=...).
KEPT_ENV = {"UNICORN_CACHE", "UNICORN_KERNELS"}
DROPPED_PREFIXES = ("UNICORN_", "GGML_", "LLAMA_ARG_")
_dropped_reported: set[str] = set()


def tool_env(unicorn: bool, extra: dict | None = None) -> dict:
    env = {}
    for k, v in os.environ.items():
        if k.startswith(DROPPED_PREFIXES) and k not in KEPT_ENV:
            if k not in _dropped_reported:
                _dropped_reported.add(k)
                print(f"(tests ignore the caller's {k}={v})", flush=True)
            continue
        env[k] = v
    if unicorn:
        env["UNICORN_EMULATE"] = "1"
    env.update(CPU_REFERENCE_ENV)
    env.update(extra or {})
    return env


def _describe_rc(rc: int) -> str:
    if rc < 0:
        try:
            return f"killed by signal {signal.Signals(-rc).name}"
        except ValueError:
            return f"killed by signal {-rc}"
    return f"exit {rc}"


def _limit_address_space(mib: int):
    """preexec_fn: cap the child's virtual address space (RLIMIT_AS) at `mib` MiB, so that its
    large allocations fail the way they do when memory runs out."""
    import resource

    def apply():
        resource.setrlimit(resource.RLIMIT_AS, (mib << 20, mib << 20))
    return apply


def run_tool(tool: str, args: list[str], unicorn: bool, timeout: float, env: dict | None = None,
             cwd: Path | None = None, address_space_mib: int | None = None) -> Result:
    """Run build/bin/<tool> with `args`; UNICORN_EMULATE=1 if `unicorn`, else unset.

    Captures stdout/stderr. Fails the test (pytest.fail) when the tool runs past `timeout`
    seconds (its process group is killed) or dies by a signal. A non-zero exit is returned to
    the caller (some tests expect one). A run through the Unicorn backend (unicorn=True or
    `--backend unicorn`) first fails if libggml-unicorn.so is missing."""
    exe = BIN / tool
    if not exe.is_file():
        pytest.fail(f"{tool} not found in {BIN}; run scripts/setup-llama.sh", pytrace=False)
    if unicorn or _uses_unicorn_backend(args):
        require_plugin()
    cmd = [str(exe)] + [str(a) for a in args]
    envd = tool_env(unicorn, env)
    shown = ("UNICORN_EMULATE=1 " if unicorn else "") + "".join(f"{k}={v} " for k, v in (env or {}).items())
    shown = (f"(ulimit -v {address_space_mib << 10}) " if address_space_mib else "") + shown
    print(f"$ {shown}{shlex.join([tool] + cmd[1:])}", flush=True)
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=envd, cwd=str(cwd or REPO), start_new_session=True,
                            preexec_fn=_limit_address_space(address_space_mib) if address_space_mib else None)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        res = Result(cmd, proc.returncode, out.decode(errors="replace"), err.decode(errors="replace"),
                     time.monotonic() - t0)
        pytest.fail(f"{tool} timed out after {timeout:.0f} s and was killed:\n{shlex.join(cmd)}\n"
                    f"--- last output ---\n{res.tail()}", pytrace=False)
    res = Result(cmd, proc.returncode, out.decode(errors="replace"), err.decode(errors="replace"),
                 time.monotonic() - t0)
    print(f"  -> {_describe_rc(res.rc)} in {res.seconds:.1f} s", flush=True)
    if res.rc < 0:
        pytest.fail(f"{tool} {_describe_rc(res.rc)}:\n{shlex.join(cmd)}\n--- last output ---\n{res.tail()}",
                    pytrace=False)
    if res.rc == 0 and tool in MODEL_TOOLS:
        check_sides(res.output, unicorn=unicorn or _uses_unicorn_backend(args), what=f"{tool} {shlex.join(args[:2])}")
    return res


# Tools that load a model into a context and print llama.cpp's buffer lines at -lv 4.
MODEL_TOOLS = {"llama-completion", "llama-perplexity", "llama-cli"}
_UNICORN_NAMES = re.compile(r"UNICORN_(?:HOST|IGPU\d|NPU\d)")
_CPU_WEIGHTS = re.compile(r"load_tensors:\s+CPU(?:_Mapped)? model buffer size")
_CPU_KV = re.compile(r"llama_kv_cache:\s+CPU KV buffer size")
_UNICORN_COMPUTE = re.compile(r"UNICORN_HOST compute buffer size")


def check_sides(log: str, unicorn: bool, what: str) -> None:
    """Guard that a run was the side it claims to be, from llama.cpp's own buffer lines (-lv 4):
    a CPU baseline holds its weights and KV cache in CPU buffers and names no Unicorn device or
    buffer anywhere; a Unicorn run reserved compute memory in UNICORN_HOST (the scheduler gave
    Unicorn devices work). Runs whose log has no buffer lines (no context made) are not judged."""
    if "buffer size" not in log:
        return
    if unicorn:
        assert _UNICORN_COMPUTE.search(log), (
            f"{what}: a Unicorn run, but no 'UNICORN_HOST compute buffer' line: the scheduler gave Unicorn no work")
    else:
        # llama.cpp's lines only: the plugin's own "unicorn: ..." lines name the devices it did not register
        found = sorted({n for line in log.splitlines() if not line.startswith("unicorn: ")
                        for n in _UNICORN_NAMES.findall(line)})
        assert not found, f"{what}: the CPU baseline names Unicorn devices/buffers {found}: Unicorn joined it"
        assert _CPU_WEIGHTS.search(log) and _CPU_KV.search(log), (
            f"{what}: the CPU baseline's log shows no CPU model buffer and CPU KV cache")


def check_ok(res: Result) -> Result:
    """Fail unless the run exited 0."""
    if res.rc != 0:
        pytest.fail(f"{Path(res.cmd[0]).name} {_describe_rc(res.rc)}:\n{shlex.join(res.cmd)}\n"
                    f"--- last output ---\n{res.tail()}", pytrace=False)
    return res


_SELECTION = re.compile(r"backend (\S+): model devices: ([^;]*); accelerators[^:]*: ([^;]*);.*?KV cache type: (\S+)")


def check_unicorn_selected(log: str) -> None:
    """The --backend patch logs its choice; check that it is the one the baseline assumes:
    model device UNICORN_IGPU0, accelerator UNICORN_NPU0, KV cache type BF16."""
    m = _SELECTION.search(log)
    assert m, "no '--backend' selection line ('backend Unicorn: model devices: ...') in the log"
    name, devs, accels, kv = m.groups()
    print(f"selected: backend {name}; model devices {devs}; accelerators {accels}; KV {kv}")
    assert name.lower() == "unicorn", m.group(0)
    assert IGPU in devs, m.group(0)
    assert NPU in accels, m.group(0)
    assert kv == EXPECTED_KV_TYPE, (
        f"the Unicorn backend asks for KV type {kv}, the CPU baseline uses {EXPECTED_KV_TYPE}: {m.group(0)}")


# --------------------------------------------------------------------------------------------
# llama-server


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LlamaServer:
    """llama-server on 127.0.0.1:<free port>, output to a log file; stop() always kills it."""

    def __init__(self, model: Path, args: list[str], unicorn: bool, log_path: Path, env: dict | None = None):
        self.model, self.args, self.unicorn, self.log_path, self.env = model, args, unicorn, log_path, env
        self.proc: subprocess.Popen | None = None
        self.port = 0
        self.stopped_rc: int | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, n: int = 40) -> str:
        log = self.log()
        return key_lines(log) + "\n".join(log.splitlines()[-n:])

    def start(self, timeout: float = 180) -> "LlamaServer":
        exe = BIN / "llama-server"
        if not exe.is_file():
            pytest.fail(f"llama-server not found in {BIN}; run scripts/setup-llama.sh", pytrace=False)
        if self.unicorn or _uses_unicorn_backend(self.args):
            require_plugin()
        for attempt in range(3):
            self.port = free_port()
            cmd = [str(exe), "-m", str(self.model), "--host", "127.0.0.1", "--port", str(self.port)] + self.args
            shown = ("UNICORN_EMULATE=1 " if self.unicorn else "") + "".join(f"{k}={v} " for k, v in (self.env or {}).items())
            print(f"$ {shown}{shlex.join(['llama-server'] + cmd[1:])}  (log: {self.log_path})", flush=True)
            with open(self.log_path, "wb") as logf:
                self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT,
                                             env=tool_env(self.unicorn, self.env), cwd=str(REPO),
                                             start_new_session=True)
            t0 = time.monotonic()
            while time.monotonic() - t0 < timeout:
                rc = self.proc.poll()
                if rc is not None:
                    break
                try:
                    if requests.get(self.url + "/health", timeout=2).status_code == 200:
                        print(f"  server up on port {self.port} after {time.monotonic() - t0:.1f} s", flush=True)
                        check_sides(self.log(), self.unicorn or _uses_unicorn_backend(self.args),
                                    f"llama-server {self.model.name}")
                        return self
                except requests.RequestException:
                    pass
                time.sleep(0.25)
            else:
                self.stop()
                pytest.fail(f"llama-server not healthy after {timeout:.0f} s\n--- log tail ---\n{self.log_tail()}",
                            pytrace=False)
            # exited early: a port race is retried, anything else fails
            log = self.log()
            if rc >= 0 and re.search(r"bind|address already in use", log, re.I) and attempt < 2:
                continue
            pytest.fail(f"llama-server {_describe_rc(rc)} during start-up\n--- log tail ---\n{self.log_tail()}",
                        pytrace=False)
        raise AssertionError("unreachable")

    def _check_alive(self, what: str, exc: Exception | None = None):
        rc = self.proc.poll() if self.proc else None
        if rc is not None:
            pytest.fail(f"llama-server {_describe_rc(rc)} during {what}\n--- log tail ---\n{self.log_tail()}",
                        pytrace=False)
        if exc is not None:
            pytest.fail(f"request {what} failed: {exc}\n--- log tail ---\n{self.log_tail()}", pytrace=False)

    def get(self, path: str, timeout: float = 30) -> requests.Response:
        try:
            return requests.get(self.url + path, timeout=timeout)
        except requests.RequestException as e:
            self._check_alive(f"GET {path}", e)

    def post(self, path: str, body: dict, timeout: float = 300) -> dict:
        """POST JSON; fail unless the answer is 200 with a JSON body."""
        try:
            r = requests.post(self.url + path, json=body, timeout=timeout)
        except requests.RequestException as e:
            self._check_alive(f"POST {path}", e)
        if r.status_code != 200:
            self._check_alive(f"POST {path}")
            pytest.fail(f"POST {path} -> HTTP {r.status_code}: {r.text[:2000]}\n--- log tail ---\n{self.log_tail()}",
                        pytrace=False)
        return r.json()

    def stop(self) -> int | None:
        """SIGTERM, then SIGKILL after 20 s. Returns the exit status (negative: signal)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
            except ProcessLookupError:
                pass
        self.stopped_rc = self.proc.returncode
        return self.stopped_rc


# --------------------------------------------------------------------------------------------
# fixtures


@pytest.fixture(scope="session")
def bin_dir() -> Path:
    """build/bin with the llama.cpp tools (fails if the build is missing)."""
    missing = [t for t in TOOLS if not (BIN / t).is_file()]
    if missing:
        pytest.fail(f"llama.cpp tools missing from {BIN}: {', '.join(missing)}; run scripts/setup-llama.sh",
                    pytrace=False)
    return BIN


@pytest.fixture(scope="session")
def model_path() -> Path:
    """Gemma 3 270M Q4_K_M, fetched/verified by scripts/fetch-model.sh (prints the path last)."""
    r = subprocess.run(["bash", str(REPO / "scripts" / "fetch-model.sh")], capture_output=True, text=True,
                       timeout=1800)
    if r.returncode != 0:
        pytest.fail(f"scripts/fetch-model.sh failed (exit {r.returncode}):\n{r.stderr[-3000:]}", pytrace=False)
    path = Path(r.stdout.strip().splitlines()[-1])
    assert path.is_file(), f"fetch-model.sh printed {path}, which is not a file"
    return path


@pytest.fixture(scope="session")
def iq4nl_model_path(model_path: Path, bin_dir: Path) -> Path:
    """The test model requantized (--allow-requantize --pure) to IQ4_NL, a weight type no Unicorn
    device supports. Cached next to the model, keyed by nothing but its name: delete it to redo."""
    out = model_path.parent / "gemma-3-270m-iq4_nl-pure.gguf"
    if out.is_file():
        return out
    tmp = out.with_suffix(f".tmp{os.getpid()}.gguf")
    try:
        res = run_tool("llama-quantize", ["--allow-requantize", "--pure", model_path, tmp, "IQ4_NL", "2"],
                       unicorn=False, timeout=600)
        check_ok(res)
        tmp.rename(out)
    finally:
        tmp.unlink(missing_ok=True)
    return out


_EVAL_RUNS = re.compile(r"common_perf_print:\s+eval time =\s+[\d.]+ ms /\s+(\d+) runs")


def generated_tokens(res: Result) -> int:
    """Tokens llama-completion generated: its 'eval time = ... / N runs' perf line counts the
    decodes after the prompt, one per generated token but the last (sampled, never decoded)."""
    m = _EVAL_RUNS.findall(res.output)
    assert len(m) == 1, f"expected one 'eval time = ... runs' perf line, found {len(m)}:\n{res.tail()}"
    return int(m[0]) + 1


def completion(run, model, prompt: str, n: int, unicorn: bool, extra=(), env: dict | None = None,
               ctx: int = 512, after=(), timeout: float = 600) -> Result:
    """Greedy llama-completion of exactly n tokens (--ignore-eos), through --backend unicorn
    (emulated) or on the CPU baseline. Fails the test unless it exits 0, generated n tokens and
    printed the prompt followed by non-empty text. `res.generated` holds that text.
    `extra` goes before the side's arguments (UNICORN_ARGS / CPU_ARGS), `after` after them, so
    it overrides what --backend unicorn or the baseline set (-ctk, -fa, -ngl, ...)."""
    args = ["-m", model, "-p", prompt, "-n", n, "--temp", 0, "-no-cnv", "-c", ctx, "--ignore-eos"] + COMMON + list(extra)  # extra last: its -lv 5 wins
    res = check_ok(run("llama-completion", args + (UNICORN_ARGS if unicorn else CPU_ARGS) + list(after),
                       unicorn=unicorn, timeout=timeout, env=env))
    got = generated_tokens(res)
    assert got == n, f"asked for {n} tokens, llama-completion generated {got}:\n{res.tail()}"
    assert res.stdout.startswith(prompt), f"stdout does not start with the prompt {prompt!r}: {res.stdout[:200]!r}"
    res.generated = res.stdout[len(prompt):]
    assert res.generated.strip(), f"{n} tokens generated, but no text after the prompt: {res.stdout!r}"
    return res


def assert_same_generation(a: Result, b: Result, what: str) -> None:
    """Two completion() results (each checked: n tokens, non-empty) print the same text."""
    assert a.generated == b.generated, (f"{what}: generated text differs:\n  {a.generated!r}\n  {b.generated!r}")
    print(f"{what}: same {generated_tokens(a)} tokens: {a.generated[:80]!r}")


def generate_gemma3n(model_path: Path, name: str, extra: list[str]) -> Path:
    """A synthetic Gemma3n GGUF from scripts/gen-gemma3n.py (tokenizer from the real Gemma 3
    model), cached and keyed by the generator's own hash plus its arguments."""
    gen = REPO / "scripts" / "gen-gemma3n.py"
    key = hashlib.sha256(gen.read_bytes() + " ".join(extra).encode()).hexdigest()[:12]
    out = CACHE / "model" / f"gemma3n-{name}-{key}.gguf"
    if out.is_file():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    r = subprocess.run(["python3", str(gen), "-q", "--tokenizer-from", str(model_path), "-o", str(out)] + extra,
                       capture_output=True, text=True, timeout=900)
    if r.returncode != 0:
        pytest.fail(f"gen-gemma3n.py {' '.join(extra)} failed (exit {r.returncode}):\n{r.stderr[-3000:]}", pytrace=False)
    return out


@pytest.fixture(scope="session")
def gemma3n_tiny(model_path: Path) -> Path:
    """Gemma3n `tiny` preset (22 layers: KV-sharing, sliding-window (64) and global layers,
    activation sparsity, per-layer embeddings, AltUp, LAuReL, final soft-cap); seeded random
    weights, so it is judged against the CPU backend, never by reading its text."""
    return generate_gemma3n(model_path, "tiny", ["--preset", "tiny", "--seed", "7"])


@pytest.fixture
def run(bin_dir):
    """run(tool, args, unicorn, timeout) -> Result (see run_tool)."""

    def _run(tool: str, args: list, unicorn: bool, timeout: float = 300, env: dict | None = None,
             address_space_mib: int | None = None) -> Result:
        return run_tool(tool, [str(a) for a in args], unicorn, timeout, env, address_space_mib=address_space_mib)

    return _run


@pytest.fixture
def llama_server(bin_dir, tmp_path):
    """Factory: llama_server(model, args, unicorn, env=None, name=...) -> started LlamaServer.
    Every server started through it is stopped at teardown, whatever the test outcome."""
    servers: list[LlamaServer] = []

    def _start(model: Path, args: list, unicorn: bool, env: dict | None = None, name: str | None = None,
               timeout: float = 180) -> LlamaServer:
        name = name or f"server{len(servers)}-{'unicorn' if unicorn else 'cpu'}"
        srv = LlamaServer(model, [str(a) for a in args], unicorn, tmp_path / f"{name}.log", env)
        servers.append(srv)
        return srv.start(timeout)

    yield _start
    for srv in servers:
        srv.stop()


# --------------------------------------------------------------------------------------------
# load


class BusyLoad:
    """Every core kept busy by `workers` busy loops at the tests' own priority, each bounded by
    `timeout MAX_SECONDS` so that none outlives a killed test run. `cpu_share()` reports the CPU
    the loops actually got since start (1.0 = one core), so a test can show the load was real."""

    def __init__(self, workers: int | None = None, max_seconds: int = 900):
        self.workers = workers or os.cpu_count() or 2
        self.max_seconds = max_seconds
        self.procs: list[subprocess.Popen] = []

    def __enter__(self) -> "BusyLoad":
        for _ in range(self.workers):
            self.procs.append(subprocess.Popen(["timeout", str(self.max_seconds), "bash", "-c", "while :; do :; done"],
                                               stdin=subprocess.DEVNULL, start_new_session=True))
        self.t0, self.ticks0 = time.monotonic(), self._ticks()
        return self

    def _ticks(self) -> int:
        total = 0
        for p in self.procs:
            for kids in Path(f"/proc/{p.pid}/task").glob("*/children"):
                for kid in kids.read_text().split():
                    try:
                        f = Path(f"/proc/{kid}/stat").read_text().rsplit(")", 1)[1].split()
                        total += int(f[11]) + int(f[12])  # utime, stime
                    except (OSError, IndexError, ValueError):
                        pass
        return total

    def cpu_share(self) -> float:
        dt = time.monotonic() - self.t0
        return (self._ticks() - self.ticks0) / os.sysconf("SC_CLK_TCK") / dt if dt > 0 else 0.0

    def __exit__(self, *exc) -> None:
        for p in self.procs:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.wait()
